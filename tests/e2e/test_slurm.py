"""The same bits on SLURM: a real single-node cluster, Snakemake's SLURM executor plugin.

The lock written by a run whose every job went through sbatch/srun must be byte-identical to
the one of the shared `--cores 1` run (`tiny_run`). The cluster is brought up by
tests/slurm/cluster.sh (installs Debian's slurm packages if needed, so it needs root) and
always taken down at the end of this module.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from samebits.core import layout
from tests.helpers import CONFIGS, REPO, explain, make_workdir, statuses

pytestmark = [
    pytest.mark.e2e,
    # skipped before any fixture runs (the shared tiny run included); CI runs as root
    pytest.mark.skipif(
        os.geteuid() != 0,
        reason="needs root: tests/slurm/cluster.sh installs slurm and munge and writes /etc/slurm/slurm.conf",
    ),
]

CLUSTER = REPO / "tests" / "slurm" / "cluster.sh"
PROFILE = "workflow/profiles/slurm"  # relative to the run's working directory
SUBMITTED = re.compile(r"submitted with SLURM jobid (\d+) \(log: (\S+)\)")


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


def test_slurm_run_writes_the_same_lock_as_a_local_run(slurm_cluster, slurm_plugin, tiny_run, tmp_path):
    workdir = make_workdir(tmp_path / "slurm", CONFIGS / "tiny.yaml")
    assert (workdir / PROFILE / "config.yaml").is_file()
    cmd = [sys.executable, "-m", "snakemake", "--profile", PROFILE]
    start = time.monotonic()
    try:
        proc = subprocess.run(
            cmd, cwd=workdir, env=_snakemake_env(slurm_plugin), capture_output=True, text=True, timeout=900
        )
    except subprocess.TimeoutExpired as exc:  # the fixture cancels what is left in the cluster
        out = (exc.stdout or b"").decode(errors="replace") + (exc.stderr or b"").decode(errors="replace")
        pytest.fail(f"snakemake on SLURM did not finish in 900 s:\n{out[-6000:]}")
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
