"""The checkpoints of one training: what is recorded at every epoch end (:class:`EpochLog`),
and what is saved at an epoch end or batch boundary and restored when the step starts again
(:class:`Checkpointer`), in the files of :mod:`samebits.ml.resume`.

Both ``fit()`` (:mod:`samebits.ml.fitting`) and a trainer of the user's
(:mod:`samebits.ml.trainer`) report their epochs and batches here, so their records and
checkpoints are one and the same.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import os
import signal
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import ConfigError
from ..core.hashing import hash_arrays
from . import resume
from .weights import weights_of

__all__ = ["Checkpointer", "EpochLog"]

log = logging.getLogger(__name__)


class EpochLog:
    """The per-epoch record of a training: the weights' checksum after every epoch
    (:attr:`checksums`), the history of the logged quantities, and a log line per epoch."""

    def __init__(self, model: Any, *, experiment: str, seed: int, epochs: int):
        self.model = model
        self.experiment, self.seed, self.epochs = experiment, seed, epochs
        self.checksums: list[str] = []
        self.history: dict[str, list[float]] = {}

    def end(self, epoch: int, logs: dict[str, Any] | None) -> str:
        """Record the end of ``epoch`` (0-based); returns the weights' checksum."""
        if epoch != len(self.checksums):
            raise ConfigError(
                f"epoch_end({epoch}) after {len(self.checksums)} epoch(s): call it once per epoch, "
                f"in order, counting from 0 (a resumed run from ctx.start_epoch: loop over "
                f"range(ctx.start_epoch, ctx.epochs))"
            )
        digest, _ = hash_arrays(weights_of(self.model))
        self.checksums.append(digest)
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


class Checkpointer:
    """The checkpoints of one training (:mod:`samebits.ml.resume`): what it saves at an
    epoch end or batch boundary, and what it restores when the step starts again.

    A checkpoint's values are copied when it is taken; hashing and writing them (and the
    fsyncs) run on a thread of their own while training goes on, one checkpoint at a time:
    the next one, a stop after a signal and the step's end each wait for the write before.
    Its log line comes once the file is in place."""

    def __init__(
        self,
        *,
        model: Any,
        optimizer: Any,
        callbacks: list[Any],
        record: EpochLog,
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
        #: the newest checkpoint of this training, written or resumed from: (path, epoch, batch)
        self.last: tuple[Path, int, int] | None = None
        self._writer: concurrent.futures.ThreadPoolExecutor | None = None
        self._writing: concurrent.futures.Future[None] | None = None

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
        self.record.checksums = list(meta["epoch_weights"])
        self.record.history = {k: list(v) for k, v in meta["history"].items()}
        resume.set_rng_state(meta["rng"])
        self._callback_states = [(v, ckpt.group(f"callback{i}")) for i, v in enumerate(meta["callbacks"])]
        self.apply_callback_states()
        self._metrics = ckpt.group("metrics") if ckpt.batch else None
        self.stopped = bool(meta["stopped"])
        assert ckpt.path is not None  # a checkpoint read from a file
        self.resumed = [*meta["resumed"], {"epoch": ckpt.epoch, "batch": ckpt.batch, "checkpoint": ckpt.path.name}]
        self.last = (ckpt.path, ckpt.epoch, ckpt.batch)
        log.info("%s: resumed from checkpoint %s, %s", self.name, ckpt.path, ckpt.describe())
        return ckpt

    def apply_callback_states(self) -> None:
        """Put the callbacks' saved state back (after their on_train_begin reset it)."""
        for callback, (values, arrays) in zip(self.callbacks, self._callback_states or [], strict=False):
            resume.set_callback_state(callback, values, arrays)

    def keep_callback_states(self) -> None:
        """Take the callbacks' state now, to put back after the next fit() resets it."""
        states = (resume.callback_state(c) for c in self.callbacks)
        self._callback_states = [(values, [arrays[k] for k in sorted(arrays)]) for values, arrays in states]

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
            "epoch_weights": self.record.checksums,
            "history": self.record.history,
            "callbacks": states,
            "rng": resume.rng_state(),
            "stopped": bool(getattr(self.model, "stop_training", False)),
            "resumed": self.resumed,
            "layout": self.layout(),
        }
        # as it is now: the history and checksum lists grow while the copy is written
        meta = json.loads(json.dumps(meta))
        ckpt = resume.Checkpoint(epoch=epoch, batch=batch, meta=meta, arrays=arrays)
        self.wait()
        if self._writer is None:
            self._writer = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="samebits-checkpoint")
        self._writing = self._writer.submit(self._write, ckpt)
        self.last = (self.store.path(epoch, batch), epoch, batch)
        self.clock.saved()

    def _write(self, ckpt: resume.Checkpoint) -> None:
        path = self.store.save(ckpt)
        here = resume.describe(ckpt.epoch, ckpt.batch, self.epochs, self.steps)
        log.info("%s: checkpoint %s, %s", self.name, path, here)

    def wait(self) -> None:
        """Wait for the checkpoint being written (its error, such as a full disk, is raised here)."""
        if self._writing is not None:
            writing, self._writing = self._writing, None
            writing.result()

    def finish(self) -> None:
        """The training ended: remove its checkpoints, once the one being written is."""
        self.wait()
        self.store.clear()

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
        if self.store.failpoint == f"sigterm@{epoch + 1}.{done}":  # tests only: a real signal, at an exact batch
            log.warning("failpoint %s: sending this process SIGTERM", self.store.failpoint)
            os.kill(os.getpid(), signal.SIGTERM)
        if done < self.steps and (self.signals.received or self.clock.batch_due()):
            self.save(epoch, done)
            if self.signals.received:
                self.stop(epoch, done)

    def stop(self, epoch: int, batch: int) -> None:
        """End the step after a signal, saying where a rerun resumes."""
        self.wait()
        here = resume.describe(epoch, batch, self.epochs, self.steps)
        if self.last is None:
            where = "no checkpoint yet; a rerun starts from epoch 0"
        elif self.last[1:] == (epoch, batch):
            where = f"checkpoint {self.last[0]} written {here}"
        else:
            path, at_epoch, at_batch = self.last
            where = (
                f"no checkpoint inside a trainer's epoch; a rerun resumes from {path}, "
                f"{resume.describe(at_epoch, at_batch, self.epochs, self.steps)}"
            )
        raise resume.Interrupted(
            f"{self.name}: stopped by {self.signals.received}; {where}; "
            "rerun (snakemake --rerun-incomplete, or a SLURM retry) to resume"
        )
