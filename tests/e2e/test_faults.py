"""Faults: a step killed half-way, two runs on one directory at once, a full disk.
Each ends in a clear message, leaves no record that looks valid, and a rerun finishes with
the results of an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from samebits.provenance import ondisk, records
from tests.helpers import CONFIGS, explain, make_workdir, run_snakemake

pytestmark = pytest.mark.e2e


def _start(workdir, *args):
    cmd = [sys.executable, "-m", "snakemake", "--cores", "1", *args]
    return subprocess.Popen(
        cmd, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )


def _wait_for(predicate, timeout=300, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    workdir = make_workdir(tmp_path_factory.mktemp("faults") / "straight", CONFIGS / "kill.yaml")
    proc = run_snakemake(workdir)
    assert proc.returncode == 0, explain(proc)
    return workdir


def test_sigkill_mid_training_then_rerun_gives_the_uninterrupted_lock(uninterrupted, tmp_path):
    workdir = make_workdir(tmp_path / "killed", CONFIGS / "kill.yaml")
    run = _start(workdir)
    train_log = workdir / "logs/train/mlp/seed0.log"
    try:
        # while it runs, a second run on the same directory must be refused (Snakemake's lock)
        _wait_for(lambda: (workdir / ".snakemake" / "locks").is_dir(), what="the first run's lock")
        second = run_snakemake(workdir, timeout=120)
        assert second.returncode != 0
        assert "Directory cannot be locked" in second.stdout + second.stderr

        _wait_for(lambda: train_log.exists() and "epoch 3/150" in train_log.read_text(), what="training epoch 3")
        os.killpg(run.pid, signal.SIGKILL)  # snakemake and the training job, without warning
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
        run.wait(timeout=60)
    assert "epoch 150/150" not in train_log.read_text()  # it really died half-way
    experiment = workdir / "results/experiments/mlp/seed0"
    assert not (experiment / "train.record.json").exists()  # no record that looks valid
    assert not (workdir / "samebits.lock").exists()
    leftovers = [p.name for p in experiment.iterdir() if p.name.startswith(".")]
    assert all(".tmp" in name for name in leftovers), leftovers

    # Snakemake's lock outlived the killed run: unlock, then rerun what was incomplete
    unlock = run_snakemake(workdir, "--unlock")
    assert unlock.returncode == 0, explain(unlock)
    rerun = run_snakemake(workdir, "--rerun-incomplete")
    assert rerun.returncode == 0, explain(rerun)
    assert (workdir / "samebits.lock").read_bytes() == (uninterrupted / "samebits.lock").read_bytes()


@pytest.mark.parametrize(
    "options, message",
    [
        ("size=48k", "No space left on device (the disk is full)"),
        ("ro,size=1m", "Read-only file system"),
    ],
    ids=["disk-full", "read-only"],
)
def test_a_full_or_unwritable_results_directory_is_a_clear_error(tmp_path, monkeypatch, options, message):
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    workdir = make_workdir(tmp_path / "full", CONFIGS / "kill.yaml")
    results = workdir / "results"
    results.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(results)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        proc = run_snakemake(workdir)
        out = proc.stdout + proc.stderr
        assert proc.returncode != 0
        assert message in out, out[-3000:]
        assert "results/" in out
        monkeypatch.chdir(workdir)  # records name their files relative to the workflow's directory
        for path in results.rglob("*.record.json"):
            # a record that exists belongs to a step that finished: it vouches for files on disk
            found = ondisk.check(records.read(path))
            assert found == {"stale": [], "tampered": []}, (path, found)
        assert not (workdir / "samebits.lock").exists()
        assert not list(results.rglob(".*.tmp*")), "a temporary file was left behind"
    finally:
        subprocess.run(["umount", str(results)], check=False)
