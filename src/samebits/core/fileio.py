"""The one module that writes files.

Every write goes to a temporary file in the destination's directory, is flushed to disk,
and is then renamed over the destination: a reader (or a rerun after a crash) sees either
the old file or the complete new one, never half a file. A writer killed half-way leaves
its temporary file behind; the temporary name says which process wrote it
(``.weights.<pid>@<host>.<random>.tmp.npz``), so the next run's start removes it once that
process is gone (:func:`sweep`), and never touches a file of anyone else.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import SamebitsError

if TYPE_CHECKING:  # NumPy is imported by write_npz only: the workflow's start writes JSON
    import numpy as np

__all__ = ["atomic_path", "write_bytes", "write_text", "write_json", "write_npz", "dump_json", "parse_json", "sweep"]

#: A temporary file of this module: ``.<stem>.<pid>@<host>.<random>.tmp<suffix>``.
TEMP_NAME = re.compile(r"^\.(?P<stem>.+)\.(?P<pid>\d+)@(?P<host>[A-Za-z0-9_-]+)\.[a-z0-9_]{8}\.tmp(\.[^.]*)?$")
#: A temporary file of another host is swept only when it is older than this: its writer
#: cannot be asked whether it still runs, and no write of samebits takes this long.
FOREIGN_AGE = 24 * 3600


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname().split(".")[0]) or "host"


@contextlib.contextmanager
def atomic_path(dest: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; on success fsync it and rename it to ``dest``.

    The temporary name keeps ``dest``'s suffix (Keras checks the ``.keras`` suffix).
    """
    dest = Path(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{dest.stem}.{os.getpid()}@{_host()}.", suffix=f".tmp{dest.suffix}", dir=dest.parent
        )
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
    hint = " (the disk is full)" if exc.errno == 28 else ""
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


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def parse_json(data: str | bytes) -> Any:
    r"""JSON as Python values, the reader of what this module writes; :class:`ValueError`
    saying why for everything ``json.loads`` raises or lets through that no writer here
    makes: bytes that are not UTF-8, bad JSON, an integer of over 4,300 digits, nesting
    deeper than Python follows, text that is not Unicode (a lone surrogate escape).

    >>> parse_json('{"a": [1, 2.5]}')
    {'a': [1, 2.5]}
    >>> parse_json('"\\ud800"')
    Traceback (most recent call last):
    ValueError: it holds text that is not Unicode (a lone surrogate escape, \ud800 to \udfff)
    """
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        raise ValueError(f"byte {exc.start} is not UTF-8") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc})") from None
    except RecursionError:
        raise ValueError("it nests deeper than Python follows") from None
    except ValueError as exc:  # an integer of over 4,300 digits
        raise ValueError(f"a value cannot be read ({exc})") from None
    if _SURROGATE_ESCAPE.search(text):  # a pair is one character; a lone half cannot be written back
        try:
            json.dumps(doc, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(
                "it holds text that is not Unicode (a lone surrogate escape, \\ud800 to \\udfff)"
            ) from None
        except RecursionError:
            raise ValueError("it nests deeper than Python follows") from None
    return doc


def write_json(dest: str | Path, obj: Any) -> None:
    """Write ``obj`` as canonical, diff-friendly JSON, atomically."""
    write_text(dest, dump_json(obj))


def write_npz(dest: str | Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write arrays to an uncompressed ``.npz`` atomically, members in name order."""
    import numpy as np

    with atomic_path(dest) as tmp:
        with open(tmp, "wb") as fh:
            # numpy's stub types savez's **members as its own allow_pickle: bool too
            np.savez(fh, **{k: np.asarray(arrays[k]) for k in sorted(arrays)})  # type: ignore[arg-type]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _listing(roots: Iterable[str | Path], flat: Iterable[str | Path]) -> Iterator[tuple[str, list[str]]]:
    for root in map(str, roots):
        for dirpath, _, names in os.walk(root):
            yield dirpath, names
    for folder in map(str, flat):
        with contextlib.suppress(OSError):
            yield folder, [e.name for e in os.scandir(folder) if e.is_file(follow_symlinks=False)]


def sweep(*roots: str | Path, flat: tuple[str | Path, ...] = (), now: float | None = None) -> list[Path]:
    """Remove the temporary files killed writers left in the trees ``roots`` and in the
    folders ``flat`` (not their subfolders); returns what was removed.

    Only names of :data:`TEMP_NAME` are considered: of this host, when their process is
    gone; of another host (a cluster node), when older than :data:`FOREIGN_AGE`.
    """
    now = time.time() if now is None else now
    host, removed = _host(), []
    for dirpath, names in _listing(roots, flat):
        for name in names:
            match = TEMP_NAME.match(name)
            if match is None:
                continue
            path = Path(dirpath) / name
            try:
                if match["host"] == host:
                    stale = not _alive(int(match["pid"]))
                else:
                    stale = now - path.stat().st_mtime > FOREIGN_AGE
                if stale:
                    path.unlink()
                    removed.append(path)
            except OSError:
                continue
    return removed
