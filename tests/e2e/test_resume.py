"""A killed training resumes from its checkpoint and ends with the bits of an uninterrupted
run: SIGKILL at several points (and half-way through writing a checkpoint), SIGTERM in the
middle of an epoch, a truncated checkpoint, a checkpoint of other params, and a training
loop of the user's own. Real Snakemake runs, real TensorFlow, real signals.

Every scenario starts from a copy of one finished run, forces one train job to run again,
kills it, then does what a user does: ``--unlock`` (when the run itself was killed) and
``--rerun-incomplete``. The lock must then be byte-identical to the uninterrupted run's.
"""

from __future__ import annotations

import concurrent.futures
import functools
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml

from samebits.core import layout
from tests.helpers import CONFIGS, clean_env, copy_run, explain, make_workdir, run_snakemake

pytestmark = pytest.mark.e2e


def _start(workdir: Path, experiment: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    target = layout.train.path("weights", experiment=experiment, seed=0)
    cmd = [sys.executable, "-m", "snakemake", "--cores", "1", "--forcerun", target]
    return subprocess.Popen(
        cmd,
        cwd=workdir,
        env={**clean_env(), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _wait_for(predicate, run: subprocess.Popen, what: str, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if run.poll() is not None:
            raise AssertionError(f"the run ended before {what}:\n{run.stdout.read()[-3000:]}")
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def _logged(log: Path, text: str):
    return lambda: log.exists() and text in log.read_text()


def _train_process(run: subprocess.Popen) -> psutil.Process:
    for child in psutil.Process(run.pid).children(recursive=True):
        if any(part.endswith("train.py") for part in child.cmdline()):
            return child
    raise AssertionError("no train job is running")


def _checkpoints(resume: Path) -> list[Path]:
    """The checkpoint files, newest (furthest) first."""
    found = [p for p in resume.glob("*.npz") if not p.name.startswith(".")]  # not a temporary file
    return sorted(found, key=lambda p: p.name.split("-", 1)[1], reverse=True)


def _position(path: Path) -> str:
    """What the train log says of a checkpoint file: ``after epoch 6 of 30`` or ``after
    batch 91 of 144 of epoch 7``."""
    epoch, batch = map(int, re.match(r"^[0-9a-f]{16}-e(\d+)-b(\d+)\.npz$", path.name).groups())
    return f"after epoch {epoch} of" if batch == 0 else f"after batch {batch} of 144 of epoch {epoch + 1}"


def _finish(workdir: Path, *, unlock: bool) -> subprocess.CompletedProcess:
    if unlock:  # Snakemake's lock outlived the killed run
        proc = run_snakemake(workdir, "--unlock")
        assert proc.returncode == 0, explain(proc)
    proc = run_snakemake(workdir, "--rerun-incomplete")
    assert proc.returncode == 0, explain(proc)
    return proc


def _assert_uninterrupted(workdir: Path, straight: Path, proc: subprocess.CompletedProcess) -> None:
    """The rerun verified every step identical (a lock is kept as it was when verification
    fails, so comparing locks alone would not see a divergence), and wrote the same bytes."""
    assert re.search(r"samebits verify: (\d+)/\1 steps identical", proc.stdout + proc.stderr), explain(proc)
    assert (workdir / "samebits.lock").read_bytes() == (straight / "samebits.lock").read_bytes()
    for experiment in ("mlp", "loop"):
        for name in ("weights", "history"):
            path = layout.train.path(name, experiment=experiment, seed=0)
            assert (workdir / path).read_bytes() == (straight / path).read_bytes(), path


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> Path:
    """The uninterrupted run (never modified: each scenario copies it)."""
    workdir = make_workdir(tmp_path_factory.mktemp("resume") / "straight", CONFIGS / "resume.yaml")
    proc = run_snakemake(workdir)
    assert proc.returncode == 0, explain(proc)
    history = (workdir / layout.train.path("history", experiment="mlp", seed=0)).read_text()
    assert '"stopped_epoch": 23' in history and '"restored_epoch": 21' in history  # EarlyStopping acts
    return workdir


def _scenario(straight: Path, tmp_path: Path, experiment: str = "mlp") -> tuple[Path, Path, Path]:
    workdir = copy_run(straight, tmp_path / "run")
    log = workdir / layout.train.log.format(experiment=experiment, seed=0)
    log.unlink()  # the forced job writes it anew
    resume = workdir / layout.resume.format(experiment=experiment, seed=0)
    return workdir, log, resume


def _killpg(run: subprocess.Popen) -> None:
    os.killpg(run.pid, signal.SIGKILL)  # snakemake and the training job, without warning
    run.wait(timeout=60)


def _sigkill(straight: Path, tmp_path: Path, experiment: str, when: str, truncate: bool) -> None:
    """SIGKILL of the run when the train log shows ``when`` (or that checkpoint file
    appears); with ``truncate``, the newest checkpoint is then cut short."""
    workdir, log, resume = _scenario(straight, tmp_path, experiment)
    run = _start(workdir, experiment)
    try:
        if when.endswith(".npz"):
            _wait_for(lambda: any(p.name.endswith(when) for p in resume.glob("*.npz")), run, when)
        else:
            _wait_for(_logged(log, when), run, when)
            time.sleep(0.05)
    finally:
        _killpg(run)
    killed_log = log.read_text()
    assert "step finished" not in killed_log  # it really died half-way
    found = _checkpoints(resume)
    assert found, f"no checkpoint in {resume}"
    expected = found[0]
    if truncate:
        with open(found[0], "r+b") as fh:
            fh.truncate(found[0].stat().st_size // 3)
        expected = found[1] if len(found) > 1 else None

    proc = _finish(workdir, unlock=True)
    text = log.read_text()
    if truncate:
        assert f"checkpoint {found[0].relative_to(workdir)} is not usable" in text
        assert "it is ignored" in text
    if expected is None:
        assert "resumed from" not in text
    else:
        assert f"resumed from checkpoint {expected.relative_to(workdir)}, {_position(expected)}" in text
    _assert_uninterrupted(workdir, straight, proc)
    assert not resume.exists()  # removed when the step succeeded


def _sigterm_mid_epoch(straight: Path, tmp_path: Path) -> None:
    workdir, log, resume = _scenario(straight, tmp_path)
    # the train job sends itself a real SIGTERM after batch 40 of epoch 6, whatever the
    # machine's load (a signal from here, timed on the log, could land in epoch 6's
    # validation pass on a busy machine and stop it at the epoch's end)
    run = _start(workdir, "mlp", env={"SAMEBITS_FAILPOINT": "sigterm@6.40"})
    try:
        out, _ = run.communicate(timeout=300)
    finally:
        if run.poll() is None:
            _killpg(run)
    assert run.returncode != 0
    text = log.read_text()
    stopped = re.search(r"stopped by SIGTERM; checkpoint (\S+) written (after batch 40 of 144 of epoch 6)", text)
    assert stopped, text[-3000:]
    assert "stopped by SIGTERM" in out  # the console says so too
    assert not (workdir / layout.train.path("weights", experiment="mlp", seed=0)).exists()

    proc = _finish(workdir, unlock=False)
    assert f"resumed from checkpoint {stopped[1]}, {stopped[2]}" in log.read_text()
    _assert_uninterrupted(workdir, straight, proc)


def _killed_while_writing(straight: Path, tmp_path: Path) -> None:
    workdir, log, resume = _scenario(straight, tmp_path)
    # the train job kills itself (SIGKILL) half-way through writing the checkpoint after epoch 5
    run = _start(workdir, "mlp", env={"SAMEBITS_FAILPOINT": "checkpoint-write@5"})
    out, _ = run.communicate(timeout=300)
    assert run.returncode != 0
    leftovers = [p.name for p in resume.iterdir() if ".tmp." in p.name]
    assert len(leftovers) == 1, leftovers  # the half-written file, under samebits' temporary name
    assert {p.name.split("-", 1)[1] for p in _checkpoints(resume)} == {"e00004-b000000.npz", "e00003-b000000.npz"}

    proc = _finish(workdir, unlock=False)
    assert f"removed {layout.resume.format(experiment='mlp', seed=0)}/{leftovers[0]}" in proc.stderr + proc.stdout
    assert "resumed from checkpoint" in log.read_text()
    assert "after epoch 4 of 30" in log.read_text()
    _assert_uninterrupted(workdir, straight, proc)


def _killed_after_early_stop(straight: Path, tmp_path: Path) -> None:
    workdir, log, resume = _scenario(straight, tmp_path)
    # EarlyStopping stops at epoch 23: the train job kills itself right after that checkpoint,
    # before EarlyStopping puts back the weights of epoch 21 at the end of training
    run = _start(workdir, "mlp", env={"SAMEBITS_FAILPOINT": "checkpoint-saved@23"})
    run.communicate(timeout=300)
    assert run.returncode != 0
    assert "killed right after writing" in log.read_text()

    proc = _finish(workdir, unlock=False)
    text = log.read_text()
    assert "after epoch 23 of 30" in text and "resumed from checkpoint" in text
    assert "weights of epoch 21 restored" in text
    _assert_uninterrupted(workdir, straight, proc)


def _checkpoint_of_other_params(straight: Path, tmp_path: Path) -> None:
    workdir, log, resume = _scenario(straight, tmp_path)
    run = _start(workdir, "mlp")
    try:
        _wait_for(_logged(log, "e00004-b000000.npz"), run, "the checkpoint after epoch 4")
    finally:
        _killpg(run)
    config_file = workdir / layout.CONFIG_FILE
    config = yaml.safe_load(config_file.read_text())
    config["experiments"]["mlp"]["train"]["learning_rate"] = 0.002
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))

    unlock = run_snakemake(workdir, "--unlock")
    assert unlock.returncode == 0, explain(unlock)
    rerun = run_snakemake(workdir, "--rerun-incomplete")
    assert rerun.returncode == 0, explain(rerun)
    text = log.read_text()
    assert "is not used: it was made with other inputs, params, code or environment: " in text
    assert "params.learning_rate 0.001 → 0.002" in text
    assert "resumed from" not in text
    assert "epoch 1/30" in text  # trained from the start


def _both(straight: Path, tmp_path: Path, *cases) -> None:
    """Two scenarios at once (one core each): the suite's time, not the proof, is shared."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(case, straight, tmp_path / str(i)) for i, case in enumerate(cases)]
        for future in futures:
            future.result()


def test_sigkill_early_with_the_newest_checkpoint_truncated_and_in_a_training_loop_of_ones_own(straight, tmp_path):
    _both(
        straight,
        tmp_path,
        # early, the newest checkpoint then truncated: reported, ignored, the one before it used
        functools.partial(_sigkill, experiment="mlp", when="epoch 3/30", truncate=True),
        # a training loop of the user's own (config/examples/loops.py), in the middle of an epoch
        functools.partial(_sigkill, experiment="loop", when="epoch 5/12", truncate=False),
    )


def test_sigkill_in_the_middle_of_an_epoch_and_just_after_a_checkpoint(straight, tmp_path):
    _both(
        straight,
        tmp_path,
        functools.partial(_sigkill, experiment="mlp", when="epoch 10/30 ", truncate=False),
        functools.partial(_sigkill, experiment="mlp", when="e00006-b000000.npz", truncate=False),
    )


def test_sigterm_mid_epoch_and_a_kill_while_writing_a_checkpoint(straight, tmp_path):
    _both(straight, tmp_path, _sigterm_mid_epoch, _killed_while_writing)


def test_a_kill_after_early_stopping_stopped_and_a_checkpoint_of_other_params(straight, tmp_path):
    _both(straight, tmp_path, _killed_after_early_stop, _checkpoint_of_other_params)
