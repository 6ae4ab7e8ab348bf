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
import math
import struct
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
    "first_epoch",
    "inherit_upstream",
    "stat_deltas",
    "ulps",
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
    #: a train step's per-epoch weight checksums, the lock's and this run's (when outputs differ)
    epoch_weights: list[list[str]] | None = None
    equivalent: bool | None = None
    #: every statistic of a differing output that moved (:func:`stat_deltas`)
    deltas: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    disk: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    accepted: dict[str, Any] | None = None
    metrics: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    #: steps of this run whose drifted or diverged outputs are the only change in this
    #: step's inputs (it inherits their status instead of being "changed")
    upstream: list[str] = dataclasses.field(default_factory=list)
    #: why the step's lock entry is not as samebits wrote it (status "edited")
    edited: str | None = None
    #: the step's log (set by :func:`samebits.provenance.verify.verify`)
    log: str | None = None

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


def _epoch_weights(accepted: dict, current: dict) -> list[list[str]] | None:
    a = accepted.get("trace", {}).get("epoch_weights")
    c = current.get("trace", {}).get("epoch_weights")
    return [list(a), list(c)] if a and c else None


def first_epoch(lists: list[list[str]] | None) -> int | None:
    """The first epoch (1-based) whose weights differ between two per-epoch checksum lists;
    one past the shorter list when one is a prefix of the other; None when they are equal.

    >>> first_epoch([["a", "b", "c"], ["a", "x", "y"]]), first_epoch([["a"], ["a", "b"]]), first_epoch(None)
    (2, 2, None)
    """
    if not lists:
        return None
    a, c = lists
    for i, (x, y) in enumerate(zip(a, c, strict=False), start=1):
        if x != y:
            return i
    return None if len(a) == len(c) else min(len(a), len(c)) + 1


def _close(a: Any, b: Any, rtol: float, atol: float) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(a - b) <= atol + rtol * abs(a)
    return a == b


_FLOATS = {"<f2": ("<e", 16), "<f4": ("<f", 32), "<f8": ("<d", 64)}


def ulps(a: Any, b: Any, dtype: str = "<f8") -> int | None:
    """How many steps of the float type ``dtype`` lie between ``a`` and ``b`` (0 when they
    are equal, ``0.0`` and ``-0.0`` too); None for values that are not finite numbers of
    that type.

    >>> ulps(1.0, 1.0 + 2**-52), ulps(-0.0, 5e-324), ulps(1.0, 1.0000001192092896, "<f4"), ulps(1.0, "nan")
    (1, 1, 1, None)
    """
    fmt = _FLOATS.get(dtype)
    if fmt is None or not all(isinstance(x, (int, float)) and math.isfinite(x) for x in (a, b)):
        return None
    code, bits = fmt
    keys = []
    for x in (a, b):
        try:
            packed = struct.pack(code, x)
        except OverflowError:
            return None
        if struct.unpack(code, packed)[0] != x:  # not a value of this type: count in float64
            return ulps(a, b) if dtype != "<f8" else None
        u = int.from_bytes(packed, "little")
        magnitude = u & ((1 << (bits - 1)) - 1)
        keys.append(-magnitude if u >> (bits - 1) else magnitude)
    return abs(keys[1] - keys[0])


def _moved(label: str, old: Any, new: Any, dtype: str, rtol: float, atol: float) -> dict[str, Any]:
    numbers = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (old, new))
    return {
        "label": label,
        "old": old,
        "new": new,
        "delta": new - old if numbers else None,
        "ulps": ulps(old, new, dtype) if numbers else None,
        "ulp_of": {"<f2": "float16", "<f4": "float32"}.get(dtype, "float64"),
        "within": _close(old, new, rtol, atol),
    }


def stat_deltas(
    accepted: dict[str, Any], current: dict[str, Any], *, rtol: float, atol: float
) -> tuple[bool, list[dict[str, Any]]]:
    """Compare the statistics of the outputs that differ. Returns (all within, moves).

    Each move names a statistic that moved (``label``, e.g. ``weights dense_1/kernel l2``),
    its ``old`` and ``new`` values, ``delta``, ``ulps`` (steps of ``ulp_of``: the array's own
    float type for min and max, float64 for sums, norms and JSON numbers) and whether it is
    ``within`` tolerance; or an output or array that cannot be compared (``problem``).
    """
    ok, moves = True, []
    for name in sorted(set(accepted["outputs"]) | set(current["outputs"])):
        a, c = accepted["outputs"].get(name), current["outputs"].get(name)
        if a is None or c is None or a["sha256"] == c["sha256"]:
            if (a is None) != (c is None):
                ok = False
                moves.append({"label": name, "problem": "missing" if c is None else "not in the lock"})
            continue
        if a.get("kind") != c.get("kind") or a.get("kind") == "bytes":
            ok = False
            moves.append({"label": name, "problem": "differs (no statistics to compare)"})
            continue
        if a["kind"] == "arrays":
            pairs = []
            for arr in sorted(set(a["arrays"]) | set(c["arrays"])):
                sa, sc = a["arrays"].get(arr), c["arrays"].get(arr)
                if sa is None or sc is None or sa["shape"] != sc["shape"] or sa["dtype"] != sc["dtype"]:
                    ok = False
                    moves.append({"label": f"{name} {arr}", "problem": "shape/dtype/presence differ"})
                    continue
                pairs += [
                    (f"{name} {arr} {k}", sa.get(k), sc.get(k), sa["dtype"] if k in ("min", "max") else "<f8")
                    for k in ("sum", "l2", "min", "max")
                ]
        else:
            na, nc = a.get("numbers", {}), c.get("numbers", {})
            pairs = [(f"{name} {k}", na.get(k), nc.get(k), "<f8") for k in sorted(set(na) | set(nc))]
        for label, x, y, dtype in pairs:
            if x == y:
                continue
            move = _moved(label, x, y, dtype, rtol, atol)
            ok = ok and move["within"]
            moves.append(move)
    return ok, moves


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
    out.epoch_weights = _epoch_weights(accepted, current)
    out.first_epoch = first_epoch(out.epoch_weights)
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
