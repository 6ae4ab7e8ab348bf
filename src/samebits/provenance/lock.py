"""``samebits.lock``: the accepted record of every step.

Layout (schema 2), canonical JSON with sorted keys and one item per line::

    {
     "environments": {"env-<12 hex>": {...fingerprint...}},
     "schema": 2,
     "steps": {"train/mlp/seed=0": {...record, "environment": "env-<12 hex>", "seal": "sha256:..."}}
    }

Environments are stored once and referenced by id (a content hash), so a lock of a thousand
steps stays small and a diff of two locks shows a changed environment once. Every entry
carries a ``seal``, the checksum of the rest of the entry, and every environment id is the
checksum of its content: an entry edited by hand no longer matches, and verify reports the
step as ``edited`` instead of judging its outputs by numbers nobody measured. Like a
record's digest this catches accidents, not forgers (whoever edits the file can recompute
the seal). ``samebits accept`` and ``samebits rebuild-lock`` are the ways to change an entry.
The lock is validated on every read and every write and only ever replaced atomically.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from ..core import fileio
from ..core.errors import LockError, RecordError
from ..core.hashing import hash_json_obj
from .records import VOLATILE, validate

__all__ = ["SCHEMA", "Lock", "read", "write", "dumps", "empty", "environment_id"]

#: Version of the lock's layout.
SCHEMA = 2


def environment_id(env: dict[str, Any]) -> str:
    """The id an environment is stored under: ``env-`` and 12 hex digits of its checksum."""
    return "env-" + hash_json_obj(env).split(":", 1)[1][:12]


def _seal(stored: dict[str, Any]) -> str:
    return hash_json_obj({k: v for k, v in stored.items() if k != "seal"})


class Lock:
    """An in-memory lock: steps (records without volatile parts) and their environments."""

    def __init__(self, steps: dict[str, dict] | None = None, environments: dict[str, dict] | None = None):
        self.steps: dict[str, dict[str, Any]] = steps or {}
        self.environments: dict[str, dict[str, Any]] = environments or {}
        self._environment_edited: dict[str, bool] = {}

    def entry(self, step_id: str) -> dict[str, Any] | None:
        """The accepted record of ``step_id`` with its environment expanded, or ``None``.

        A read-only view (it shares its parts with the lock: copying every entry was most of
        verify's time at 1,000 steps); :meth:`put` stores copies, never these objects.
        """
        stored = self.steps.get(step_id)
        if stored is None:
            return None
        return {**stored, "environment": self.environments[stored["environment"]]}

    def edited(self, step_id: str) -> str | None:
        """Why the entry of ``step_id`` is not as samebits wrote it, or ``None`` if it is."""
        stored = self.steps[step_id]
        found = _seal(stored)
        if stored.get("seal") != found:
            recorded = stored.get("seal")
            return (
                "the entry has no seal"
                if recorded is None
                else f"its seal {str(recorded)[:23]}… does not match its content ({found[:23]}…)"
            )
        env_id = stored["environment"]
        if env_id not in self._environment_edited:
            self._environment_edited[env_id] = environment_id(self.environments[env_id]) != env_id
        if self._environment_edited[env_id]:
            return (
                f"its environment {env_id} does not match its id (content {environment_id(self.environments[env_id])})"
            )
        return None

    def put(self, record: dict[str, Any], **extra: Any) -> None:
        """Store ``record`` (volatile sections dropped) as the accepted record of its step, sealed."""
        stored = {k: copy.deepcopy(v) for k, v in record.items() if k not in VOLATILE}
        env = stored.pop("environment")
        env_id = environment_id(env)
        self.environments[env_id] = env
        self._environment_edited[env_id] = False
        stored["environment"] = env_id
        stored.update(extra)
        stored["seal"] = _seal(stored)
        self.steps[record["id"]] = stored
        self._drop_unused_environments()

    def _drop_unused_environments(self) -> None:
        used = {s["environment"] for s in self.steps.values()}
        for env_id in list(self.environments):
            if env_id not in used:
                del self.environments[env_id]

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "environments": self.environments, "steps": self.steps}


def empty() -> Lock:
    return Lock()


def _validate(doc: Any, where: str) -> Lock:
    if not isinstance(doc, dict):
        raise LockError(f"{where}: the lock must be a JSON object with 'schema', 'environments' and 'steps'")
    if "schema" not in doc:
        raise LockError(f"{where}: no 'schema' field; this is not a samebits lock")
    if doc["schema"] != SCHEMA:
        raise LockError(
            f"{where}: lock schema {doc['schema']!r} is not the one this samebits reads (schema {SCHEMA}); "
            "it was left as it is. Use the samebits that wrote it, or replace it with one built from "
            "this run's records: `samebits rebuild-lock --yes` (the old file is kept)"
        )
    for field in ("environments", "steps"):
        if not isinstance(doc.get(field), dict):
            raise LockError(f"{where}: field {field!r} is missing or not an object")
    for env_id, env in doc["environments"].items():
        if not isinstance(env, dict):
            raise LockError(f"{where}: environment {env_id!r} is not an object")
    for step_id, stored in doc["steps"].items():
        if not isinstance(stored, dict):
            raise LockError(f"{where}: step {step_id!r} is not an object")
        env_id = stored.get("environment")
        if not isinstance(env_id, str) or env_id not in doc["environments"]:
            raise LockError(f"{where}: step {step_id!r} names environment {env_id!r}, which the lock lacks")
        try:
            validate({**stored, "environment": {}}, f"{where}: step {step_id!r}")
        except RecordError as exc:
            raise LockError(str(exc)) from None
        if stored["id"] != step_id:
            raise LockError(f"{where}: step {step_id!r} holds the record of {stored['id']!r}")
    return Lock(doc["steps"], doc["environments"])


def read(path: str | Path) -> Lock:
    """Read and validate the lock at ``path``; a missing file is an empty lock."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return empty()
    except OSError as exc:
        raise LockError(f"{path}: cannot read the lock ({exc.strerror})") from None
    try:
        doc = fileio.parse_json(data)
    except ValueError as exc:
        raise LockError(
            f"{path}: {exc}; it was left as it is. Restore it from git, "
            "or replace it with one built from the current results: samebits rebuild-lock --yes"
        ) from None
    return _validate(doc, str(path))


def dumps(lock: Lock) -> str:
    """The lock's exact file text (validated)."""
    doc = lock.to_dict()
    _validate(json.loads(json.dumps(doc)), "lock to write")
    return fileio.dump_json(doc)


def write(path: str | Path, lock: Lock) -> None:
    """Write ``lock`` to ``path`` atomically."""
    fileio.write_text(path, dumps(lock))
