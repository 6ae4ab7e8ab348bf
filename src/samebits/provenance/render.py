"""How a verification reads: the one-screen verdict, Markdown, the HTML page and JSON.

Pure functions of a :class:`samebits.provenance.compare.Verification`; nothing here decides a
status or touches the lock. Every rendering takes its facts from the same helpers (the order
of the steps, the checksums shown to where they part, the statistics that moved with Δ and
ULP), so the terminal, ``verification.md`` and ``verification.html`` say the same things.

The page (:func:`html`) is what a researcher opens when a rerun did not reproduce: the
verdict and the counts, then each chain that is not identical, then every step that is not
identical, failing ones first, each with what differs in full; identical and new steps are
folded into a count. It is self-contained (inline CSS and SVG, no script, nothing fetched)
and byte-stable for the same verdict, and it stays small at thousands of steps: the first
:data:`CARDS` steps that are not identical get their full account, the rest a line each
(verification.md and verification.json have every detail).
"""

from __future__ import annotations

from html import escape
from typing import Any

from .compare import STATUS_ORDER, Chain, Outcome, Verification

__all__ = [
    "CARDS",
    "NEW_LISTED",
    "as_json",
    "chain_notes",
    "checksum_pair",
    "details",
    "epoch_figure",
    "headline",
    "html",
    "markdown",
    "ordered",
    "parted_at",
    "stat_text",
    "terminal",
]

#: Up to this many new steps are listed one per line in the verdict; more are counted.
NEW_LISTED = 8

#: Differences shown per step on screen (the reports list them all).
SHOWN = 8

#: Steps that are not identical given their full account on the page; the rest get a line each.
CARDS = 50

#: Statistics shown per step on the page, then folded (up to :data:`STATS_FOLDED` more).
STATS_SHOWN, STATS_FOLDED = 8, 40

#: Chains listed on the page before the rest are folded.
CHAINS_SHOWN = 20


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


def ordered(v: Verification) -> list[Outcome]:
    """The steps that are not identical and not new: failing ones first, then by status
    (most serious first), each group in run order."""
    rank = {s: i for i, s in enumerate(STATUS_ORDER)}
    found = [(not o.failing, rank[o.status], i, o) for i, o in enumerate(v.outcomes)]
    return [o for *_, o in sorted(x for x in found if x[3].status not in ("identical", "new"))]


def parted_at(a: str | None, b: str | None) -> int | None:
    """The index of the first character where two checksums differ (None when equal).

    >>> parted_at("sha256:ab12", "sha256:ab34"), parted_at("sha256:ab", "sha256:ab")
    (9, None)
    """
    if a == b:
        return None
    a, b = a or "", b or ""
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


def checksum_pair(a: str | None, b: str | None) -> tuple[str, str]:
    """Two checksums, shortened for one line but never to the same text: their first 16
    hex digits, or up to 4 digits past where they part.

    >>> checksum_pair("sha256:" + "0" * 20 + "1" + "f" * 43, "sha256:" + "0" * 20 + "2" + "f" * 43)
    ('000000000000000000001fff…', '000000000000000000002fff…')
    >>> checksum_pair("sha256:" + "ab" * 32, None)
    ('abababababababababababababababab…', 'none')
    """
    if a is None or b is None or not (a.startswith("sha256:") and b.startswith("sha256:")):
        return _short(a, 32), _short(b, 32)
    at = parted_at(a, b)
    digits = 16 if at is None else max(16, at - 7 + 4)
    return _short(a, digits), _short(b, digits)


def _short(checksum: str | None, digits: int = 16) -> str:
    """The first ``digits`` hex digits of a checksum, or what stands in its place (missing, unreadable)."""
    if checksum is None:
        return "none"
    if not checksum.startswith("sha256:"):
        return checksum
    hexes = checksum[7:]
    return hexes if len(hexes) <= digits else f"{hexes[:digits]}…"


def _number(x: Any) -> str:
    return f"{x:.9g}" if isinstance(x, float) else str(x)


def _delta(move: dict[str, Any]) -> str:
    """``Δ 1e-06, 3 ULP of float32`` (what is known of how far a value moved)."""
    parts = []
    if move.get("delta") is not None:
        parts.append(f"Δ {move['delta']:.2g}")
    if move.get("ulps") is not None:
        parts.append(f"{move['ulps']:,} ULP of {move['ulp_of']}")
    return ", ".join(parts)


def stat_text(move: dict[str, Any]) -> str:
    """One moved statistic, e.g. ``weights dense/kernel l2 4.81 → 4.82 (Δ 0.01, 4,112 ULP of float64)``."""
    if "problem" in move:
        return f"{move['label']} {move['problem']}"
    delta = _delta(move)
    text = f"{move['label']} {_number(move['old'])} → {_number(move['new'])}" + (f" ({delta})" if delta else "")
    return text if move["within"] else text + " beyond tolerance"


def _metric_moves(o: Outcome) -> list[dict[str, Any]]:
    """The headline metrics of an evaluate step, as moves (from the statistics when they moved)."""
    by_label = {m["label"]: m for m in o.deltas if "problem" not in m}
    same = {"delta": 0.0, "ulps": 0, "ulp_of": "float64", "within": True}
    return [
        by_label.get(f"metrics {name}") or {"label": f"metrics {name}", "old": old, "new": new, **same}
        for name, (old, new) in o.metrics.items()
    ]


def _metric_text(name: str, pair: list[float]) -> str:
    a, b = pair
    return f"{name} identical" if a == b else f"{name} {_number(a)} → {_number(b)} (Δ {b - a:.2g})"


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
            parts.append(", ".join(_metric_text(k, v) for k, v in o.metrics.items()))
        notes.append(f"{o.step}: " + "; ".join(parts))
    return notes


def _advice(o: Outcome) -> list[str]:
    """What the status means for this step, and what to do."""
    out = []
    if o.edited is not None:
        out.append(
            "restore the lock from version control, or take this run's record with "
            f"`samebits accept --step {o.step} --reason …` (seals catch accidents, not forgers)"
        )
    if o.status == "drifted" and o.environment and not any(d.deciding for d in o.environment):
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


def _differences(o: Outcome) -> list[Any]:
    """What differs besides the outputs: the causes of a changed step, the environment of a drifted one."""
    return o.causes if o.status == "changed" else o.environment if o.status == "drifted" else []


def details(o: Outcome, *, limit: int | None = SHOWN) -> list[str]:
    """What a reader needs to know about one step: what differs, and what to do."""
    out = []
    for d in o.disk:
        what = "output" if d["problem"] == "tampered" else "input"
        rec, found = checksum_pair(d["expected"], d["found"])
        out.append(f"{what} {d['name']} ({d['path']}): recorded {rec} found {found}")
    if o.edited is not None:
        out.append(f"the lock entry was edited by hand: {o.edited}")
    for d in o.outputs:
        expected, found = checksum_pair(d["expected"], d["found"])
        out.append(f"output {d['output']}: expected {expected} found {found}")
    if o.first_epoch is not None:
        out.append(f"weights first differ after epoch {o.first_epoch}")
    shown = _differences(o)
    cut = shown if limit is None else shown[:limit]
    out += [str(d) for d in cut]
    if len(shown) > len(cut):
        out.append(f"… and {len(shown) - len(cut)} more differences (see verification.json)")
    if o.status == "drifted":
        moves = o.deltas if limit is None else o.deltas[:4]
        out += [stat_text(m) for m in moves]
        if len(o.deltas) > len(moves):
            out.append(f"… {len(o.deltas) - len(moves)} more statistics moved")
    out += _advice(o)
    if o.log and o.status not in ("identical", "new"):
        out.append(f"log: {o.log}")
    return out


def terminal(v: Verification) -> list[str]:
    """The one-screen verdict: headline, every step that is not identical (failing ones
    first), the chains, the lock."""
    out = [f"samebits verify: {headline(v)}"]
    new = [o for o in v.outcomes if o.status == "new"]
    for o in ordered(v) + (new if len(new) <= NEW_LISTED else []):
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
    """The verdict, the chains, every step that is not identical (failing ones first) with
    every detail, then a table of every step in run order."""
    rows = [
        "# samebits verification",
        "",
        f"**{'passed' if v.ok else 'FAILED'}: {headline(v)}**",
        "",
        f"Lock `{v.lock_path}`: {v.lock_action}.",
    ]
    if v.chains:
        rows += ["", "## Chains", ""]
        for c in v.chains:
            rows.append(f"- **{c.experiment} seed {c.seed}**: " + "; ".join(chain_notes(c)))
    steps = ordered(v)
    if steps:
        rows += ["", "## Steps that are not identical", ""]
        for o in steps:
            rows += [f"### {o.id}: {o.verdict}", ""]
            rows += [f"- {line}" for line in details(o, limit=None)]
            rows.append("")
    rows += [
        "",
        "## Every step",
        "",
        "| step | experiment | seed | status | what differs |",
        "|---|---|---|---|---|",
    ]
    for o in v.outcomes:
        cell = "; ".join(w.replace("|", "\\|") for w in details(o, limit=SHOWN)) or "—"
        seed = "" if o.seed is None else o.seed
        rows.append(f"| {o.step} | {o.experiment} | {seed} | {o.verdict} | {cell} |")
    if v.stale:
        rows += ["", "Lock entries not part of this run (kept): " + ", ".join(f"`{s}`" for s in v.stale)]
    return "\n".join(rows) + "\n"


# ---------------------------------------------------------------- the page


_CSS = (
    "body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:72rem;padding:1rem 1.5rem;color:#1b1b1b}"
    "h1{font-size:1.5rem;margin:.2rem 0}h2{font-size:1.15rem;margin:1.6rem 0 .5rem}h3{font-size:1rem;margin:0}"
    "code{font:13px/1.4 ui-monospace,monospace}"
    ".banner{padding:.7rem 1rem;border-radius:6px;font-size:1.15rem}"
    ".banner.passed{background:#e3f3e3;border:1px solid #7bb87b}"
    ".banner.failed{background:#fbe4e4;border:1px solid #d67c7c}"
    ".counts span{display:inline-block;margin:.4rem .4rem 0 0;padding:.1rem .55rem;border-radius:1rem;background:#eee}"
    ".s-identical{color:#186a18}.s-new,.s-changed{color:#1a4f9c}.s-drifted,.s-diverged,.s-stale,.s-tampered,"
    ".s-edited{color:#a01010}.s-equivalent{color:#8a5a00}"
    ".step{border:1px solid #ccc;border-left:6px solid #1a4f9c;border-radius:6px;padding:.6rem 1rem;margin:.8rem 0}"
    ".step.failing{border-left-color:#c62828}.step.equivalent{border-left-color:#d89b00}"
    ".status{font-weight:700;text-transform:uppercase;margin-right:.5rem}"
    "table{border-collapse:collapse;margin:.4rem 0}td,th{border:1px solid #ddd;padding:2px 8px;text-align:left;"
    "vertical-align:top}th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}"
    ".sum{word-break:break-all}.sum .same{color:#777}.sum mark{background:#ffd6d6;color:#7a0000}"
    ".sum.lock mark{background:#d6e4ff;color:#0a2a6a}"
    "ol.chain li{margin:.2rem 0}.arrow{color:#888}.beyond{color:#a01010;font-weight:600}"
    "details{margin:.5rem 0}summary{cursor:pointer}.muted{color:#666}"
    "svg text{font:11px system-ui,sans-serif}"
)


def _status(o: Outcome) -> str:
    cls = "equivalent" if o.status == "drifted" and o.equivalent else o.status
    return f"<span class='status s-{cls}'>{escape(o.verdict)}</span>"


def _anchor(step_id: str) -> str:
    return "step-" + "".join(c if c.isalnum() else "-" for c in step_id)


def _sum_html(value: str | None, other: str | None, side: str) -> str:
    """A checksum in full, the part it shares with ``other`` dimmed and the rest marked."""
    if value is None:
        return "<span class='muted'>none</span>"
    at = parted_at(value, other)
    if at is None or not value.startswith("sha256:"):
        return f"<code class='sum {side}'>{escape(value)}</code>"
    return (
        f"<code class='sum {side}'><span class='same'>{escape(value[:at])}</span>"
        f"<mark>{escape(value[at:])}</mark></code>"
    )


def _checksums_table(rows: list[tuple[str, str | None, str | None]], left: str, right: str) -> str:
    body = "".join(
        f"<tr><td>{escape(name)}</td><td>{_sum_html(a, b, 'lock')}</td><td>{_sum_html(b, a, 'run')}</td></tr>"
        for name, a, b in rows
    )
    return f"<table class='sums'><tr><th></th><th>{left}</th><th>{right}</th></tr>{body}</table>"


def _moves_table(moves: list[dict[str, Any]], tolerance: bool) -> str:
    """Old → new, Δ and ULP of each move; whether it is within tolerance where that decides
    (a drifted step)."""

    def row(m: dict[str, Any]) -> str:
        if "problem" in m:
            span = 5 if tolerance else 4
            return (
                f"<tr><td>{escape(m['label'])}</td><td colspan='{span}' class='beyond'>{escape(m['problem'])}</td></tr>"
            )
        delta = "" if m.get("delta") is None else f"{m['delta']:.3g}"
        ulp = "" if m.get("ulps") is None else f"{m['ulps']:,} <span class='muted'>({m['ulp_of']})</span>"
        within = "" if not tolerance else "<td>yes</td>" if m["within"] else "<td class='beyond'>no</td>"
        return (
            f"<tr><td>{escape(m['label'])}</td><td class='n'>{escape(_number(m['old']))}</td>"
            f"<td class='n'>{escape(_number(m['new']))}</td><td class='n'>{delta}</td><td class='n'>{ulp}</td>"
            f"{within}</tr>"
        )

    head = "<tr><th>statistic</th><th>lock</th><th>this run</th><th>Δ</th><th>ULP</th>"
    head += "<th>within tolerance</th></tr>" if tolerance else "</tr>"
    shown, folded = moves[:STATS_SHOWN], moves[STATS_SHOWN : STATS_SHOWN + STATS_FOLDED]
    out = f"<table>{head}{''.join(map(row, shown))}</table>"
    if folded:
        more = "".join(map(row, folded))
        out += f"<details><summary>{len(folded)} more</summary><table>{head}{more}</table></details>"
    rest = len(moves) - len(shown) - len(folded)
    if rest > 0:
        out += f"<p class='muted'>… and {rest} more in verification.json</p>"
    return out


def epoch_figure(lists: list[list[str]], first: int | None) -> str:
    """An SVG strip of a training's per-epoch weight checksums: the lock's and this run's,
    one cell per epoch, the same colour where the two are equal and their own colours where
    they differ, the first epoch where they part marked with a line and its number."""
    a, b = lists
    n = max(len(a), len(b), 1)
    left, width, lane, gap = 70, 560, 16, 6
    cell = width / n
    top = 18

    def runs(values: list[str], other: list[str]) -> list[tuple[int, int, bool]]:
        found: list[tuple[int, int, bool]] = []
        for i, value in enumerate(values):
            same = i < len(other) and other[i] == value
            if found and found[-1][2] == same and found[-1][1] == i:
                found[-1] = (found[-1][0], i + 1, same)
            else:
                found.append((i, i + 1, same))
        return found

    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' class='epochs' width='{left + width + 10}' "
        f"height='{top + 2 * lane + gap + 30}' role='img' aria-label='per-epoch weight checksums'"
        + ("" if first is None else f" data-first-epoch='{first}'")
        + ">"
    ]
    for row, (label, values, other, colour) in enumerate((("lock", a, b, "#3d6fc9"), ("this run", b, a, "#c62828"))):
        y = top + row * (lane + gap)
        parts.append(f"<text x='0' y='{y + 12}'>{label}</text>")
        for start, stop, same in runs(values, other):
            x0 = left + start * cell
            w = (stop - start) * cell
            parts.append(
                f"<rect class='{'same' if same else 'differs'}' x='{x0:.2f}' y='{y}' width='{w:.2f}' "
                f"height='{lane}' fill='{'#9cc89c' if same else colour}'/>"
            )
    axis = top + 2 * lane + gap + 14
    for epoch in sorted({1, n} | ({first} if first is not None and first <= n else set())):
        x = left + (epoch - 0.5) * cell
        parts.append(f"<text class='tick' x='{x:.2f}' y='{axis}' text-anchor='middle'>{epoch}</text>")
    if first is not None:
        x = left + (first - 1) * cell
        parts.append(
            f"<line class='first' x1='{x:.2f}' y1='{top - 6}' x2='{x:.2f}' y2='{top + 2 * lane + gap + 2}' "
            "stroke='#000' stroke-width='2' stroke-dasharray='4 2'/>"
            f"<text class='first-label' x='{x + 4:.2f}' y='{top - 8}'>weights first differ after epoch {first}</text>"
        )
    parts.append(f"<text x='{left + width / 2:.0f}' y='{axis + 14}' text-anchor='middle' class='muted'>epoch</text>")
    return "".join(parts) + "</svg>"


def _card(o: Outcome) -> str:
    cls = "failing" if o.failing else "equivalent" if o.status == "drifted" and o.equivalent else ""
    out = [f"<article class='step {cls}' id='{_anchor(o.id)}'><h3>{_status(o)}<code>{escape(o.id)}</code></h3>"]
    if o.log:
        out.append(f"<p class='muted'>log: <code>{escape(o.log)}</code></p>")
    if o.edited is not None:
        out.append(f"<p>The lock entry was edited by hand: {escape(o.edited)}</p>")
    if o.disk:
        kinds = {"tampered": "output", "stale": "input"}
        found = [(f"{kinds[d['problem']]} {d['name']} ({d['path']})", d["expected"], d["found"]) for d in o.disk]
        out.append(_checksums_table(found, "recorded", "found on disk"))
    if o.outputs:
        out.append(_checksums_table([(d["output"], d["expected"], d["found"]) for d in o.outputs], "lock", "this run"))
    if o.epoch_weights is not None and o.first_epoch is not None:
        a, b = o.epoch_weights
        k = o.first_epoch - 1
        out.append(f"<p>Weights after each epoch, the lock's above this run's: first differ after epoch {k + 1}.</p>")
        out.append(epoch_figure(o.epoch_weights, o.first_epoch))
        if k < len(a) and k < len(b):
            out.append(_checksums_table([(f"epoch {o.first_epoch}", a[k], b[k])], "lock", "this run"))
    metrics = _metric_moves(o) if o.metrics else []
    if metrics:
        out.append("<p>Metrics:</p>" + _moves_table(metrics, o.status == "drifted"))
    shown = {m["label"] for m in metrics}
    moves = [m for m in o.deltas if m["label"] not in shown]
    if moves:
        out.append("<p>Statistics that moved:</p>" + _moves_table(moves, o.status == "drifted"))
    differences = _differences(o)
    if differences:
        what = "What else differs" if o.status == "changed" else "Environment"
        rows = "".join(
            f"<tr><td><code>{escape(d.dotted)}</code></td><td>{escape(_value(d.old))}</td>"
            f"<td>{escape(_value(d.new))}</td><td>{'yes' if d.deciding else escape('no: ' + (d.note or ''))}</td></tr>"
            for d in differences
        )
        head = "<tr><th></th><th>lock</th><th>this run</th><th>decides the bits</th></tr>"
        out.append(f"<p>{what}:</p><table>{head}{rows}</table>")
    advice = _advice(o)
    if advice:
        out.append("<ul>" + "".join(f"<li>{escape(a)}</li>" for a in advice) + "</ul>")
    return "".join(out) + "</article>"


def _value(x: Any) -> str:
    from ..core.differences import MISSING

    if x is MISSING:
        return "—"
    if isinstance(x, list):
        return ", ".join(map(str, x))
    return str(x)


def _line(o: Outcome) -> str:
    first = details(o, limit=1)
    return (
        f"<tr><td>{_status(o)}</td><td><code>{escape(o.id)}</code></td>"
        f"<td>{escape(first[0]) if first else ''}</td></tr>"
    )


def _chain_html(c: Chain) -> str:
    steps = " <span class='arrow'>→</span> ".join(
        f"<a href='#{_anchor(o.id)}'>{escape(o.step)}</a> {_status(o)}"
        if o.status != "identical"
        else f"{escape(o.step)} <span class='s-identical'>identical</span>"
        for o in c.steps
    )
    return f"<li><b>{escape(c.experiment)} seed {c.seed}</b>: {steps}</li>"


def html(v: Verification) -> str:
    """The verification as a self-contained page (``results/verification.html``, and the
    Snakemake report's Verification section)."""
    word = "passed" if v.ok else "failed"
    counts = "".join(f"<span class='s-{s}'>{n} {s}</span>" for s, n in v.counts.items() if n)
    out = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>samebits verification: {word}</title><style>{_CSS}</style></head><body>",
        f"<h1>samebits verification</h1><p class='banner {word}' id='verdict'><b>{word.upper()}</b>: "
        f"{escape(headline(v))}</p>",
        f"<p class='counts'>{counts}</p>",
        f"<p>Lock <code>{escape(v.lock_path)}</code>: {escape(v.lock_action)}.</p>",
    ]
    chains = [c for c in v.chains if any(o.status not in ("identical", "new") for o in c.steps)]
    if chains:
        out.append(f"<h2>Chains that did not reproduce ({len(chains)})</h2>")
        out.append("<p class='muted'>Each from its first step that is not identical, then downstream.</p>")
        items = [_chain_html(c) for c in chains]
        out.append("<ol class='chain'>" + "".join(items[:CHAINS_SHOWN]) + "</ol>")
        if len(items) > CHAINS_SHOWN:
            out.append(
                f"<details><summary>{len(items) - CHAINS_SHOWN} more chains</summary>"
                f"<ol class='chain' start='{CHAINS_SHOWN + 1}'>{''.join(items[CHAINS_SHOWN:])}</ol></details>"
            )
    steps = ordered(v)
    if steps:
        failing = sum(o.failing for o in steps)
        out.append(f"<h2>Steps that are not identical ({len(steps)}, {failing} failing)</h2>")
        out += [_card(o) for o in steps[:CARDS]]
        if len(steps) > CARDS:
            out.append(
                f"<p>{len(steps) - CARDS} more steps that are not identical, a line each "
                "(every detail in verification.md and verification.json):</p>"
                "<table><tr><th>status</th><th>step</th><th>first difference</th></tr>"
                + "".join(_line(o) for o in steps[CARDS:])
                + "</table>"
            )
    for status, what in (("new", "new steps, added to the lock"), ("identical", "identical steps")):
        group = [o for o in v.outcomes if o.status == status]
        if group:
            out.append(
                f"<details class='fold-{status}'><summary>{len(group)} {what}</summary><p>"
                + " ".join(f"<code>{escape(o.id)}</code>" for o in group)
                + "</p></details>"
            )
    if v.stale:
        out.append(
            "<p>Lock entries not part of this run (kept): "
            + ", ".join(f"<code>{escape(s)}</code>" for s in v.stale)
            + "</p>"
        )
    out.append("</body></html>\n")
    return "\n".join(out)
