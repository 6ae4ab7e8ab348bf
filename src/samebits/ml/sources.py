"""What a data set's ``source`` can be, known without reading it (no NumPy).

The workflow's start and the configuration checks use this; :mod:`samebits.ml.data` reads.
"""

from __future__ import annotations

from pathlib import Path

from ..core.errors import DataError
from ..core.folders import is_folder

__all__ = ["BUNDLED", "FILE_SUFFIXES", "TASKS", "check_source", "data_files", "is_image_folder"]

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

#: The longest path (``PATH_MAX``, with its final NUL) and file name (``NAME_MAX``) Linux takes.
MAX_PATH, MAX_NAME = 4096, 255

#: Suffixes of the data files samebits reads.
FILE_SUFFIXES = (".csv", ".npz")


def is_image_folder(source: str) -> bool:
    """Whether a data set's ``source`` is an image folder: not a bundled set's name, and a
    path ending with ``/`` or an existing folder."""
    return source not in BUNDLED and is_folder(source)


def check_source(name: str, source: str) -> None:
    """Raise :class:`DataError` unless ``source`` is a bundled set, a data file's path or an
    image folder (a path ending with ``/``, or an existing folder)."""
    longest = max((len(part.encode()) for part in Path(source).parts), default=0)
    if len(source.encode()) >= MAX_PATH or longest > MAX_NAME or "\0" in source:
        raise DataError(
            f"datasets.{name}.source is not a path a file system takes ({len(source):,} characters, a name of "
            f"{longest:,} bytes{', a NUL byte' if chr(0) in source else ''}; at most {MAX_PATH - 1:,} bytes, "
            f"{MAX_NAME} per name)"
        )
    if source in BUNDLED or Path(source).suffix.lower() in FILE_SUFFIXES or is_image_folder(source):
        return
    raise DataError(
        f"datasets.{name}.source {source!r} is neither a bundled set ({', '.join(BUNDLED)}), "
        f"a {' or '.join(FILE_SUFFIXES)} file, nor an image folder (a path ending with /)"
    )


def data_files(source: str) -> list[str]:
    """The files a source is read from: ``[source]`` for a data file, the folder (without a
    trailing ``/``) for an image folder, none for a bundled set."""
    if is_image_folder(source):
        return [source.rstrip("/") or "/"]
    if source in BUNDLED:
        return []
    return [source] if Path(source).suffix.lower() in FILE_SUFFIXES else []
