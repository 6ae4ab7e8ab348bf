"""Statuses, lock policy and lock validation, on records built in memory (no TensorFlow)."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from samebits import fileio, records
from samebits import lock as lockmod
from samebits.compare import classify, deep_diff
from samebits.errors import LockError
from samebits.verify import verify


def _record(tmp_path, name="train", value=1.0, epochs=5, **over):
    out = tmp_path / f"{name}-{value}.npz"
    fileio.write_npz(out, {"w": np.full((2, 2), value, dtype=np.float32)})
    rec = records.make(
        step="train",
        experiment="mlp",
        seed=0,
        outputs={"weights": out},
        inputs={"split": "sha256:" + "1" * 64},
        params={"epochs": epochs},
        determinism={"intra_op_threads": 1},
        trace={"epoch_weights": ["sha256:a", "sha256:b", f"sha256:{value}"]},
    )
    rec.update(over)
    return records.seal(rec)


def test_statuses(tmp_path):
    accepted = _record(tmp_path)
    assert classify(accepted, None).status == "new"
    assert classify(copy.deepcopy(accepted), accepted).status == "identical"

    changed = classify(_record(tmp_path, value=2.0, epochs=8), accepted)
    assert changed.status == "changed" and changed.causes == ["params.epochs 5 → 8"]
    assert changed.outputs[0]["output"] == "weights"

    other_env = _record(tmp_path, value=2.0)
    other_env["environment"]["packages"]["tensorflow"] = "0.0.1"
    drifted = classify(other_env, accepted)
    assert drifted.status == "drifted"
    assert any(line.startswith("environment.packages.tensorflow ") for line in drifted.environment)

    diverged = classify(_record(tmp_path, value=2.0), accepted)
    assert diverged.status == "diverged" and not diverged.causes and not diverged.environment
    assert diverged.first_epoch == 3


def test_deep_diff_names_leaves_and_set_differences():
    flags = [f"f{i}" for i in range(10)]
    assert deep_diff({"a": {"b": 1}}, {"a": {"b": 2}}, "params") == ["params.a.b 1 → 2"]
    assert deep_diff({"x": 1}, {}, "p") == ["p.x removed (was 1)"]
    assert deep_diff(flags, flags[:-1] + ["avx9"], "cpu.flags") == ["cpu.flags -f9 +avx9"]


def _write_record(tmp_path, rec, name):
    path = tmp_path / f"{name}.record.json"
    fileio.write_json(path, rec)
    return path


def test_verify_adds_new_steps_then_keeps_the_lock_unchanged(tmp_path):
    rec_path = _write_record(tmp_path, _record(tmp_path), "a")
    lock_path = tmp_path / "samebits.lock"
    first = verify([rec_path], lock_path)
    assert first.ok and first.counts["new"] == 1 and first.lock_action == "updated"
    text = lock_path.read_text()
    second = verify([rec_path], lock_path)
    assert second.counts["identical"] == 1 and second.lock_action == "unchanged"
    assert lock_path.read_text() == text
    assert "1/1 steps identical" in second.lines()[0]


def test_verify_never_writes_the_lock_when_a_step_diverged(tmp_path):
    lock_path = tmp_path / "samebits.lock"
    a = _write_record(tmp_path, _record(tmp_path), "a")
    verify([a], lock_path)
    before = lock_path.read_bytes()
    # one step diverges, another is new: nothing at all is written
    diverged = _write_record(tmp_path, _record(tmp_path, value=3.0), "a")
    other = _record(tmp_path, value=4.0)
    other["id"] = records.step_id("train", "cnn", 0)
    new = _write_record(tmp_path, records.seal(other), "b")
    result = verify([diverged, new], lock_path, out_json=tmp_path / "v.json", out_md=tmp_path / "v.md")
    assert not result.ok
    assert lock_path.read_bytes() == before
    assert "kept as it was" in result.lock_action
    assert json.loads((tmp_path / "v.json").read_text())["counts"]["diverged"] == 1
    assert "| train | mlp | 0 | diverged |" in (tmp_path / "v.md").read_text()


def test_lock_round_trip_stores_environments_once(tmp_path):
    lk = lockmod.empty()
    a, b = _record(tmp_path), _record(tmp_path, value=2.0)
    b["id"] = "train/mlp/seed=1"
    lk.put(a)
    lk.put(b)
    assert len(lk.environments) == 1
    lockmod.write(tmp_path / "l", lk)
    again = lockmod.read(tmp_path / "l")
    entry = again.entry(a["id"])
    assert entry["environment"] == a["environment"]
    assert "run" not in entry


@pytest.mark.parametrize(
    "text, match",
    [
        ("{not json", "not valid JSON"),
        ("[]", "must be a JSON object"),
        ('{"steps": {}}', "no 'schema' field"),
        ('{"schema": 99, "steps": {}, "environments": {}}', "schema 99 is not supported"),
        ('{"schema": 1, "environments": {}}', "'steps' is missing"),
        ('{"schema": 1, "environments": {}, "steps": {"x": {"environment": "e"}}}', "names environment 'e'"),
    ],
)
def test_unreadable_locks_are_errors_that_name_the_problem_and_are_left_alone(tmp_path, text, match):
    lock_path = tmp_path / "samebits.lock"
    lock_path.write_text(text)
    rec = _write_record(tmp_path, _record(tmp_path), "a")
    with pytest.raises(LockError, match=match) as info:
        verify([rec], lock_path)
    assert str(lock_path) in str(info.value)
    assert lock_path.read_text() == text


def test_a_record_edited_after_its_step_is_refused_by_name(tmp_path):
    from samebits.errors import RecordError

    path = _write_record(tmp_path, _record(tmp_path), "a")
    doc = json.loads(path.read_text())
    doc["params"]["epochs"] = 50
    path.write_text(json.dumps(doc))
    lock_path = tmp_path / "samebits.lock"
    with pytest.raises(RecordError, match="a.record.json: the record was changed after its step wrote it"):
        verify([path], lock_path)
    assert not lock_path.exists()
