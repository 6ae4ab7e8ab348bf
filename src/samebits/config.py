"""Checks of the configuration that a JSON schema cannot say clearly. No TensorFlow.

Run by the workflow before the schema validation and before any job: each error names the
file or field, the bad value and what is accepted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from . import data, grids, models
from .errors import ConfigError

__all__ = ["check_config", "check_duplicate_keys"]

MODEL_TYPES = ("mlp", "cnn", "custom")


class _StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml when there: 5x faster
    """A YAML loader that refuses a key given twice in one mapping (PyYAML keeps the last)."""


def _no_duplicates(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise ConfigError(
                f"{loader.name}: line {key_node.start_mark.line + 1}: duplicate key {key!r} "
                "(YAML would silently keep only the last one)"
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


def check_duplicate_keys(path: str | Path) -> None:
    """Raise :class:`ConfigError` if a YAML file repeats a key in one mapping."""
    with open(path, encoding="utf-8") as fh:
        loader = _StrictLoader(fh)
        loader.name = str(path)
        try:
            loader.get_single_data()
        finally:
            loader.dispose()


def _get(doc: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(doc, dict) or key not in doc:
            return None
        doc = doc[key]
    return doc


def check_config(config: dict[str, Any], configfiles=()) -> None:
    """Check what the schema cannot say clearly: duplicate keys, model types, data sources,
    references between sections and custom builders (checked without importing them)."""
    for path in configfiles:
        check_duplicate_keys(path)
    datasets = config.get("datasets") if isinstance(config.get("datasets"), dict) else {}
    for name, spec in datasets.items():
        source = _get(spec, "source")
        if isinstance(source, str):
            try:
                data.check_source(name, source)
            except Exception as exc:  # DataError: a config error at this point
                raise ConfigError(str(exc)) from None
    experiments = config.get("experiments") if isinstance(config.get("experiments"), dict) else {}
    try:
        experiments = grids.expand(experiments, config.get("grids") or {})
    except (KeyError, TypeError):
        pass  # malformed grids: the schema says what is wrong
    for name, exp in experiments.items():
        kind = _get(exp, "model", "type")
        if kind is not None and kind not in MODEL_TYPES:
            raise ConfigError(f"experiments.{name}.model.type {kind!r} is unknown; accepted: {', '.join(MODEL_TYPES)}")
        dataset = _get(exp, "dataset")
        if isinstance(dataset, str) and dataset not in datasets:
            raise ConfigError(
                f"experiments.{name}.dataset {dataset!r} is not one of datasets: {', '.join(sorted(datasets))}"
            )
        if kind == "custom" and isinstance(_get(exp, "model", "builder"), str):
            models.check_builder(exp["model"]["builder"], f"experiments.{name}.model.builder")
