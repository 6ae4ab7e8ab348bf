"""The configuration's schema (``schema.yaml`` beside this file, a link to the workflow's
``workflow/schemas/config.schema.yaml``, where Snakemake's tools and the workflow catalog look
for it): the one place where every key, default and choice of ``config/config.yaml`` is written.

:func:`validate` checks a configuration against it, with an error that names the file, the
field and what is accepted; :func:`with_defaults` fills in every default it declares, at any
depth (inside each data set, experiment and model type). The workflow and the ``samebits``
command both go through here, so they see the same configuration.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

from ..core.errors import ConfigError

__all__ = ["SCHEMA_PATH", "default", "schema", "validate", "with_defaults"]

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
def _validator():
    """A validator of the whole schema (its ``descend`` checks a part, with refs resolved)."""
    import jsonschema

    return jsonschema.validators.validator_for(schema())(schema())


def _matches(instance: Any, node: dict[str, Any]) -> bool:
    return next(iter(_validator().descend(instance, node)), None) is None


def _dotted(path) -> str:
    return ".".join(str(p) for p in path) or "the configuration"


def _explain(error) -> tuple[str, str]:
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
