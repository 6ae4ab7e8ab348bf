"""Feature scaling fitted on the training samples only, and the features as a model reads them.

``datasets.<name>.scale`` is one of :data:`SCALES`. Split fits it on its ``train`` indices
(never the test samples) and writes it into the split file, so train and evaluate apply the
same numbers and the split's checksum covers them:

- ``maxabs``: ``x / max|x|``;
- ``minmax``: ``(x - min) / (max - min)``;
- ``standard``: ``(x - mean) / std`` (population std);
- ``none``: the features as stored, in their stored dtype (integer ids stay integers, for an
  ``Embedding``).

A statistic is taken per channel for image-shaped features ``(height, width, channels)``
and per feature otherwise; a zero range or std counts as 1. It is computed in float64 over
the training samples in index order, in blocks of :func:`block_rows` samples, whether they are
in memory or read from disk, so both give the same numbers; scaled features are float32.

:class:`Samples` is the features as a model reads them: rows of the stored features (an array
in memory, or :class:`samebits.ml.images.Rows` on disk) at given positions, scaled when read.
Reading all of them at once (:meth:`Samples.array`, the in-memory path) and a batch at a time
(the streamed path) gives the same values, since scaling is elementwise.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.errors import DataError

if TYPE_CHECKING:
    import numpy.typing as npt

    from .images import Rows

__all__ = ["BLOCK_BYTES", "SCALES", "Scaler", "Samples", "block_rows", "fit"]

#: The choices of ``datasets.<name>.scale`` (the config schema lists the same).
SCALES = ("maxabs", "minmax", "standard", "none")

#: Bytes of float64 per block when a statistic is taken (and per read when features are
#: scaled in full): a block is this many bytes' worth of samples, at least one.
BLOCK_BYTES = 1 << 25


def block_rows(shape: tuple[int, ...]) -> int:
    """Samples per block for features of ``shape`` (``(n, *feature_shape)``).

    >>> block_rows((1797, 8, 8, 1))
    65536
    """
    per_row = 8 * int(np.prod(shape[1:], dtype=np.int64))
    return max(1, BLOCK_BYTES // max(1, per_row))


@dataclasses.dataclass(frozen=True)
class Scaler:
    """``(x - offset) / factor`` as float32, or ``x`` unchanged for ``none``."""

    kind: str
    offset: np.ndarray  # float64, per channel or per feature
    factor: np.ndarray
    _lut: np.ndarray | None = dataclasses.field(default=None, compare=False, repr=False)

    def apply(self, x: np.ndarray) -> np.ndarray:
        if self.kind == "none":
            return x
        x = np.asarray(x)
        if x.dtype == np.uint8 and self.offset.shape == (x.shape[-1],):
            return self._table()[x.astype(np.intp) * len(self.offset) + np.arange(len(self.offset))]
        return self.formula(x)

    def formula(self, x: np.ndarray) -> np.ndarray:
        """``(x - offset) / factor`` in float64, rounded once to float32 (``x - 0`` is ``x``
        to the bit, so a zero offset is not subtracted: one pass less over a block)."""
        x = np.asarray(x, dtype=np.float64)
        return ((x - self.offset if self.offset.any() else x) / self.factor).astype(np.float32)

    def _table(self) -> np.ndarray:
        """:meth:`formula` of every uint8 value in every channel (or feature), flat: the value
        ``v`` of channel ``c`` at ``v * channels + c``. Pixels are scaled by looking them up,
        with the formula's bits, in a third of its time."""
        if self._lut is None:
            values = np.repeat(np.arange(256, dtype=np.uint8)[:, np.newaxis], len(self.offset), axis=1)
            object.__setattr__(self, "_lut", self.formula(values).reshape(-1))
        assert self._lut is not None
        return self._lut

    def meta(self) -> dict[str, np.ndarray]:
        """The split file's entries for this scaler."""
        return {
            "scale": np.asarray(self.kind),
            "scale_offset": np.asarray(self.offset, dtype=np.float64),
            "scale_factor": np.asarray(self.factor, dtype=np.float64),
        }

    @classmethod
    def from_meta(cls, meta: dict[str, np.ndarray], where: str) -> Scaler:
        if "scale" not in meta:
            raise DataError(
                f"{where}: no fitted scaling in this split file; it was made by an older samebits, rerun split"
            )
        return cls(str(meta["scale"]), np.asarray(meta["scale_offset"]), np.asarray(meta["scale_factor"]))

    def summary(self) -> dict[str, Any]:
        """For a record: the kind and the fitted numbers (rounded to 6 significant digits for
        reading; the split file holds them exactly)."""
        if self.kind == "none":
            return {"kind": "none"}

        def shown(values: np.ndarray) -> list[float]:
            return [float(f"{v:.6g}") for v in values.reshape(-1)[:16]]

        return {"kind": self.kind, "offset": shown(self.offset), "factor": shown(self.factor)}


def _axes(x_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The axes a statistic is taken over: samples and pixels for image-shaped features."""
    return (0, 1, 2) if len(x_shape) == 4 else (0,)


def _blocks(features: np.ndarray | Rows, idx: np.ndarray) -> Iterator[np.ndarray]:
    rows = block_rows(features.shape)
    for start in range(0, len(idx), rows):
        yield np.asarray(features[idx[start : start + rows]], dtype=np.float64)


def fit(kind: str, features: np.ndarray | Rows, train: np.ndarray, *, where: str) -> Scaler:
    """Fit ``kind`` on the rows ``train`` of ``features`` (an array, or rows on disk).

    Raises :class:`DataError` when a fitted number is not finite: features near float64's
    largest value (1.8e308) overflow a sum, a sum of squares or a range, which would make
    every scaled value NaN or 0.
    """
    if kind not in SCALES:
        raise DataError(f"{where}: scale {kind!r} is unknown; accepted: {', '.join(SCALES)}")
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused below, not warned about
        scaler = _fit(kind, features, train)
    _check_finite(scaler, features, train, where)
    return scaler


def _check_finite(scaler: Scaler, features: np.ndarray | Rows, train: np.ndarray, where: str) -> None:
    bad = ~(np.isfinite(scaler.offset) & np.isfinite(scaler.factor))
    if not bad.any():
        return
    at = np.unravel_index(int(np.argmax(bad)), bad.shape)
    axes = _axes((len(features), *features.shape[1:]))
    peak = max(float(np.max(np.abs(block), axis=axes)[at]) for block in _blocks(features, train))
    name = f"channel {at[0]}" if len(axes) > 1 else "feature " + ", ".join(str(int(i)) for i in at)
    what = {"standard": "sum or sum of squares", "minmax": "range (max - min)"}.get(scaler.kind, "statistic")
    raise DataError(
        f"{where}: scale {scaler.kind} cannot be fitted: the training values of {name} (counting from 0) reach "
        f"{peak:.6g} in magnitude, and their {what} exceeds float64's largest number "
        f"({np.finfo(np.float64).max:.6g}); divide the features by a power of ten before use, or use scale: maxabs"
    )


def _fit(kind: str, features: np.ndarray | Rows, train: np.ndarray) -> Scaler:
    shape = (len(features), *features.shape[1:])
    axes = _axes(shape)
    if kind == "none":
        return Scaler("none", np.zeros(0), np.ones(0))
    if kind == "maxabs":
        peak: Any = None  # NumPy's reductions are typed Any; None until the first block
        for block in _blocks(features, train):
            m = np.max(np.abs(block), axis=axes)
            peak = m if peak is None else np.maximum(peak, m)
        return Scaler(kind, np.zeros_like(peak), np.where(peak == 0, 1.0, peak))
    if kind == "minmax":
        low: Any = None
        high: Any = None
        for block in _blocks(features, train):
            lo, hi = np.min(block, axis=axes), np.max(block, axis=axes)
            low = lo if low is None else np.minimum(low, lo)
            high = hi if high is None else np.maximum(high, hi)
        span = high - low
        return Scaler(kind, low, np.where(span == 0, 1.0, span))
    # standard: two passes (mean, then the squares about it), each block summed and added in order
    count = len(train) * int(np.prod([shape[a] for a in axes[1:]], dtype=np.int64))
    total: Any = None
    for block in _blocks(features, train):
        s = np.sum(block, axis=axes)
        total = s if total is None else total + s
    mean = total / count
    squares: Any = None
    for block in _blocks(features, train):
        s = np.sum((block - mean) ** 2, axis=axes)
        squares = s if squares is None else squares + s
    std = np.sqrt(squares / count)
    return Scaler(kind, mean, np.where(std == 0, 1.0, std))


class Samples:
    """Rows ``positions`` of ``features`` (stored values), scaled by ``scaler`` when read.

    ``samples[idx]`` is the scaled rows ``positions[idx]``; :meth:`take` narrows the positions.
    """

    def __init__(self, features: np.ndarray | Rows, positions: np.ndarray, scaler: Scaler):
        self.features, self.positions, self.scaler = features, np.asarray(positions), scaler
        probe = scaler.apply(np.zeros((1, *features.shape[1:]), dtype=features.dtype))
        self.dtype = probe.dtype
        self.shape = (len(self.positions), *features.shape[1:])

    def __len__(self) -> int:
        return len(self.positions)

    def __getitem__(self, idx: Any) -> np.ndarray:
        return self.scaler.apply(self.features[self.positions[idx]])

    def take(self, idx: np.ndarray) -> Samples:
        return Samples(self.features, self.positions[idx], self.scaler)

    def array(self) -> np.ndarray:
        """Every row, scaled, in memory."""
        out = np.empty(self.shape, dtype=self.dtype)
        rows = block_rows(self.shape)
        for start in range(0, len(self), rows):
            out[start : start + rows] = self[np.arange(start, min(start + rows, len(self)))]
        return out

    def __array__(self, dtype: npt.DTypeLike | None = None, copy: bool | None = None) -> np.ndarray:
        """NumPy and TensorFlow read every row (a trainer's ``model(ctx.validation[0])``)."""
        out = self.array()
        return out if dtype is None else out.astype(dtype)

    @property
    def nbytes(self) -> int:
        """What :meth:`array` would hold."""
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize
