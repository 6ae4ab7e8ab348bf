"""Do the files on disk still match what a record says?

Two ways they can stop matching:

- **stale**: an input's content changed after the step ran. Snakemake decides by
  modification times, so an input whose content changes while its mtime is put back (a
  restore, ``rsync -t``, ``touch -d``) is not rerun; the record's input checksums catch it.
- **tampered**: an output's content no longer has the checksum its record holds.

Each file is re-hashed only if its size, mtime or ctime differ from what the record saw
(ctime cannot be set back by a user), so a check of an untouched tree costs one ``stat``
per file.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from . import records
from .errors import RecordError
from .hashing import hash_output

__all__ = ["check", "invalidate_stale"]

log = logging.getLogger(__name__)


def _current(path: str, seen: dict[str, list[int]]) -> str | None:
    """The file's canonical checksum now, or ``None`` when its stat shows it was not touched."""
    st = os.stat(path)
    if seen.get(path) == [st.st_size, st.st_mtime_ns, st.st_ctime_ns]:
        return None
    return hash_output(path)["sha256"]


def check(record: dict[str, Any], *, outputs: bool = True) -> dict[str, list[dict[str, Any]]]:
    """Compare a record's input (and output) checksums with the files now on disk.

    Returns ``{"stale": [...], "tampered": [...]}``; each item names the file, the checksum
    the record holds and the one found (``None`` for a missing file).
    """
    seen = record.get("run", {}).get("files", {})
    found: dict[str, list[dict[str, Any]]] = {"stale": [], "tampered": []}
    pairs = [("stale", name, d) for name, d in record["inputs"].items() if isinstance(d, dict) and "path" in d]
    if outputs:
        pairs += [("tampered", name, d) for name, d in record["outputs"].items()]
    for kind, name, desc in pairs:
        path = desc["path"]
        try:
            now = _current(path, seen)
        except FileNotFoundError:
            now = "missing"
        except (OSError, ValueError) as exc:
            now = f"unreadable ({exc})"
        if now is not None and now != desc["sha256"]:
            found[kind].append({"name": name, "path": path, "expected": desc["sha256"], "found": now})
    return found


def invalidate_stale(
    record_paths: Iterable[str | Path], *, marker: str | Path | None = None, dry_run: bool = False
) -> list[str]:
    """Remove the record of every step whose inputs or outputs changed since it ran.

    The record is a declared output of its step. Snakemake does not regenerate a missing
    intermediate file while everything downstream is up to date (that is how its temporary
    files work), so the workflow's final ``marker`` is removed too: the verify job must run
    again, Snakemake regenerates the missing records by rerunning their steps (a modified
    output is rewritten) and, through the new outputs, everything downstream.
    With ``dry_run`` nothing is removed. Returns one message per step.
    """
    messages = []
    for path in record_paths:
        path = Path(path)
        try:
            # This runs at every workflow start: only the files' stats are looked at unless
            # something changed (about 0.06 ms per record). The digest is checked below.
            record = records.read(path, digest=False)
        except RecordError:
            continue  # an unreadable record is verify's business, not a reason to delete it
        found = check(record)
        if not found["stale"] and not found["tampered"]:
            continue
        try:
            records.check_digest(record, str(path))
        except RecordError:
            continue  # an edited record is kept as evidence: verify names it and fails
        what = [f"input {s['name']} ({s['path']})" for s in found["stale"]]
        what += [f"output {s['name']} ({s['path']})" for s in found["tampered"]]
        action = "would rerun it (dry run)" if dry_run else "rerunning it"
        messages.append(f"{record['id']}: {', '.join(what)} changed since the step ran; {action}")
        if not dry_run:
            path.unlink(missing_ok=True)
    if messages and marker is not None and not dry_run:
        Path(marker).unlink(missing_ok=True)
    return messages


#: Snakemake options that parse the workflow without running jobs: never remove anything then.
NON_EXECUTING = (
    "--dry-run",
    "--dryrun",
    "--lint",
    "--dag",
    "--rulegraph",
    "--filegraph",
    "--summary",
    "--detailed-summary",
    "--list",
    "--list-rules",
    "--list-target-rules",
    "--report",
    "--list-changes",
    "--lc",
    "--list-input-changes",
    "--li",
    "--list-params-changes",
    "--lp",
    "--list-code-changes",
    "--containerize",
    "--print-compilation",
    "--d3dag",
    "--unlock",
    "--cleanup-metadata",
    "--cm",
    "--delete-all-output",
    "--delete-temp-output",
    "--archive",
)


def executing(argv: list[str]) -> bool:
    """Whether a Snakemake command line will run jobs (at parse time Snakemake cannot say)."""
    for arg in argv[1:]:
        if arg.split("=", 1)[0] in NON_EXECUTING:
            return False
        if arg.startswith("-") and not arg.startswith("--") and "n" in arg[1:]:
            return False  # -n, -np, -pn
    return True
