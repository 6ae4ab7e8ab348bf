"""Verdicts to render, classified by samebits' own code from the committed lock's real
records: the default run's 24 steps, or its chains copied to more seeds (1,000 steps and
over), with one train step changed the way a rerun on a flaky machine changes it."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterable
from typing import Any

from samebits.core import layout
from samebits.provenance import lock as lockmod
from samebits.provenance.compare import Verification, chains, classify, inherit_upstream
from samebits.provenance.identity import step_id
from samebits.provenance.verify import run_order
from tests.helpers import REPO

TOL = {"rtol": 1e-5, "atol": 1e-8}
#: The train step made to diverge, and the epoch its weights first differ at.
DIVERGED = ("mlp", 1)
FIRST_EPOCH = 4


def _sha(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _sharing(checksum: str, digits: int) -> str:
    """Another checksum with the same first ``digits`` hex digits (the two differ after)."""
    hexes = checksum[7:]
    tail = "".join("0" if c != "0" else "1" for c in hexes[digits:])
    return "sha256:" + hexes[:digits] + tail


def _reseeded(record: dict[str, Any], seed: int) -> dict[str, Any]:
    """The record of the same step for another seed (id, seed and output paths)."""
    out = copy.deepcopy(record)
    if record["seed"] is None:
        return out
    out["seed"] = seed
    out["id"] = step_id(record["step"], record["experiment"], seed)
    for desc in out["outputs"].values():
        desc["path"] = desc["path"].replace(f"seed{record['seed']}", f"seed{seed}")
        desc["sha256"] = _sha(f"{desc['sha256']}/{seed}")
    for desc in out["inputs"].values():
        if isinstance(desc, dict) and "path" in desc:
            desc["path"] = desc["path"].replace(f"seed{record['seed']}", f"seed{seed}")
            desc["sha256"] = _sha(f"{desc['sha256']}/{seed}")
    return out


def _diverge(by_id: dict[str, dict[str, Any]], exp: str, seed: int) -> None:
    """This run's train step of ``exp`` and ``seed``: other weights from epoch
    :data:`FIRST_EPOCH` on, its history checksum sharing 16 hex digits with the lock's; and
    its evaluate: other metrics."""
    train = by_id[step_id("train", exp, seed)]
    weights = train["outputs"]["weights"]
    weights["sha256"] = _sha(f"other weights {exp} {seed}")
    first = sorted(weights["arrays"])[0]
    weights["arrays"][first]["l2"] = weights["arrays"][first]["l2"] * (1 + 3e-16)
    weights["arrays"][first]["sum"] += 2e-7
    history = train["outputs"]["history"]
    history["sha256"] = _sharing(history["sha256"], 16)
    loss = sorted(k for k in history["numbers"] if k.startswith("loss["))[-1]
    history["numbers"][loss] += 1e-7
    epochs = train["trace"]["epoch_weights"]
    epochs[FIRST_EPOCH - 1 :] = [_sha(f"epoch {i} {exp} {seed}") for i in range(FIRST_EPOCH, len(epochs) + 1)]
    evaluate = by_id[step_id("evaluate", exp, seed)]
    evaluate["inputs"]["weights"]["sha256"] = weights["sha256"]
    metrics = evaluate["outputs"]["metrics"]
    metrics["sha256"] = _sha(f"other metrics {exp} {seed}")
    name = sorted(metrics["numbers"])[0]
    metrics["numbers"][name] += 1e-6
    evaluate["outputs"]["predictions"]["sha256"] = _sha(f"other predictions {exp} {seed}")


def verdict(
    *,
    seeds: int | None = None,
    diverge: Iterable[tuple[str, int]] = (DIVERGED,),
    drift: Iterable[tuple[str, int]] = (),
) -> Verification:
    """Classify a run against a lock. ``seeds``: the default run's chains copied to seeds
    0 … seeds-1 (its figures and summary steps once), else the default run as it is.
    ``diverge``: the chains (experiment, seed) whose train and evaluate steps differ
    (:func:`_diverge`); ``drift``: chains that differ so with another TensorFlow."""
    committed = lockmod.read(REPO / layout.LOCK_NAME)
    base = [committed.entry(i) for i in sorted(committed.steps)]
    if seeds is None:
        accepted = [copy.deepcopy(r) for r in base]
    else:
        seed0 = [r for r in base if r["seed"] in (None, 0)]
        accepted = [_reseeded(r, s) for s in range(seeds) for r in seed0 if r["seed"] is not None]
        accepted += [copy.deepcopy(r) for r in seed0 if r["seed"] is None]
    accepted.sort(key=run_order)
    current = copy.deepcopy(accepted)
    by_id = {r["id"]: r for r in current}
    for exp, seed in [*diverge, *drift]:
        _diverge(by_id, exp, seed)
    for exp, seed in drift:
        for step in ("train", "evaluate"):
            environment = by_id[step_id(step, exp, seed)]["environment"] = copy.deepcopy(
                by_id[step_id(step, exp, seed)]["environment"]
            )
            environment["packages"]["tensorflow"] = "2.99.0"
    lock = {r["id"]: r for r in accepted}
    entries = [lock[r["id"]] for r in current]
    outcomes = [classify(r, e, **TOL) for r, e in zip(current, entries, strict=True)]
    inherit_upstream(current, outcomes, entries, **TOL)
    files = layout.DEFAULT.files
    for r, o in zip(current, outcomes, strict=True):
        o.log = files[r["step"]].log.format(dataset=r["experiment"], experiment=r["experiment"], seed=r["seed"])
    datasets = {
        (r["experiment"], r["seed"]): r["params"]["dataset"]
        for r in current
        if r["step"] in layout.CHAIN_STEPS[1:] and "dataset" in r["params"]
    }
    failing = sum(o.failing for o in outcomes)
    action = f"kept as it was ({failing} step(s) failed)" if failing else "unchanged"
    return Verification(outcomes, layout.LOCK_NAME, action, [], chains(outcomes, datasets), **TOL)
