"""What training compiles and fits with, built from an experiment's ``train`` section, and
the context a user's own training loop is called with.

The names and options were checked before any job (:mod:`samebits.ml.keras_api`);
here they become Keras objects. A value Keras itself refuses (a wrong type for an option)
is a :class:`ConfigError` naming the key, raised before any training.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import ConfigError
from ..core.hashing import hash_arrays
from ..core.seeds import SeedSource
from . import keras_api, resume
from .weights import weights_of

__all__ = [
    "TASK_LOSSES",
    "TASK_METRICS",
    "Epochs",
    "Run",
    "TrainContext",
    "build_callbacks",
    "build_loss",
    "build_optimizer",
    "class_weights",
    "default_loss",
    "fit",
    "metric_names",
    "sample_weights",
    "targets_for",
]

log = logging.getLogger(__name__)

#: The loss when ``train.loss`` is null, by task (binary: by the output's units).
TASK_LOSSES = {
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


def targets_for(y: np.ndarray, *, task: str, units: int) -> np.ndarray:
    """Labels as the loss wants them: one sigmoid unit trains on float 0/1 of the output's
    shape; classes stay integer indices; regression targets are float32."""
    if task == "binary" and units == 1:
        return y.astype(np.float32).reshape(-1, 1)
    return y


def _construct(kind: str, cls, options: dict[str, Any], where: str):
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
        rate = _construct("schedule", scls, soptions, f"{where}.schedule")
        described["schedule"] = {"name": sname, "options": soptions}
    opt = _construct(
        "optimizer", getattr(keras.optimizers, name), {"learning_rate": rate, **options}, f"{where}.optimizer"
    )
    return opt, described


def build_loss(loss: Any, *, task: str, units: int, where: str, as_object: bool) -> tuple[Any, str]:
    """The loss ``compile()`` gets, and its name for the record.

    A Keras loss named without options goes to ``compile()`` as the name itself (Keras
    resolves it); ``as_object`` (a user's own loop) gets a :class:`keras.losses.Loss` that
    reduces over the batch. The user's ``file.py:function`` is imported and used as it is.
    """
    import keras

    from .models import load_builder

    if loss is None:
        loss = default_loss(task, units)
    name = keras_api.spec_name(loss)
    if isinstance(loss, str) and keras_api.is_reference(loss):
        return load_builder(loss, f"{where}.loss"), loss
    if isinstance(loss, str) and not as_object and loss in keras_api.api()["loss_names"]:
        return loss, loss
    if isinstance(loss, str) and not keras_api.is_reference(loss):
        try:
            cname, options = keras_api.resolve("loss", loss, f"{where}.loss")
        except ConfigError:
            # an alias compile() knows ("mse"): its function's name is the class's
            function = keras.losses.get(loss)
            cname, options = keras_api.resolve("loss", function.__name__, f"{where}.loss")
    else:
        cname, options = keras_api.resolve("loss", loss, f"{where}.loss")
    return _construct("loss", getattr(keras.losses, cname), options, f"{where}.loss"), name


def build_callbacks(callbacks: list[Any], *, where: str) -> list[Any]:
    import keras

    found = []
    for i, spec in enumerate(callbacks):
        name, options = keras_api.resolve("callback", spec, f"{where}.callbacks[{i}]")
        found.append(_construct("callback", getattr(keras.callbacks, name), options, f"{where}.callbacks[{i}]"))
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


class Epochs:
    """The per-epoch record of a training: the weights' checksum after every epoch, the
    history of the logged quantities, and a log line per epoch."""

    def __init__(self, model, *, experiment: str, seed: int, epochs: int):
        self.model = model
        self.experiment, self.seed, self.epochs = experiment, seed, epochs
        self.weights: list[str] = []
        self.history: dict[str, list[float]] = {}

    def end(self, epoch: int, logs: dict[str, Any] | None) -> str:
        """Record the end of ``epoch`` (0-based); returns the weights' checksum."""
        if epoch != len(self.weights):
            raise ConfigError(
                f"epoch_end({epoch}) after {len(self.weights)} epoch(s): call it once per epoch, "
                f"in order, counting from 0 (a resumed run from ctx.start_epoch: loop over "
                f"range(ctx.start_epoch, ctx.epochs))"
            )
        digest, _ = hash_arrays(weights_of(self.model))
        self.weights.append(digest)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        shown = " ".join(f"{k} {float(v):.6g}" for k, v in (logs or {}).items())
        log.info(
            "train %s seed %d: epoch %d/%d %s weights %s",
            self.experiment,
            self.seed,
            epoch + 1,
            self.epochs,
            shown,
            digest[7:19],
        )
        return digest


@dataclasses.dataclass
class TrainContext:
    """What a trainer (``train.trainer``) is called with; see config/README.md.

    The trainer trains ``model`` in place for ``epochs`` epochs and calls
    :meth:`epoch_end` after each one. Everything random it needs comes from here: the
    batch order of each epoch (:meth:`order`, :meth:`batches`) and named sub-seeds
    (:attr:`seeds`), so the run is the same on every rerun.
    """

    model: Any  #: the Keras model, with the init weights, uncompiled
    #: training features (the validation samples held out): an array, or, for a streamed
    #: data set, rows read from disk when indexed (``ctx.x[idx]`` gives an array either way)
    x: Any
    y: np.ndarray  #: training labels or targets, as the loss wants them
    validation: tuple[np.ndarray, np.ndarray] | None  #: (x, y) held out, or None
    epochs: int
    batch_size: int
    task: str  #: multiclass, binary or regression
    n_classes: int  #: classes, or target columns for a regression
    optimizer: Any  #: the keras optimizer of train.optimizer (with train.schedule)
    loss: Any  #: the keras loss of train.loss (or the task's default), a callable (y_true, y_pred)
    seeds: SeedSource  #: ``seeds("name")``: a named sub-seed of the experiment's seed (recorded)
    class_weight: dict[int, float] | None  #: train.class_weight as {class index: weight}, or None
    #: the first epoch to run: 0, or where a resumed run goes on (the model and optimizer
    #: hold that point's state); loop over ``range(ctx.start_epoch, ctx.epochs)``
    start_epoch: int = 0
    _orders: np.ndarray = dataclasses.field(repr=False, default=None)
    _run: Run = dataclasses.field(repr=False, default=None)

    def order(self, epoch: int) -> np.ndarray:
        """The seeded order of the training samples in ``epoch`` (0-based)."""
        return self._orders[epoch]

    def batches(self, epoch: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(x, y)`` batches of ``epoch`` in its seeded order; the last one may be shorter."""
        order = self._orders[epoch]
        for start in range(0, len(order), self.batch_size):
            if self._run is not None and self._run.signals.received:
                self._run.stop(epoch, start // self.batch_size)
            idx = order[start : start + self.batch_size]
            yield self.x[idx], self.y[idx]

    def epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        """Call after each epoch (0-based) with what to record (``{"loss": ...}``): samebits
        records the weights' checksum and the logs, as for ``fit()``, and checkpoints."""
        self._run.epoch_end(epoch, logs)


def run_trainer(func: Callable[[TrainContext], Any], ctx: TrainContext, ref: str) -> None:
    """Call the user's trainer; it must have ended at least one epoch."""
    func(ctx)
    if not ctx._run.record.weights:
        raise ConfigError(
            f"train.trainer {ref!r} returned without calling ctx.epoch_end(epoch, logs); "
            "call it after every epoch so samebits can record the epoch's weights"
        )


class Run:
    """The checkpoints of one training (:mod:`samebits.ml.resume`): what it saves at an
    epoch end or batch boundary, and what it restores when the step starts again."""

    def __init__(
        self,
        *,
        model,
        optimizer,
        callbacks: list[Any],
        record: Epochs,
        store: resume.Store,
        clock: resume.Clock,
        signals: resume.Signals,
        steps: int,
    ):
        self.model, self.optimizer, self.callbacks, self.record = model, optimizer, callbacks, record
        self.store, self.clock, self.signals, self.steps = store, clock, signals, steps
        self.epochs = record.epochs
        self.name = f"train {record.experiment} seed {record.seed}"
        #: every resume of this training so far, earlier attempts' included
        self.resumed: list[dict[str, Any]] = []
        self.stopped = False  # an EarlyStopping had stopped the training at the checkpoint
        self._callback_states: list[tuple[dict[str, Any], list[np.ndarray]]] | None = None
        self._metrics: list[np.ndarray] | None = None
        self.last: Path | None = None

    def layout(self) -> dict[str, Any]:
        return {
            "model": resume.variables_layout(self.model.variables),
            "optimizer": resume.variables_layout(self.optimizer.variables),
        }

    def restore(self) -> resume.Checkpoint | None:
        """Load the newest valid checkpoint of this step's key, if there is one."""
        ckpt = self.store.latest(self.layout())
        if ckpt is None:
            return None
        meta = ckpt.meta
        resume.assign(self.model.variables, ckpt.group("model"), "model")
        resume.assign(self.optimizer.variables, ckpt.group("optimizer"), "optimizer")
        self.record.weights = list(meta["epoch_weights"])
        self.record.history = {k: list(v) for k, v in meta["history"].items()}
        resume.set_rng_state(meta["rng"])
        self._callback_states = [(v, ckpt.group(f"callback{i}")) for i, v in enumerate(meta["callbacks"])]
        self.apply_callback_states()
        self._metrics = ckpt.group("metrics") if ckpt.batch else None
        self.stopped = bool(meta["stopped"])
        self.resumed = [*meta["resumed"], {"epoch": ckpt.epoch, "batch": ckpt.batch, "checkpoint": ckpt.path.name}]
        log.info("%s: resumed from checkpoint %s, %s", self.name, ckpt.path, ckpt.describe())
        return ckpt

    def apply_callback_states(self) -> None:
        """Put the callbacks' saved state back (after their on_train_begin reset it)."""
        for callback, (values, arrays) in zip(self.callbacks, self._callback_states or [], strict=False):
            resume.set_callback_state(callback, values, arrays)

    def keep_callback_states(self) -> None:
        """Take the callbacks' state now, to put back after the next fit() resets it."""
        self._callback_states = [resume.callback_state(c) for c in self.callbacks]
        self._callback_states = [(v, [a[k] for k in sorted(a)]) for v, a in self._callback_states]

    def apply_metrics(self) -> None:
        if self._metrics is not None:
            resume.assign(self.model.metrics_variables, self._metrics, "metrics")
            self._metrics = None

    def save(self, epoch: int, batch: int) -> None:
        """Checkpoint at ``(epoch, batch)``: the next epoch and batch to run."""
        arrays = {
            **resume.variables_state("model", self.model.variables),
            **resume.variables_state("optimizer", self.optimizer.variables),
        }
        if batch:
            arrays.update(resume.variables_state("metrics", self.model.metrics_variables))
        states = []
        for i, callback in enumerate(self.callbacks):
            values, found = resume.callback_state(callback)
            states.append(values)
            arrays.update({f"callback{i}/{k}": a for k, a in found.items()})
        meta = {
            "epochs": self.epochs,
            "steps": self.steps,
            "epoch_weights": self.record.weights,
            "history": self.record.history,
            "callbacks": states,
            "rng": resume.rng_state(),
            "stopped": bool(getattr(self.model, "stop_training", False)),
            "resumed": self.resumed,
            "layout": self.layout(),
        }
        self.last = self.store.save(resume.Checkpoint(epoch=epoch, batch=batch, meta=meta, arrays=arrays))
        self.clock.saved()
        log.info("%s: checkpoint %s, %s", self.name, self.last, resume.describe(epoch, batch, self.epochs, self.steps))

    def epoch_end(self, epoch: int, logs: dict[str, Any] | None) -> None:
        """Record the epoch; checkpoint when one is due or a signal came; stop on a signal."""
        self.record.end(epoch, logs)
        if self.signals.received or self.clock.epoch_due(epoch + 1):
            self.save(epoch + 1, 0)
        if self.signals.received:
            self.stop(epoch + 1, 0)

    def batch_end(self, epoch: int, done: int) -> None:
        """After ``done`` batches of ``epoch``: checkpoint when due or a signal came (the
        epoch's last batch waits for its epoch end, a moment later)."""
        if done < self.steps and (self.signals.received or self.clock.batch_due()):
            self.save(epoch, done)
            if self.signals.received:
                self.stop(epoch, done)

    def stop(self, epoch: int, batch: int) -> None:
        """End the step after a signal, saying where a rerun resumes."""
        here = resume.describe(epoch, batch, self.epochs, self.steps)
        if self.last is not None and self.last.name.endswith(f"-e{epoch:05d}-b{batch:06d}.npz"):
            where = f"checkpoint {self.last} written {here}"
        else:
            latest = self.store.latest(self.layout())
            where = (
                f"no checkpoint inside a trainer's epoch; a rerun resumes from {latest.path}, {latest.describe()}"
                if latest is not None
                else "no checkpoint yet; a rerun starts from epoch 0"
            )
        raise resume.Interrupted(
            f"{self.name}: stopped by {self.signals.received}; {where}; "
            "rerun (snakemake --rerun-incomplete, or a SLURM retry) to resume"
        )


def fit(
    run: Run,
    *,
    batches: Callable[[int, int], Any],
    validation: Any,
    start: resume.Checkpoint | None,
) -> None:
    """``model.fit()`` over every epoch from ``start`` (or from epoch 0), checkpointing as
    ``run`` says; ``batches(epoch, batch)`` is the dataset of every batch from that point.

    A resume in the middle of an epoch finishes that epoch in a fit() of its own, whose
    user callbacks see neither on_train_begin (which would reset their state) nor
    on_train_end (where EarlyStopping would restore its best weights mid-training), and
    whose end does not swap in an optimizer's moving averages (``use_ema``). Another fit()
    runs the remaining epochs; the callbacks' state is put back after it resets them.
    """
    import keras

    model, steps, epochs = run.model, run.steps, run.epochs

    class Checkpointer(keras.callbacks.Callback):
        def __init__(self, first_batch: int = 0):
            super().__init__()
            self.first_batch, self.epoch = first_batch, 0

        def on_train_begin(self, logs=None):
            run.apply_callback_states()

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch
            run.apply_metrics()

        def on_train_batch_end(self, batch, logs=None):
            run.batch_end(self.epoch, self.first_batch + batch + 1)

        def on_epoch_end(self, epoch, logs=None):
            self.first_batch = 0
            run.epoch_end(epoch, logs)  # after the user's callbacks: the weights the epoch ends with

    fit_args = {"shuffle": False, "verbose": 0, "validation_data": validation}
    epoch = 0 if start is None else start.epoch
    if start is not None and start.batch:
        # The TensorFlow backend creates the metric variables when it first traces a train
        # step; they must exist now, to take the saved running sums (Keras' own build,
        # symbolic: no step runs, no state but the zeroed metrics changes).
        model._symbolic_build(data_batch=next(iter(batches(epoch, start.batch))))
        quiet = [_Quiet(c) for c in run.callbacks]
        finalize = run.optimizer.finalize_variable_values
        run.optimizer.finalize_variable_values = lambda *args, **kwargs: None
        try:
            model.fit(
                batches(epoch, start.batch),
                epochs=epoch + 1,
                initial_epoch=epoch,
                steps_per_epoch=steps - start.batch,
                callbacks=[*quiet, Checkpointer(start.batch)],
                **fit_args,
            )
        finally:
            run.optimizer.finalize_variable_values = finalize
        run.stopped = bool(model.stop_training)
        run.keep_callback_states()
        epoch += 1
    last = epoch if run.stopped else epochs
    model.fit(
        batches(min(epoch, epochs - 1), 0),
        epochs=last,
        initial_epoch=epoch,
        steps_per_epoch=steps,
        callbacks=[*run.callbacks, Checkpointer()],
        **fit_args,
    )


class _Quiet:
    """A user's callback for the rest of a resumed epoch (see :func:`fit`)."""

    def __new__(cls, inner):
        import keras

        class Quiet(keras.callbacks.Callback):
            def set_model(self, model):
                super().set_model(model)
                inner.set_model(model)

            def set_params(self, params):
                super().set_params(params)
                inner.set_params(params)

        for hook in (
            "on_epoch_begin",
            "on_epoch_end",
            "on_train_batch_begin",
            "on_train_batch_end",
            "on_test_begin",
            "on_test_end",
            "on_test_batch_begin",
            "on_test_batch_end",
        ):
            setattr(Quiet, hook, lambda self, *args, _hook=hook, **kwargs: getattr(inner, _hook)(*args, **kwargs))
        return Quiet()
