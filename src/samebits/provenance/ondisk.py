"""Do the files on disk still match what a record says?

Two ways they can stop matching:

- **stale**: an input's content changed after the step ran. Snakemake decides by
  modification times, so an input whose content changes while its mtime is put back (a
  restore, ``rsync -t``, ``touch -d``) is not rerun; the record's input checksums catch it.
- **tampered**: an output's content no longer has the checksum its record holds.

Each file is re-hashed only if its size, mtime or ctime differ from what the record saw
(ctime cannot be set back by a user), so a check of an untouched tree costs one ``stat``
per file. The workflow's start-up check goes further: a small index under ``.snakemake/``
keeps, per record, the stats of the record and of its files at the last check that found
them matching, so an untouched tree costs a ``stat`` per record and per file, no JSON parsing.
The index is only a cache: anything that does not match it exactly is checked in full.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..core import fileio, folders
from ..core.errors import RecordError, SamebitsError
from ..core.layout import RECORD_INDEX

__all__ = ["INDEX", "check", "find_stale", "refresh_index"]

log = logging.getLogger(__name__)

#: Where the workflow keeps the index of checked records (relative to the working directory).
INDEX = RECORD_INDEX
INDEX_VERSION = 1


def _stat(path: str) -> list[int]:
    if os.path.isdir(path):  # a data folder: its files' stats in one (samebits.core.folders)
        return folders.stamp(path)
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def _stamp(stat: list[int]) -> str:
    return f"{stat[0]},{stat[1]},{stat[2]}"


#: Each data folder's content as this process last found it, by its stamp: several records
#: name one folder, and a file's hash is not read twice while its stat stays the same.
_folders: dict[str, tuple[list[int], folders.Content]] = {}


def _folder(path: str) -> folders.Content:
    stamp = folders.stamp(path)
    found = _folders.get(path)
    if found is None or found[0] != stamp:
        found = _folders[path] = (stamp, folders.content(path, update=False))
    return found[1]


def _folder_checksum(path: str) -> str:
    return _folder(path).checksum


def _current(path: str, seen: dict[str, list[int]], stats: dict[str, list[int]] | None = None) -> str | None:
    """The file's canonical checksum now, or ``None`` when its stat shows it was not touched.

    ``stats`` receives the stat taken *before* the file was read: a change while it is read
    moves its ctime, so the stat cannot vouch for content it did not see."""
    stat = _stat(path)
    if stats is not None:
        stats[path] = stat
    if seen.get(path) == stat:
        return None
    if os.path.isdir(path):
        return _folder_checksum(path)
    if not os.path.isfile(path):  # a device or a FIFO would be read forever, or block
        return "unreadable (not a regular file)"
    from ..core.hashing import hash_output  # NumPy: imported only when a file must be hashed

    return hash_output(path)["sha256"]


def check(
    record: dict[str, Any], *, outputs: bool = True, stats: dict[str, list[int]] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Compare a record's input (and output) checksums with the files now on disk.

    Returns ``{"stale": [...], "tampered": [...]}``; each item names the file, the checksum
    the record holds and the one found (``None`` for a missing file). ``stats``, if given,
    receives each checked file's stat.
    """
    seen = record.get("run", {}).get("files", {})
    found: dict[str, list[dict[str, Any]]] = {"stale": [], "tampered": []}
    pairs = [("stale", name, d) for name, d in record["inputs"].items() if isinstance(d, dict) and "path" in d]
    if outputs:
        pairs += [("tampered", name, d) for name, d in record["outputs"].items()]
    for kind, name, desc in pairs:
        path = desc["path"]
        try:
            now = _current(path, seen, stats)
        except FileNotFoundError:
            now = "missing"
        except (OSError, ValueError) as exc:
            now = f"unreadable ({exc})"
        if now is not None and now != desc["sha256"]:
            item = {"name": name, "path": path, "expected": desc["sha256"], "found": now}
            if os.path.isdir(path):  # which of its files (as far as this machine saw them)
                item["files"] = [str(c) for c in _folder(path).changed]
            found[kind].append(item)
    return found


def _read_index(path: str | Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return {}  # none yet, or unreadable: a cache, so start again
    if not isinstance(data, dict) or data.get("version") != INDEX_VERSION or not isinstance(data.get("records"), dict):
        return {}
    return data["records"]


def _write_index(path: str | Path, entries: dict[str, Any]) -> None:
    """Replace the index atomically (a reader sees the old one or the new one, never half)."""
    try:
        fileio.write_text(path, json.dumps({"version": INDEX_VERSION, "records": entries}, separators=(",", ":")))
    except SamebitsError as exc:  # a read-only tree still works, only slower
        log.debug("%s", exc)


def _entry(record_stat: list[int], stats: dict[str, list[int]]) -> str:
    """An index entry: the record's stat, then each file's path and stat, NUL-separated.
    One string, not a nest of lists: strings are not tracked by Python's garbage collector,
    whose full collections over a thousand nested entries cost more than reading them."""
    return "\0".join([_stamp(record_stat), *(f"{p}\0{_stamp(s)}" for p, s in sorted(stats.items()))])


def _untouched(entry: Any, record_stat: list[int], stamps: dict[str, str]) -> bool:
    """Whether the record and every file it names have the stats they had when last found
    matching. ``stamps`` memoises the files' stats: a split is an input of three steps."""
    if not isinstance(entry, str):
        return False
    parts = entry.split("\0")
    if parts[0] != _stamp(record_stat) or len(parts) % 2 != 1:
        return False
    for i in range(1, len(parts), 2):
        path = parts[i]
        now = stamps.get(path)
        if now is None:
            try:
                now = stamps[path] = _stamp(_stat(path))
            except OSError:
                return False
        if now != parts[i + 1]:
            return False
    return True


def find_stale(record_paths: Iterable[str | Path], *, index: str | Path | None = None) -> dict[str, str]:
    """The records whose step's inputs or outputs changed since it ran: ``{record path: message}``.

    ``index`` is the path of the stat index (see the module's text); ``None`` checks every
    record in full. An unreadable record, or one edited after its step wrote it, is not
    listed: it is verify's to name (an edited record is kept as evidence). Changes nothing
    but the index.
    """
    old = _read_index(index)
    new: dict[str, Any] = {}
    stamps: dict[str, str] = {}
    stale = {}
    for path in record_paths:
        key = str(path)
        try:
            record_stat = _stat(key)
        except OSError:
            continue
        entry = old.get(key)
        if entry is not None and _untouched(entry, record_stat, stamps):
            new[key] = entry
            continue
        from . import records  # not needed when the index vouches for every record

        try:
            # Only the files' stats are looked at unless something changed; the digest is
            # checked below.
            record = records.read(path, digest=False)
        except RecordError:
            continue
        stats: dict[str, list[int]] = {}
        found = check(record, stats=stats)
        if not found["stale"] and not found["tampered"]:
            new[key] = _entry(record_stat, stats)
            continue
        try:
            records.check_digest(record, str(path))
        except RecordError:
            continue
        what = [f"input {s['name']} ({s['path']}{_files(s)})" for s in found["stale"]]
        what += [f"output {s['name']} ({s['path']})" for s in found["tampered"]]
        stale[key] = f"{record['id']}: {', '.join(what)} changed since the step ran"
    if index is not None and new != old:
        _write_index(index, new)
    return stale


def _files(item: dict[str, Any], shown: int = 5) -> str:
    """The changed files of a stale data folder, for a message: ``: a/1.png changed (…)``."""
    changed = item.get("files") or []
    if not changed:
        return ""
    more = f"; and {len(changed) - shown} more" if len(changed) > shown else ""
    return ": " + "; ".join(changed[:shown]) + more


def refresh_index(record_paths: Iterable[str | Path], index: str | Path = INDEX) -> None:
    """Bring the index up to date with the records (verify does this after it passed, so
    the next workflow start need not parse the records this run wrote)."""
    find_stale(record_paths, index=index)
