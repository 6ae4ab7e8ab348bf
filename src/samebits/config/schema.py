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
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from ..core.errors import ConfigError

__all__ = ["SCHEMA_PATH", "default", "parameter_table", "schema", "validate", "with_defaults"]

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

    return jsonschema.validators.validator_for(schema())(schema())


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
    return _dotted(error.absolute_path), error.message


def validate(config: Any, where: str) -> None:
    """Raise :class:`ConfigError` naming ``where`` (the config file), the field and what is
    wrong, unless ``config`` is valid under the schema."""
    import jsonschema

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
