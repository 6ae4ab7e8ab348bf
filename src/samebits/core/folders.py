"""A data folder's content: its files in a fixed order, each file's SHA-256, and one checksum.

A data folder holds one subfolder per class (the layout of
``keras.utils.image_dataset_from_directory``). Its content is every regular file inside those
subfolders, at any depth, whose name and folders do not start with ``.`` (``.DS_Store``,
``.git``); files at the top level (a README, a licence) are not part of it. The order is the
subfolders' sorted order, then each file's sorted path below its subfolder.

The folder checksum is a SHA-256 over each file's path (relative, with ``/``) and the SHA-256
of its bytes, in that order; so renaming, adding, removing or editing one file changes it.

Hashing a large folder costs a read of every byte, so each file's SHA-256 is kept in a cache
(:data:`samebits.core.layout.FOLDER_CACHE`) beside its size, mtime and ctime, and read again
only when one of them changed. A user cannot set a ctime back, so an edit with the mtime put
back is still seen. The cache also tells which files changed since the folder was last
hashed (:attr:`Content.changed`), which the stale check and the split log name.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

from . import layout
from .errors import DataError, SamebitsError

__all__ = ["Content", "Change", "content", "files", "is_folder", "stamp"]

_TAG = b"samebits-folder-v1\0"
_READ = 1 << 20


def is_folder(source: str | Path) -> bool:
    """Whether a data set's ``source`` names a folder: it ends with ``/`` or is a directory."""
    return str(source).endswith(("/", os.sep)) or Path(source).is_dir()


def _visible(name: str) -> bool:
    return not name.startswith(".")


def files(root: str | Path) -> list[tuple[str, str]]:
    """``(class, path relative to root)`` of every file of the folder's content, in its order.

    Raises :class:`DataError` when ``root`` is not a folder or has no class subfolders.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder; an image data set is a folder with one subfolder per class")
    classes = sorted(e.name for e in os.scandir(root) if _visible(e.name) and e.is_dir())
    found = []
    for cls in classes:
        below = []
        for here, dirs, names in os.walk(root / cls):
            dirs[:] = [d for d in dirs if _visible(d)]
            rel = Path(here).relative_to(root).as_posix()
            below += [f"{rel}/{n}" for n in names if _visible(n) and os.path.isfile(os.path.join(here, n))]
        found += [(cls, rel) for rel in sorted(below)]
    return found


@dataclasses.dataclass(frozen=True)
class Change:
    """One file that differs from the folder as it was last hashed here."""

    path: str  #: relative to the folder
    old: str | None  #: its SHA-256 then; None: added
    new: str | None  #: its SHA-256 now; None: removed

    def __str__(self) -> str:
        if self.old is None:
            return f"{self.path} added"
        if self.new is None:
            return f"{self.path} removed"
        return f"{self.path} sha256 {self.old[:12]}… → {self.new[:12]}…"


@dataclasses.dataclass(frozen=True)
class Content:
    root: str
    classes: list[str]  #: the class of each file
    paths: list[str]  #: relative to root, in the folder's order
    sha256: list[str]  #: of each file's bytes
    checksum: str  #: of the whole content
    changed: list[Change]  #: since the folder was last hashed here (empty the first time)

    def __len__(self) -> int:
        return len(self.paths)


def _stat(path: str) -> list[int]:
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def _hash_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_READ):
            h.update(chunk)
    return h.hexdigest()


def _cache_path(root: Path) -> Path:
    """The cache of a folder, by its path as the configuration gives it (relative to the
    working directory, like the cache itself): a copied or moved project keeps its cache,
    whose stats then no longer match, so every file is hashed again and compared."""
    key = hashlib.sha256(os.path.normpath(root).encode()).hexdigest()[:16]
    return Path(layout.FOLDER_CACHE) / f"{key}.json"


def _read_cache(path: Path) -> dict[str, list]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        return data["files"] if isinstance(data.get("files"), dict) else {}
    except (OSError, ValueError, AttributeError, KeyError):
        return {}  # none yet, or unreadable: a cache, so start again


def content(root: str | Path, *, update: bool = True) -> Content:
    """The folder's content, its files hashed (only those whose size, mtime or ctime moved
    since the cache saw them), and what changed since. ``update=False`` leaves the cache as
    it was: the workflow's start-up check names a change, and the step that reads the folder
    names it again in its log, then remembers the new checksums."""
    from . import fileio

    root = Path(root)
    listing = files(root)
    cache_file = _cache_path(root)
    cached = _read_cache(cache_file)
    now: dict[str, list] = {}
    shas, changed = [], []
    for _, rel in listing:
        full = os.path.join(root, rel)
        try:
            st = _stat(full)
            seen = cached.get(rel)
            sha = seen[3] if isinstance(seen, list) and len(seen) == 4 and seen[:3] == st else _hash_file(full)
        except OSError as exc:
            raise DataError(f"{root / rel}: cannot be read ({exc.strerror})") from None
        now[rel] = [*st, sha]
        shas.append(sha)
        if rel in cached and isinstance(cached[rel], list) and cached[rel][3:] != [sha]:
            changed.append(Change(rel, cached[rel][3], sha))
        elif cached and rel not in cached:
            changed.append(Change(rel, None, sha))
    changed += [
        Change(rel, old[3] if isinstance(old, list) else None, None) for rel, old in cached.items() if rel not in now
    ]
    h = hashlib.sha256(_TAG)
    for (_, rel), sha in zip(listing, shas, strict=True):
        h.update(f"{rel}\0{sha}\n".encode())
    if update and now != cached:
        try:
            fileio.write_text(cache_file, json.dumps({"root": str(root), "files": now}, separators=(",", ":")))
        except SamebitsError:
            pass  # a read-only tree works, only slower
    return Content(
        root=str(root),
        classes=[cls for cls, _ in listing],
        paths=[rel for _, rel in listing],
        sha256=shas,
        checksum=h.hexdigest(),
        changed=sorted(changed, key=lambda c: c.path),
    )


def stamp(root: str | Path) -> list[int]:
    """``[file count + total size, newest mtime_ns, a hash of every file's stat]``: like a
    file's ``[size, mtime_ns, ctime_ns]``, it moves when any file of the content is edited,
    added, removed or renamed, even with its mtime put back (its ctime moves)."""
    h = hashlib.sha256()
    total, newest = 0, 0
    for _, rel in files(root):
        size, mtime, ctime = _stat(os.path.join(root, rel))
        h.update(f"{rel}\0{size},{mtime},{ctime}\n".encode())
        total, newest = total + size + 1, max(newest, mtime)
    return [total, newest, int.from_bytes(h.digest()[:7], "big")]
