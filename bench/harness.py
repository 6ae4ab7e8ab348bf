"""What the figures share to measure: processes, scratch workflows, plans, timings and the row.

Runs happen in scratch copies of the workflow (``samebits.core.layout.copy_workflow``) under
a temporary directory; nothing in the repository is touched except the results file. Every
path read from a run (records, logs, benchmark files, the lock) comes from
``samebits.core.layout`` or from the run's checked plan (``samebits.plan.Plan``), which also
supplies every setting the benchmark's configurations leave to the schema's defaults.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from samebits.core import layout
from samebits.plan import Plan

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


def say(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAKEMAKE")}
    env["PATH"] = f"{Path(PYTHON).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra or {})
    return env


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, check: bool = True) -> tuple[float, str]:
    """Run ``cmd``; return (wall seconds, stdout+stderr)."""
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env or clean_env(), capture_output=True, text=True)
    wall = time.perf_counter() - t
    out = proc.stdout + proc.stderr
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed in {cwd} (exit {proc.returncode}):\n{out[-4000:]}")
    return wall, out


def snakemake(workdir: Path, *args: str, cores: int = 1) -> tuple[float, str]:
    return run([PYTHON, "-m", "snakemake", "--cores", str(cores), *args], workdir)


def workdir(dest: Path, config: dict[str, Any]) -> Path:
    """A fresh scratch copy of the workflow with ``config``."""
    if dest.exists():
        shutil.rmtree(dest)
    return layout.copy_workflow(REPO, dest, config=config)


def plan_of(config: dict[str, Any]) -> Plan:
    """The checked plan of a benchmark configuration, every default of the schema filled in."""
    return Plan.check(config, where="the benchmark's configuration")


def job_env(plan: Plan) -> dict[str, str]:
    """The environment the workflow gives the jobs of ``plan`` (profile, threads, op determinism)."""
    return clean_env(plan.process_env())


def glob_pattern(pattern: str) -> str:
    """A layout path pattern with each ``{wildcard}`` made a ``*``."""
    return re.sub(r"\{\w+\}", "*", pattern)


@dataclasses.dataclass
class Timing:
    values: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def text(self, unit: str = "s") -> str:
        if len(self.values) == 1:
            return f"{self.values[0]:.3g} {unit} (1 run)"
        return f"{self.median:.3g} {unit} ({min(self.values):.3g}–{max(self.values):.3g}, {len(self.values)} runs)"


def alternate(reps: int, *, balanced: bool = False, **sides: Callable[[], float]) -> dict[str, Timing]:
    """Time each side ``reps`` times, interleaved, so drifting load hits both alike;
    ``balanced``: every other round in reverse order (A B, B A, ...), so load that keeps
    rising or falling over minute-long runs does not favour the side that goes first."""
    out: dict[str, list[float]] = {name: [] for name in sides}
    for i in range(reps):
        for name, fn in reversed(sides.items()) if balanced and i % 2 else sides.items():
            out[name].append(fn())
    return {name: Timing(v) for name, v in out.items()}


@dataclasses.dataclass
class Figure:
    number: int
    title: str
    measured: str  # e.g. "1.08×"
    target: str  # e.g. "≤ 1.2×"
    met: bool | None  # None: informative only
    details: list[str]


def ratio_text(x: float) -> str:
    return f"{x:.2f}×"
