"""Verify every step record of a run against ``samebits.lock`` and apply the lock policy.

The policy (see the README's status table): ``new`` steps are added and ``changed`` steps
updated; when any step is ``drifted`` or ``diverged`` nothing is written at all, so the lock
stays byte-for-byte as it was and the run fails. Nothing else ever writes the lock.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from . import fileio, records
from . import lock as lockmod
from .compare import FAILING, Outcome, classify

__all__ = ["verify", "Verification"]

log = logging.getLogger(__name__)

#: Up to this many new steps are listed one per line in the summary; more are counted.
NEW_LISTED = 8

STATUS_ORDER = ("diverged", "drifted", "changed", "new", "identical")


class Verification:
    """The outcome of one verification: per-step verdicts and what happened to the lock."""

    def __init__(self, outcomes: list[Outcome], lock_path: str, lock_action: str, stale: list[str]):
        self.outcomes = outcomes
        self.lock_path = lock_path
        self.lock_action = lock_action
        self.stale = stale

    @property
    def counts(self) -> dict[str, int]:
        c = collections.Counter(o.status for o in self.outcomes)
        return {s: c.get(s, 0) for s in STATUS_ORDER}

    @property
    def ok(self) -> bool:
        return not any(o.status in FAILING for o in self.outcomes)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "counts": self.counts,
            "total": len(self.outcomes),
            "lock": {"path": self.lock_path, "action": self.lock_action},
            "stale_lock_entries": self.stale,
            "steps": [o.as_dict() for o in self.outcomes],
        }

    def headline(self) -> str:
        n, c = len(self.outcomes), self.counts
        if c["identical"] == n:
            return f"{n}/{n} steps identical: every step reproduced bit for bit"
        parts = [f"{c[s]} {s}" for s in STATUS_ORDER if c[s]]
        return f"{n} steps: " + ", ".join(parts)

    def lines(self) -> list[str]:
        """The one-screen summary: headline, every step that is not identical, the lock."""
        out = [f"samebits verify: {self.headline()}"]
        new = [o for o in self.outcomes if o.status == "new"]
        for o in self.outcomes:
            if o.status == "identical" or (o.status == "new" and len(new) > NEW_LISTED):
                continue
            label = o.status.upper() if o.status in FAILING else o.status
            out.append(f"  {label:<9} {o.id}")
            for d in o.outputs:
                exp, found = (d["expected"] or "none"), (d["found"] or "none")
                out.append(f"      output {d['output']}: expected {exp[7:23]}… found {found[7:23]}…")
            if o.first_epoch is not None:
                out.append(f"      weights first differ after epoch {o.first_epoch}")
            shown = o.causes if o.status == "changed" else o.environment
            for line in shown[:8]:
                out.append(f"      {line}")
            if len(shown) > 8:
                out.append(f"      … and {len(shown) - 8} more differences (see verification.json)")
            if o.status == "diverged":
                out.append("      inputs, params, code and environment are the same: real nondeterminism")
        if len(new) > NEW_LISTED:
            out.append(f"  new       {len(new)} steps not in the lock yet (listed in verification.md)")
        if self.stale:
            out.append(f"  {len(self.stale)} lock entries are not part of this run (kept)")
        out.append(f"lock {self.lock_path}: {self.lock_action}")
        return out

    def markdown(self) -> str:
        rows = [
            "# samebits verification",
            "",
            f"**{self.headline()}**",
            "",
            f"Lock `{self.lock_path}`: {self.lock_action}.",
            "",
            "| step | experiment | seed | status | what differs |",
            "|---|---|---|---|---|",
        ]
        for o in self.outcomes:
            what = [f"output `{d['output']}`" for d in o.outputs]
            if o.first_epoch is not None:
                what.append(f"from epoch {o.first_epoch}")
            what += o.causes if o.status == "changed" else o.environment if o.status == "drifted" else []
            cell = "; ".join(w.replace("|", "\\|") for w in what) or "—"
            rows.append(f"| {o.step} | {o.experiment} | {o.seed} | {o.status} | {cell} |")
        if self.stale:
            rows += ["", "Lock entries not part of this run (kept): " + ", ".join(f"`{s}`" for s in self.stale)]
        return "\n".join(rows) + "\n"


_STEP_ORDER = {"split": 0, "init": 1, "train": 2, "evaluate": 3}


def verify(
    record_paths: Iterable[str | Path],
    lock_path: str | Path,
    *,
    out_json: str | Path | None = None,
    out_md: str | Path | None = None,
    update_lock: bool = True,
) -> Verification:
    """Classify every record against the lock, write the reports, apply the lock policy.

    Reads the lock first, so an unreadable lock fails before anything is written.
    """
    lock = lockmod.read(lock_path)
    current = [records.read(p) for p in record_paths]
    current.sort(key=lambda r: (r["seed"], r["step"] != "split", r["experiment"], _STEP_ORDER.get(r["step"], 9)))
    outcomes = [classify(r, lock.entry(r["id"])) for r in current]
    seen = {r["id"] for r in current}
    stale = sorted(set(lock.steps) - seen)

    failing = [o for o in outcomes if o.status in FAILING]
    if failing:
        action = f"kept as it was ({len(failing)} step(s) drifted or diverged; accept them explicitly to update)"
    elif not update_lock:
        action = "not updated (read-only check)"
    else:
        for record, outcome in zip(current, outcomes, strict=True):
            if outcome.status in ("new", "changed"):
                lock.put(record)
        action = "updated" if lockmod.write(lock_path, lock) else "unchanged"
    result = Verification(outcomes, str(lock_path), action, stale)
    if out_json is not None:
        fileio.write_json(out_json, result.as_dict())
    if out_md is not None:
        fileio.write_text(out_md, result.markdown())
    return result


def verify_step(
    record_paths: Iterable[str | Path],
    out_marker: str | Path,
    *,
    lock: str | Path,
    out_json: str | Path = "results/verification.json",
    out_md: str | Path = "results/verification.md",
    console=None,
) -> Verification:
    """The workflow's last step: verify, print the one-screen summary, write the marker.

    The marker is written only when verification passes, so a failed verification is
    repeated on the next run until it is resolved. Raises ``SystemExit(1)`` on failure.
    """
    import sys

    result = verify(record_paths, lock, out_json=out_json, out_md=out_md)
    text = "\n".join(result.lines())
    log.info("%s", text)
    print(text, file=console or sys.stdout, flush=True)
    if not result.ok:
        raise SystemExit(1)
    fileio.write_text(out_marker, result.headline() + "\n")
    return result
