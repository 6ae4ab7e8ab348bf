"""Classify one step's record against its accepted record in the lock.

Statuses, in the order they are decided:

``new``        the lock has no entry for the step;
``identical``  every output has the accepted checksum;
``changed``    outputs differ, and so do the step's inputs, parameters, code or determinism
               settings (named in ``causes``): an intended change, the lock follows;
``drifted``    outputs differ and only the environment differs (named in ``environment``);
``diverged``   outputs differ and nothing else does: real nondeterminism.
"""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["Outcome", "classify", "deep_diff", "FAILING"]

#: Statuses that make verification fail and keep the lock as it is.
FAILING = ("drifted", "diverged")

#: Sections whose difference makes an output change intended ("changed").
CAUSES = ("inputs", "params", "code", "determinism")


@dataclasses.dataclass
class Outcome:
    """The verdict on one step."""

    id: str
    step: str
    experiment: str
    seed: int
    status: str
    outputs: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    causes: list[str] = dataclasses.field(default_factory=list)
    environment: list[str] = dataclasses.field(default_factory=list)
    first_epoch: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    if isinstance(value, str) and value.startswith("sha256:"):
        return value[7:19]
    return text if len(text) <= 60 else text[:57] + "..."


def deep_diff(old: Any, new: Any, path: str) -> list[str]:
    """Human lines naming every leaf that differs, e.g. ``params.epochs 5 → 8``."""
    if isinstance(old, dict) and isinstance(new, dict):
        lines = []
        for key in sorted(set(old) | set(new), key=str):
            sub = f"{path}.{key}"
            if key not in old:
                lines.append(f"{sub} added ({_short(new[key])})")
            elif key not in new:
                lines.append(f"{sub} removed (was {_short(old[key])})")
            else:
                lines.extend(deep_diff(old[key], new[key], sub))
        return lines
    if (
        isinstance(old, list)
        and isinstance(new, list)
        and all(isinstance(v, str) for v in old + new)
        and len(old) + len(new) > 8
    ):
        gone, came = sorted(set(old) - set(new)), sorted(set(new) - set(old))
        if not gone and not came:
            return [] if old == new else [f"{path} reordered"]
        parts = [f"-{v}" for v in gone] + [f"+{v}" for v in came]
        return [f"{path} {' '.join(parts)}"]
    if old != new or type(old) is not type(new):
        return [f"{path} {_short(old)} → {_short(new)}"]
    return []


def _output_diffs(accepted: dict, current: dict) -> list[dict[str, Any]]:
    diffs = []
    for name in sorted(set(accepted) | set(current)):
        a, c = accepted.get(name), current.get(name)
        if a is None or c is None:
            diffs.append({"output": name, "expected": a and a["sha256"], "found": c and c["sha256"]})
        elif a["sha256"] != c["sha256"]:
            diffs.append({"output": name, "path": c.get("path"), "expected": a["sha256"], "found": c["sha256"]})
    return diffs


def _first_epoch(accepted: dict, current: dict) -> int | None:
    a = accepted.get("trace", {}).get("epoch_weights")
    c = current.get("trace", {}).get("epoch_weights")
    if not a or not c:
        return None
    for i, (x, y) in enumerate(zip(a, c, strict=False), start=1):
        if x != y:
            return i
    return None if len(a) == len(c) else min(len(a), len(c)) + 1


def classify(current: dict[str, Any], accepted: dict[str, Any] | None) -> Outcome:
    """Compare a step's ``current`` record with its ``accepted`` one (both full records)."""
    out = Outcome(
        id=current["id"],
        step=current["step"],
        experiment=current["experiment"],
        seed=current["seed"],
        status="new",
    )
    if accepted is None:
        return out
    out.outputs = _output_diffs(accepted["outputs"], current["outputs"])
    out.causes = [line for sec in CAUSES for line in deep_diff(accepted.get(sec), current.get(sec), sec)]
    out.environment = deep_diff(accepted["environment"], current["environment"], "environment")
    if not out.outputs:
        out.status = "identical"
        return out
    out.first_epoch = _first_epoch(accepted, current)
    if out.causes:
        out.status = "changed"
    elif out.environment:
        out.status = "drifted"
    else:
        out.status = "diverged"
    return out
