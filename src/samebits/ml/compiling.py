"""Keras objects built from an experiment's ``train`` section: the optimizer with its
learning-rate schedule, the loss, the metrics' names, the callbacks, the class weights, and
the targets as the loss wants them.

The names and options were checked before any job (:mod:`samebits.ml.keras_api`);
here they become Keras objects. A value Keras itself refuses (a wrong type for an option)
is a :class:`ConfigError` naming the key, raised before any training.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from typing import Any

import numpy as np

from ..core.errors import ConfigError
from ..core.usercode import CodeRef
from . import keras_api

__all__ = [
    "TASK_LOSSES",
    "TASK_METRICS",
    "Compiled",
    "build_callbacks",
    "build_loss",
    "build_metrics",
    "build_optimizer",
    "class_weights",
    "compile_training",
    "default_loss",
    "metric_names",
    "sample_weights",
    "targets_for",
]

#: The loss when ``train.loss`` is null, by task (binary: by the output's units).
TASK_LOSSES: dict[str, str | dict[int, str]] = {
    "multiclass": "sparse_categorical_crossentropy",
    "binary": {1: "binary_crossentropy", 2: "sparse_categorical_crossentropy"},
    "regression": "mean_squared_error",
}
#: The metrics when ``train.metrics`` is null, by task.
TASK_METRICS = {"multiclass": ["accuracy"], "binary": ["accuracy"], "regression": ["mae"]}


def default_loss(task: str, units: int) -> str:
    found = TASK_LOSSES[task]
    return found[units] if isinstance(found, dict) else found


def metric_names(metrics: list[str] | None, task: str) -> list[str]:
    return list(TASK_METRICS[task] if metrics is None else metrics)


def build_metrics(names: list[str], *, task: str, units: int, where: str) -> list[Any]:
    """What ``compile()`` gets for the metric ``names``: a name as it is, or, for a metric of
    :data:`keras_api.POSITIVE_CLASS_METRICS` on two softmax units, that metric fed the second unit's
    probability (its name and values are those it has on one sigmoid unit).

    :class:`ConfigError` for a positive-class metric on a task that is not binary."""
    found: list[Any] = []
    for i, name in enumerate(names):
        if name not in keras_api.POSITIVE_CLASS_METRICS:
            found.append(name)
            continue
        if task != "binary":
            raise ConfigError(keras_api.positive_class_only(name, task, f"{where}.metrics[{i}]"))
        found.append(name if units == 1 else _positive_class(name))
    return found


def _positive_class(name: str) -> Any:
    """The Keras metric ``name`` fed the positive class's probability of a two-unit softmax."""
    import keras

    class PositiveClass(keras.metrics.Metric):
        def __init__(self, inner: Any):
            super().__init__(name=inner.name, dtype=inner.dtype)
            self.inner = inner

        def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
            y_true = keras.ops.reshape(keras.ops.cast(y_true, y_pred.dtype), (-1, 1))
            return self.inner.update_state(y_true, y_pred[:, 1:], sample_weight=sample_weight)

        def result(self) -> Any:
            return self.inner.result()

        def reset_state(self) -> None:
            self.inner.reset_state()

    inner = keras.metrics.get(name)
    # named as compile() names the metric in a fresh process ("auc", never "auc_1": Keras
    # numbers a default name taken before, and history.json's keys must not depend on that)
    config = {**inner.get_config(), "name": re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", type(inner).__name__).lower()}
    return PositiveClass(type(inner).from_config(config))


def targets_for(y: np.ndarray, *, task: str, units: int) -> np.ndarray:
    """Labels as the loss wants them: one sigmoid unit trains on float 0/1 of the output's
    shape; classes stay integer indices; regression targets are float32."""
    if task == "binary" and units == 1:
        return y.astype(np.float32).reshape(-1, 1)
    return y


def _construct(cls: Any, options: dict[str, Any], where: str) -> Any:
    try:
        return cls(**options)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {cls.__name__}({_show(options)}) was refused by Keras: {exc}") from None


def _show(options: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in options.items())


def build_optimizer(optimizer: Any, *, learning_rate: float, schedule: Any, where: str) -> tuple[Any, dict[str, Any]]:
    """The optimizer (with its learning-rate schedule, if any), and what it is, for the record."""
    import keras

    name, options = keras_api.resolve("optimizer", optimizer, f"{where}.optimizer")
    rate: Any = learning_rate
    described: dict[str, Any] = {"optimizer": name, "options": options}
    if schedule is not None:
        sname, soptions = keras_api.resolve("schedule", schedule, f"{where}.schedule")
        scls = getattr(keras.optimizers.schedules, sname)
        if "initial_learning_rate" in inspect.signature(scls.__init__).parameters:
            soptions = {"initial_learning_rate": learning_rate, **soptions}
        rate = _construct(scls, soptions, f"{where}.schedule")
        described["schedule"] = {"name": sname, "options": soptions}
    opt = _construct(getattr(keras.optimizers, name), {"learning_rate": rate, **options}, f"{where}.optimizer")
    return opt, described


def build_loss(loss: Any, *, task: str, units: int, where: str, as_object: bool) -> tuple[Any, str]:
    """The loss ``compile()`` gets, and its name for the record.

    A Keras loss named without options goes to ``compile()`` as the name itself (Keras
    resolves it); ``as_object`` (a user's own loop) gets a :class:`keras.losses.Loss` that
    reduces over the batch. The user's ``file.py:function`` is imported and used as it is.
    """
    import keras

    if loss is None:
        loss = default_loss(task, units)
    name = keras_api.spec_name(loss)
    ref = CodeRef.named(loss, f"{where}.loss")
    if ref is not None:
        function = ref.load(f"{where}.loss")
        if as_object:  # compile() reduces a function over the batch; the user's loop calls the loss itself
            return _reduced(function, name=ref.function), loss
        return function, loss
    if isinstance(loss, str) and not as_object and loss in keras_api.api()["loss_names"]:
        return loss, loss
    assert name is not None  # the schema takes a name or a mapping with a name
    if isinstance(loss, str):
        try:
            cname, options = keras_api.resolve("loss", loss, f"{where}.loss")
        except ConfigError:
            # an alias compile() knows ("mse"): its function's name is the class's
            function = keras.losses.get(loss)
            cname, options = keras_api.resolve("loss", function.__name__, f"{where}.loss")
    else:
        cname, options = keras_api.resolve("loss", loss, f"{where}.loss")
    return _construct(getattr(keras.losses, cname), options, f"{where}.loss"), name


def _reduced(function: Any, *, name: str) -> Any:
    """The user's loss function as a :class:`keras.losses.Loss`: its per-sample values
    reduced over the batch as Keras reduces a loss by default (the mean over the batch)."""
    import keras

    class Reduced(keras.losses.Loss):
        def call(self, y_true: Any, y_pred: Any) -> Any:
            return function(y_true, y_pred)

    return Reduced(name=name)


def build_callbacks(callbacks: list[Any], *, where: str) -> list[Any]:
    import keras

    found = []
    for i, spec in enumerate(callbacks):
        name, options = keras_api.resolve("callback", spec, f"{where}.callbacks[{i}]")
        found.append(_construct(getattr(keras.callbacks, name), options, f"{where}.callbacks[{i}]"))
    return found


def class_weights(spec: Any, y: np.ndarray, *, task: str, n_classes: int, where: str) -> dict[int, float] | None:
    """``{class index: weight}`` for ``fit()``: ``balanced`` gives ``n / (classes x count)``
    (scikit-learn's rule), a mapping is taken as it is (keys: class indices, the labels'
    positions in sorted order)."""
    if spec is None:
        return None
    if task == "regression":
        raise ConfigError(f"{where}.class_weight: a regression has no classes; remove class_weight")
    if spec == "balanced":
        counts = np.bincount(y.reshape(-1).astype(np.int64), minlength=n_classes)
        return {c: float(len(y) / (n_classes * counts[c])) for c in range(n_classes) if counts[c]}
    weights = {}
    for key, value in spec.items():
        try:
            index = int(key)
        except ValueError:
            index = -1
        if not 0 <= index < n_classes:
            raise ConfigError(
                f"{where}.class_weight: key {key!r} is not a class index; accepted: 0 to {n_classes - 1} "
                "(the labels' positions in sorted order)"
            )
        weights[index] = float(value)
    return {c: weights.get(c, 1.0) for c in range(n_classes)}


def sample_weights(class_weight: dict[int, float] | None, labels: np.ndarray) -> np.ndarray | None:
    """Each training sample's weight, its class's (``None`` without class weights)."""
    if class_weight is None:
        return None
    table = np.array([class_weight.get(c, 1.0) for c in range(int(labels.max()) + 1)], dtype=np.float32)
    return table[labels.reshape(-1).astype(np.int64)]


@dataclasses.dataclass(frozen=True)
class Compiled:
    """What one training compiles and fits with, built in the order Keras would build it,
    and ``described``: what the record's ``trace.compiled`` says of it."""

    optimizer: Any
    loss: Any  #: a name ``compile()`` resolves, a :class:`keras.losses.Loss`, or the user's function
    metrics: list[Any] | None  #: ``None`` for a trainer of the user's, which logs what it computes itself
    callbacks: list[Any]
    class_weight: dict[int, float] | None
    described: dict[str, Any]


def compile_training(
    train: dict[str, Any], *, task: str, units: int, n_classes: int, labels: np.ndarray, where: str
) -> Compiled:
    """The Keras objects of an experiment's ``train`` section (``where``: its dotted path),
    for a model with ``units`` output units and the training ``labels``."""
    for_trainer = train["trainer"] is not None
    optimizer, described = build_optimizer(
        train["optimizer"], learning_rate=train["learning_rate"], schedule=train["schedule"], where=where
    )
    loss, described["loss"] = build_loss(train["loss"], task=task, units=units, where=where, as_object=for_trainer)
    metrics = None
    if not for_trainer:
        described["metrics"] = metric_names(train["metrics"], task)
        metrics = build_metrics(described["metrics"], task=task, units=units, where=where)
    weights = class_weights(train["class_weight"], labels, task=task, n_classes=n_classes, where=where)
    callbacks = build_callbacks(train["callbacks"], where=where)
    return Compiled(optimizer, loss, metrics, callbacks, weights, described)
