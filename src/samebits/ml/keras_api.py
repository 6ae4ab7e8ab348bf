"""What a configuration may name from Keras, checked before any job without importing it.

``keras_api.yaml`` beside this file (written by ``tools/keras_api.py`` from the pinned Keras;
``tests/unit/test_keras_api.py`` checks it still agrees) lists the optimizers, losses and
learning-rate schedules with the options each accepts, the loss and metric names
``compile()`` accepts, and the callbacks training may use.

A Keras object is named in the configuration as a string (``adam``, ``Huber``,
``sparse_categorical_crossentropy``) or as a mapping of its ``name`` and options
(``{name: AdamW, weight_decay: 0.004}``). Class names match case-insensitively and with or
without underscores (``rmsprop`` is ``RMSprop``, ``mean_squared_error`` is
``MeanSquaredError``).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from ..core.errors import ConfigError
from ..core.usercode import CodeRef

__all__ = [
    "KINDS",
    "POSITIVE_CLASS_METRICS",
    "REFUSED_CALLBACKS",
    "positive_class_only",
    "api",
    "check",
    "resolve",
    "spec_name",
]

API_PATH = Path(__file__).with_name("keras_api.yaml")

#: The kinds of Keras object a configuration names: ``kind -> (section of keras_api.yaml,
#: what a message calls it, the Keras module the class is taken from)``.
KINDS = {
    "optimizer": ("optimizers", "Keras optimizer", "keras.optimizers"),
    "loss": ("losses", "Keras loss", "keras.losses"),
    "schedule": ("schedules", "learning-rate schedule", "keras.optimizers.schedules"),
    "callback": ("callbacks", "callback", "keras.callbacks"),
}


@functools.lru_cache(maxsize=1)
def api() -> dict[str, Any]:
    """The document of ``keras_api.yaml`` (read once per process)."""
    import yaml

    return yaml.safe_load(API_PATH.read_text(encoding="utf-8"))


def _key(name: str) -> str:
    return name.lower().replace("_", "")


def spec_name(value: Any) -> str | None:
    """The name in a string-or-mapping spec (``None`` if there is none)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("name"), str):
        return value["name"]
    return None


#: Metrics that score the probability of one positive class (Keras reads ``y_pred`` as it):
#: they fit a binary task only. On one sigmoid unit Keras computes them as they are; on two
#: softmax units they get the second unit's probability (:func:`samebits.ml.compiling.build_metrics`).
POSITIVE_CLASS_METRICS = frozenset(
    {
        *("AUC", "Precision", "Recall", "BinaryAccuracy", "BinaryCrossentropy", "BinaryIoU"),
        *("TruePositives", "TrueNegatives", "FalsePositives", "FalseNegatives"),
        *("precision", "recall", "binary_accuracy", "binary_crossentropy", "binary_io_u"),
        *("true_positives", "true_negatives", "false_positives", "false_negatives"),
    }
)


def positive_class_only(name: str, task: str, where: str) -> str:
    """The message refusing the positive-class metric ``name`` on a ``task`` that is not binary."""
    hint = "; for classes, use accuracy or SparseCategoricalAccuracy" if task == "multiclass" else ""
    return (
        f"{where}: {name} scores the probability of one positive class, so it fits a binary task only; "
        f"this data set's task is {task}{hint}"
    )


#: Keras callbacks a configuration may not name, and why (a step writes only the outputs its
#: rule names, and a configuration names no Python code but by reference).
REFUSED_CALLBACKS = {
    "ModelCheckpoint": "writes model files of its own (the train step checkpoints every epoch: train.checkpoint)",
    "BackupAndRestore": "writes files of its own (a killed train step resumes by itself: train.checkpoint)",
    "TensorBoard": "writes log files of its own (the train log has every epoch's values)",
    "CSVLogger": "writes a file of its own (the train log and history.json have every epoch's values)",
    "RemoteMonitor": "sends every epoch's values over the network",
    "LambdaCallback": "runs Python functions, which a configuration cannot name (use train.trainer)",
    "LearningRateScheduler": "takes a Python function (use train.schedule)",
    "ProgbarLogger": "prints progress only, which the train log already has",
}


def resolve(kind: str, value: Any, where: str) -> tuple[str, dict[str, Any]]:
    """``(Keras class name, options)`` of a spec; :class:`ConfigError` naming ``where`` if
    the name is not one of ``kind`` or an option is not the class's."""
    section, what, module = KINDS[kind]
    classes = api()[section]
    name = spec_name(value)
    if name is None:
        raise ConfigError(f"{where}: give a {what} as a name or as {{name: ..., <option>: ...}}, got {value!r}")
    options = {k: v for k, v in value.items() if k != "name"} if isinstance(value, dict) else {}
    by_key = {_key(c): c for c in classes}
    found = by_key.get(_key(name))
    if found is None and kind == "callback" and name in REFUSED_CALLBACKS:
        raise ConfigError(
            f"{where}: {name} is a Keras callback that samebits refuses: it {REFUSED_CALLBACKS[name]}; "
            f"accepted: {', '.join(classes)}"
        )
    if found is None:
        raise ConfigError(f"{where}: {name!r} is not a {what} ({module}); accepted: {', '.join(classes)}")
    accepted = classes[found]["options"]
    for option in options:
        if option not in accepted:
            extra = ""
            if option in ("learning_rate", "initial_learning_rate"):
                extra = " (train.learning_rate sets the learning rate)"
            raise ConfigError(
                f"{where}.{option}: not an option of {found}{extra}; accepted: {', '.join(accepted) or 'none'}"
            )
    missing = [o for o in classes[found]["required"] if o not in options]
    if missing:
        raise ConfigError(f"{where}: {found} needs option(s) {', '.join(missing)}")
    return found, options


def check(train: dict[str, Any], where: str) -> None:
    """Check the Keras names and options of an experiment's ``train`` section (``where``:
    its dotted path, e.g. ``experiments.mlp.train``)."""
    if "optimizer" in train:
        resolve("optimizer", train["optimizer"], f"{where}.optimizer")
    if train.get("schedule") is not None:
        resolve("schedule", train["schedule"], f"{where}.schedule")
    loss = train.get("loss")
    name = spec_name(loss)
    if name is not None and not CodeRef.is_reference(name):
        if isinstance(loss, str) and loss in api()["loss_names"]:
            pass  # compile() takes it as it is
        else:
            resolve("loss", loss, f"{where}.loss")
    # a metrics or callbacks value that is not a list is the schema's to name (after these checks)
    metrics = train.get("metrics")
    for i, metric in enumerate(metrics if isinstance(metrics, list) else []):
        if isinstance(metric, str) and metric not in api()["metric_names"]:
            raise ConfigError(
                f"{where}.metrics[{i}]: {metric!r} is not a metric compile() accepts{_near(metric)}; "
                f"the {len(api()['metric_names'])} names accepted are listed in {API_PATH.name} (metric_names)"
            )

    callbacks = train.get("callbacks")
    for i, callback in enumerate(callbacks if isinstance(callbacks, list) else []):
        name, options = resolve("callback", callback, f"{where}.callbacks[{i}]")
        monitor = options.get("monitor", api()["callbacks"][name].get("monitor"))
        if name == "ReduceLROnPlateau" and train.get("schedule") is not None:
            raise ConfigError(
                f"{where}.callbacks[{i}]: ReduceLROnPlateau sets the learning rate, and so does "
                f"{where}.schedule; use one of them"
            )
        if isinstance(monitor, str) and monitor.startswith("val_") and train.get("validation_fraction") is None:
            raise ConfigError(
                f"{where}.callbacks[{i}]: {name} monitors {monitor!r}, but {where}.validation_fraction is not set; "
                f"set validation_fraction (e.g. 0.2), or monitor a training quantity (monitor: loss)"
            )


def _near(name: str) -> str:
    """`` (closest: AUC, …)`` for a misspelt metric name, matched case-blind."""
    import difflib

    names = {n.lower(): n for n in api()["metric_names"]}
    found = difflib.get_close_matches(name.lower(), names, n=3, cutoff=0.5)
    return f" (closest: {', '.join(names[f] for f in found)})" if found else ""
