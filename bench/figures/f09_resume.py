"""Figure 9: a train step killed after epoch k of N and rerun: the resumed attempt's training
time vs an uninterrupted one's, against (N - k) / N."""

from __future__ import annotations

import os
import re
import signal
import statistics
import subprocess
import time
from pathlib import Path

from bench.checkpointed import checkpoint_config, make_template
from bench.harness import PYTHON, Figure, clean_env, plan_of, say, snakemake
from bench.medium import MEDIUM
from bench.schedule import Need, Result
from bench.settings import Settings
from bench.train_job import only_train_ran, read_train, train_in_copy, train_paths

NUMBER = 9
NEEDS: tuple[Need, ...] = (Need("checkpoint_template", setup=make_template),)
PROVIDES: tuple[str, ...] = ()


def kill_after_checkpoint(wd: Path, paths: dict[str, str], epoch: int, epochs: int) -> float:
    """Start the train job in ``wd`` in a session of its own; once its log says the
    checkpoint after ``epoch`` is written, SIGKILL Snakemake and the job (as a node failure
    or an OOM kill would). Returns the seconds from the start to the kill."""
    line = re.compile(rf": checkpoint \S+, after epoch {epoch} of {epochs}$", re.M)
    log_path = wd / paths["log"]
    deadline = time.monotonic() + 1800
    t = time.perf_counter()
    with open(wd / "killed-run.out", "w") as out:
        proc = subprocess.Popen(
            [PYTHON, "-m", "snakemake", "--cores", "1", paths["record"]],
            cwd=wd,
            env=clean_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        while not (log_path.exists() and line.search(log_path.read_text(errors="replace"))):
            if proc.poll() is not None:
                raise RuntimeError(f"{wd}: the train job ended before epoch {epoch} (see killed-run.out)")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{wd}: no checkpoint after epoch {epoch} in {log_path}")
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)
        return time.perf_counter() - t
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)


def measure(s: Settings, root: Path, *, checkpoint_template: Path) -> Result:
    config = checkpoint_config(s, 1)
    plan = plan_of(config)
    paths = train_paths(plan)
    epochs = plan.experiments[MEDIUM]["train"]["epochs"]
    rows, details, worst, identical = [], [], 0.0, True
    sizes: list[int] = []
    for fraction in s.kill_at:
        k = max(1, min(epochs - 2, round(epochs * fraction)))
        # the uninterrupted side runs right before the other, so both see the same machine
        say(f"figure 9: an uninterrupted training, then one killed after epoch {k} of {epochs} and resumed")
        wd = train_in_copy(checkpoint_template, root / f"uninterrupted-{k}", config)
        _, out = snakemake(wd, paths["record"])
        only_train_ran(out, wd)
        whole = read_train(wd, paths)
        wd = train_in_copy(checkpoint_template, root / f"resume-{k}", config)
        killed_after = kill_after_checkpoint(wd, paths, k, epochs)
        if (wd / paths["record"]).exists():
            raise RuntimeError(f"{wd}: the killed train job wrote its record")
        left = sorted((wd / paths["resume"]).glob("*.npz"))
        sizes += [p.stat().st_size for p in left]
        snakemake(wd, "--unlock")
        rerun_wall, out = snakemake(wd, "--rerun-incomplete", paths["record"])
        only_train_ran(out, wd)
        if "resumed from checkpoint" not in (wd / paths["log"]).read_text(errors="replace"):
            raise RuntimeError(f"{wd}: the rerun did not resume:\n{out[-3000:]}")
        resumed = read_train(wd, paths)
        (start,) = resumed.resumed  # one resume: epoch is the next epoch to run
        at = start["epoch"]
        identical = identical and resumed.outputs == whole.outputs
        ratio = resumed.trained / whole.trained
        expected = (epochs - at) / epochs
        worst = max(worst, abs(ratio - expected))
        per_epoch = (resumed.epochs / (epochs - at - 1)) / (whole.epochs / (epochs - 1))
        rows.append(f"k/N = {at}/{epochs}: {ratio:.2f} (expected {expected:.2f})")
        details.append(
            f"k = {at}: the uninterrupted training {whole.trained:.3g} s up to its last epoch "
            f"(`run.fit_seconds` {whole.fit:.3g} s, its job {whole.wall:.3g} s); killed after epoch {at} "
            f"(aimed at {k}; SIGKILL of Snakemake's process group {killed_after:.1f} s after its start; "
            f"checkpoints left: {len(left)}), `--unlock`, `--rerun-incomplete`: the resumed attempt trained "
            f"{resumed.trained:.3g} s = {ratio:.2f}× (expected (N−k)/N = {expected:.2f}; saving {1 - ratio:.0%} "
            f"vs k/N = {at / epochs:.0%}), its epochs {per_epoch:.2f}× as long as the uninterrupted one's "
            f"(`run.fit_seconds` {resumed.fit:.3g} s, its job {resumed.wall:.3g} s, "
            f"`snakemake --rerun-incomplete` {rerun_wall:.3g} s)"
        )
    figure = Figure(
        NUMBER,
        "Resume: a train step killed after epoch k of N, rerun: its training time vs uninterrupted",
        "; ".join(rows),
        "≈ (N−k)/N (within 0.05)",
        worst <= 0.05 and identical,
        [
            "training time: up to the last epoch's log line, as in figure 8, for both sides",
            *details,
            f"outputs of every resumed training identical to the uninterrupted one's (record checksums): "
            f"{'yes' if identical else 'NO'}",
            f"a checkpoint of this model (weights, Adam's moments, state): "
            f"{statistics.median(sizes) / (1 << 20):.2f} MiB"
            if sizes
            else "no checkpoint was left to measure",
        ],
    )
    return Result(figure)
