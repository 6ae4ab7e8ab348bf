"""``samebits.lock``: the accepted record of every step.

Layout (schema 1), canonical JSON with sorted keys and one item per line::

    {
     "environments": {"env-<12 hex>": {...fingerprint...}},
     "schema": 1,
     "steps": {"train/mlp/seed=0": {...record, "environment": "env-<12 hex>"}}
    }

Environments are stored once and referenced by id, so a lock of a thousand steps stays
small and a diff of two locks shows a changed environment once. The lock is validated on
every read and every write and only ever replaced atomically.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from . import fileio
from .errors import LockError, RecordError
from .hashing import hash_json_obj
from .records import SCHEMA, VOLATILE, validate

__all__ = ["Lock", "read", "write", "empty"]


class Lock:
    """An in-memory lock: steps (records without volatile parts) and their environments."""

    def __init__(self, steps: dict[str, dict] | None = None, environments: dict[str, dict] | None = None):
        self.steps: dict[str, dict[str, Any]] = steps or {}
        self.environments: dict[str, dict[str, Any]] = environments or {}

    def entry(self, step_id: str) -> dict[str, Any] | None:
        """The accepted record of ``step_id`` with its environment expanded, or ``None``.

        A read-only view (it shares its parts with the lock: copying every entry was most of
        verify's time at 1,000 steps); :meth:`put` stores copies, never these objects.
        """
        stored = self.steps.get(step_id)
        if stored is None:
            return None
        return {**stored, "environment": self.environments[stored["environment"]]}

    def put(self, record: dict[str, Any], **extra: Any) -> None:
        """Store ``record`` (volatile sections dropped) as the accepted record of its step."""
        stored = {k: copy.deepcopy(v) for k, v in record.items() if k not in VOLATILE}
        env = stored.pop("environment")
        env_id = "env-" + hash_json_obj(env).split(":", 1)[1][:12]
        self.environments[env_id] = env
        stored["environment"] = env_id
        stored.update(extra)
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
            f"{where}: lock schema {doc['schema']!r} is not supported by this samebits "
            f"(it reads schema {SCHEMA}); upgrade samebits, or `samebits rebuild-lock --yes`"
        )
    for field in ("environments", "steps"):
        if not isinstance(doc.get(field), dict):
            raise LockError(f"{where}: field {field!r} is missing or not an object")
    for step_id, stored in doc["steps"].items():
        if not isinstance(stored, dict):
            raise LockError(f"{where}: step {step_id!r} is not an object")
        env_id = stored.get("environment")
        if env_id not in doc["environments"]:
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
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return empty()
    except OSError as exc:
        raise LockError(f"{path}: cannot read the lock ({exc.strerror})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LockError(
            f"{path}: not valid JSON ({exc}); it was left as it is. Restore it from git, "
            "or replace it with one built from the current results: samebits rebuild-lock --yes"
        ) from None
    return _validate(doc, str(path))


def dumps(lock: Lock) -> str:
    """The lock's exact file text (validated)."""
    doc = lock.to_dict()
    _validate(json.loads(json.dumps(doc)), "lock to write")
    return fileio.dump_json(doc)


def write(path: str | Path, lock: Lock) -> bool:
    """Write ``lock`` to ``path`` atomically, only if its text changes. Returns whether it wrote."""
    text = dumps(lock)
    path = Path(path)
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except FileNotFoundError:
        pass
    fileio.write_text(path, text)
    return True
