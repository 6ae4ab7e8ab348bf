"""The configuration's schema (``schema.yaml`` beside this file, a link to the workflow's
``workflow/schemas/config.schema.yaml``, where Snakemake's tools and the workflow catalog look
for it): the one place where every key, default and choice of ``config/config.yaml`` is written.

:func:`validate` checks a configuration against it, with an error that names the file, the
field and what is accepted; :func:`with_defaults` fills in every default it declares, at any
depth (inside each data set, experiment and model type). The workflow and the ``samebits``
command both go through here, so they see the same configuration. :func:`parameter_table`
renders every key, its description and its default as the Markdown table of
``config/README.md`` (``tools/config_readme.py`` writes it there).
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from ..core.errors import ConfigError

__all__ = [
    "MAX_VALUES",
    "SCHEMA_PATH",
    "check_size",
    "default",
    "parameter_table",
    "schema",
    "validate",
    "with_command_line",
    "with_defaults",
]

SCHEMA_PATH = Path(__file__).with_name("schema.yaml")


@functools.lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The schema as a document (read once per process)."""
    import yaml

    return yaml.safe_load(SCHEMA_PATH.read_text(encoding="utf-8"))


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    """``node`` with a local ``$ref`` (``#/$defs/x``) replaced by what it points to."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = schema()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


@functools.lru_cache(maxsize=1)
def _validator() -> Any:
    """A validator of the whole schema (its ``descend`` checks a part, with refs resolved)."""
    import jsonschema

    base = jsonschema.validators.validator_for(schema())
    # 1.0 is not an integer here: a seed of 1.0 would name its folder seed1.0
    strict = base.TYPE_CHECKER.redefine("integer", lambda _, x: isinstance(x, int) and not isinstance(x, bool))
    return jsonschema.validators.extend(base, type_checker=strict)(schema())


def _matches(instance: Any, node: dict[str, Any]) -> bool:
    return next(iter(_validator().descend(instance, node)), None) is None


def _dotted(path: Iterable[str | int]) -> str:
    return ".".join(str(p) for p in path) or "the configuration"


def _explain(error: Any) -> tuple[str, str]:
    """(field, message) of the error a reader needs: for a model of a known ``type`` that
    matches no branch of ``oneOf``, the error of that type's own branch."""
    instance = error.instance
    if error.validator == "oneOf" and isinstance(instance, dict) and "type" in instance:
        for branch in error.validator_value:
            branch = _resolve(branch)
            if branch.get("properties", {}).get("type", {}).get("const") == instance["type"]:
                inner = next(iter(_validator().descend(instance, branch)), None)
                if inner is not None:
                    return _dotted([*error.absolute_path, *inner.absolute_path]), inner.message
    if error.validator == "type" and isinstance(instance, str) and {"number", "integer"} & set(_types(error.schema)):
        try:
            float(instance)
        except ValueError:
            pass
        else:
            if "e" in instance.lower() and "." not in instance:  # PyYAML reads YAML 1.1: 1e-3 is text there
                hint = "write it with a dot and a signed exponent (1.0e-3, not 1e-3: YAML 1.1 reads that as text)"
            else:
                hint = "write it without quotes"
            return _dotted(error.absolute_path), f"{instance!r} is text, not a number: {hint}"
    if error.validator == "type" and isinstance(instance, float) and "integer" in _types(error.schema):
        whole = f": write {int(instance)}" if instance.is_integer() else ""
        return _dotted(error.absolute_path), f"{instance!r} is not an integer{whole}"
    if error.validator == "oneOf" and "description" in error.schema:
        return _dotted(error.absolute_path), f"{instance!r} is not accepted: expected {error.schema['description']}"
    if error.validator == "pattern" and "description" in error.schema:
        # A regular expression says what is accepted only to those who read them.
        return _dotted(error.absolute_path), f"{instance!r} is not accepted: expected {error.schema['description']}"
    return _dotted(error.absolute_path), error.message


def _leaves_of(doc: Any, path: list[str | int]) -> Iterator[tuple[list[str | int], Any]]:
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from _leaves_of(value, [*path, key])
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            yield from _leaves_of(value, [*path, index])
    else:
        yield path, doc


#: The most values a configuration may hold, counted with every YAML alias expanded: a sweep
#: of thousands of experiments is far below it; a few nested aliases can exceed it by far.
MAX_VALUES = 200_000


def check_size(config: Any, where: str) -> None:
    """Raise :class:`ConfigError` when ``config`` holds more than :data:`MAX_VALUES` values
    once its YAML aliases (``*name``) are expanded; stops counting there, so it is quick."""
    count = 0
    stack = [config]
    while stack:
        doc = stack.pop()
        count += 1
        if count > MAX_VALUES:
            raise ConfigError(
                f"{where}: holds more than {MAX_VALUES:,} values once its YAML aliases (*name) are expanded; "
                "is an alias nested in itself, or repeated by the hundred?"
            )
        if isinstance(doc, dict):
            stack.extend(doc.keys())
            stack.extend(doc.values())
        elif isinstance(doc, list):
            stack.extend(doc)


def validate(config: Any, where: str) -> None:
    """Raise :class:`ConfigError` naming ``where`` (the config file), the field and what is
    wrong, unless ``config`` is valid under the schema."""
    import jsonschema

    for path, value in _leaves_of(config, []):
        if isinstance(value, float) and not math.isfinite(value):
            # jsonschema's bounds let NaN through (every comparison with it is false)
            raise ConfigError(f"{where}: {_dotted(path)}: {value!r} is not accepted: a finite number")
    error = jsonschema.exceptions.best_match(_validator().iter_errors(config))
    if error is not None:
        field, message = _explain(error)
        raise ConfigError(f"{where}: {field}: {message}")


def _fill(instance: Any, node: dict[str, Any]) -> Any:
    node = _resolve(node)
    if "oneOf" in node:
        for branch in node["oneOf"]:
            if _matches(instance, branch):
                return _fill(instance, branch)
        return instance
    if isinstance(instance, dict):
        props = node.get("properties", {})
        for key, sub in props.items():
            sub = _resolve(sub)
            if key not in instance and "default" in sub:
                instance[key] = copy.deepcopy(sub["default"])
        for key in instance:
            if key in props:
                instance[key] = _fill(instance[key], props[key])
            elif isinstance(node.get("additionalProperties"), dict):
                instance[key] = _fill(instance[key], node["additionalProperties"])
    elif isinstance(instance, list) and isinstance(node.get("items"), dict):
        return [_fill(item, node["items"]) for item in instance]
    return instance


def _nodes_at(path: Iterable[str | int]) -> list[dict[str, Any]]:
    """The schema nodes that can describe the value at ``path`` (every branch of a ``oneOf``)."""
    nodes = [schema()]
    for key in path:
        found = []
        for node in nodes:
            node = _resolve(node)
            for branch in [node, *map(_resolve, node.get("oneOf", []))]:
                if isinstance(key, int) and isinstance(branch.get("items"), dict):
                    found.append(branch["items"])
                elif key in branch.get("properties", {}):
                    found.append(branch["properties"][key])
                elif isinstance(branch.get("additionalProperties"), dict):
                    found.append(branch["additionalProperties"])
        nodes = found
    return [_resolve(n) for n in nodes]


def _as_typed(text: str, types: set[str]) -> Any:
    """``text`` read as the one of ``types`` it spells (``text`` itself when none)."""
    if "boolean" in types and text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind, read in (("integer", int), ("number", float)):
        if kind in types:
            try:
                return read(text)
            except ValueError:
                pass
    return text


def with_command_line(config: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """``config`` with the values ``snakemake --config`` gave read as the schema expects them.

    Snakemake reads a nested value of ``--config`` (``seeds=[0]``, ``verify={rtol: 1e-4}``)
    as text; where the schema takes no text, the text is read as the integer, number or
    boolean it spells (what cannot be read so stays text, and the schema names it).

    >>> with_command_line({"seeds": ["0", "1"], "lock": "0"}, {"seeds": ["0", "1"], "lock": "0"})
    {'seeds': [0, 1], 'lock': '0'}
    """
    config = copy.deepcopy(config)

    def walk(given: Any, path: list[str | int]) -> None:
        if isinstance(given, dict):
            for key, value in given.items():
                walk(value, [*path, key])
        elif isinstance(given, list):
            for index, value in enumerate(given):
                walk(value, [*path, index])
        elif isinstance(given, str):
            types = {t for node in _nodes_at(path) for t in _types(node)}
            if types and "string" not in types:
                parent: Any = config
                for key in path[:-1]:
                    parent = parent[key]
                if parent[path[-1]] == given:
                    parent[path[-1]] = _as_typed(given, types)

    try:
        walk(given, [])
    except (KeyError, IndexError, TypeError):
        pass  # the configuration does not hold what was given: the schema says what is wrong
    return config


def _types(node: dict[str, Any]) -> list[str]:
    kind = node.get("type", [])
    return [kind] if isinstance(kind, str) else list(kind)


def with_defaults(config: dict[str, Any]) -> dict[str, Any]:
    """A copy of a valid ``config`` with every default of the schema filled in."""
    return _fill(copy.deepcopy(config), schema())


def default(*path: str) -> Any:
    """The default the schema declares for a top-level section's key, e.g.
    ``default("determinism", "profile")``."""
    node: dict[str, Any] = schema()
    for key in path:
        node = _resolve(node["properties"][key])
    return copy.deepcopy(node["default"])


class _Leaf(NamedTuple):
    """One place a key can be set: its node, the model type it belongs to (``None``: any), and
    its default cell when it is required ("required", "required for `custom`")."""

    key: str
    node: dict[str, Any]
    branch: str | None
    required: str | None


def _is_section(node: dict[str, Any]) -> bool:
    """Whether ``node`` holds keys of its own (named properties, or a ``oneOf`` of such, as
    ``model`` does) rather than a value (a Keras object, a list, a class weight)."""
    branches = node.get("oneOf") or []
    return "properties" in node or (bool(branches) and all("properties" in _resolve(b) for b in branches))


def _required(label: str | None) -> str:
    return "required" if label is None else f"required for `{label}`"


def _leaves(node: dict[str, Any], key: str, required: str | None, branch: str | None) -> Iterator[_Leaf]:
    """Every key under ``node`` that takes a value, in the schema's order: a map of names
    (``datasets``) as ``<name>``, the keys of a ``oneOf``'s branches labelled with its ``type``."""
    node = _resolve(node)
    if "propertyNames" in node and isinstance(node.get("additionalProperties"), dict):
        yield from _leaves(node["additionalProperties"], f"{key}.<name>", None, branch)
        return
    if not _is_section(node):
        yield _Leaf(key, node, branch, required)
        return
    shared = set(node.get("required", ()))
    for part in map(_resolve, node.get("oneOf") or [node]):
        label = (
            branch if part is node else next((p["const"] for p in part["properties"].values() if "const" in p), branch)
        )
        for name, sub in part["properties"].items():
            cell = None
            if name in shared:
                cell = _required(branch)
            elif name in part.get("required", ()):
                cell = _required(label)
            yield from _leaves(sub, f"{key}.{name}".lstrip("."), cell, label)


def _yaml(value: Any) -> str:
    """A default as it is written in the configuration (YAML flow style): ``1.0e-5``, ``[16, 32]``."""
    import json

    import yaml

    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, float):
        mantissa, _, exponent = repr(value).partition("e")
        return f"{mantissa}{'' if '.' in mantissa else '.0'}e{int(exponent)}" if exponent else mantissa
    if isinstance(value, list):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_yaml(k)}: {_yaml(v)}" for k, v in value.items()) + "}"
    text = str(value)
    return text if isinstance(value, int) or yaml.safe_load(text) == text else json.dumps(text)


def _default_cell(leaf: _Leaf) -> str:
    if leaf.required:
        return leaf.required
    return f"`{_yaml(leaf.node['default'])}`" if "default" in leaf.node else "—"


def _by_branch(cells: list[tuple[str | None, str]], before: bool) -> str:
    """One text for the same key in several model types: once if they agree, else each with its type."""
    texts = [text for _, text in cells]
    labels = [label for label, _ in cells if label is not None]
    if len(set(texts)) == 1:
        common = texts[0]
        return f"({', '.join(f'`{b}`' for b in labels)}) {common}" if before and labels else common
    if before:
        return "; ".join(f"(`{b}`) {text}" for b, text in cells)
    return "; ".join(f"{text} (`{b}`)" for b, text in cells)


def _row(leaves: list[_Leaf]) -> tuple[str, str]:
    """(meaning, default) of one key from the places it can be set."""
    if len(leaves) > 1 and all("const" in leaf.node for leaf in leaves):  # the model's `type`
        meaning = "; ".join(f"`{leaf.node['const']}`: {leaf.node['description']}" for leaf in leaves)
    else:
        meaning = _by_branch([(leaf.branch, leaf.node["description"]) for leaf in leaves], before=True)
    return meaning, _by_branch([(leaf.branch, _default_cell(leaf)) for leaf in leaves], before=False)


def parameter_table() -> str:
    """The Markdown table of every configuration key, its meaning and its default, made from the
    schema: one row per key that takes a value, in the schema's order (``datasets.<name>.scale``,
    ``experiments.<name>.model.hidden``), a model type's own keys marked with it (``(`mlp`)``),
    and neighbouring keys with one description (``verify.rtol``, ``verify.atol``) in one row.

    >>> parameter_table().splitlines()[2]
    '| `seeds` | list of distinct master seeds (integers ≥ 0); every experiment runs once per seed | required |'
    """
    places: dict[str, list[_Leaf]] = {}
    for leaf in _leaves(schema(), "", None, None):
        places.setdefault(leaf.key, []).append(leaf)
    rows: list[tuple[list[str], str, list[str]]] = []
    for key, leaves in places.items():
        meaning, default = _row(leaves)
        parent = key.rpartition(".")[0]
        if rows and rows[-1][1] == meaning and rows[-1][0][-1].rpartition(".")[0] == parent:
            rows[-1][0].append(key)
            rows[-1][2].append(default)
        else:
            rows.append(([key], meaning, [default]))
    lines = ["| key | meaning | default |", "|---|---|---|"]
    for keys, meaning, defaults in rows:
        shown = defaults[:1] if len(set(defaults)) == 1 else defaults
        cells = (", ".join(f"`{k}`" for k in keys), meaning.replace("|", "\\|"), ", ".join(shown))
        lines.append(f"| {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"
