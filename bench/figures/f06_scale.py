"""Figure 6: a 250-seed sweep (1,000 jobs): DAG build and no-op vs bare Snakemake on the same
graph; lock size and verify time against the number of records. The sweep is made from a
small real one by bench/synth.py."""

from __future__ import annotations

import contextlib
import dataclasses
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from bench import bare, synth
from bench.figures.f04_sweep import sweep_config
from bench.harness import PYTHON, Figure, Timing, alternate, plan_of, ratio_text, run, say, snakemake, workdir
from bench.schedule import Need, Result
from bench.settings import Settings
from samebits.core import layout

NUMBER = 6
# Figure 4's last --cores 1 run, if figure 4 runs: the real run the sweep is made from
# (without it, this figure makes one).
NEEDS: tuple[Need, ...] = (Need("sweep_run", optional=True),)
PROVIDES: tuple[str, ...] = ("verify_timing",)


@dataclasses.dataclass(frozen=True)
class VerifyTiming:
    """``samebits verify --check`` over every record of the synthesised sweep, which figure 5 reports."""

    records: int
    timing: Timing


def measure(s: Settings, root: Path, *, sweep_run: Path | None) -> Result:
    n = s.scale_seeds[-1]
    source = sweep_run
    if source is None:
        source = workdir(root / "scale-source", sweep_config(s, s.sweep_seeds))
        snakemake(source)
    chain_jobs = len(layout.CHAIN_STEPS) * n
    say(f"figure 6: a {n}-seed sweep ({chain_jobs} chain jobs) made from the {s.sweep_seeds}-seed real run")
    big = root / "scale-ours"
    if big.exists():
        shutil.rmtree(big)
    shutil.copytree(source, big, symlinks=True)
    config = sweep_config(s, n)
    plan = plan_of(config)
    layout.write_config(big, config)
    (experiment,) = plan.experiments
    dataset = plan.experiments[experiment]["dataset"]
    synth.extend(big, experiment, dataset, s.sweep_seeds, n)
    wall, out = snakemake(big)  # real: figures, summary and verify over all seeds
    ran = sorted(set(re.findall(r"^(?:local)?rule (\w+):$", out, re.M)))
    if set(ran) & set(layout.CHAIN_STEPS):
        raise RuntimeError(f"the synthesised sweep reran chain steps ({ran}):\n{out[-3000:]}")
    shutil.rmtree(big / ".snakemake" / "metadata", ignore_errors=True)

    shape = bare.shape_of(config)
    kinds = ("script", "shell")
    done_bare = {jobs: bare.write(root / f"scale-bare-{jobs}", shape, True, jobs) for jobs in kinds}
    empty_bare = {jobs: bare.write(root / f"scale-bare-empty-{jobs}", shape, False, jobs) for jobs in kinds}
    empty_ours = workdir(root / "scale-ours-empty", config)

    def timed(wd: Path, *args: str, expect: str) -> Callable[[], float]:
        def fn() -> float:
            wall, out = snakemake(wd, *args)
            if expect not in out:
                raise RuntimeError(f"{wd}: expected {expect!r}:\n{out[-3000:]}")
            return wall

        return fn

    say(f"figure 6: dry runs (DAG build) and no-op reruns, {s.reps} each")
    dag = alternate(
        s.reps,
        ours=timed(empty_ours, "--dry-run", expect="Job stats"),
        script=timed(empty_bare["script"], "--dry-run", expect="Job stats"),
        shell=timed(empty_bare["shell"], "--dry-run", expect="Job stats"),
    )
    noop = alternate(
        s.reps,
        ours=timed(big, expect="Nothing to be done"),
        script=timed(done_bare["script"], expect="Nothing to be done"),
        shell=timed(done_bare["shell"], expect="Nothing to be done"),
    )

    say("figure 6: lock size and verify time against the number of records")
    from samebits.provenance.verify import rebuild_lock, verify

    rows = []
    for k in s.scale_seeds:
        recs = synth.chain_records(experiment, dataset, range(k))
        lock_path = root / f"scale-{k}.lock"
        lock_path.unlink(missing_ok=True)
        with contextlib.chdir(big):
            rebuild_lock(recs, lock_path)

        def check(recs=recs, lock_path=lock_path) -> float:
            t = time.perf_counter()
            with contextlib.chdir(big):  # record paths are relative to the workflow
                result = verify(recs, lock_path, rtol=plan.rtol, atol=plan.atol, update_lock=False)
            if not result.ok:
                raise RuntimeError(f"verify over {len(recs)} synthesised records failed")
            return time.perf_counter() - t

        tv = alternate(max(2, s.reps // 2), v=check)["v"]
        rows.append((len(recs), lock_path.stat().st_size, tv.median))
    cli = alternate(  # verifies every record of the sweep's config in ``big``: plan.all_records()
        s.reps,
        v=lambda: run([PYTHON, "-m", "samebits.cli", "verify", "--check"], big)[0],
    )["v"]

    r_dag = dag["ours"].median / dag["script"].median
    r_noop = noop["ours"].median / noop["script"].median
    sizes = fit_line([(k, b) for k, b, _ in rows])
    times = fit_line([(k, t) for k, _, t in rows])
    linear = sizes["r2"] >= 0.99 and times["r2"] >= 0.98
    table = "; ".join(f"{k} records: {b / 1024:.0f} KiB, verify {t * 1000:.0f} ms" for k, b, t in rows)
    figure = Figure(
        NUMBER,
        f"Scale: {n}-seed sweep ({chain_jobs} chain jobs) vs bare Snakemake; lock and verify growth",
        f"DAG {ratio_text(r_dag)}, no-op {ratio_text(r_noop)} "
        f"(vs shell jobs: {ratio_text(dag['ours'].median / dag['shell'].median)}, "
        f"{ratio_text(noop['ours'].median / noop['shell'].median)})",
        "≤ 1.2× each; lock and verify linear",
        r_dag <= 1.2 and r_noop <= 1.2 and linear,
        [
            f"dry run on empty results (DAG build): samebits {dag['ours'].text()}; bare, script jobs "
            f"{dag['script'].text()}; bare, shell jobs {dag['shell'].text()}",
            f"no-op with everything up to date: samebits {noop['ours'].text()}; bare, script jobs "
            f"{noop['script'].text()}; bare, shell jobs {noop['shell'].text()}",
            f"growth: {table}",
            f"least-squares lines: lock = {sizes['a'] / 1024:.1f} KiB + {sizes['b']:.0f} bytes × records "
            f"(R² {sizes['r2']:.4f}); verify = {times['a'] * 1000:.1f} ms + {times['b'] * 1000:.3f} ms × records "
            f"(R² {times['r2']:.4f}) → linear: {'yes' if linear else 'NO'}",
            f"how the sweep was made: the {s.sweep_seeds}-seed real run's chain outputs copied to seeds "
            f"{s.sweep_seeds}..{n - 1} and recorded again with samebits' record writer (bench/synth.py); "
            "figures, summary and verify then ran for real over all seeds. Snakemake's metadata "
            "(.snakemake/metadata) is removed on both sides, so neither checks params or code of past jobs.",
            f"the tail (figures, summary, verify over {n} seeds) took {wall:.1f} s",
        ],
    )
    return Result(figure, {"verify_timing": VerifyTiming(len(plan.all_records()), cli)})


def fit_line(points: list[tuple[float, float]]) -> dict[str, float]:
    """Least-squares ``y = a + b x`` and its R²."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    b = sum((x - mx) * (y - my) for x, y in points) / sxx
    a = my - b * mx
    ss_tot = sum((y - my) ** 2 for _, y in points)
    ss_res = sum((y - a - b * x) ** 2 for x, y in points)
    return {"a": a, "b": b, "r2": 1.0 - ss_res / ss_tot if ss_tot else 1.0}
