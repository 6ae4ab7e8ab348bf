"""The one module that writes files.

Every write goes to a temporary file in the destination's directory, is flushed to disk,
and is then renamed over the destination: a reader (or a rerun after a crash) sees either
the old file or the complete new one, never half a file.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import SamebitsError

if TYPE_CHECKING:  # NumPy is imported by write_npz only: the workflow's start writes JSON
    import numpy as np

__all__ = ["atomic_path", "write_bytes", "write_text", "write_json", "write_npz", "dump_json"]


@contextlib.contextmanager
def atomic_path(dest: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; on success fsync it and rename it to ``dest``.

    The temporary name keeps ``dest``'s suffix (Keras checks the ``.keras`` suffix).
    """
    dest = Path(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.stem}.", suffix=f".tmp{dest.suffix}", dir=dest.parent)
    except OSError as exc:
        raise _write_error(dest, exc) from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        # mkstemp creates 0600; give the file the mode an ordinary open() would.
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, dest)
    except OSError as exc:
        raise _write_error(dest, exc) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
    _fsync_dir(dest.parent)


def _write_error(dest: Path, exc: OSError) -> SamebitsError:
    hint = {28: " (the disk is full)"}.get(exc.errno, "")
    return SamebitsError(f"cannot write {dest}: {exc.strerror}{hint}; nothing was left half-written")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_bytes(dest: str | Path, data: bytes) -> None:
    """Write ``data`` to ``dest`` atomically."""
    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)


def write_text(dest: str | Path, text: str) -> None:
    """Write UTF-8 ``text`` to ``dest`` atomically."""
    write_bytes(dest, text.encode("utf-8"))


def dump_json(obj: Any) -> str:
    """Diff-friendly canonical JSON: sorted keys, one item per line, trailing newline."""
    return json.dumps(obj, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def write_json(dest: str | Path, obj: Any) -> None:
    """Write ``obj`` as canonical, diff-friendly JSON, atomically."""
    write_text(dest, dump_json(obj))


def write_npz(dest: str | Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write arrays to an uncompressed ``.npz`` atomically, members in name order."""
    import numpy as np

    with atomic_path(dest) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **{k: np.asarray(arrays[k]) for k in sorted(arrays)})
