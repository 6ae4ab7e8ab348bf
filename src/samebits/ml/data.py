"""Data sets: the bundled scikit-learn sets and the user's CSV or NPZ files.

Every loader returns the same shape of thing, a :class:`Dataset`, whose content checksum
is taken over the arrays as read (before scaling), so a reader whose data file differs by
one value is told so by the split step.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import DataError
from ..core.hashing import hash_arrays
from .sources import BUNDLED, check_source

__all__ = ["Dataset", "describe_source", "load", "split_indices", "test_quota"]


@dataclasses.dataclass(frozen=True)
class Dataset:
    """Features scaled for training, integer labels, and the raw content's checksum."""

    name: str
    x: np.ndarray  # float32, (n, *feature_shape)
    y: np.ndarray  # int64 in [0, n_classes)
    n_classes: int
    checksum: str

    @property
    def feature_shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape[1:])


#: The files scikit-learn's ``load_<name>()`` reads, in ``sklearn/datasets/data/``.
_BUNDLED_FILES = {
    "digits": "digits.csv.gz",
    "iris": "iris.csv",
    "wine": "wine_data.csv",
    "breast_cancer": "breast_cancer.csv",
}


def _sklearn_data_file(name: str) -> Path:
    """Where scikit-learn keeps a bundled set, found without importing scikit-learn (whose
    import costs about 0.7 s per step)."""
    import importlib.util

    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"the bundled data set {name!r} comes with scikit-learn, which is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / _BUNDLED_FILES[name]


def _read_bundled(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The arrays scikit-learn's ``load_<name>()`` returns (same values, dtypes and order;
    tests/unit/test_data.py compares them), read the way scikit-learn reads them."""
    import csv
    import gzip

    path = _sklearn_data_file(name)
    if name == "digits":
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            table = np.loadtxt(fh, delimiter=",")
        return table[:, :-1].reshape(-1, 8, 8), table[:, -1].astype(int, copy=False)
    with open(path, encoding="utf-8") as fh:
        rows = csv.reader(fh)
        head = next(rows)
        n_samples, n_features = int(head[0]), int(head[1])
        x = np.empty((n_samples, n_features))
        y = np.empty((n_samples,), dtype=int)
        for i, row in enumerate(rows):
            x[i] = np.asarray(row[:-1], dtype=np.float64)
            y[i] = np.asarray(row[-1], dtype=int)
    return x, y


def _bundled(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    raw, target = _read_bundled(name)
    if name == "digits":
        # (n, 8, 8): keep the image shape for convolutional models
        return raw, target, (raw / 16.0)[..., np.newaxis]
    return raw, target, _maxabs(raw)


def _maxabs(x: np.ndarray) -> np.ndarray:
    scale = np.max(np.abs(x), axis=0)
    scale[scale == 0] = 1.0
    return x / scale


def _read_csv(path: Path, label: str) -> tuple[np.ndarray, np.ndarray]:
    import csv

    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        raise DataError(f"{path}: the file is empty; expected a header row and data rows")
    header, body = rows[0], [r for r in rows[1:] if r]
    if label not in header:
        raise DataError(
            f"{path}: no label column {label!r}; columns are {', '.join(header)} "
            "(set `label:` of the data set in config/config.yaml)"
        )
    if not body:
        raise DataError(f"{path}: the file has a header but no data rows")
    li = header.index(label)
    x = np.empty((len(body), len(header) - 1), dtype=np.float64)
    labels = []
    for r, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise DataError(f"{path}: line {r} has {len(row)} fields, the header has {len(header)}")
        labels.append(row[li])
        feats = row[:li] + row[li + 1 :]
        for c, value in enumerate(feats):
            try:
                x[r - 2, c] = float(value)
            except ValueError:
                col = [h for i, h in enumerate(header) if i != li][c]
                raise DataError(
                    f"{path}: line {r}, column {col!r}: {value!r} is not a number; feature columns must be numeric"
                ) from None
    return x, np.asarray(labels)


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    import zipfile

    if not zipfile.is_zipfile(path):
        raise DataError(f"{path}: not a NPZ archive (numpy.savez writes one); holds arrays 'X' and 'y'")
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in ("X", "y") if k not in z.files]
            if missing:
                raise DataError(
                    f"{path}: missing array(s) {', '.join(missing)}; a NPZ data set holds "
                    f"arrays 'X' (features) and 'y' (labels), found {', '.join(z.files) or 'none'}"
                )
            x, y = z["X"], z["y"]
    except ValueError as exc:
        raise DataError(f"{path}: cannot be read without pickle ({exc}); store plain arrays") from None
    if len(x) != len(y):
        raise DataError(f"{path}: X has {len(x)} rows but y has {len(y)}; they must match")
    return x, y


def _check_finite(raw_x: np.ndarray, source: str) -> None:
    if not np.all(np.isfinite(np.asarray(raw_x, dtype=np.float64))):
        raise DataError(f"{source}: features contain NaN or infinite values")


def describe_source(source: str) -> str:
    """Where a data set comes from, for logs and reports."""
    return f"scikit-learn bundled '{source}'" if source in BUNDLED else source


def load(name: str, source: str, *, label: str) -> Dataset:
    """Load a data set by its config entry.

    Parameters
    ----------
    name
        The data set's name in the config (used in messages and records).
    source
        One of :data:`BUNDLED`, or the path of a ``.csv`` or ``.npz`` file.
    label
        The label column of a CSV file.
    """
    check_source(name, source)
    if source in BUNDLED:
        raw_x, raw_y, x = _bundled(source)
    else:
        path = Path(source)
        if not path.is_file():
            raise DataError(f"data set {name!r}: file {source} does not exist")
        if path.stat().st_size == 0:
            raise DataError(f"{source}: the file is empty")
        raw_x, raw_y = _read_csv(path, label) if path.suffix.lower() == ".csv" else _read_npz(path)
        if raw_x.dtype.kind not in "biuf":
            raise DataError(f"{source}: features must be numeric, got dtype {raw_x.dtype}")
        _check_finite(raw_x, source)  # before scaling, which would spread a NaN
        x = _maxabs(raw_x.astype(np.float64).reshape(len(raw_x), -1)).reshape(raw_x.shape)
    classes, y = np.unique(np.asarray(raw_y), return_inverse=True)
    y = y.reshape(-1)
    if len(classes) < 2:
        raise DataError(f"{source}: only one class ({str(classes[0])!r}); classification needs two or more")
    raw_y = np.asarray(raw_y)
    if raw_y.dtype.kind in "OU":  # text labels (CSV): hash them as fixed-width unicode
        raw_y = raw_y.astype(str)
    checksum, _ = hash_arrays({"X": np.asarray(raw_x), "y": raw_y})
    return Dataset(
        name=name,
        x=np.ascontiguousarray(x, dtype=np.float32),
        y=y.astype(np.int64),
        n_classes=len(classes),
        checksum=checksum,
    )


def split_indices(y: np.ndarray, *, test_fraction: float, seed: int, where: str) -> dict[str, Any]:
    """Seeded stratified split of ``range(len(y))``: sorted ``train`` and ``test`` indices.

    The test set has ``ceil(test_fraction * n)`` samples, shared out between the classes in
    proportion to their sizes (largest remainder, ties to the lower class; every class gets
    at least one sample on each side). Each class's indices are then permuted by NumPy's
    legacy ``RandomState`` (its stream is frozen by NumPy's compatibility policy, so the
    split does not move with library versions) and the first ones go to the test set.
    Written here rather than taken from scikit-learn: its import alone costs the split step
    about 0.6 s, and its algorithm may change between releases.
    """
    if not 0.0 < test_fraction < 1.0:
        raise DataError(f"test_fraction must be in (0, 1), got {test_fraction}")
    counts = np.bincount(y)
    n_test = int(np.ceil(test_fraction * len(y)))
    if counts.min() < 2 or n_test < len(counts) or len(y) - n_test < len(counts):
        raise DataError(
            f"{where}: a stratified split needs at least 2 samples per class and at least one per class "
            f"on each side; smallest class has {counts.min()}, {len(counts)} classes, "
            f"{len(y)} samples, test fraction {test_fraction}"
        )
    share = test_quota(counts, n_test)
    rng = np.random.RandomState(seed)
    train, test = [], []
    for label, k in enumerate(share):
        members = rng.permutation(np.flatnonzero(y == label))
        test.append(members[:k])
        train.append(members[k:])
    return {
        "train": np.sort(np.concatenate(train)).astype(np.int64),
        "test": np.sort(np.concatenate(test)).astype(np.int64),
    }


def test_quota(counts: np.ndarray, n_test: int) -> list[int]:
    """How many of each class go to the test set: ``n_test`` in all, proportional to
    ``counts`` by largest remainder, each between 1 and its count minus 1."""
    sizes = [int(c) for c in counts]
    exact = [c * n_test / sum(sizes) for c in sizes]
    quota = [min(max(int(e), 1), c - 1) for e, c in zip(exact, sizes, strict=True)]
    while sum(quota) < n_test:  # the largest shortfall gets one more; ties to the lower class
        room = [label for label in range(len(sizes)) if quota[label] < sizes[label] - 1]
        quota[max(room, key=lambda label: (exact[label] - quota[label], -label))] += 1
    while sum(quota) > n_test:  # the largest excess gives one back
        room = [label for label in range(len(sizes)) if quota[label] > 1]
        quota[max(room, key=lambda label: (quota[label] - exact[label], -label))] -= 1
    return quota
