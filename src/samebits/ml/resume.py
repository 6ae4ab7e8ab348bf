"""Checkpoints of a training, and resuming from one to the bits of an uninterrupted run.

A train step killed at epoch k (a time limit, preemption, a crash) starts again from its
newest checkpoint instead of from epoch 0, and ends with weights, history and record
content byte-identical to a run that was never interrupted. A checkpoint holds what decides
the rest of the training, and only that:

- every variable of the model (``model.variables``): the weights, non-trainable state such
  as BatchNormalization's moving statistics, and every ``SeedGenerator``'s
  ``[seed, counter]`` (Dropout, augmentation layers): the counter decides the next mask;
- every optimizer variable: the iteration count (which a schedule reads), the moments, and
  the learning rate (which ReduceLROnPlateau lowers);
- in the middle of an epoch, the metric variables: the running sums whose means are the
  epoch's logged loss and metrics;
- the position: the next epoch and batch. Every epoch's batch order is drawn up front from
  the seed, so the position is all the data pipeline needs;
- the per-epoch weight checksums and history so far, and how often the run was resumed;
- the state of the callbacks that decide the result: EarlyStopping's best value, best
  epoch, best weights, wait counter and stopped epoch; ReduceLROnPlateau's best value, wait
  and cooldown counters;
- Python's and NumPy's global random states (a trainer of the user's may draw from them;
  ``fit()`` does not).

A checkpoint lives outside the step's outputs (Snakemake deletes those before rerunning an
incomplete job), in :data:`samebits.core.layout.RESUME`, named by a key of everything
that decides the step (:func:`key_parts`): a checkpoint made from other inputs, params,
code, determinism settings or bit-deciding environment is never resumed, and the log says
which of them differ. The two newest are kept; a checkpoint that cannot be read or whose
content does not match its own checksum is reported and skipped, never trusted. The
directory is removed when the step succeeds.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import re
import signal
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np

from ..core import fileio
from ..core.differences import deep_diff
from ..core.errors import SamebitsError
from ..core.hashing import digest_arrays, hash_json_obj

__all__ = [
    "FORMAT",
    "KEPT",
    "SIGNALS",
    "Checkpoint",
    "Interrupted",
    "Signals",
    "Store",
    "callback_state",
    "key_parts",
    "set_callback_state",
]

log = logging.getLogger(__name__)

#: Version of the checkpoint layout; another version is not resumed.
FORMAT = 1
#: How many checkpoints of one key are kept (the newest first): if the newest cannot be
#: read, the one before it still saves most of the work.
KEPT = 2
#: The signals that make a training checkpoint at the next batch boundary and stop: SLURM
#: sends SIGTERM at the time limit (and on preemption), ``--signal=USR1@N`` N seconds earlier.
SIGNALS = (signal.SIGTERM, signal.SIGUSR1)

#: The state of each callback training may use (samebits.ml.keras_api) that decides the
#: result, besides EarlyStopping's best weights (arrays).
CALLBACK_STATE = {
    "EarlyStopping": ("wait", "stopped_epoch", "best", "best_epoch"),
    "ReduceLROnPlateau": ("wait", "best", "cooldown_counter"),
    "TerminateOnNaN": (),
}

_NAME = re.compile(r"^(?P<key>[0-9a-f]{16})-e(?P<epoch>\d{5})-b(?P<batch>\d{6})\.npz$")


class Interrupted(SamebitsError):
    """Training stopped on a signal after writing a checkpoint; a rerun resumes from it."""


def key_parts(
    *,
    inputs: Mapping[str, Any],
    params: Mapping[str, Any],
    code: Mapping[str, Any],
    determinism: Mapping[str, Any],
    environment: Mapping[str, Any],
) -> dict[str, Any]:
    """Everything that decides a train step's bits; a checkpoint's key is its checksum."""
    return json.loads(
        json.dumps(
            {
                "format": FORMAT,
                "inputs": dict(inputs),
                "params": dict(params),
                "code": dict(code),
                "determinism": dict(determinism),
                "environment": dict(environment),
            }
        )
    )


class Checkpoint:
    """The state of a training at a position: ``epoch`` is the next epoch to run (0-based)
    and ``batch`` the next batch in it (0 at an epoch boundary)."""

    def __init__(self, *, epoch: int, batch: int, meta: dict[str, Any], arrays: dict[str, np.ndarray]):
        self.epoch, self.batch, self.meta, self.arrays = epoch, batch, meta, arrays
        self.path: Path | None = None

    def group(self, name: str) -> list[np.ndarray]:
        """The arrays saved under ``name`` (``model``, ``optimizer``, ``metrics``,
        ``callback3``), in their saved order."""
        prefix = f"{name}/"
        return [self.arrays[k] for k in sorted(k for k in self.arrays if k.startswith(prefix))]

    def describe(self) -> str:
        return describe(self.epoch, self.batch, self.meta.get("epochs"), self.meta.get("steps"))


def describe(epoch: int, batch: int, epochs: int | None = None, steps: int | None = None) -> str:
    """Where a checkpoint stands, in words: ``after epoch 3 of 40`` or ``after batch 12 of
    34 of epoch 5``."""
    if batch == 0:
        return f"after epoch {epoch} of {epochs}" if epochs else f"after epoch {epoch}"
    of = f" of {steps}" if steps else ""
    return f"after batch {batch}{of} of epoch {epoch + 1}"


def variables_state(prefix: str, variables: Iterable[Any]) -> dict[str, np.ndarray]:
    """``{prefix/0000: value, ...}`` of Keras variables, in their order."""
    return {f"{prefix}/{i:04d}": np.array(v.numpy()) for i, v in enumerate(variables)}


def variables_layout(variables: Iterable[Any]) -> list[list[Any]]:
    """``[path, shape, dtype]`` of each variable: what a checkpoint must match to be assigned."""
    return [[v.path, list(v.shape), str(np.dtype(v.dtype))] for v in variables]


def assign(variables: Sequence[Any], values: list[np.ndarray], what: str) -> None:
    if len(values) != len(variables):
        raise ValueError(f"{what}: {len(values)} saved values for {len(variables)} variables")
    for v, value in zip(variables, values, strict=True):
        v.assign(value)


def callback_state(callback: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """What of ``callback`` decides the result, as JSON values and arrays."""
    name = type(callback).__name__
    if name not in CALLBACK_STATE:
        raise SamebitsError(f"samebits cannot checkpoint the state of the callback {name}")
    values = {}
    for attr in CALLBACK_STATE[name]:
        value = getattr(callback, attr, None)
        values[attr] = None if value is None else (int(value) if isinstance(value, int | np.integer) else float(value))
    arrays = {}
    best = getattr(callback, "best_weights", None)
    if name == "EarlyStopping":
        values["has_best_weights"] = best is not None
        arrays = {f"{i:04d}": np.array(w) for i, w in enumerate(best or [])}
    return values, arrays


def set_callback_state(callback: Any, values: dict[str, Any], arrays: list[np.ndarray]) -> None:
    for attr in CALLBACK_STATE[type(callback).__name__]:
        setattr(callback, attr, values[attr])
    if type(callback).__name__ == "EarlyStopping":
        callback.best_weights = [np.array(a) for a in arrays] if values["has_best_weights"] else None


def rng_state() -> dict[str, Any]:
    """Python's and NumPy's global random states, as JSON."""
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "python": [version, list(internal), gauss],
        "numpy": [kind, np.asarray(keys).tolist(), int(pos), int(has_gauss), float(cached)],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))


class Store:
    """The checkpoints of one train step, in ``directory``, for the step's key parts."""

    def __init__(self, directory: str | Path, parts: dict[str, Any], *, failpoint: str | None = None):
        self.directory = Path(directory)
        self.parts = parts
        self.key = hash_json_obj(parts).removeprefix("sha256:")[:16]
        # tests only: SAMEBITS_FAILPOINT=checkpoint-write@<epoch> kills this process (SIGKILL)
        # half-way through writing the checkpoint at that epoch's end, checkpoint-saved@<epoch>
        # right after writing it; sigterm@<epoch>.<batch> sends it SIGTERM after that batch of
        # that epoch (1-based; checkpointing.Checkpointer.batch_end)
        self.failpoint = failpoint if failpoint is not None else os.environ.get("SAMEBITS_FAILPOINT", "")

    def _files(self) -> list[tuple[Path, re.Match[str]]]:
        try:
            names = sorted(os.listdir(self.directory))
        except FileNotFoundError:
            return []
        found = [(self.directory / n, m) for n in names if (m := _NAME.match(n))]
        # newest first: the furthest position
        return sorted(found, key=lambda f: (int(f[1]["epoch"]), int(f[1]["batch"])), reverse=True)

    def latest(self, expect: dict[str, Any]) -> Checkpoint | None:
        """The newest valid checkpoint of this key, or ``None``; every file skipped is
        reported with the reason. ``expect`` is what the arrays' layout must be
        (``{"model": [[path, shape, dtype], ...], "optimizer": ...}``)."""
        other = []
        for path, match in self._files():
            if match["key"] != self.key:
                other.append(path)
                continue
            try:
                ckpt = self._read(path, expect)
            except Exception as exc:  # anything unreadable is reported and skipped
                log.warning("checkpoint %s is not usable (%s); it is ignored", path, _short(exc))
                continue
            return ckpt
        for path in other:
            log.warning("checkpoint %s is not used: %s", path, self._why_other(path))
        return None

    def _why_other(self, path: Path) -> str:
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
            found = deep_diff(meta["parts"], self.parts, ("",))
        except Exception as exc:
            return f"it cannot be read ({_short(exc)})"
        if not found:
            return "it was made for another key"
        shown = "; ".join(str(d).lstrip(".") for d in found[:5])
        more = f" (and {len(found) - 5} more)" if len(found) > 5 else ""
        return f"it was made with other inputs, params, code or environment: {shown}{more}"

    def _read(self, path: Path, expect: dict[str, Any]) -> Checkpoint:
        with np.load(path, allow_pickle=False) as z:
            arrays = {name: z[name] for name in z.files}
        meta = json.loads(str(arrays.pop("meta")))
        if meta.get("format") != FORMAT:
            raise ValueError(f"format {meta.get('format')}, this samebits reads {FORMAT}")
        if meta.get("key") != self.key or meta.get("parts") != self.parts:
            raise ValueError("its key does not match its content")
        digest = digest_arrays(arrays)
        if digest != meta.get("arrays_sha256"):
            raise ValueError("its arrays do not match their checksum")
        for group, layout in expect.items():
            if meta["layout"].get(group) != layout:
                raise ValueError(f"its {group} variables are not this model's")
        ckpt = Checkpoint(epoch=int(meta["epoch"]), batch=int(meta["batch"]), meta=meta, arrays=arrays)
        ckpt.path = path
        return ckpt

    def path(self, epoch: int, batch: int) -> Path:
        """Where the checkpoint at ``(epoch, batch)`` of this key is written."""
        return self.directory / f"{self.key}-e{epoch:05d}-b{batch:06d}.npz"

    def save(self, ckpt: Checkpoint) -> Path:
        """Write ``ckpt`` atomically; keep the :data:`KEPT` newest of this key, drop the rest
        (and any checkpoint of another key: this step will never resume from it)."""
        dest = self.path(ckpt.epoch, ckpt.batch)
        digest = digest_arrays(ckpt.arrays)
        meta = {**ckpt.meta, "format": FORMAT, "key": self.key, "parts": self.parts, "arrays_sha256": digest}
        meta.update(epoch=ckpt.epoch, batch=ckpt.batch)
        arrays = {**ckpt.arrays, "meta": np.asarray(json.dumps(meta, sort_keys=True))}
        with fileio.atomic_path(dest) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **{k: arrays[k] for k in sorted(arrays)})  # type: ignore[arg-type]  # (NumPy's stub)
            if self.failpoint == f"checkpoint-write@{ckpt.epoch}" and ckpt.batch == 0:
                with open(tmp, "r+b") as fh:
                    fh.truncate(os.path.getsize(tmp) // 2)
                _kill_self(f"failpoint {self.failpoint}: killed half-way through writing {dest}")
        if self.failpoint == f"checkpoint-saved@{ckpt.epoch}" and ckpt.batch == 0:
            _kill_self(f"failpoint {self.failpoint}: killed right after writing {dest}")
        kept = 0
        for path, match in self._files():
            if match["key"] == self.key and kept < KEPT:
                kept += 1
                continue
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        return dest

    def clear(self) -> None:
        """Remove every checkpoint and the directory (the step succeeded)."""
        for path, _ in self._files():
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        with contextlib.suppress(OSError):
            self.directory.rmdir()


def _kill_self(message: str) -> None:
    log.warning("%s", message)
    logging.shutdown()
    os.kill(os.getpid(), signal.SIGKILL)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Signals:
    """SIGTERM and SIGUSR1 set a flag instead of ending the process, so training can
    checkpoint at the next batch boundary and stop (:meth:`received`)."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._saved: dict[signal.Signals, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signal is None:
            self.signal = signum
            log.warning("received %s: checkpointing at the next batch boundary, then stopping", _name(signum))

    @property
    def received(self) -> str | None:
        return None if self.signal is None else _name(self.signal)

    @contextlib.contextmanager
    def caught(self) -> Iterator[Signals]:
        for sig in SIGNALS:
            self._saved[sig] = signal.signal(sig, self._handle)
        try:
            yield self
        finally:
            for sig, handler in self._saved.items():
                signal.signal(sig, handler)


def _name(signum: int) -> str:
    return signal.Signals(signum).name


class Clock:
    """When a checkpoint is due: at every ``every_epochs``-th epoch end, and at the first
    batch boundary ``every_minutes`` after the last one."""

    def __init__(self, every_epochs: int | None, every_minutes: float | None):
        self.every_epochs, self.every_minutes = every_epochs, every_minutes
        self.last = time.monotonic()

    def epoch_due(self, epochs_done: int) -> bool:
        every = self.every_epochs
        return (every is not None and every > 0 and epochs_done % every == 0) or self._minutes_due()

    def batch_due(self) -> bool:
        return self._minutes_due()

    def _minutes_due(self) -> bool:
        return self.every_minutes is not None and time.monotonic() - self.last >= 60 * self.every_minutes

    def saved(self) -> None:
        self.last = time.monotonic()
