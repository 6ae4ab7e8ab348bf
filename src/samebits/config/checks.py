"""Checks of the configuration that a JSON schema cannot say clearly. No TensorFlow.

Run before the schema validation and before any job: each error names the file or field,
the bad value and what is accepted.
"""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml

from ..core.errors import ConfigError, DataError
from ..core.usercode import CodeRef
from ..ml import keras_api, models, sources
from . import grids

__all__ = ["check_config", "check_duplicate_keys", "read_yaml"]


_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when there: 5x faster


class _StrictLoader(_Loader):  # type: ignore[valid-type,misc]  # (a base chosen at import time)
    """A YAML loader that refuses a key given twice in one mapping (PyYAML keeps the last)."""


def _no_duplicates(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
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


def read_yaml(path: str | Path) -> Any:
    """The document of a YAML file; :class:`ConfigError` if it cannot be read, is not YAML,
    or repeats a key in one mapping."""
    try:
        with open(path, encoding="utf-8") as fh:
            loader = _StrictLoader(fh)
            loader.name = str(path)
            try:
                return loader.get_single_data()
            finally:
                loader.dispose()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None


def check_duplicate_keys(path: str | Path) -> None:
    """Raise :class:`ConfigError` if a YAML file repeats a key in one mapping."""
    read_yaml(path)


def _get(doc: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(doc, dict) or key not in doc:
            return None
        doc = doc[key]
    return doc


def check_config(config: dict[str, Any]) -> None:
    """Check what the schema cannot say clearly: model types, data sources, references
    between sections, Keras names and options (:mod:`samebits.ml.keras_api`), and
    custom builders, trainers and losses (checked without importing them). Messages name
    the field (``experiments.mlp.model.type``); the caller adds the file."""
    datasets: dict[str, Any] = config["datasets"] if isinstance(config.get("datasets"), dict) else {}
    for name, spec in datasets.items():
        source = _get(spec, "source")
        if isinstance(source, str):
            try:
                sources.check_source(name, source)
            except DataError as exc:  # a config error at this point
                raise ConfigError(str(exc)) from None
            image = spec.get("image") if isinstance(spec, dict) else None
            set_keys = [k for k in ("size", "channels") if isinstance(image, dict) and image.get(k) is not None]
            # (a configuration with its defaults filled in, as audit writes it, has image: {} filled)
            if set_keys and not sources.is_image_folder(source):
                raise ConfigError(
                    f"datasets.{name}.image.{set_keys[0]} applies to image folders only; source {source!r} is not "
                    "a folder (a folder's path ends with /)"
                )
    experiments: dict[str, Any] = config["experiments"] if isinstance(config.get("experiments"), dict) else {}
    try:
        experiments = grids.expand(experiments, config.get("grids") or {})
    except (KeyError, TypeError):
        pass  # malformed grids: the schema says what is wrong
    for name, exp in experiments.items():
        kind = _get(exp, "model", "type")
        if kind is not None and kind not in models.MODEL_TYPES:
            accepted = ", ".join(models.MODEL_TYPES)
            raise ConfigError(f"experiments.{name}.model.type {kind!r} is unknown; accepted: {accepted}")
        dataset = _get(exp, "dataset")
        if isinstance(dataset, str) and dataset not in datasets:
            raise ConfigError(
                f"experiments.{name}.dataset {dataset!r} is not one of datasets: {', '.join(sorted(datasets))}"
            )
        if kind == "custom" and isinstance(_get(exp, "model", "builder"), str):
            where = f"experiments.{name}.model.builder"
            CodeRef.parse(exp["model"]["builder"], where).check(where)
        train = _get(exp, "train")
        if isinstance(train, dict):
            keras_api.check(train, f"experiments.{name}.train")
            trainer, loss = train.get("trainer"), train.get("loss")
            if isinstance(trainer, str):
                where = f"experiments.{name}.train.trainer"
                CodeRef.parse(trainer, where).check(where)
            if (ref := CodeRef.named(loss, f"experiments.{name}.train.loss")) is not None:
                ref.check(f"experiments.{name}.train.loss")
