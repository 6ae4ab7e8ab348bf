"""The contract of a trainer of the user's (``train.trainer``): the training loop that runs
in place of Keras' ``fit()``, and the :class:`TrainContext` it is called with.

config/README.md ("Your own training loop") tells the user this contract; this module is
where its code is.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ..core.errors import ConfigError
from ..core.seeds import SeedSource
from .checkpointing import Checkpointer

__all__ = ["TrainContext", "run_trainer"]


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
    _orders: np.ndarray = dataclasses.field(repr=False, default=None)  # type: ignore[arg-type]  # (given by samebits)
    _checkpointer: Checkpointer = dataclasses.field(repr=False, default=None)  # type: ignore[assignment]  # (idem)

    def order(self, epoch: int) -> np.ndarray:
        """The seeded order of the training samples in ``epoch`` (0-based)."""
        return self._orders[epoch]

    def batches(self, epoch: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(x, y)`` batches of ``epoch`` in its seeded order; the last one may be shorter."""
        order = self._orders[epoch]
        for start in range(0, len(order), self.batch_size):
            if self._checkpointer is not None and self._checkpointer.signals.received:
                self._checkpointer.stop(epoch, start // self.batch_size)
            idx = order[start : start + self.batch_size]
            yield self.x[idx], self.y[idx]

    def epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        """Call after each epoch (0-based) with what to record (``{"loss": ...}``): samebits
        records the weights' checksum and the logs, as for ``fit()``, and checkpoints."""
        self._checkpointer.epoch_end(epoch, logs)


def run_trainer(func: Callable[[TrainContext], Any], ctx: TrainContext, ref: str) -> None:
    """Call the user's trainer; it must have ended at least one epoch."""
    func(ctx)
    if not ctx._checkpointer.record.checksums:
        raise ConfigError(
            f"train.trainer {ref!r} returned without calling ctx.epoch_end(epoch, logs); "
            "call it after every epoch so samebits can record the epoch's weights"
        )
