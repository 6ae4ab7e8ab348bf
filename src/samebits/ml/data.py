"""Data sets: the bundled scikit-learn sets, the user's CSV or NPZ files and image folders.

Every loader returns the same shape of thing, a :class:`Dataset`: the features as stored
(scaling is fitted by split on its training samples, :mod:`samebits.ml.scaling`), the labels,
and a content checksum taken over the arrays as read (an image folder's: over its files and
the decode settings, :mod:`samebits.ml.images`), so a reader whose data differs by one value
is told so by the split step. A CSV or NPZ file is read once into a cache on disk
(:mod:`samebits.ml.tables`), an image folder decoded once into one, and the steps read their
rows from there.

A data set's task (:data:`samebits.ml.sources.TASKS`) is the configuration's ``task``, or
inferred from its labels: float targets that are not all whole numbers make a regression,
other labels (integers, text) a classification, binary with two classes, multiclass with
more.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import DataError
from ..core.hashing import hash_arrays
from . import tables
from .sources import BUNDLED, check_source, is_image_folder

__all__ = [
    "Dataset",
    "check_cache",
    "describe_source",
    "load",
    "split_indices",
    "split_task",
    "test_quota",
    "validation_indices",
]


@dataclasses.dataclass(frozen=True)
class Dataset:
    """Features as stored, labels (or targets), and the content's checksum."""

    name: str
    #: (n, *feature_shape): a bundled set's array, or rows on disk (:class:`samebits.ml.rows.Rows`):
    #: a CSV or NPZ file's features in their stored dtype (CSV: float64), an image folder's pixels (uint8)
    x: Any
    y: np.ndarray  # classification: int64 in [0, n_classes); regression: float32, (n,) or (n, targets)
    n_classes: int  # classes; for a regression, target columns
    checksum: str
    task: str = "multiclass"
    pixels_sha256: str | None = None  # an image folder's decoded pixels (samebits.ml.images)
    features_sha256: str | None = None  # a CSV or NPZ file's features as read (samebits.ml.tables)
    #: a classification's class names, by label (the label ``i`` is ``classes[i]``)
    classes: tuple[str, ...] = ()

    @property
    def class_names(self) -> list[str] | None:
        """The class names worth showing beside the labels: None when each class is named by
        its label already (``0``, ``1``, …; the bundled data sets) or for a regression."""
        if list(self.classes) == [str(i) for i in range(len(self.classes))]:
            return None
        return list(self.classes)

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
#: The two files ``load_diabetes(scaled=False)`` reads: the features, the targets.
_DIABETES_FILES = ("diabetes_data_raw.csv.gz", "diabetes_target.csv.gz")


def _sklearn_data_file(name: str, file: str | None = None) -> Path:
    """Where scikit-learn keeps a bundled set's file, found without importing scikit-learn
    (whose import costs about 0.7 s per step)."""
    import importlib.util

    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"the bundled data set {name!r} comes with scikit-learn, which is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / (file or _BUNDLED_FILES[name])


def _read_bundled(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The arrays scikit-learn's ``load_<name>()`` returns (same values, dtypes and order;
    tests/unit/test_data.py compares them), read the way scikit-learn reads them."""
    import csv
    import gzip

    if name == "diabetes":  # load_diabetes(scaled=False): two space-separated files
        data_file, target_file = _DIABETES_FILES
        with gzip.open(_sklearn_data_file(name, data_file), "rt", encoding="utf-8") as fh:
            x = np.loadtxt(fh)
        with gzip.open(_sklearn_data_file(name, target_file), "rt", encoding="utf-8") as fh:
            return x, np.loadtxt(fh)
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
        # (n, 8, 8, 1): the image shape, with a channel, for convolutional models
        return raw, target, raw[..., np.newaxis]
    return raw, target, raw


def describe_source(source: str) -> str:
    """Where a data set comes from, for logs and reports."""
    return f"scikit-learn bundled '{source}'" if source in BUNDLED else source


def load(
    name: str, source: str, *, label: str | list[str], task: str | None, image: dict[str, Any] | None = None
) -> Dataset:
    """Load a data set by its config entry.

    Parameters
    ----------
    name
        The data set's name in the config (used in messages and records).
    source
        One of :data:`BUNDLED`, the path of a ``.csv`` or ``.npz`` file, or an image folder.
    label
        The label column of a CSV file (a list: the target columns of a regression).
    task
        The data set's task, or ``None`` to infer it from the labels.
    image
        An image folder's decode settings (``size``, ``channels``, ``resize``).
    """
    check_source(name, source)
    if is_image_folder(source):
        return _image_folder(name, source, task=task, image=image)
    if source in BUNDLED:
        raw_x, raw_y, x = _bundled(source)
    else:
        path = Path(source)
        if not path.is_file():
            if path.exists():  # never opened: a named pipe would block the read
                raise DataError(
                    f"data set {name!r}: {source} is not a regular file (a named pipe, socket or device); "
                    "a data set is a .csv or .npz file, or an image folder"
                )
            raise DataError(f"data set {name!r}: file {source} does not exist")
        if path.stat().st_size == 0:
            raise DataError(f"{source}: the file is empty")
        found = tables.load(path, label)
        sha256 = found.features_sha256
        return _labelled(name, source, found.x, found.y, found.checksum, task, label, features_sha256=sha256)
    with np.errstate(over="ignore", invalid="ignore"):  # statistics of values near 1e308 overflow: kept as text
        checksum, _ = hash_arrays({"X": np.asarray(raw_x), "y": raw_y})  # the labels as read
    return _labelled(name, source, np.ascontiguousarray(x), raw_y, checksum, task, label)


def _labelled(
    name: str,
    source: str,
    x: Any,
    raw_y: np.ndarray,
    checksum: str,
    task: str | None,
    label: str | list[str],
    *,
    features_sha256: str | None = None,
) -> Dataset:
    """The data set of features ``x`` and labels as read ``raw_y``: its task, labels (or
    targets) and classes."""
    labels = _same_numbers(raw_y)
    task = task or (BUNDLED[source] if source in BUNDLED else _infer_task(labels))
    if task == "regression":
        y = _targets(raw_y, source, label)
        n_classes = 1 if y.ndim == 1 else y.shape[1]
    else:
        if raw_y.ndim != 1:
            raise DataError(
                f"{source}: {raw_y.shape[1]} label columns; only a regression has several targets "
                f"(set `task: regression` of data set {name!r}), a classification has one label column"
            )
        classes, y = np.unique(labels, return_inverse=True)
        y = y.reshape(-1).astype(np.int64)
        n_classes = len(classes)
        names = tuple(_number_text(str(c)) if classes.dtype.kind in "biuf" else str(c) for c in classes)
        if n_classes < 2:
            raise DataError(f"{source}: only one class ({str(classes[0])!r}); classification needs two or more")
        if task == "binary" and n_classes != 2:
            raise DataError(
                f"data set {name!r} has task binary but {source} has {n_classes} classes "
                f"({_show(classes)}); binary needs exactly two (use task: multiclass)"
            )
        return Dataset(
            name=name,
            x=x,
            y=y,
            n_classes=n_classes,
            checksum=checksum,
            task=task,
            classes=names,
            features_sha256=features_sha256,
        )
    return Dataset(
        name=name, x=x, y=y, n_classes=n_classes, checksum=checksum, task=task, features_sha256=features_sha256
    )


def _image_folder(name: str, source: str, *, task: str | None, image: dict[str, Any] | None) -> Dataset:
    from . import images

    if task == "regression":  # refused before anything is decoded (or cached)
        raise DataError(
            f"data set {name!r}: {source} is an image folder, whose labels are its class subfolders; task "
            "regression needs numeric targets (a CSV or NPZ file)"
        )

    def check(classes: list[str]) -> None:
        if task == "binary" and len(classes) != 2:
            raise DataError(
                f"data set {name!r} has task binary but {source} has {len(classes)} class folders "
                f"({_show(np.asarray(classes))}); binary needs exactly two (use task: multiclass)"
            )

    found = images.load(name, source, image, check=check)
    n_classes = len(found.classes)
    return Dataset(
        name=name,
        x=found.rows,
        y=found.labels,
        n_classes=n_classes,
        checksum=found.checksum,
        task=task or ("binary" if n_classes == 2 else "multiclass"),
        pixels_sha256=found.pixels_sha256,
        classes=tuple(found.classes),
    )


def _show(values: np.ndarray, limit: int = 6) -> str:
    shown = ", ".join(repr(str(v)) for v in values[:limit])
    return shown + (f", … ({len(values)} in all)" if len(values) > limit else "")


def _same_numbers(raw_y: np.ndarray) -> np.ndarray:
    """Text labels with each number written one way: ``1``, ``1.0``, ``+1`` and ``01`` all
    become ``1`` (a non-whole number its shortest form, ``0.50`` → ``0.5``); other text as it is.

    A researcher who writes ``1`` in one row and ``1.0`` in another means one class, so
    numeric labels are compared as numbers. The classes keep their order (sorted as text):
    integers written plainly are unchanged, so existing data sets get the same classes, and
    the data set's checksum is still taken over the labels as read.

    >>> _same_numbers(np.asarray(["1", "1.0", "+1", "2.50", "cat"])).tolist()
    ['1', '1', '1', '2.5', 'cat']
    """
    if raw_y.dtype.kind != "U":
        return raw_y  # numbers compare as numbers already
    uniques, inverse = np.unique(raw_y, return_inverse=True)
    return np.asarray([_number_text(str(u)) for u in uniques])[inverse].reshape(raw_y.shape)


def _number_text(text: str) -> str:
    try:
        return str(int(text))  # exact for whole numbers of any size
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return text
    if not math.isfinite(value):
        return text
    return str(int(value)) if value.is_integer() and abs(value) < 2**63 else repr(value)


def _as_float(raw_y: np.ndarray) -> np.ndarray | None:
    """The labels as float64, or ``None`` if some are not numbers."""
    if raw_y.dtype.kind in "biuf":
        return raw_y.astype(np.float64)
    try:
        return raw_y.astype(np.float64)
    except ValueError:
        return None


def _infer_task(raw_y: np.ndarray) -> str:
    """regression for numbers that are not all whole (or for several target columns),
    else binary for two distinct labels, multiclass for more."""
    values = _as_float(raw_y)
    if raw_y.ndim > 1 or (
        values is not None and raw_y.dtype.kind not in "biu" and not np.all(values == np.round(values))
    ):
        return "regression"
    return "binary" if len(np.unique(raw_y)) == 2 else "multiclass"


def _targets(raw_y: np.ndarray, source: str, label: str | list[str]) -> np.ndarray:
    values = _as_float(raw_y)
    if values is None:
        bad = next(v for v in raw_y.reshape(-1) if _as_float(np.asarray([v])) is None)
        several = "" if isinstance(label, str) else " (several label columns make a regression)"
        raise DataError(
            f"{source}: label {label!r} holds {str(bad)!r}, not a number; a regression{several} needs numeric targets"
        )
    if not np.all(np.isfinite(values)):
        raise DataError(f"{source}: targets contain NaN or infinite values")
    return np.ascontiguousarray(values, dtype=np.float32)


def check_cache(ds: Dataset, meta: dict[str, np.ndarray], where: str) -> None:
    """Raise :class:`DataError` unless an image folder decoded to the pixels its split saw,
    and a CSV or NPZ file was read into the features it saw."""
    if ds.pixels_sha256 is not None and "pixels_sha256" in meta and str(meta["pixels_sha256"]) != ds.pixels_sha256:
        raise DataError(
            f"{where}: the images decode to other pixels here (sha256 {ds.pixels_sha256[:12]}…) than when "
            f"split ran (sha256 {str(meta['pixels_sha256'])[:12]}…): another Pillow or libjpeg-turbo; "
            "rerun split in this environment (snakemake --forcerun split)"
        )
    found, seen = ds.features_sha256, str(meta.get("features_sha256", ds.features_sha256))
    if found is not None and found != seen:
        raise DataError(
            f"{where}: {ds.name}'s file reads into other features here (sha256 {found[:12]}…) than when split "
            f"ran (sha256 {seen[:12]}…): another pandas or NumPy reads it otherwise; rerun split in this "
            "environment (snakemake --forcerun split)"
        )


def split_task(meta: dict[str, np.ndarray]) -> str:
    """The task a split file was made for: its ``task`` entry, which a multiclass split does
    not have (the layout split files have always had)."""
    return str(meta["task"]) if "task" in meta else "multiclass"


def split_indices(
    y: np.ndarray, *, test_fraction: float, seed: int, where: str, task: str = "multiclass"
) -> dict[str, Any]:
    """Seeded split of ``range(len(y))``: sorted ``train`` and ``test`` indices; stratified
    by class for a classification, a seeded random split for a regression.

    Regression: NumPy's legacy ``RandomState`` permutes all indices and the first
    ``ceil(test_fraction * n)`` go to the test set. Classification:

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
    if len(y) == 0:
        raise DataError(f"{where}: no samples to split")
    if task == "regression":
        n_test = int(np.ceil(test_fraction * len(y)))
        if not 0 < n_test < len(y):
            raise DataError(f"{where}: {len(y)} samples cannot be split with test fraction {test_fraction}")
        order = np.random.RandomState(seed).permutation(len(y))
        return {"train": np.sort(order[n_test:]).astype(np.int64), "test": np.sort(order[:n_test]).astype(np.int64)}
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


def validation_indices(y_train: np.ndarray, *, fraction: float, seed: int, task: str, where: str) -> dict[str, Any]:
    """Positions in the training set of the samples fitted on (``fit``) and held out for
    validation (``validation``): the same seeded split as the test split, with ``fraction``."""
    found = split_indices(y_train, test_fraction=fraction, seed=seed, where=where, task=task)
    return {"fit": found["train"], "validation": found["test"]}


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
