"""Fixtures shared by the tests (helpers are in tests/helpers.py), and the check that the
test run leaves the repository as it found it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.helpers import CONFIGS, REPO, copy_run, explain, make_workdir, run_snakemake

#: What running the tests may leave in the repository: the tools' own caches.
TOOL_CACHES = (".pytest_cache/", ".ruff_cache/", "__pycache__/", ".venv/", ".egg-info/")
_BEFORE = pytest.StashKey[set]()


def _repository_files() -> set[str] | None:
    """Every untracked, changed or ignored path in the repository (``None`` outside git)."""
    proc = subprocess.run(
        ["git", "status", "--porcelain", "--ignored", "--untracked-files=all"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        return None
    return {line[3:] for line in proc.stdout.splitlines() if not any(c in line for c in TOOL_CACHES)}


def pytest_sessionstart(session):
    session.config.stash[_BEFORE] = _repository_files()


def pytest_sessionfinish(session, exitstatus):
    before = session.config.stash.get(_BEFORE, None)
    after = _repository_files()
    if before is None or after is None:
        return
    written = sorted(after - before)
    if written:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = "the tests wrote into the repository (they must write only under temp dirs): " + ", ".join(written)
        if reporter is not None:
            reporter.write_line(message, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


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
