"""Step records: what one step read, did and wrote, as a pure dict; and their files.

A record is written by its step, beside its outputs, after the outputs are on disk. Its
``run`` section (duration, host) is informative only and never enters the lock or any
comparison; everything else is deterministic, so two clones write identical records.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..core import fileio, folders
from ..core.errors import RecordError
from ..core.hashing import hash_json_obj, hash_output
from .identity import StepIdentity

__all__ = [
    "SCHEMA",
    "VOLATILE",
    "check_digest",
    "digest",
    "file_stats",
    "make",
    "read",
    "seal",
    "validate",
]

#: Version of the record layout.
SCHEMA = 1

#: Sections of a record that never count in a comparison (and never enter the lock).
VOLATILE = ("run", "digest")

REQUIRED = (
    "schema",
    "id",
    "step",
    "experiment",
    "seed",
    "outputs",
    "inputs",
    "params",
    "code",
    "determinism",
    "environment",
)


def make(
    identity: StepIdentity,
    *,
    outputs: Mapping[str, str | Path],
    trace: Mapping[str, Any] | None = None,
    sub_seeds: Mapping[str, int] | None = None,
    seconds: float | None = None,
    run: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The sealed record of one step (a pure dict; :mod:`samebits.core.fileio` writes it).

    ``identity`` is what decided the step (:func:`samebits.provenance.identity.identify`);
    ``outputs`` map a name to a path, each file hashed by content here. ``sub_seeds`` are
    the named seeds the step drew (they join the identity's determinism settings);
    ``trace`` is what the step reports of its work (the weights after every epoch, say).
    The volatile ``run`` section gets ``seconds``, the sizes and times of the input and
    output files (so a later check can skip re-hashing a file that was not touched:
    :mod:`samebits.provenance.ondisk`) and the facts of ``run`` (``fit_seconds``,
    ``resumed``).
    """
    out = {}
    for name, path in outputs.items():
        desc = hash_output(path)
        desc["path"] = str(path)
        out[name] = desc
    determinism = dict(identity.determinism)
    if sub_seeds is not None:
        determinism["sub_seeds"] = dict(sub_seeds)
    files = [*identity.input_files, *map(str, outputs.values())]
    return seal(
        {
            "schema": SCHEMA,
            "id": identity.id,
            "step": identity.step,
            "experiment": identity.experiment,
            "seed": identity.seed,
            "outputs": out,
            "inputs": dict(identity.inputs),
            "params": identity.params,
            "code": dict(identity.code),
            "determinism": determinism,
            "environment": identity.environment,
            "trace": dict(trace or {}),
            "run": {
                "seconds": None if seconds is None else round(seconds, 3),
                "files": file_stats(files),
                **(run or {}),
            },
        }
    )


def digest(record: Mapping[str, Any]) -> str:
    """The checksum of everything in ``record`` but its ``digest``."""
    return hash_json_obj({k: v for k, v in record.items() if k != "digest"})


def seal(record: dict[str, Any]) -> dict[str, Any]:
    """Set ``record["digest"]``: the checksum of everything else in it.

    A record edited by hand after its step wrote it no longer matches its digest, and
    :func:`read` refuses it. (This catches accidents and careless edits; it is not a
    signature: whoever can write the file can also recompute the digest.)
    """
    record["digest"] = digest(record)
    return record


def file_stats(paths: Iterable[str | Path]) -> dict[str, list[int]]:
    """``{path: [size, mtime_ns, ctime_ns]}``: enough to tell a file was not touched since.

    ctime cannot be set back by a user, so a content change with the mtime restored still
    shows here.
    """
    out = {}
    for p in paths:
        if Path(p).is_dir():  # a data folder: see samebits.core.folders.stamp
            out[str(p)] = folders.stamp(p)
            continue
        st = Path(p).stat()
        out[str(p)] = [st.st_size, st.st_mtime_ns, st.st_ctime_ns]
    return out


def _is_seed(value: Any) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0)


#: What each field of a record holds, as (test, what a message calls it).
_FIELDS: dict[str, tuple[Any, str]] = {
    "id": (lambda v: isinstance(v, str) and v != "", "a step id (text)"),
    "step": (lambda v: isinstance(v, str) and v != "", "a step name (text)"),
    "experiment": (lambda v: v is None or isinstance(v, str), "an experiment or data set name, or null"),
    "seed": (_is_seed, "a seed (an integer ≥ 0), or null"),
    "outputs": (lambda v: isinstance(v, dict), "an object of outputs"),
    "inputs": (lambda v: isinstance(v, dict), "an object of inputs"),
    "params": (lambda v: isinstance(v, dict), "an object"),
    "code": (lambda v: isinstance(v, dict), "an object"),
    "determinism": (lambda v: isinstance(v, dict), "an object"),
    "environment": (lambda v: isinstance(v, dict), "an object (an environment fingerprint)"),
    "trace": (lambda v: isinstance(v, dict), "an object"),
    "run": (lambda v: isinstance(v, dict), "an object"),
}


_CHECKSUM = re.compile(r"(sha256:)?[0-9a-f]{64}")


def _checksum(value: Any) -> bool:
    """A SHA-256 checksum as records hold them: ``sha256:<hex>`` of a file, or the bare hex of
    a data folder's content (:mod:`samebits.core.folders`) and of a data set."""
    return isinstance(value, str) and _CHECKSUM.fullmatch(value) is not None


def validate(record: Any, where: str) -> dict[str, Any]:
    """Return ``record`` if it has the layout of :data:`SCHEMA`, else raise :class:`RecordError`
    naming the field and what it must hold (so that nothing reading a record meets a value
    of another type)."""
    if not isinstance(record, dict):
        raise RecordError(f"{where}: a record must be a JSON object")
    if record.get("schema") != SCHEMA:
        raise RecordError(f"{where}: record schema {record.get('schema')!r} is not supported (expected {SCHEMA})")
    missing = [k for k in REQUIRED if k not in record]
    if missing:
        raise RecordError(f"{where}: record lacks field(s) {', '.join(missing)}")
    for field, (ok, what) in _FIELDS.items():
        if field in record and not ok(record[field]):
            raise RecordError(f"{where}: field {field!r} must be {what}, not {_short(record[field])}")
    for name, desc in record["outputs"].items():
        if not isinstance(desc, dict) or not _checksum(desc.get("sha256")):
            raise RecordError(f"{where}: output {name!r} has no sha256 checksum")
        if not isinstance(desc.get("path"), str) or not desc["path"]:
            raise RecordError(f"{where}: output {name!r} has no path")
    for name, desc in record["inputs"].items():
        if _checksum(desc):  # a checksum alone (of no file: a value the step was given)
            continue
        if not isinstance(desc, dict):
            raise RecordError(f"{where}: input {name!r} must be a checksum or an object, not {_short(desc)}")
        if "path" in desc and (not isinstance(desc["path"], str) or not desc["path"]):
            raise RecordError(f"{where}: input {name!r} has a path that is not text: {_short(desc['path'])}")
        if ("path" in desc or "sha256" in desc) and not _checksum(desc.get("sha256")):
            raise RecordError(f"{where}: input {name!r} has no sha256 checksum")
    files = record.get("run", {}).get("files", {})
    if not isinstance(files, dict) or not all(
        isinstance(stat, list) and all(isinstance(n, int) for n in stat) for stat in files.values()
    ):
        raise RecordError(f"{where}: field 'run.files' must map paths to their stats (lists of integers)")
    return record


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:37] + "…"


def check_digest(record: dict[str, Any], where: str) -> None:
    """Raise :class:`RecordError` if the record was changed after its step wrote it."""
    found = digest(record)
    if record.get("digest") != found:
        raise RecordError(
            f"{where}: the record was changed after its step wrote it (digest {record.get('digest')} "
            f"recorded, {found} found); rerun the step (snakemake --forcerun) to get a true record"
        )


def read(path: str | Path, *, digest: bool = True) -> dict[str, Any]:
    """Read and validate a record file (``digest=False``: skip the digest check, for the
    stat-only look at the tree that every workflow start takes; verify always checks it)."""
    try:
        record = fileio.parse_json(Path(path).read_bytes())
    except OSError as exc:
        raise RecordError(f"{path}: cannot read record ({exc.strerror})") from None
    except ValueError as exc:
        raise RecordError(f"{path}: {exc}") from None
    validate(record, str(path))
    if digest:
        check_digest(record, str(path))
    return record
