"""Classify one step's record against its accepted record in the lock.

Statuses, in the order they are decided:

``new``        the lock has no entry for the step;
``identical``  every output has the accepted checksum;
``changed``    outputs differ, and so do the step's inputs, parameters, code or determinism
               settings (named in ``causes``): an intended change, the lock follows;
``drifted``    outputs differ and only the environment differs (named in ``environment``);
``diverged``   outputs differ and nothing else does: real nondeterminism.

A drifted step is further judged against a tolerance: *equivalent* when every statistic of
every differing output (array sum, L2 norm, min, max; every JSON number) is within
``atol + rtol * |accepted|`` of the accepted value and shapes and dtypes are the same,
else *not reproduced*. Three statuses come before any comparison of outputs: from the files
on disk (:mod:`samebits.provenance.ondisk`), ``stale`` (an input changed after the step ran)
and ``tampered`` (an output no longer has its recorded checksum); from the lock, ``edited``
(the step's entry is not as samebits wrote it: see :mod:`samebits.provenance.lock`).

What differs is returned as :class:`samebits.core.differences.Difference` objects; their
text is for readers only.
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Any

from ..core import layout
from ..core.differences import Difference, deep_diff
from ..core.layout import HEADLINE_METRICS
from .fingerprint import environment_differences
from .identity import step_id

__all__ = [
    "CAUSES",
    "FAILING",
    "STATUS_ORDER",
    "Chain",
    "Outcome",
    "Verification",
    "chains",
    "classify",
    "inherit_upstream",
    "stat_deltas",
]

#: Every status, most serious first (the order of counts and headlines).
STATUS_ORDER = ("edited", "tampered", "stale", "diverged", "drifted", "changed", "new", "identical")

#: Statuses that always make verification fail and keep the lock as it is (a drifted step
#: fails too unless it is equivalent within tolerance: see :meth:`Outcome.failing`).
FAILING = ("diverged", "stale", "tampered", "edited")

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
    causes: list[Difference] = dataclasses.field(default_factory=list)
    environment: list[Difference] = dataclasses.field(default_factory=list)
    first_epoch: int | None = None
    equivalent: bool | None = None
    deltas: list[str] = dataclasses.field(default_factory=list)
    disk: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    accepted: dict[str, Any] | None = None
    metrics: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    #: steps of this run whose drifted or diverged outputs are the only change in this
    #: step's inputs (it inherits their status instead of being "changed")
    upstream: list[str] = dataclasses.field(default_factory=list)
    #: why the step's lock entry is not as samebits wrote it (status "edited")
    edited: str | None = None

    @property
    def failing(self) -> bool:
        return self.status in FAILING or (self.status == "drifted" and not self.equivalent)

    @property
    def verdict(self) -> str:
        """The status as a reader should read it (``drifted (equivalent)``, ...)."""
        if self.status == "drifted":
            return "drifted (equivalent)" if self.equivalent else "drifted (not reproduced)"
        return self.status

    def as_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["causes"] = [c.as_dict() for c in self.causes]
        d["environment"] = [e.as_dict() for e in self.environment]
        d["failing"] = self.failing
        d["verdict"] = self.verdict
        return d


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


def _close(a: Any, b: Any, rtol: float, atol: float) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(a - b) <= atol + rtol * abs(a)
    return a == b


def _fmt(x: Any) -> str:
    return f"{x:.7g}" if isinstance(x, float) else repr(x)


def stat_deltas(
    accepted: dict[str, Any], current: dict[str, Any], *, rtol: float, atol: float
) -> tuple[bool, list[str]]:
    """Compare the statistics of the outputs that differ. Returns (all within, lines).

    The lines name every statistic that moved, e.g. ``weights dense_1/kernel l2 4.81 → 4.82``.
    """
    ok, lines = True, []
    for name in sorted(set(accepted["outputs"]) | set(current["outputs"])):
        a, c = accepted["outputs"].get(name), current["outputs"].get(name)
        if a is None or c is None or a["sha256"] == c["sha256"]:
            if (a is None) != (c is None):
                ok = False
                lines.append(f"{name} {'missing' if c is None else 'not in the lock'}")
            continue
        if a.get("kind") != c.get("kind") or a.get("kind") == "bytes":
            ok = False
            lines.append(f"{name} differs (no statistics to compare)")
            continue
        if a["kind"] == "arrays":
            pairs = []
            for arr in sorted(set(a["arrays"]) | set(c["arrays"])):
                sa, sc = a["arrays"].get(arr), c["arrays"].get(arr)
                if sa is None or sc is None or sa["shape"] != sc["shape"] or sa["dtype"] != sc["dtype"]:
                    ok = False
                    lines.append(f"{name} {arr}: shape/dtype/presence differ")
                    continue
                pairs += [(f"{name} {arr} {k}", sa.get(k), sc.get(k)) for k in ("sum", "l2", "min", "max")]
        else:
            na, nc = a.get("numbers", {}), c.get("numbers", {})
            pairs = [(f"{name} {k}", na.get(k), nc.get(k)) for k in sorted(set(na) | set(nc))]
        for label, x, y in pairs:
            if x == y:
                continue
            close = _close(x, y, rtol, atol)
            ok = ok and close
            delta = f" (Δ {y - x:.2g})" if isinstance(x, float | int) and isinstance(y, float | int) else ""
            lines.append(f"{label} {_fmt(x)} → {_fmt(y)}{delta}{'' if close else ' beyond tolerance'}")
    return ok, lines


def _headline_metrics(accepted: dict[str, Any], current: dict[str, Any]) -> dict[str, list[float]]:
    a = accepted["outputs"].get("metrics", {}).get("numbers", {})
    c = current["outputs"].get("metrics", {}).get("numbers", {})
    return {k: [a[k], c[k]] for k in dict.fromkeys(sum(HEADLINE_METRICS.values(), ())) if k in a and k in c}


def classify(
    current: dict[str, Any],
    accepted: dict[str, Any] | None,
    *,
    rtol: float,
    atol: float,
    disk: dict[str, list[dict[str, Any]]] | None = None,
    edited: str | None = None,
) -> Outcome:
    """Compare a step's ``current`` record with its ``accepted`` one (both full records).

    ``disk`` is the result of :func:`samebits.provenance.ondisk.check` for the current
    record; ``edited`` says why the accepted entry is not as samebits wrote it, if it is not
    (:meth:`samebits.provenance.lock.Lock.edited`).
    """
    out = Outcome(
        id=current["id"],
        step=current["step"],
        experiment=current["experiment"],
        seed=current["seed"],
        status="new",
    )
    if disk and (disk["stale"] or disk["tampered"]):
        out.status = "tampered" if disk["tampered"] else "stale"
        out.disk = [{"problem": kind, **item} for kind in ("tampered", "stale") for item in disk[kind]]
        return out
    if accepted is None:
        return out
    if edited is not None:
        out.status, out.edited = "edited", edited
        return out
    out.accepted = accepted.get("accepted")
    out.outputs = _output_diffs(accepted["outputs"], current["outputs"])
    out.causes = [d for sec in CAUSES for d in deep_diff(accepted.get(sec), current.get(sec), (sec,))]
    out.environment = environment_differences(accepted["environment"], current["environment"])
    if not out.outputs:
        out.status = "identical"
        return out
    out.first_epoch = _first_epoch(accepted, current)
    out.metrics = _headline_metrics(accepted, current)
    within, out.deltas = stat_deltas(accepted, current, rtol=rtol, atol=atol)
    if out.causes:
        out.status = "changed"
    elif out.environment:
        out.status = "drifted"
        out.equivalent = within
    else:
        out.status = "diverged"
    return out


def inherit_upstream(
    current: list[dict[str, Any]],
    outcomes: list[Outcome],
    accepted: list[dict[str, Any] | None],
    *,
    rtol: float,
    atol: float,
) -> None:
    """A step whose only change is an input written, differently, by a drifted or diverged
    step of the same run has not changed on purpose: it inherits that status.

    Without this, evaluate after a drifted train would be ``changed`` (its weights input
    differs) and verify would take another machine's evaluate into the lock. Drifted steps
    are judged against the tolerance on their own outputs, like any drifted step.
    """
    made_by = {}
    for record, outcome in zip(current, outcomes, strict=True):
        for desc in record["outputs"].values():
            made_by[desc.get("path")] = outcome
    moved = True
    while moved:  # upstream first, whatever order the records came in
        moved = False
        for record, outcome, lock_entry in zip(current, outcomes, accepted, strict=True):
            if outcome.status != "changed" or not outcome.causes:
                continue
            ups = []
            for cause in outcome.causes:
                name = cause.path[1] if cause.section == "inputs" and len(cause.path) > 1 else None
                desc = record["inputs"].get(name) if name is not None else None
                up = made_by.get(desc.get("path")) if isinstance(desc, dict) else None
                if up is None or up.status not in ("drifted", "diverged"):
                    break
                ups.append(up)
            else:
                outcome.upstream = sorted({u.id for u in ups})
                outcome.status = "drifted" if any(u.status == "drifted" for u in ups) else "diverged"
                inherited = {str(d): d for u in ups for d in u.environment}
                outcome.environment = [inherited[text] for text in sorted(inherited)]
                outcome.causes = []
                if outcome.status == "drifted" and lock_entry is not None:
                    outcome.equivalent, outcome.deltas = stat_deltas(lock_entry, record, rtol=rtol, atol=atol)
                moved = True


@dataclasses.dataclass
class Chain:
    """One experiment x seed chain that is not all identical: from its first differing step on."""

    experiment: str
    seed: int
    first: str
    steps: list[Outcome]


def chains(outcomes: list[Outcome], datasets: dict[tuple[str, int], str]) -> list[Chain]:
    """For each experiment x seed chain that is not all identical: its first differing step
    and what happened downstream. ``datasets`` maps (experiment, seed) to the data set the
    chain's split belongs to."""
    by_id = {o.id: o for o in outcomes}
    found = []
    for (exp, seed), dataset in sorted(datasets.items()):
        ids = [step_id(layout.CHAIN_STEPS[0], dataset, seed)]
        ids += [step_id(step, exp, seed) for step in layout.CHAIN_STEPS[1:]]
        chain = [by_id[i] for i in ids if i in by_id]
        first = next((o for o in chain if o.status != "identical"), None)
        if first is not None:
            found.append(Chain(exp, seed, first.id, chain[chain.index(first) :]))
    return found


@dataclasses.dataclass
class Verification:
    """The outcome of one verification: per-step verdicts and what happened to the lock."""

    outcomes: list[Outcome]
    lock_path: str
    lock_action: str
    #: lock entries of steps that are not part of this run (kept as they are)
    stale: list[str]
    chains: list[Chain]
    rtol: float
    atol: float

    @property
    def counts(self) -> dict[str, int]:
        c = collections.Counter(o.status for o in self.outcomes)
        return {s: c.get(s, 0) for s in STATUS_ORDER}

    @property
    def ok(self) -> bool:
        return not any(o.failing for o in self.outcomes)
