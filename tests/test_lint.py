"""The field's own checks, as CI runs them: ruff, mypy, snakefmt and snakemake --lint are clean.
Each reads the repository and writes nothing into it (snakemake --lint runs in a copy: it
keeps a .snakemake/ folder where it runs; mypy keeps no cache: pyproject.toml sets its
cache_dir to /dev/null)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO, clean_env, make_workdir

BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    "cmd",
    [
        [str(BIN / "ruff"), "check", "--no-cache", "."],
        [str(BIN / "ruff"), "format", "--no-cache", "--check", "."],
        [str(BIN / "snakefmt"), "--check", "."],
        [str(BIN / "mypy")],  # its files and settings: [tool.mypy] in pyproject.toml
    ],
    ids=["ruff-check", "ruff-format", "snakefmt", "mypy"],
)
def test_tool_is_clean(cmd):
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_snakemake_lint_is_clean(tmp_path):
    workdir = make_workdir(tmp_path / "wd")
    cmd = [sys.executable, "-m", "snakemake", "--lint"]
    proc = subprocess.run(cmd, cwd=workdir, env=clean_env(), capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Congratulations, your workflow is in a good condition" in out, out
