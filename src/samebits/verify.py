"""Verify every step record of a run against ``samebits.lock`` and apply the lock policy.

The policy (see the README's status table): ``new`` steps are added and ``changed`` steps
updated; a drifted step that is equivalent within tolerance passes with a warning and keeps
its lock entry; when any step fails (diverged, drifted beyond tolerance, stale, tampered)
nothing is written at all, so the lock stays byte-for-byte as it was and the run fails.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from . import fileio, ondisk, records
from . import lock as lockmod
from .compare import DEFAULT_ATOL, DEFAULT_RTOL, Outcome, classify, inherit_upstream
from .envinfo import is_context

__all__ = ["verify", "verify_step", "Verification", "chains"]

log = logging.getLogger(__name__)

#: Up to this many new steps are listed one per line in the summary; more are counted.
NEW_LISTED = 8

STATUS_ORDER = ("tampered", "stale", "diverged", "drifted", "changed", "new", "identical")
_STEP_ORDER = {"split": 0, "init": 1, "train": 2, "evaluate": 3, "figures": 4, "summarize": 5}


def _order(record: dict[str, Any]) -> tuple:
    """Chains seed by seed (split first), then the steps over all seeds."""
    seed, exp = record["seed"], record["experiment"]
    chain = exp if seed is not None else ""
    return (seed is None, seed or 0, record["step"] != "split", chain, _STEP_ORDER.get(record["step"], 9), exp)


def _delta_text(name: str, pair: list[float]) -> str:
    a, b = pair
    return f"{name} identical" if a == b else f"{name} {a:.6g} → {b:.6g} (Δ {b - a:.2g})"


def chains(outcomes: list[Outcome], datasets: dict[tuple[str, int], str]) -> list[dict[str, Any]]:
    """For each experiment × seed chain that is not all identical: its first differing step
    and what happened downstream.

    ``datasets`` maps (experiment, seed) to the data set the chain's split belongs to.
    """
    by_id = {o.id: o for o in outcomes}
    result = []
    for (exp, seed), dataset in sorted(datasets.items()):
        ids = [records.step_id("split", dataset, seed)] + [
            records.step_id(s, exp, seed) for s in ("init", "train", "evaluate")
        ]
        chain = [by_id[i] for i in ids if i in by_id]
        first = next((o for o in chain if o.status != "identical"), None)
        if first is None:
            continue
        notes = []
        for o in chain[chain.index(first) :]:
            if o.status == "identical":
                notes.append(f"{o.step}: identical")
                continue
            parts = [o.verdict]
            if o.outputs:
                parts.append("outputs " + ", ".join(d["output"] for d in o.outputs) + " differ")
            if o.first_epoch is not None:
                parts.append(f"weights differ from epoch {o.first_epoch}")
            if o.metrics:
                parts.append(", ".join(_delta_text(k, v) for k, v in o.metrics.items()))
            notes.append(f"{o.step}: " + "; ".join(parts))
        result.append({"experiment": exp, "seed": seed, "first": first.id, "steps": notes})
    return result


class Verification:
    """The outcome of one verification: per-step verdicts and what happened to the lock."""

    def __init__(self, outcomes: list[Outcome], lock_path: str, lock_action: str, stale: list[str], chains):
        self.outcomes = outcomes
        self.lock_path = lock_path
        self.lock_action = lock_action
        self.stale = stale
        self.chains = chains

    @property
    def counts(self) -> dict[str, int]:
        c = collections.Counter(o.status for o in self.outcomes)
        return {s: c.get(s, 0) for s in STATUS_ORDER}

    @property
    def ok(self) -> bool:
        return not any(o.failing for o in self.outcomes)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "counts": self.counts,
            "total": len(self.outcomes),
            "lock": {"path": self.lock_path, "action": self.lock_action},
            "stale_lock_entries": self.stale,
            "chains": self.chains,
            "steps": [o.as_dict() for o in self.outcomes],
        }

    def headline(self) -> str:
        n, c = len(self.outcomes), self.counts
        if c["identical"] == n:
            return f"{n}/{n} steps identical: every step reproduced bit for bit"
        equivalent = sum(1 for o in self.outcomes if o.status == "drifted" and o.equivalent)
        parts = []
        for s in STATUS_ORDER:
            if c[s]:
                parts.append(f"{c[s]} {s}")
                if s == "drifted" and equivalent:
                    parts[-1] += f" ({equivalent} equivalent within tolerance)"
        return f"{n} steps: " + ", ".join(parts)

    def _details(self, o: Outcome) -> list[str]:
        out = []
        for d in o.disk:
            what = "output" if d["problem"] == "tampered" else "input"
            out.append(
                f"{what} {d['name']} ({d['path']}): recorded {d['expected'][7:23]}… found {str(d['found'])[:23]}"
            )
        for d in o.outputs:
            exp, found = (d["expected"] or "none"), (d["found"] or "none")
            out.append(f"output {d['output']}: expected {exp[7:23]}… found {found[7:23]}…")
        if o.first_epoch is not None:
            out.append(f"weights first differ after epoch {o.first_epoch}")
        shown = o.causes if o.status == "changed" else o.environment if o.status == "drifted" else []
        out += shown[:8]
        if len(shown) > 8:
            out.append(f"… and {len(shown) - 8} more differences (see verification.json)")
        if o.status == "drifted":
            out += o.deltas[:4] + ([f"… {len(o.deltas) - 4} more summaries moved"] if len(o.deltas) > 4 else [])
            if o.environment and all(is_context(line.split(".", 1)[-1]) for line in o.environment):
                out.append(
                    "only the CPU differs, and the ISA cap should have made that harmless: the model uses an op "
                    "that is not portable between CPUs (run `samebits lint`; see docs/portability.md)"
                )
        if o.upstream:
            out.append(f"its only changed inputs were written by {', '.join(o.upstream)} ({o.status} above)")
        elif o.status == "diverged":
            out.append("inputs, params, code and environment are the same: real nondeterminism")
        if o.status == "stale":
            out.append("the step ran on other inputs than are there now: rerun the workflow")
        if o.status == "tampered":
            out.append("the output changed after its step wrote it: rerun the step (snakemake --forcerun)")
        return out

    def lines(self) -> list[str]:
        """The one-screen summary: headline, every step that is not identical, the chains, the lock."""
        out = [f"samebits verify: {self.headline()}"]
        new = [o for o in self.outcomes if o.status == "new"]
        for o in self.outcomes:
            if o.status == "identical" or (o.status == "new" and len(new) > NEW_LISTED):
                continue
            label = o.verdict.upper() if o.failing else o.verdict
            out.append(f"  {label:<9} {o.id}" if len(label) <= 9 else f"  {label} {o.id}")
            out += [f"      {line}" for line in self._details(o)]
        if len(new) > NEW_LISTED:
            out.append(f"  new       {len(new)} steps not in the lock yet (listed in verification.md)")
        if self.chains and any(o.status not in ("identical", "new") for o in self.outcomes):
            out.append("chains (first step that is not identical, then downstream):")
            for c in self.chains:
                out.append(f"  {c['experiment']} seed {c['seed']}: " + " | ".join(c["steps"]))
        if self.stale:
            out.append(f"  {len(self.stale)} lock entries are not part of this run (kept)")
        equivalent = [o for o in self.outcomes if o.status == "drifted" and o.equivalent]
        if equivalent and self.ok:
            out.append(
                f"WARNING: {len(equivalent)} step(s) drifted with another environment but every summary is within "
                "tolerance; the lock keeps the old bits (`samebits accept` takes the new ones)"
            )
        out.append(f"lock {self.lock_path}: {self.lock_action}")
        return out

    def html(self) -> str:
        """A self-contained page of the verification (for the Snakemake report)."""
        from html import escape

        rows = "".join(
            f"<tr><td>{escape(o.step)}</td><td>{escape(o.experiment)}</td><td>{'' if o.seed is None else o.seed}</td>"
            f"<td class='{escape(o.status)}'>{escape(o.verdict)}</td>"
            f"<td>{'<br>'.join(escape(d) for d in self._details(o)) or '—'}</td></tr>"
            for o in self.outcomes
        )
        return (
            "<!DOCTYPE html><html><head><meta charset='utf-8'><title>samebits verification</title><style>"
            "body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px}"
            ".identical{color:#186a18}.new,.changed{color:#1a4f9c}.drifted,.diverged,.stale,.tampered{color:#a01010}"
            f"</style></head><body><h1>samebits verification</h1><p><b>{escape(self.headline())}</b></p>"
            f"<p>Lock <code>{escape(self.lock_path)}</code>: {escape(self.lock_action)}.</p>"
            "<table><tr><th>step</th><th>experiment</th><th>seed</th><th>status</th><th>what differs</th></tr>"
            f"{rows}</table></body></html>\n"
        )

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
            cell = "; ".join(w.replace("|", "\\|") for w in self._details(o)) or "—"
            seed = "" if o.seed is None else o.seed
            rows.append(f"| {o.step} | {o.experiment} | {seed} | {o.verdict} | {cell} |")
        if self.chains:
            rows += ["", "## Chains", ""]
            for c in self.chains:
                rows.append(f"- **{c['experiment']} seed {c['seed']}**: " + "; ".join(c["steps"]))
        if self.stale:
            rows += ["", "Lock entries not part of this run (kept): " + ", ".join(f"`{s}`" for s in self.stale)]
        return "\n".join(rows) + "\n"


def verify(
    record_paths: Iterable[str | Path],
    lock_path: str | Path,
    *,
    out_json: str | Path | None = None,
    out_md: str | Path | None = None,
    update_lock: bool = True,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
) -> Verification:
    """Classify every record against the lock, write the reports, apply the lock policy.

    Reads the lock first, so an unreadable lock fails before anything is written.
    """
    lock = lockmod.read(lock_path)
    current = [records.read(p) for p in record_paths]
    current.sort(key=_order)
    accepted = [lock.entry(r["id"]) for r in current]
    outcomes = [
        classify(r, entry, rtol=rtol, atol=atol, disk=ondisk.check(r))
        for r, entry in zip(current, accepted, strict=True)
    ]
    inherit_upstream(current, outcomes, accepted, rtol=rtol, atol=atol)
    seen = {r["id"] for r in current}
    stale = sorted(set(lock.steps) - seen)
    datasets = {
        (r["experiment"], r["seed"]): r["params"]["dataset"]
        for r in current
        if r["step"] != "split" and "dataset" in r["params"]
    }

    failing = [o for o in outcomes if o.failing]
    if failing:
        action = f"kept as it was ({len(failing)} step(s) failed; see above, or `samebits accept` them)"
    elif not update_lock:
        action = "not updated (read-only check)"
    else:
        for record, outcome in zip(current, outcomes, strict=True):
            if outcome.status in ("new", "changed"):
                lock.put(record)
        action = "updated" if lockmod.write(lock_path, lock) else "unchanged"
    result = Verification(outcomes, str(lock_path), action, stale, chains(outcomes, datasets))
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
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    out_json: str | Path = "results/verification.json",
    out_md: str | Path = "results/verification.md",
    out_html: str | Path | None = None,
    console=None,
) -> Verification:
    """The workflow's last step: verify, print the one-screen summary, write the marker.

    The marker is written only when verification passes, so a failed verification is
    repeated on the next run until it is resolved. Raises ``SystemExit(1)`` on failure.
    """
    import sys

    record_paths = list(record_paths)
    result = verify(record_paths, lock, out_json=out_json, out_md=out_md, rtol=rtol, atol=atol)
    text = "\n".join(result.lines())
    log.info("%s", text)
    print(text, file=console or sys.stdout, flush=True)
    if not result.ok:
        raise SystemExit(1)
    if out_html is not None:
        fileio.write_text(out_html, result.html())
    fileio.write_text(out_marker, result.headline() + "\n")
    ondisk.refresh_index(record_paths)  # the next workflow start need not parse these records
    return result


def accept(
    record_paths: Iterable[str | Path],
    lock_path: str | Path,
    *,
    reason: str,
    step: str | None = None,
    experiment: str | None = None,
    seed: int | None = None,
    everything: bool = False,
) -> list[Outcome]:
    """Take drifted or diverged results into the lock: the one explicit way to do so.

    Selects, among the steps that are drifted or diverged now, those matching every filter
    given (or all of them with ``everything``), stores each one's current record in the lock
    with ``accepted: {"reason", "status"}``, and changes nothing else. Stale or tampered
    steps cannot be accepted: their records do not describe the files on disk.
    Returns the accepted outcomes.
    """
    from .errors import SamebitsError

    if not reason or not reason.strip():
        raise SamebitsError("accept needs a reason (--reason TEXT); it is stored in the lock")
    if not everything and step is None and experiment is None and seed is None:
        raise SamebitsError("accept needs --step, --experiment, --seed or --all to say what to accept")
    lock = lockmod.read(lock_path)
    current = [records.read(p) for p in record_paths]
    accepted = [lock.entry(r["id"]) for r in current]
    outcomes = [classify(r, entry, disk=ondisk.check(r)) for r, entry in zip(current, accepted, strict=True)]
    inherit_upstream(current, outcomes, accepted)  # evaluate after a drifted train is drifted too
    chosen = []
    for r, outcome in zip(current, outcomes, strict=True):
        if step is not None and r["step"] != step:
            continue
        if experiment is not None and r["experiment"] != experiment:
            continue
        if seed is not None and r["seed"] != seed:
            continue
        if outcome.status in ("drifted", "diverged"):
            chosen.append((r, outcome))
    if not chosen:
        raise SamebitsError("nothing to accept: no drifted or diverged step matches (run `samebits verify` to see)")
    for r, outcome in chosen:
        lock.put(r, accepted={"reason": reason.strip(), "status": outcome.status})
    lockmod.write(lock_path, lock)
    return [o for _, o in chosen]


def rebuild_lock(record_paths: Iterable[str | Path], lock_path: str | Path) -> tuple[int, Path | None]:
    """Write a new lock from the current records: the explicit way out of an unreadable lock.

    The old file, readable or not, is kept beside it as ``<lock>.bak`` (an existing backup is
    never overwritten: ``.bak.1``, ``.bak.2``, …). Records whose files on disk no longer match
    them are refused: a rebuilt lock must vouch only for what is there. Returns the number of
    steps written and the backup's path (``None`` if there was no lock).
    """
    from .errors import SamebitsError

    current = [records.read(p) for p in record_paths]
    for r in current:
        found = ondisk.check(r)
        if found["stale"] or found["tampered"]:
            bad = ", ".join(f"{d['name']} ({d['path']})" for d in found["stale"] + found["tampered"])
            raise SamebitsError(f"{r['id']}: {bad} changed since the step ran; rerun the workflow before rebuilding")
    lock_path = Path(lock_path)
    backup = None
    if lock_path.exists():
        backup = lock_path.with_name(lock_path.name + ".bak")
        n = 0
        while backup.exists():
            n += 1
            backup = lock_path.with_name(f"{lock_path.name}.bak.{n}")
        fileio.write_bytes(backup, lock_path.read_bytes())
    fresh = lockmod.empty()
    for r in current:
        fresh.put(r)
    fileio.write_text(lock_path, lockmod.dumps(fresh))
    return len(current), backup
