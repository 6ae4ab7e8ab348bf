"""Verify every step record of a run against ``samebits.lock`` and apply the lock policy.

The policy (see the README's status table): ``new`` steps are added and ``changed`` steps
updated; a drifted step that is equivalent within tolerance passes with a warning and keeps
its lock entry; when any step fails (diverged, drifted beyond tolerance, stale, tampered,
edited) nothing is written at all, so the lock stays byte for byte as it was. The lock is
written only when an entry is added or updated. :func:`accept` and :func:`rebuild_lock` are
the two explicit ways to change an entry otherwise.

How a verification reads (terminal, Markdown, HTML, JSON) is :mod:`samebits.provenance.render`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..core import fileio, layout
from ..core.errors import LockError, SamebitsError
from . import lock as lockmod
from . import ondisk, records
from .compare import Outcome, Verification, chains, classify, inherit_upstream

__all__ = ["accept", "rebuild_lock", "run_order", "verify", "verify_step"]

log = logging.getLogger(__name__)


def run_order(record: dict[str, Any]) -> tuple:
    """Chains seed by seed (split first), then the steps over all seeds."""
    seed, exp, step = record["seed"], record["experiment"], record["step"]
    chain = exp if seed is not None else ""
    rank = layout.STEPS.index(step) if step in layout.STEPS else len(layout.STEPS)
    return (seed is None, seed or 0, step != "split", chain, rank, exp)


def _classify_all(current: list[dict[str, Any]], lock: lockmod.Lock, *, rtol: float, atol: float) -> list[Outcome]:
    accepted = [lock.entry(r["id"]) for r in current]
    outcomes = [
        classify(
            r,
            entry,
            rtol=rtol,
            atol=atol,
            disk=ondisk.check(r),
            edited=None if entry is None else lock.edited(r["id"]),
        )
        for r, entry in zip(current, accepted, strict=True)
    ]
    inherit_upstream(current, outcomes, accepted, rtol=rtol, atol=atol)  # evaluate after a drifted train
    return outcomes


def verify(
    record_paths: Iterable[str | Path],
    lock_path: str | Path,
    *,
    rtol: float,
    atol: float,
    update_lock: bool = True,
    root: str = layout.OUTPUT_DIR,
) -> Verification:
    """Classify every record against the lock and apply the lock policy.

    Reads the lock first, so an unreadable lock fails before anything is written.
    ``update_lock=False`` is a read-only check (``samebits verify --check``). ``root`` is the
    run's output folder (the configuration's ``output_dir``), where each step's log is named.
    """
    lock = lockmod.read(lock_path)
    current = [records.read(p) for p in record_paths]
    current.sort(key=run_order)
    outcomes = _classify_all(current, lock, rtol=rtol, atol=atol)
    files = layout.Layout.under(root).files
    for r, o in zip(current, outcomes, strict=True):
        if r["step"] in files:
            o.log = files[r["step"]].log.format(dataset=r["experiment"], experiment=r["experiment"], seed=r["seed"])
    seen = {r["id"] for r in current}
    stale = sorted(set(lock.steps) - seen)
    _refuse_edited(lock, stale, lock_path)
    datasets = {
        (r["experiment"], r["seed"]): r["params"]["dataset"]
        for r in current
        if r["step"] in layout.CHAIN_STEPS[1:] and "dataset" in r["params"]
    }

    failing = [o for o in outcomes if o.failing]
    added = [r for r, o in zip(current, outcomes, strict=True) if o.status == "new"]
    updated = [r for r, o in zip(current, outcomes, strict=True) if o.status == "changed"]
    if failing:
        action = f"kept as it was ({len(failing)} step(s) failed; see above, or `samebits accept` them)"
    elif not update_lock:
        action = "not updated (read-only check)"
    elif not added and not updated:
        action = "unchanged"
    else:
        for record in added + updated:
            lock.put(record)
        lockmod.write(lock_path, lock)
        action = f"updated ({len(added)} added, {len(updated)} updated)"
    return Verification(outcomes, str(lock_path), action, stale, chains(outcomes, datasets), rtol, atol)


def _refuse_edited(lock: lockmod.Lock, step_ids: Iterable[str], lock_path: str | Path) -> None:
    """:class:`LockError` if the entry of a step this run did not check was edited by hand:
    the lock would be written back with it, or vouch for it later, unnoticed."""
    for step_id in step_ids:
        why = lock.edited(step_id)
        if why is not None:
            raise LockError(
                f"{lock_path}: the entry of {step_id} (a step this configuration does not run) was edited by hand: "
                f"{why}; restore the lock from git, or rebuild it from a run that has that step "
                "(samebits rebuild-lock --yes)"
            )


def verify_step(
    record_paths: Iterable[str | Path],
    out_verdict: str | Path,
    out_json: str | Path,
    out_md: str | Path,
    out_html: str | Path,
    *,
    lock: str | Path,
    rtol: float,
    atol: float,
    root: str = layout.OUTPUT_DIR,
) -> Verification:
    """The workflow's last step: verify, then write the verdict and the reports, pass or fail.

    The verdict file's first line is ``passed`` or ``failed``; the rest is the one-screen
    verdict. The run prints it at its end and fails when it says ``failed``, and the next
    run verifies again (samebits.lifecycle). A verification that could not run (an unreadable
    lock, an edited record) raises instead, and writes nothing.
    """
    from . import render

    record_paths = list(record_paths)
    result = verify(record_paths, lock, rtol=rtol, atol=atol, root=root)
    lines = render.terminal(result)
    log.info("%s", "\n".join(lines))
    fileio.write_json(out_json, render.as_json(result))
    fileio.write_text(out_md, render.markdown(result))
    fileio.write_text(out_html, render.html(result))
    fileio.write_text(out_verdict, "\n".join(["passed" if result.ok else "failed", *lines]) + "\n")
    if result.ok:
        ondisk.refresh_index(record_paths)  # the next workflow start need not parse these records
    return result


def accept(
    record_paths: Iterable[str | Path],
    lock_path: str | Path,
    *,
    reason: str,
    rtol: float,
    atol: float,
    step: str | None = None,
    experiment: str | None = None,
    seed: int | None = None,
    everything: bool = False,
) -> list[Outcome]:
    """Take drifted, diverged or edited steps into the lock: the one explicit way to do so.

    Selects, among the steps that are drifted, diverged or edited now, those matching every
    filter given (or all of them with ``everything``), stores each one's current record in
    the lock with ``accepted: {"reason", "status"}``, and changes nothing else. Stale or
    tampered steps cannot be accepted: their records do not describe the files on disk.
    Returns the accepted outcomes.
    """
    if not reason or not reason.strip():
        raise SamebitsError("accept needs a reason (--reason TEXT); it is stored in the lock")
    if not everything and step is None and experiment is None and seed is None:
        raise SamebitsError("accept needs --step, --experiment, --seed or --all to say what to accept")
    lock = lockmod.read(lock_path)
    current = [records.read(p) for p in record_paths]
    outcomes = _classify_all(current, lock, rtol=rtol, atol=atol)
    chosen = []
    for r, outcome in zip(current, outcomes, strict=True):
        if step is not None and r["step"] != step:
            continue
        if experiment is not None and r["experiment"] != experiment:
            continue
        if seed is not None and r["seed"] != seed:
            continue
        if outcome.status in ("drifted", "diverged", "edited"):
            chosen.append((r, outcome))
    if not chosen:
        raise SamebitsError(
            "nothing to accept: no drifted, diverged or edited step matches (run `samebits verify` to see)"
        )
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
    lockmod.write(lock_path, fresh)
    return len(current), backup
