"""Fixtures shared by the tests (helpers are in tests/helpers.py), the order the test files
run in, and the check that the test run leaves the repository as it found it.

The suite runs in two processes (pytest-xdist: ``-n 2 --dist loadfile`` in pyproject.toml),
each test file whole in one of them, so a file's module fixtures are made once. Nearly every
end-to-end test runs single-threaded TensorFlow jobs, so two files at a time use the two
cores a serial run leaves half idle. ``pytest -n 0`` runs everything in one process.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import CONFIGS, REPO, copy_run, explain, make_workdir, run_snakemake

#: Hypothesis keeps what it learns in a folder (by default .hypothesis/ in the working
#: directory): outside the repository, shared by both processes of the run.
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(tempfile.gettempdir(), "samebits-hypothesis"))

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


#: The test files that take longest, longest first (measured with ``--junitxml``): they
#: start first, so the two processes end together instead of one finishing a long file
#: alone. The other files follow in their usual order.
SLOWEST_FIRST = (
    "tests/e2e/test_emulation.py",
    "tests/e2e/test_slurm.py",
    "tests/e2e/test_resume.py",
    "tests/e2e/test_bench.py",
    "tests/e2e/test_user_data.py",
    "tests/e2e/test_own_training.py",
    "tests/e2e/test_audit.py",
    "tests/e2e/test_images.py",
    "tests/e2e/test_diagnosis.py",
    "tests/e2e/test_module.py",
    "tests/e2e/test_default_run.py",
)


def pytest_collection_modifyitems(session, config, items):
    rank = {path: i for i, path in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))  # stable: the rest keep their order


def _worker() -> str | None:
    """The name of this pytest-xdist worker (``gw0``), or ``None`` in the controlling process
    or a run without workers."""
    return os.environ.get("PYTEST_XDIST_WORKER")


def pytest_sessionstart(session):
    if _worker() is None:  # the controlling process sees the whole run
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


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """One real run of the tiny config, shared by every scenario (copy it, never modify it),
    and by both processes of the run: the first to need it makes it, the other waits for it."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if _worker() is not None else base  # the workers' common temp root
    workdir, done = shared / "tiny" / "run", shared / "tiny" / "done"
    with _locked(shared / "tiny.lock"):
        if not done.exists():
            if workdir.parent.exists():  # a worker that failed to make it left this
                shutil.rmtree(workdir.parent)
            make_workdir(workdir, CONFIGS / "tiny.yaml")
            proc = run_snakemake(workdir)
            assert proc.returncode == 0, explain(proc)
            done.touch()
    return workdir


@pytest.fixture
def tiny_copy(tiny_run, tmp_path) -> Path:
    """A private copy of the shared tiny run for one scenario."""
    return copy_run(tiny_run, tmp_path / "copy")
