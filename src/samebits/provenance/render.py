"""How a verification reads: the one-screen verdict, Markdown, HTML and JSON.

Pure functions of a :class:`samebits.provenance.compare.Verification`; nothing here decides a
status or touches the lock.
"""

from __future__ import annotations

from html import escape
from typing import Any

from .compare import STATUS_ORDER, Chain, Outcome, Verification

__all__ = ["NEW_LISTED", "as_json", "chain_notes", "details", "headline", "html", "markdown", "terminal"]

#: Up to this many new steps are listed one per line in the verdict; more are counted.
NEW_LISTED = 8

#: Differences shown per step on screen (the reports list them all).
SHOWN = 8


def headline(v: Verification) -> str:
    """``24/24 steps identical: every step reproduced bit for bit``, or the counts."""
    n, c = len(v.outcomes), v.counts
    if c["identical"] == n:
        return f"{n}/{n} steps identical: every step reproduced bit for bit"
    equivalent = sum(1 for o in v.outcomes if o.status == "drifted" and o.equivalent)
    parts = []
    for s in STATUS_ORDER:
        if c[s]:
            parts.append(f"{c[s]} {s}")
            if s == "drifted" and equivalent:
                parts[-1] += f" ({equivalent} equivalent within tolerance)"
    return f"{n} steps: " + ", ".join(parts)


def _delta_text(name: str, pair: list[float]) -> str:
    a, b = pair
    return f"{name} identical" if a == b else f"{name} {a:.6g} → {b:.6g} (Δ {b - a:.2g})"


def chain_notes(chain: Chain) -> list[str]:
    """One line per step of a chain from its first differing step on, e.g.
    ``train: diverged; outputs weights differ; weights differ from epoch 3``."""
    notes = []
    for o in chain.steps:
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
    return notes


def _short(checksum: str | None) -> str:
    """The first 16 hex digits of a checksum, or what stands in its place (missing, unreadable)."""
    if checksum is None:
        return "none"
    return f"{checksum[7:23]}…" if checksum.startswith("sha256:") else checksum


def details(o: Outcome, *, limit: int | None = SHOWN) -> list[str]:
    """What a reader needs to know about one step: what differs, and what to do."""
    out = []
    for d in o.disk:
        what = "output" if d["problem"] == "tampered" else "input"
        out.append(f"{what} {d['name']} ({d['path']}): recorded {_short(d['expected'])} found {_short(d['found'])}")
    if o.edited is not None:
        out.append(f"the lock entry was edited by hand: {o.edited}")
        out.append(
            "restore the lock from version control, or take this run's record with "
            f"`samebits accept --step {o.step} --reason …` (seals catch accidents, not forgers)"
        )
    for d in o.outputs:
        out.append(f"output {d['output']}: expected {_short(d['expected'])} found {_short(d['found'])}")
    if o.first_epoch is not None:
        out.append(f"weights first differ after epoch {o.first_epoch}")
    shown = o.causes if o.status == "changed" else o.environment if o.status == "drifted" else []
    cut = shown if limit is None else shown[:limit]
    out += [str(d) for d in cut]
    if len(shown) > len(cut):
        out.append(f"… and {len(shown) - len(cut)} more differences (see verification.json)")
    if o.status == "drifted":
        out += o.deltas[:4] + ([f"… {len(o.deltas) - 4} more statistics moved"] if len(o.deltas) > 4 else [])
        if o.environment and not any(d.deciding for d in o.environment):
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


def terminal(v: Verification) -> list[str]:
    """The one-screen verdict: headline, every step that is not identical, the chains, the lock."""
    out = [f"samebits verify: {headline(v)}"]
    new = [o for o in v.outcomes if o.status == "new"]
    for o in v.outcomes:
        if o.status == "identical" or (o.status == "new" and len(new) > NEW_LISTED):
            continue
        label = o.verdict.upper() if o.failing else o.verdict
        out.append(f"  {label:<9} {o.id}" if len(label) <= 9 else f"  {label} {o.id}")
        out += [f"      {line}" for line in details(o)]
    if len(new) > NEW_LISTED:
        out.append(f"  new       {len(new)} steps not in the lock yet (listed in verification.md)")
    if v.chains and any(o.status not in ("identical", "new") for o in v.outcomes):
        out.append("chains (first step that is not identical, then downstream):")
        for c in v.chains:
            out.append(f"  {c.experiment} seed {c.seed}: " + " | ".join(chain_notes(c)))
    if v.stale:
        out.append(f"  {len(v.stale)} lock entries are not part of this run (kept)")
    equivalent = [o for o in v.outcomes if o.status == "drifted" and o.equivalent]
    if equivalent and v.ok:
        out.append(
            f"WARNING: {len(equivalent)} step(s) drifted with another environment but every statistic is within "
            f"tolerance (rtol {v.rtol:g}, atol {v.atol:g}); the lock keeps the old bits (`samebits accept` "
            "takes the new ones)"
        )
    out.append(f"lock {v.lock_path}: {v.lock_action}")
    return out


def as_json(v: Verification) -> dict[str, Any]:
    """Everything, for machines (``results/verification.json``, ``samebits verify --json``)."""
    return {
        "ok": v.ok,
        "headline": headline(v),
        "counts": v.counts,
        "total": len(v.outcomes),
        "tolerance": {"rtol": v.rtol, "atol": v.atol},
        "lock": {"path": v.lock_path, "action": v.lock_action},
        "stale_lock_entries": v.stale,
        "chains": [
            {"experiment": c.experiment, "seed": c.seed, "first": c.first, "steps": chain_notes(c)} for c in v.chains
        ],
        "steps": [o.as_dict() for o in v.outcomes],
    }


def markdown(v: Verification) -> str:
    rows = [
        "# samebits verification",
        "",
        f"**{headline(v)}**",
        "",
        f"Lock `{v.lock_path}`: {v.lock_action}.",
        "",
        "| step | experiment | seed | status | what differs |",
        "|---|---|---|---|---|",
    ]
    for o in v.outcomes:
        cell = "; ".join(w.replace("|", "\\|") for w in details(o, limit=None)) or "—"
        seed = "" if o.seed is None else o.seed
        rows.append(f"| {o.step} | {o.experiment} | {seed} | {o.verdict} | {cell} |")
    if v.chains:
        rows += ["", "## Chains", ""]
        for c in v.chains:
            rows.append(f"- **{c.experiment} seed {c.seed}**: " + "; ".join(chain_notes(c)))
    if v.stale:
        rows += ["", "Lock entries not part of this run (kept): " + ", ".join(f"`{s}`" for s in v.stale)]
    return "\n".join(rows) + "\n"


def html(v: Verification) -> str:
    """A self-contained page of the verification (for the Snakemake report)."""
    rows = "".join(
        f"<tr><td>{escape(o.step)}</td><td>{escape(o.experiment)}</td><td>{'' if o.seed is None else o.seed}</td>"
        f"<td class='{escape(o.status)}'>{escape(o.verdict)}</td>"
        f"<td>{'<br>'.join(escape(d) for d in details(o, limit=None)) or '—'}</td></tr>"
        for o in v.outcomes
    )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>samebits verification</title><style>"
        "body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px}"
        ".identical{color:#186a18}.new,.changed{color:#1a4f9c}"
        ".drifted,.diverged,.stale,.tampered,.edited{color:#a01010}"
        f"</style></head><body><h1>samebits verification</h1><p><b>{escape(headline(v))}</b></p>"
        f"<p>Lock <code>{escape(v.lock_path)}</code>: {escape(v.lock_action)}.</p>"
        "<table><tr><th>step</th><th>experiment</th><th>seed</th><th>status</th><th>what differs</th></tr>"
        f"{rows}</table></body></html>\n"
    )
