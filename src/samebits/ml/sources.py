"""What a data set's ``source`` can be, known without reading it (no NumPy).

The workflow's start and the configuration checks use this; :mod:`samebits.ml.data` reads.
"""

from __future__ import annotations

from pathlib import Path

from ..core.errors import DataError

__all__ = ["BUNDLED", "FILE_SUFFIXES", "TASKS", "check_source", "data_files"]

#: Data sets that ship with scikit-learn (no download), by their task.
BUNDLED = {
    "digits": "multiclass",
    "iris": "multiclass",
    "wine": "multiclass",
    "breast_cancer": "binary",
    "diabetes": "regression",
}

#: What a data set's labels are for (the config schema lists the same choices).
TASKS = ("multiclass", "binary", "regression")

#: Suffixes of the data files samebits reads.
FILE_SUFFIXES = (".csv", ".npz")


def check_source(name: str, source: str) -> None:
    """Raise :class:`DataError` unless ``source`` is a bundled set or a data file's path."""
    if source in BUNDLED or Path(source).suffix.lower() in FILE_SUFFIXES:
        return
    raise DataError(
        f"datasets.{name}.source {source!r} is neither a bundled set ({', '.join(BUNDLED)}) "
        f"nor a {' or '.join(FILE_SUFFIXES)} file"
    )


def data_files(source: str) -> list[str]:
    """The files a source is read from: ``[source]`` for a data file, none for a bundled set."""
    return [source] if Path(source).suffix.lower() in FILE_SUFFIXES else []
