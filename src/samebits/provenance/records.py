"""Step records: what one step read, did and wrote, as a pure dict; and their files.

A record is written by its step, beside its outputs, after the outputs are on disk. Its
``run`` section (duration, host) is informative only and never enters the lock or any
comparison; everything else is deterministic, so two clones write identical records.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..core import folders
from ..core.errors import RecordError
from ..core.hashing import hash_json_obj, hash_output
from .fingerprint import fingerprint

__all__ = [
    "SCHEMA",
    "VOLATILE",
    "check_digest",
    "code_hash",
    "digest",
    "file_stats",
    "make",
    "read",
    "seal",
    "step_id",
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


def step_id(step: str, experiment: str, seed: int | None) -> str:
    """The id of one step of one chain, e.g. ``train/mlp/seed=0``; steps over all seeds
    (summaries, figures) have no seed: ``figures/mlp``."""
    return f"{step}/{experiment}" if seed is None else f"{step}/{experiment}/seed={seed}"


@functools.lru_cache(maxsize=1)
def _package_hash() -> str:
    root = Path(__file__).resolve().parents[1]  # the samebits package, every layer
    h = hashlib.sha256()
    for path in sorted([*root.rglob("*.py"), *root.rglob("*.yaml")]):
        rel = path.relative_to(root).as_posix()
        h.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    return "sha256:" + h.hexdigest()


def code_hash(
    script: str | Path | None = None, builder: str | Path | None = None, **user_code: str | Path | None
) -> dict[str, str]:
    """Hashes of the code that ran: the samebits package, the step's script, and the
    source files of the user's code (a model ``builder``, a ``trainer``, a ``loss``) where
    there are such."""
    code = {"samebits": _package_hash()}
    for name, path in (("script", script), ("builder", builder), *sorted(user_code.items())):
        if path is not None:
            data = Path(path).read_bytes()
            if name == "script":
                data = script_source(data)
            code[name] = "sha256:" + hashlib.sha256(data).hexdigest()
    return code


#: Snakemake runs a rule's script as a copy (``__real_file__``): its preamble up to this line,
#: then the script's own source, whether the workflow runs from a clone or as a module fetched
#: from a repository (where the script has no local path: ``__file__`` is a URL).
SNAKEMAKE_PREAMBLE_END = b"######## snakemake preamble end #########\n"


def script_source(data: bytes) -> bytes:
    """The source of a step's script from the copy Snakemake ran (``data``), ending in one
    newline, so that a record's ``code.script`` is the same wherever the script came from: the
    copy of a script that Snakemake read from a git repository (a module) has lost the file's
    last newline.

    >>> script_source(b"######## snakemake preamble end #########\\nprint(1)")
    b'print(1)\\n'
    >>> script_source(b"print(1)\\n")
    b'print(1)\\n'
    """
    _, marker, source = data.partition(SNAKEMAKE_PREAMBLE_END)
    return (source if marker else data).rstrip(b"\n") + b"\n"


def make(
    *,
    step: str,
    experiment: str,
    seed: int | None,
    outputs: Mapping[str, str | Path],
    input_files: Mapping[str, str | Path] | None = None,
    inputs: Mapping[str, Any] | None = None,
    params: Mapping[str, Any],
    determinism: Mapping[str, Any],
    script: str | Path | None = None,
    builder: str | Path | None = None,
    user_code: Mapping[str, str | Path | None] | None = None,
    trace: Mapping[str, Any] | None = None,
    tensorflow: Mapping[str, Any] | None = None,
    seconds: float | None = None,
) -> dict[str, Any]:
    """Build the record of one step (a pure dict; :mod:`samebits.core.fileio` writes it).

    ``outputs`` and ``input_files`` map a name to a path; each file is hashed by content
    here. ``inputs`` adds inputs that are not files (e.g. a bundled data set's checksum).
    The sizes and times of all these files go to the volatile ``run`` section, so a later
    check can skip re-hashing a file that was not touched (:mod:`samebits.provenance.ondisk`).
    ``user_code`` names the source files of the user's own code beyond the builder
    (``{"trainer": path}``); each is hashed into the ``code`` section.
    """
    env = fingerprint()
    if tensorflow is not None:
        env["tensorflow"] = dict(tensorflow)
    out = {}
    for name, path in outputs.items():
        desc = hash_output(path)
        desc["path"] = str(path)
        out[name] = desc
    ins: dict[str, Any] = {
        name: {"path": str(path), "sha256": hash_output(path)["sha256"]} for name, path in (input_files or {}).items()
    }
    ins.update(inputs or {})
    files = [*map(str, (input_files or {}).values()), *map(str, outputs.values())]
    return seal(
        {
            "schema": SCHEMA,
            "id": step_id(step, experiment, seed),
            "step": step,
            "experiment": experiment,
            "seed": seed,
            "outputs": out,
            "inputs": ins,
            "params": json.loads(json.dumps(dict(params))),  # plain JSON types only
            "code": code_hash(script, builder, **(user_code or {})),
            "determinism": dict(determinism),
            "environment": env,
            "trace": dict(trace or {}),
            "run": {"seconds": None if seconds is None else round(seconds, 3), "files": file_stats(files)},
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


def file_stats(paths) -> dict[str, list[int]]:
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


def validate(record: Any, where: str) -> dict[str, Any]:
    """Return ``record`` if it has the layout of :data:`SCHEMA`, else raise :class:`RecordError`."""
    if not isinstance(record, dict):
        raise RecordError(f"{where}: a record must be a JSON object")
    if record.get("schema") != SCHEMA:
        raise RecordError(f"{where}: record schema {record.get('schema')!r} is not supported (expected {SCHEMA})")
    missing = [k for k in REQUIRED if k not in record]
    if missing:
        raise RecordError(f"{where}: record lacks field(s) {', '.join(missing)}")
    for name, desc in record["outputs"].items():
        if not isinstance(desc, dict) or not str(desc.get("sha256", "")).startswith("sha256:"):
            raise RecordError(f"{where}: output {name!r} has no sha256 checksum")
    return record


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
        with open(path, encoding="utf-8") as fh:
            record = json.load(fh)
    except OSError as exc:
        raise RecordError(f"{path}: cannot read record ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise RecordError(f"{path}: not valid JSON ({exc})") from None
    validate(record, str(path))
    if digest:
        check_digest(record, str(path))
    return record
