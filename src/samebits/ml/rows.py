"""Rows of an array stored on disk, read a batch at a time: the cache files of image folders
(:mod:`samebits.ml.images`) and of CSV and NPZ data sets (:mod:`samebits.ml.tables`).

A file holds ``n`` rows of one shape and dtype, C order, nothing else. :class:`Rows` maps it
and copies the rows asked for with one NumPy gather (no system call per row); the pages read
are handed back to the kernel after every :data:`RELEASE_BYTES` copied, so a process that
streams a file many times its memory keeps at most that much of it resident (the page cache
keeps the rest for the next read, outside the process's RSS).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import mmap
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core import fileio
from ..core.errors import DataError

if TYPE_CHECKING:
    import numpy.typing as npt

__all__ = ["RELEASE_BYTES", "Rows", "cached", "file_sha256", "file_stat", "locked"]

#: Bytes of rows copied between two releases of the mapped pages (``MADV_DONTNEED``).
RELEASE_BYTES = 64 << 20


class Rows:
    """The rows of a cache file: ``rows[idx]`` is a copy of rows ``idx``, in that order."""

    def __init__(self, path: str | Path, n: int, shape: tuple[int, ...], dtype: npt.DTypeLike = np.uint8):
        self.path, self.dtype = str(path), np.dtype(dtype)
        self.shape = (n, *shape)
        self.row_bytes = int(np.prod(shape, dtype=np.int64)) * self.dtype.itemsize
        self._map: mmap.mmap | None = None
        self._view: np.ndarray | None = None
        self._copied = 0

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def nbytes(self) -> int:
        return self.shape[0] * self.row_bytes

    def _rows(self) -> np.ndarray:
        if self._view is None:
            with open(self.path, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                if size != self.nbytes:  # a shorter file would fault (SIGBUS) where it ends
                    raise DataError(
                        f"{self.path}: holds {size:,} bytes, {self.nbytes:,} expected ({self.shape[0]:,} rows of "
                        f"{self.row_bytes:,} bytes); delete it and it is made again"
                    )
                if size == 0:
                    return np.empty(self.shape, dtype=self.dtype)
                self._map = mmap.mmap(fh.fileno(), size, access=mmap.ACCESS_READ)
            self._view = np.frombuffer(self._map, dtype=self.dtype).reshape(self.shape)
        return self._view

    def __getitem__(self, idx: npt.ArrayLike) -> np.ndarray:
        idx = np.asarray(idx, dtype=np.int64).reshape(-1)
        if len(idx) and not (0 <= idx.min() and idx.max() < self.shape[0]):
            bad = idx[(idx < 0) | (idx >= self.shape[0])][0]
            raise IndexError(f"row {bad} of {self.shape[0]}")
        out = np.take(self._rows(), idx, axis=0)
        self._copied += out.nbytes
        if self._copied >= RELEASE_BYTES and self._map is not None:
            self._map.madvise(mmap.MADV_DONTNEED)
            self._copied = 0
        return out

    def blocks(self, rows: int) -> Iterator[np.ndarray]:
        """Every row in order, ``rows`` at a time (each a copy)."""
        for start in range(0, self.shape[0], rows):
            yield self[np.arange(start, min(start + rows, self.shape[0]))]

    def array(self) -> np.ndarray:
        """Every row, in memory."""
        return np.fromfile(self.path, dtype=self.dtype).reshape(self.shape)


def file_stat(path: Path) -> list[int]:
    """What tells a cache file changed without reading it: size, modification and change times."""
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def cached(rows: Path, meta_path: Path, want: Mapping[str, Any]) -> dict[str, Any] | None:
    """A cache's description (its JSON file) if it has the entries ``want`` and the rows file
    is what it says (its recorded stat, else its SHA-256 read again), else None."""
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if any(meta.get(key) != value for key, value in want.items()):
            return None
        if file_stat(rows) == meta["stat"]:
            return meta
        if rows.stat().st_size != meta["stat"][0] or file_sha256(rows) != meta["sha256"]:
            return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    meta["stat"] = file_stat(rows)  # content vouched for again: remember this stat
    with contextlib.suppress(OSError):
        fileio.write_text(meta_path, json.dumps(meta))
    return meta


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (two split jobs of one data set fill its cache once)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
