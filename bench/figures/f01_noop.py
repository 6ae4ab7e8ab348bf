"""Figure 1: a no-op rerun of the default workflow vs bare Snakemake's no-op on the same job
graph (bench/bare.py); the no-op must not import TensorFlow."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from pathlib import Path

from bench import bare
from bench.harness import PYTHON, Figure, alternate, ratio_text, run, say, snakemake, workdir
from bench.schedule import Need, Result
from bench.settings import Settings

NUMBER = 1
NEEDS: tuple[Need, ...] = ()
PROVIDES: tuple[str, ...] = ("noop_run",)


@dataclasses.dataclass(frozen=True)
class NoopRun:
    """The real run of the workflow this figure reruns, which figure 2 reads."""

    workdir: Path  # its scratch workflow, finished
    wall: float  # its wall time in seconds


def measure(s: Settings, root: Path) -> Result:
    say("figure 1: the real run of the workflow (default config)" if not s.quick else "figure 1: a tiny real run")
    ours = workdir(root / "noop-ours", s.noop_config)
    wall, _ = snakemake(ours)
    shape = bare.shape_of(s.noop_config)
    bares = {jobs: bare.write(root / f"noop-bare-{jobs}", shape, jobs=jobs) for jobs in ("script", "shell")}
    for wd in bares.values():
        snakemake(wd)  # a real run of the bare workflow, metadata included, like ours

    def timed(wd: Path) -> Callable[[], float]:
        def fn() -> float:
            wall, out = snakemake(wd)
            if "Nothing to be done" not in out:
                raise RuntimeError(f"the no-op rerun in {wd} ran jobs:\n{out[-3000:]}")
            return wall

        return fn

    say(f"figure 1: {s.reps} no-op reruns of each")
    t = alternate(s.reps, ours=timed(ours), script=timed(bares["script"]), shell=timed(bares["shell"]))
    _, imports = run([PYTHON, "-X", "importtime", "-m", "snakemake", "--cores", "1"], ours)
    tf_in_noop = bool(re.search(r"\|\s+tensorflow$", imports, re.M))
    r = t["ours"].median / t["script"].median
    figure = Figure(
        NUMBER,
        "No-op rerun vs bare Snakemake (same job graph)",
        f"{ratio_text(r)} ({ratio_text(t['ours'].median / t['shell'].median)} vs shell jobs)",
        "≤ 1.2×, no TensorFlow import",
        r <= 1.2 and not tf_in_noop,
        [
            f"samebits no-op: {t['ours'].text()}; bare Snakemake no-op, script jobs: {t['script'].text()}; "
            f"shell jobs: {t['shell'].text()}",
            f"job graph: {shape.describe()} (the real run took {wall:.0f} s)",
            f"TensorFlow imported by the no-op: {'YES' if tf_in_noop else 'no'} (python -X importtime)",
        ],
    )
    return Result(figure, {"noop_run": NoopRun(ours, wall)})
