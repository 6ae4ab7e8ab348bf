"""Parallel sweeps: each job is single-threaded and writes only its own files, so running
several at once (--cores 2) gives the lock of a sequential run, byte for byte."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers import CONFIGS, explain, make_workdir, statuses

pytestmark = pytest.mark.e2e


def _run(workdir, cores):
    cmd = [sys.executable, "-m", "snakemake", "--cores", str(cores)]
    return subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=900)


def test_cores_2_writes_the_lock_of_cores_1(tmp_path):
    one = make_workdir(tmp_path / "one", CONFIGS / "sweep.yaml")
    two = make_workdir(tmp_path / "two", CONFIGS / "sweep.yaml")
    first = _run(one, 1)
    assert first.returncode == 0, explain(first)
    second = _run(two, 2)
    assert second.returncode == 0, explain(second)
    assert len(statuses(two)) == 3 * 4 + 2  # 3 seeds x (split, init, train, evaluate) + figures + summary
    assert (two / "samebits.lock").read_bytes() == (one / "samebits.lock").read_bytes()
    # the jobs really overlapped: Snakemake started two at once
    assert "Execute 2 jobs..." in second.stdout + second.stderr
    assert "Execute 2 jobs..." not in first.stdout + first.stderr
