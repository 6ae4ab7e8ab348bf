"""Checkpoint files (samebits.ml.resume.Store) and the sweep of killed writers' temporary
files (samebits.core.fileio.sweep), in-process; the end-to-end proof is tests/e2e/test_resume.py."""

from __future__ import annotations

import logging
import os
import subprocess
import time

import numpy as np
import pytest

from samebits.core import fileio
from samebits.ml import resume

PARTS = resume.key_parts(
    inputs={"split": "sha256:aa"},
    params={"epochs": 5, "learning_rate": 0.001},
    code={"samebits": "sha256:cc"},
    determinism={"seed": 0},
    environment={"tensorflow": {"version": "2.21.0"}},
)
LAYOUT = {"model": [["dense/kernel", [2, 2], "float32"]]}


def _ckpt(epoch: int, batch: int = 0) -> resume.Checkpoint:
    arrays = {"model/0000": np.full((2, 2), epoch + batch / 1000, dtype=np.float32)}
    return resume.Checkpoint(epoch=epoch, batch=batch, meta={"epochs": 5, "steps": 10, "layout": LAYOUT}, arrays=arrays)


def test_the_newest_valid_checkpoint_is_read_back_and_only_the_two_newest_are_kept(tmp_path):
    store = resume.Store(tmp_path / "resume", PARTS, failpoint="")
    assert store.latest(LAYOUT) is None
    for epoch in (1, 2, 3):
        store.save(_ckpt(epoch))
    store.save(_ckpt(3, 4))
    names = sorted(p.name.split("-", 1)[1] for p in (tmp_path / "resume").iterdir())
    assert names == ["e00003-b000000.npz", "e00003-b000004.npz"]
    found = store.latest(LAYOUT)
    assert (found.epoch, found.batch) == (3, 4)
    assert found.describe() == "after batch 4 of 10 of epoch 4"
    np.testing.assert_array_equal(found.group("model")[0], _ckpt(3, 4).arrays["model/0000"])
    store.clear()
    assert not (tmp_path / "resume").exists()


def test_a_truncated_or_edited_checkpoint_is_reported_and_the_one_before_is_used(tmp_path, caplog):
    store = resume.Store(tmp_path, PARTS, failpoint="")
    older, newest = store.save(_ckpt(1)), store.save(_ckpt(2))
    with open(newest, "r+b") as fh:
        fh.truncate(newest.stat().st_size // 2)
    with caplog.at_level(logging.WARNING):
        found = store.latest(LAYOUT)
    assert found.path == older
    assert f"checkpoint {newest} is not usable (" in caplog.text and "it is ignored" in caplog.text

    # a checkpoint whose arrays no longer match their checksum is not trusted either
    with np.load(older) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["model/0000"] = arrays["model/0000"] + 1
    with open(older, "wb") as fh:
        np.savez(fh, **arrays)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert store.latest(LAYOUT) is None
    assert "its arrays do not match their checksum" in caplog.text


def test_a_checkpoint_of_another_model_layout_is_not_assigned(tmp_path, caplog):
    store = resume.Store(tmp_path, PARTS, failpoint="")
    store.save(_ckpt(1))
    with caplog.at_level(logging.WARNING):
        assert store.latest({"model": [["dense/kernel", [3, 2], "float32"]]}) is None
    assert "its model variables are not this model's" in caplog.text


def test_a_checkpoint_of_other_params_or_code_names_what_differs(tmp_path, caplog):
    resume.Store(tmp_path, PARTS, failpoint="").save(_ckpt(2))
    other = {**PARTS, "params": {**PARTS["params"], "learning_rate": 0.002}, "code": {"samebits": "sha256:dd"}}
    store = resume.Store(tmp_path, other, failpoint="")
    with caplog.at_level(logging.WARNING):
        assert store.latest(LAYOUT) is None
    assert "is not used: it was made with other inputs, params, code or environment: " in caplog.text
    assert "params.learning_rate 0.001 → 0.002" in caplog.text
    assert "code.samebits" in caplog.text
    store.save(_ckpt(1))  # this step will never resume from the other key's checkpoint
    assert [p.name[:16] for p in tmp_path.iterdir()] == [store.key]


def test_callback_state_round_trips_through_a_checkpoint():
    keras = pytest.importorskip("keras")
    stopper = keras.callbacks.EarlyStopping(restore_best_weights=True)
    stopper.on_train_begin()
    stopper.wait, stopper.best, stopper.best_epoch = 2, 0.25, 7
    stopper.best_weights = [np.ones((2, 2), np.float32)]
    values, arrays = resume.callback_state(stopper)
    fresh = keras.callbacks.EarlyStopping(restore_best_weights=True)
    fresh.on_train_begin()
    resume.set_callback_state(fresh, values, [arrays[k] for k in sorted(arrays)])
    assert (fresh.wait, fresh.best, fresh.best_epoch, fresh.stopped_epoch) == (2, 0.25, 7, 0)
    np.testing.assert_array_equal(fresh.best_weights[0], stopper.best_weights[0])


def _temp_name(stem: str, pid: int, host: str, suffix: str = ".npz") -> str:
    return f".{stem}.{pid}@{host}.abcd1234.tmp{suffix}"


def test_sweep_removes_only_temporary_files_of_writers_that_are_gone(tmp_path):
    host = fileio._host()
    dead = subprocess.Popen(["true"])
    dead.wait()
    (tmp_path / "results/a").mkdir(parents=True)
    gone = tmp_path / "results/a" / _temp_name("weights", dead.pid, host)
    alive = tmp_path / "results/a" / _temp_name("history", os.getpid(), host, ".json")
    foreign_old = tmp_path / "results" / _temp_name("weights", 1, "node07")
    foreign_new = tmp_path / "results" / _temp_name("metrics", 1, "node07", ".json")
    users = [tmp_path / "results/.notes.tmp.md", tmp_path / "results/a/.weights.abc.tmp.npz"]
    top = tmp_path / _temp_name("samebits", dead.pid, host, ".lock")
    deep = tmp_path / "data/x" / _temp_name("d", dead.pid, host)  # not a folder samebits sweeps
    deep.parent.mkdir(parents=True)
    for path in (gone, alive, foreign_old, foreign_new, *users, top, deep):
        path.write_text("x")
    os.utime(foreign_old, (time.time() - 2 * fileio.FOREIGN_AGE,) * 2)

    removed = fileio.sweep(tmp_path / "results", flat=(tmp_path,))
    assert sorted(removed) == sorted([gone, foreign_old, top])
    for path in (alive, foreign_new, *users, deep):
        assert path.exists(), path


def test_an_interrupted_write_leaves_a_temporary_file_the_sweep_recognises(tmp_path):
    with pytest.raises(RuntimeError), fileio.atomic_path(tmp_path / "weights.npz") as tmp:
        tmp.write_bytes(b"half")
        kept = tmp
        raise RuntimeError("killed")
    assert not kept.exists()  # an exception cleans up; only a killed process leaves one behind
    assert fileio.TEMP_NAME.match(kept.name)
    assert kept.name.startswith(f".weights.{os.getpid()}@{fileio._host()}.")


def test_checkpoints_fall_due_by_epoch_and_by_time():
    every_second_epoch = resume.Clock(2, None)
    assert [every_second_epoch.epoch_due(done) for done in (1, 2, 3, 4)] == [False, True, False, True]
    assert not every_second_epoch.batch_due()
    never = resume.Clock(None, None)
    assert not never.epoch_due(1) and not never.batch_due()
    by_time = resume.Clock(None, 0.5 / 60_000)  # half a millisecond
    time.sleep(0.002)
    assert by_time.batch_due() and by_time.epoch_due(1)
    by_time.saved()
    assert not resume.Clock(None, 60).batch_due()
