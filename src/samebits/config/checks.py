"""Checks of the configuration that a JSON schema cannot say clearly. No TensorFlow.

Run before the schema validation and before any job: each error names the file or field,
the bad value and what is accepted.
"""

from __future__ import annotations

import re
from typing import Any

from ..core import layout
from ..core.errors import ConfigError, DataError
from ..core.usercode import CodeRef
from ..ml import keras_api, models, sources
from . import grids
from .yamlfile import check_duplicate_keys, read_yaml

__all__ = ["check_config", "check_duplicate_keys", "read_yaml"]


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
    if not isinstance(config, dict):
        return  # the schema says what a configuration is
    for section in ("datasets", "experiments", "grids"):
        for name in config[section] if isinstance(config.get(section), dict) else {}:
            # (the schema's pattern, with its $, would let a final newline through)
            if isinstance(name, str) and re.fullmatch(layout.NAME, name) is None:
                raise ConfigError(
                    f"{section}: {name!r} is not a name: letters, digits, _ and -, starting with a letter or digit"
                )
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
    except (KeyError, TypeError, AttributeError):
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
            builder = CodeRef.parse(exp["model"]["builder"], where)
            builder.check(where)
            options = _get(exp, "model", "options")
            if isinstance(options, dict):  # builder(input_shape, n_classes, seeds, **options)
                builder.check_options(options, 3, f"experiments.{name}.model.options")
        train = _get(exp, "train")
        if isinstance(train, dict):
            keras_api.check(train, f"experiments.{name}.train")
            _check_class_weight(train.get("class_weight"), f"experiments.{name}.train.class_weight")
            task = _known_task(datasets.get(dataset) if isinstance(dataset, str) else None)
            metrics = train.get("metrics")
            for i, metric in enumerate(metrics if isinstance(metrics, list) else []):
                positive = isinstance(metric, str) and metric in keras_api.POSITIVE_CLASS_METRICS
                if positive and task not in (None, "binary"):
                    raise ConfigError(
                        keras_api.positive_class_only(metric, task, f"experiments.{name}.train.metrics[{i}]")
                    )
            trainer, loss = train.get("trainer"), train.get("loss")
            if isinstance(trainer, str):
                where = f"experiments.{name}.train.trainer"
                CodeRef.parse(trainer, where).check(where)
            if (ref := CodeRef.named(loss, f"experiments.{name}.train.loss")) is not None:
                ref.check(f"experiments.{name}.train.loss")


def _check_class_weight(spec: Any, where: str) -> None:
    """Keys of a ``{class index: weight}`` mapping are class indices (0, 1, …); the number of
    classes is known only when the data is read, and train checks the range then."""
    if not isinstance(spec, dict):
        return
    for key in spec:
        if isinstance(key, bool) or not (isinstance(key, int) and key >= 0 or isinstance(key, str) and key.isdigit()):
            raise ConfigError(
                f"{where}: key {key!r} is not a class index; accepted: 0, 1, … (the labels' positions in sorted order)"
            )


def _known_task(spec: Any) -> str | None:
    """A data set's task when the configuration says it or the data set is bundled; else
    ``None`` (it is inferred from the labels when split reads them)."""
    if not isinstance(spec, dict):
        return None
    if isinstance(spec.get("task"), str):
        return str(spec["task"])
    source = spec.get("source")
    return sources.BUNDLED.get(source) if isinstance(source, str) else None
