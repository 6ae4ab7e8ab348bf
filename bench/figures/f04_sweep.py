"""Figure 4: eight seeds with ``--cores 2`` vs ``--cores 1`` (and the two locks must be
byte-identical)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.harness import Figure, alternate, glob_pattern, plan_of, say, snakemake, workdir
from bench.schedule import Need, Result
from bench.settings import DIGITS, Settings
from samebits.core import layout

NUMBER = 4
NEEDS: tuple[Need, ...] = ()
# The last --cores 1 run (its scratch workflow, finished), which figure 6 extends.
PROVIDES: tuple[str, ...] = ("sweep_run",)


def sweep_config(s: Settings, seeds: int) -> dict[str, Any]:
    return {"seeds": list(range(seeds)), "datasets": DIGITS, "experiments": {"mlp": s.sweep_experiment}}


def occupancy(wd: Path, cores: int) -> tuple[float, float]:
    """How busy the chain jobs kept the cores: (span of the chain jobs in s, share of it with
    ``cores`` jobs running). Each job's interval is its benchmark file's mtime (written when
    the job ends) minus its wall time; a hardware-independent view of the scheduling."""
    spans = []
    chain_benchmarks = [files.benchmark for files in layout.FILES.values() if files.benchmark is not None]
    for f in (p for pattern in chain_benchmarks for p in wd.glob(glob_pattern(pattern))):
        wall = float(f.read_text().splitlines()[1].split("\t")[0])
        end = f.stat().st_mtime
        spans.append((end - wall, end))
    if not spans:
        return 0.0, 0.0
    events = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans])
    running, last, full = 0, events[0][0], 0.0
    for t, step in events:
        if running >= cores:
            full += t - last
        running, last = running + step, t
    span = max(b for _, b in spans) - min(a for a, _ in spans)
    return span, full / span if span else 0.0


def measure(s: Settings, root: Path) -> Result:
    say(f"figure 4: {s.sweep_seeds} seeds, --cores 2 vs --cores 1, {s.heavy_reps} each")
    config = sweep_config(s, s.sweep_seeds)
    lock = plan_of(config).lock
    locks: dict[str, list[bytes]] = {"1": [], "2": []}
    last: dict[int, Path] = {}  # the last run of each side

    def side(cores: int) -> Callable[[], float]:
        def fn() -> float:
            wd = workdir(root / f"sweep-c{cores}-{len(locks[str(cores)])}", config)
            wall, _ = snakemake(wd, cores=cores)
            locks[str(cores)].append((wd / lock).read_bytes())
            last[cores] = wd
            return wall

        return fn

    t = alternate(s.heavy_reps, one=side(1), two=side(2))
    speedup = t["one"].median / t["two"].median
    span, busy = occupancy(last[2], 2)
    every = locks["1"] + locks["2"]
    identical = all(lock == every[0] for lock in every)
    figure = Figure(
        NUMBER,
        f"Sweep scaling: {s.sweep_seeds} seeds, `--cores 2` vs `--cores 1`",
        f"{speedup:.2f}× speed-up",
        "≥ 1.8×, byte-identical locks",
        speedup >= 1.8 and identical,
        [
            f"--cores 1: {t['one'].text()}; --cores 2: {t['two'].text()}",
            f"jobs: {len(layout.CHAIN_STEPS) * s.sweep_seeds} chain steps + figures, summary, verify; "
            f"experiment: {s.sweep_experiment}",
            f"locks of all {len(every)} runs byte-identical: {'yes' if identical else 'NO'}",
            f"last --cores 2 run: both cores ran chain jobs {busy:.0%} of the {span:.1f} s from the "
            "first chain job's start to the last one's end (benchmark files); the rest of its wall "
            "time is Snakemake's start and exit and the figures, summary and verify steps",
        ],
    )
    return Result(figure, {"sweep_run": last[1]})
