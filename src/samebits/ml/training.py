"""What trains a model: a trainer of the user's or Keras' ``fit()``, over the same data, in
the same seeded batch order, reporting every epoch to the same checkpointer.

:func:`training_data` takes the samples training fits on from a split (and holds out a
seeded validation part); :func:`epoch_orders` draws every epoch's batch order from the
seed; :func:`train_model` runs the one or the other and says how the training ended.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import numpy as np

from ..core.errors import ConfigError
from ..core.hashing import hash_arrays
from ..core.seeds import SeedSource
from ..core.usercode import CodeRef
from . import batches, data, fitting, resume, scaling
from .checkpointing import Checkpointer
from .compiling import Compiled, sample_weights, targets_for
from .trainer import TrainContext, run_trainer

__all__ = ["TrainingData", "epoch_orders", "train_model", "training_data"]

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class TrainingData:
    """The samples training fits on: features ``x`` (an array, or rows streamed from disk),
    targets ``y`` as the loss wants them, their class ``labels``, the held-out
    ``validation`` ``(x, y)`` or ``None``, and what the record says of the validation part."""

    x: Any
    y: np.ndarray
    labels: np.ndarray
    validation: tuple[Any, np.ndarray] | None
    trace: dict[str, Any]


def training_data(
    ds: data.Dataset,
    meta: dict[str, np.ndarray],
    scaler: scaling.Scaler,
    *,
    task: str,
    units: int,
    validation_fraction: float | None,
    stream: bool | None,
    seeds: SeedSource,
    where: str,
) -> TrainingData:
    """The split's training samples of ``ds``, scaled; with ``validation_fraction`` a seeded
    part of them (stratified for a classification, sub-seed ``validation``) held out."""
    train_idx = meta["train"]
    y, labels = targets_for(ds.y[train_idx], task=task, units=units), ds.y[train_idx]
    if validation_fraction is None:
        return TrainingData(batches.features(ds, train_idx, scaler, stream), y, labels, None, {})
    held = data.validation_indices(
        ds.y[train_idx], fraction=validation_fraction, seed=seeds("validation"), task=task, where=where
    )
    kept, out = held["fit"], held["validation"]
    validation = (batches.features(ds, train_idx[out], scaler, stream), y[out])
    x = batches.features(ds, train_idx[kept], scaler, stream)
    digest, _ = hash_arrays({"validation": train_idx[out]})
    trace = {"validation": {"n": len(out), "indices_sha256": digest}}
    return TrainingData(x, y[kept], labels[kept], validation, trace)


def epoch_orders(n: int, *, epochs: int, seed: int) -> np.ndarray:
    """The order of the ``n`` training samples in every epoch, ``(epochs, n)``.

    Every epoch's order is drawn up front from one generator seeded with ``seed`` (the same
    draws, in the same order, as one permutation per epoch), and one fit() runs all epochs
    over a dataset that yields each epoch's batches in that order. A fit() per epoch gives
    the same bits but costs tens of milliseconds per call.
    """
    rng = np.random.default_rng(seed)
    index_dtype = np.int32 if n < 2**31 else np.int64
    return np.stack([rng.permutation(n).astype(index_dtype) for _ in range(epochs)])


def train_model(
    checkpointer: Checkpointer,
    samples: TrainingData,
    compiled: Compiled,
    orders: np.ndarray,
    *,
    batch_size: int,
    trainer: CodeRef | None,
    task: str,
    n_classes: int,
    seeds: SeedSource,
    where: str,
) -> dict[str, Any]:
    """Train ``checkpointer.model`` from its newest checkpoint, if there is one, with the
    user's ``trainer`` or with ``fit()``, over ``samples`` in the batch ``orders``; returns
    how the training ended, for the record (``stopped_epoch``, ``restored_epoch``, where they
    apply). ``where`` is the experiment's ``train`` key, for messages."""
    with checkpointer.signals.caught():
        start = checkpointer.restore()
        if trainer is not None:
            ctx = _context(checkpointer, start, samples, compiled, orders, batch_size, task, n_classes, seeds)
            _with_trainer(checkpointer, trainer, ctx, f"{where}.trainer")
            ended: dict[str, Any] = {}
        else:
            ended = _with_fit(checkpointer, start, samples, compiled, orders, batch_size)
    name, epochs, done = checkpointer.name, checkpointer.epochs, len(checkpointer.record.checksums)
    if done < epochs:
        ended.setdefault("stopped_epoch", done)
        log.info("%s: stopped after epoch %d of %d", name, done, epochs)
    if "restored_epoch" in ended:
        log.info("%s: weights of epoch %d restored", name, ended["restored_epoch"])
    return ended


def _context(
    checkpointer: Checkpointer,
    start: resume.Checkpoint | None,
    samples: TrainingData,
    compiled: Compiled,
    orders: np.ndarray,
    batch_size: int,
    task: str,
    n_classes: int,
    seeds: SeedSource,
) -> TrainContext:
    """What the user's trainer is called with."""
    return TrainContext(
        model=checkpointer.model,
        x=samples.x,
        y=samples.y,
        validation=samples.validation,
        epochs=checkpointer.epochs,
        batch_size=batch_size,
        task=task,
        n_classes=n_classes,
        optimizer=compiled.optimizer,
        loss=compiled.loss,
        seeds=seeds,
        class_weight=compiled.class_weight,
        start_epoch=0 if start is None else start.epoch,
        _orders=orders,
        _checkpointer=checkpointer,
    )


def _with_trainer(checkpointer: Checkpointer, trainer: CodeRef, ctx: TrainContext, where: str) -> None:
    """The user's own loop (``where``: its key, for messages)."""
    try:
        run_trainer(trainer.load(where), ctx, str(trainer))
    except ConfigError:
        if checkpointer.resumed:  # a trainer that does not go on from ctx.start_epoch
            checkpointer.finish()
        raise


def _with_fit(
    checkpointer: Checkpointer,
    start: resume.Checkpoint | None,
    samples: TrainingData,
    compiled: Compiled,
    orders: np.ndarray,
    batch_size: int,
) -> dict[str, Any]:
    """Keras' ``fit()`` of the compiled model, in the seeded batch order; returns where an
    ``EarlyStopping`` stopped and which epoch's weights it restored."""
    import keras

    model = checkpointer.model
    model.compile(optimizer=compiled.optimizer, loss=compiled.loss, metrics=compiled.metrics, jit_compile=False)
    weights = sample_weights(compiled.class_weight, samples.labels)
    x, y = samples.x, samples.y

    def from_(epoch: int, batch: int) -> Any:
        return batches.epoch_batches(x, y, orders[epoch:], batch_size, weights, first_batch=batch)

    fitting.fit(
        checkpointer,
        batches=from_,
        validation=None if samples.validation is None else batches.batches(samples.validation, batch_size),
        start=start,
    )
    ended: dict[str, Any] = {}
    for callback in compiled.callbacks:
        if isinstance(callback, keras.callbacks.EarlyStopping):
            ended["stopped_epoch"] = len(checkpointer.record.checksums)
            if callback.restore_best_weights and callback.best_weights is not None:
                ended["restored_epoch"] = callback.best_epoch + 1
    return ended
