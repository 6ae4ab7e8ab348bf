"""The same bits on SLURM: a real single-node cluster, Snakemake's SLURM executor plugin.

The lock written by a run whose every job went through sbatch/srun must be byte-identical to
the one of the shared `--cores 1` run (`tiny_run`); and a train job that SLURM stops before
its time limit comes back (the profile's retries), resumes from its checkpoint and still ends
with the lock of a `--cores 1` run. The cluster is brought up by tests/slurm/cluster.sh
(installs Debian's slurm packages if needed, so it needs root) and always taken down at the
end of this module.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from samebits.core import layout
from tests.helpers import CONFIGS, REPO, clean_env, explain, make_workdir, statuses

pytestmark = [
    pytest.mark.e2e,
    # skipped before any fixture runs (the shared tiny run included); CI runs as root
    pytest.mark.skipif(
        os.geteuid() != 0,
        reason="needs root: tests/slurm/cluster.sh installs slurm and munge and writes /etc/slurm/slurm.conf",
    ),
]

CLUSTER = REPO / "tests" / "slurm" / "cluster.sh"
PROFILE = "profiles/slurm"  # relative to the run's working directory
SUBMITTED = re.compile(r"submitted with SLURM jobid (\d+) \(log: (\S+)\)")
# what a train job stopped by a signal says (samebits.ml.checkpointing.Checkpointer.stop)
STOPPED = re.compile(r"stopped by SIGTERM; checkpoint (\S+) written (after [^;]+);")


def _cluster(action: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(CLUSTER), action], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def slurm_cluster():
    """A running single-node SLURM cluster on loopback for this module; always taken down."""
    try:
        # generous: a fresh machine installs the Debian packages first
        up = _cluster("up", timeout=900)
        assert up.returncode == 0, f"cluster.sh up failed:\n{up.stdout}\n{up.stderr}"
        print((up.stdout + up.stderr).strip())
        yield
    finally:
        down = _cluster("down", timeout=120)
        print((down.stdout + down.stderr).strip())


@pytest.fixture(scope="module")
def slurm_plugin(tmp_path_factory) -> Path:
    """requirements-slurm.txt installed into a directory of its own, put on PYTHONPATH only for
    the SLURM run: the plugin stays out of every other snakemake start-up (see that file)."""
    target = tmp_path_factory.mktemp("slurm-plugin")
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target)]
    proc = subprocess.run([*cmd, "-r", str(REPO / "requirements-slurm.txt")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return target


def _snakemake_env(plugin: Path) -> dict[str, str]:
    """This environment, without Snakemake's or SLURM's own variables (pytest may itself run in
    a SLURM job), with this interpreter's bin directory first on PATH: every job, and the job
    step inside it, then runs this venv's python and snakemake."""
    drop = ("SNAKEMAKE", "SLURM_", "SBATCH_", "SRUN_", "SALLOC_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(plugin), env.get("PYTHONPATH", "")) if p)
    return env


def _run_slurm(workdir: Path, plugin: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", "--profile", PROFILE, *args]
    try:
        return subprocess.run(
            cmd, cwd=workdir, env=_snakemake_env(plugin), capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:  # the fixture cancels what is left in the cluster
        out = (exc.stdout or b"").decode(errors="replace") + (exc.stderr or b"").decode(errors="replace")
        pytest.fail(f"snakemake on SLURM did not finish in {timeout:.0f} s:\n{out[-6000:]}")


def _squeue() -> dict[str, tuple[str, float]]:
    """State and run time in seconds of every job the controller still lists (finished ones
    for MinJobAge, 300 s in cluster.sh)."""
    proc = subprocess.run(
        ["squeue", "--states=all", "--noheader", "--format=%i %T %S %e"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    jobs = {}
    for line in proc.stdout.splitlines():
        jobid, state, start, end = line.split()
        try:
            seconds = time.mktime(time.strptime(end, "%Y-%m-%dT%H:%M:%S")) - time.mktime(
                time.strptime(start, "%Y-%m-%dT%H:%M:%S")
            )
        except ValueError:  # a pending job has no start yet (N/A)
            seconds = float("nan")
        jobs[jobid] = (state, seconds)
    return jobs


@contextlib.contextmanager
def _watching_jobs() -> Iterator[dict[str, tuple[str, float]]]:
    """Every job's last state and run time that squeue showed while the block ran, and after
    it: the controller lists a finished job only for MinJobAge, less than a loaded run of the
    later jobs can take."""
    seen: dict[str, tuple[str, float]] = {}
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            with contextlib.suppress(AssertionError, subprocess.SubprocessError):
                seen.update(_squeue())
            stop.wait(2)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    try:
        yield seen
    finally:
        stop.set()
        watcher.join()
        seen.update(_squeue())


def test_slurm_run_writes_the_same_lock_as_a_local_run(slurm_cluster, slurm_plugin, tiny_run, tmp_path):
    workdir = make_workdir(tmp_path / "slurm", CONFIGS / "tiny.yaml")
    assert (workdir / PROFILE / "config.yaml").is_file()
    start = time.monotonic()
    proc = _run_slurm(workdir, slurm_plugin)
    print(f"SLURM run: {time.monotonic() - start:.1f} s")
    assert proc.returncode == 0, explain(proc)
    out = proc.stdout + proc.stderr

    # every job really went through SLURM: one sbatch per step plus verify, none run locally,
    # each with its own SLURM log, and the controller knows them as completed
    tiny_lock = tiny_run / "samebits.lock"
    steps = json.loads(tiny_lock.read_text())["steps"]
    submitted = SUBMITTED.findall(out)
    assert len(submitted) == len(steps) + 1, explain(proc)
    rules = {re.search(r"/slurm_logs/rule_(\w+)/", log).group(1) for _, log in submitted}
    assert rules == {step.split("/")[0] for step in steps} | {"verify"}, rules
    assert not re.search(r"^localrule (?!all:)", out, re.MULTILINE), explain(proc)
    for jobid, log in submitted:
        text = Path(log).read_text()
        assert Path(log).is_relative_to(workdir / ".snakemake" / "slurm_logs"), log
        assert "--executor slurm-jobstep" in text and "Finished jobid" in text, (jobid, text[-3000:])
    squeue = subprocess.run(
        ["squeue", "--states=all", "--noheader", "--format=%i %T"], capture_output=True, text=True, timeout=60
    )
    assert squeue.returncode == 0, squeue.stderr
    # finished jobs stay listed for MinJobAge (300 s): the last one (verify) surely is
    states = dict(line.split() for line in squeue.stdout.splitlines())
    assert states.get(submitted[-1][0]) == "COMPLETED", squeue.stdout
    assert {states[jobid] for jobid, _ in submitted if jobid in states} == {"COMPLETED"}, squeue.stdout

    # and the same bits
    assert set(statuses(workdir).values()) == {"new"}
    assert (workdir / layout.verify.verdict).read_text().startswith("passed\n")
    assert (workdir / "samebits.lock").read_bytes() == tiny_lock.read_bytes()


def test_train_stopped_before_its_time_limit_comes_back_and_resumes_to_the_local_lock(
    slurm_cluster, slurm_plugin, tmp_path
):
    """The profile's early signal and retries, with a 1-minute limit on the first train job.

    SLURM checks limits every 30 s (slurmctld's PERIODIC_TIMEOUT, not configurable) and sends
    `--signal=SIG@N` when at most N + 30 s are left: with the profile's signal moved to 10 s
    before a 1-minute limit, it comes 20 to 50 s after the job starts, while it trains
    (tests/configs/slurm_resume.yaml: about 60 s of training, which starts about 10 s in).
    The retry gets 10 minutes, as a profile may give a retried job more time, so that one
    interruption is enough whatever the load: each attempt under a 1-minute limit trains for
    only 5 to 40 s.
    """
    profile = yaml.safe_load((REPO / PROFILE / "config.yaml").read_text())
    extra = profile["set-resources"]["train"]["slurm_extra"]
    assert profile["retries"] >= 1 and re.fullmatch(r"'--signal=TERM@\d+'", extra), profile
    # a --set-resources on the command line replaces the profile's whole set-resources key
    resources = ["train:runtime=1 if attempt == 1 else 10", "train:slurm_extra=" + re.sub(r"@\d+", "@10", extra)]

    config = CONFIGS / "slurm_resume.yaml"
    local = make_workdir(tmp_path / "local", config)
    workdir = make_workdir(tmp_path / "slurm", config)
    # the reference run beside the SLURM run: another copy of the workflow, one core (each
    # SLURM job takes one CPU of the node)
    reference = subprocess.Popen(
        [sys.executable, "-m", "snakemake", "--cores", "1"],
        cwd=local,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    start = time.monotonic()
    try:
        with _watching_jobs() as jobs:
            proc = _run_slurm(workdir, slurm_plugin, "--set-resources", *resources)
        slurm_seconds = time.monotonic() - start
        reference_out, _ = reference.communicate(timeout=600)
    finally:
        if reference.poll() is None:
            reference.kill()
            reference.wait()
    assert reference.returncode == 0, reference_out[-6000:]
    assert proc.returncode == 0, explain(proc)
    out = proc.stdout + proc.stderr

    # the train job went to SLURM twice: the first attempt was stopped by SLURM's signal
    # (slurmstepd cancels the step with it) before its limit, after writing a checkpoint, and
    # the plugin reported it failed
    trains = [(jobid, Path(log)) for jobid, log in SUBMITTED.findall(out) if "/rule_train/" in log]
    assert len(trains) == 2, explain(proc)
    (first, first_log), (second, _) = trains
    text = first_log.read_text()
    assert f"*** STEP {first}.0 ON " in text and " CANCELLED AT " in text, text[-3000:]
    stopped = STOPPED.search(text)
    assert stopped, text[-3000:]
    # FAILED: it exited after the signal, not TIMEOUT (killed at the limit, 30 s later at least)
    assert jobs[first][0] == "FAILED", jobs[first]
    assert f"SLURM-job '{first}' failed" in out
    assert jobs[second][0] == "COMPLETED", jobs[second]
    print(
        f"SLURM run: {slurm_seconds:.0f} s; train job {first} stopped {stopped[2]} after "
        f"{jobs[first][1]:.0f} s, job {second} finished after {jobs[second][1]:.0f} s"
    )

    # the second attempt resumed from that checkpoint: its log says so, and so does the record
    train_log = (workdir / layout.train.log.format(experiment="mlp", seed=0)).read_text()
    assert f"resumed from checkpoint {stopped[1]}, {stopped[2]}" in train_log, train_log[-3000:]
    record = json.loads((workdir / layout.train.path("record", experiment="mlp", seed=0)).read_text())
    assert [r["checkpoint"] for r in record["run"]["resumed"]] == [Path(stopped[1]).name]
    assert not (workdir / layout.resume.format(experiment="mlp", seed=0)).exists()

    # and the bits of a run that was never interrupted
    assert (workdir / layout.verify.verdict).read_text().startswith("passed\n")
    assert (workdir / "samebits.lock").read_bytes() == (local / "samebits.lock").read_bytes()
