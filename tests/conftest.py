"""Shared helpers: copy the workflow into a temporary directory and run the real snakemake."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "tests" / "configs"
WORKFLOW_FILES = ("Snakefile", "workflow", "config", "data")


def make_workdir(dest: Path, config: Path | None = None) -> Path:
    """A fresh copy of the workflow in ``dest`` (no lock, no results), with ``config``."""
    dest.mkdir(parents=True)
    for name in WORKFLOW_FILES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest / name)
    if config is not None:
        shutil.copy2(config, dest / "config" / "config.yaml")
    return dest


def copy_run(src: Path, dest: Path) -> Path:
    """Copy a finished run's whole tree, Snakemake's metadata and mtimes included."""
    shutil.copytree(src, dest, symlinks=True)
    return dest


def run_snakemake(workdir: Path, *args: str, timeout: float = 900, python_flags: tuple[str, ...] = ()):
    """Run the real snakemake (this interpreter's) in ``workdir``; returns CompletedProcess."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAKEMAKE")}
    cmd = [sys.executable, *python_flags, "-m", "snakemake", "--cores", "1", *args]
    return subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout)


def verification(workdir: Path) -> dict:
    return json.loads((workdir / "results" / "verification.json").read_text())


def statuses(workdir: Path) -> dict[str, str]:
    return {s["id"]: s["status"] for s in verification(workdir)["steps"]}


def jobs_run(proc: subprocess.CompletedProcess) -> set[tuple[str, str]]:
    """(rule, wildcards) of every job Snakemake started, read from its log output."""
    jobs, rule = set(), None
    for line in (proc.stdout + proc.stderr).splitlines():
        m = re.match(r"^(?:local)?rule (\w+):$", line)
        if m:
            rule = m.group(1)
            continue
        m = re.match(r"^\s+wildcards: (.*)$", line)
        if m and rule:
            jobs.add((rule, m.group(1).strip()))
        elif not line.strip():
            rule = None
    return jobs


def explain(proc: subprocess.CompletedProcess) -> str:
    return f"exit {proc.returncode}\n--- stdout ---\n{proc.stdout[-6000:]}\n--- stderr ---\n{proc.stderr[-6000:]}"


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """One real run of the tiny config, shared by every scenario (copy it, never modify it)."""
    workdir = make_workdir(tmp_path_factory.mktemp("tiny") / "run", CONFIGS / "tiny.yaml")
    proc = run_snakemake(workdir)
    assert proc.returncode == 0, explain(proc)
    return workdir


@pytest.fixture
def tiny_copy(tiny_run, tmp_path) -> Path:
    """A private copy of the shared tiny run for one scenario."""
    return copy_run(tiny_run, tmp_path / "copy")
