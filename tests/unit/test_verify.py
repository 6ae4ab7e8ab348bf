"""Statuses, lock policy and lock validation, on records built in memory (no TensorFlow)."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from samebits.core import fileio
from samebits.core.differences import deep_diff
from samebits.core.errors import LockError, RecordError, SamebitsError
from samebits.provenance import identity, ondisk, records, render
from samebits.provenance import lock as lockmod
from samebits.provenance.compare import classify
from samebits.provenance.verify import accept, verify

TOL = {"rtol": 1e-5, "atol": 1e-8}


def _record(tmp_path, name="train", value=1.0, epochs=5, **over):
    out = tmp_path / f"{name}-{value}.npz"
    fileio.write_npz(out, {"w": np.full((2, 2), value, dtype=np.float32)})
    step = identity.identify(
        step="train",
        experiment="mlp",
        seed=0,
        inputs={"split": "sha256:" + "1" * 64},
        params={"epochs": epochs},
        determinism={"intra_op_threads": 1},
    )
    rec = records.make(
        step, outputs={"weights": out}, trace={"epoch_weights": ["sha256:a", "sha256:b", f"sha256:{value}"]}
    )
    rec.update(over)
    return records.seal(rec)


def test_statuses(tmp_path):
    accepted = _record(tmp_path)
    assert classify(accepted, None, **TOL).status == "new"
    assert classify(copy.deepcopy(accepted), accepted, **TOL).status == "identical"

    changed = classify(_record(tmp_path, value=2.0, epochs=8), accepted, **TOL)
    assert changed.status == "changed" and [str(c) for c in changed.causes] == ["params.epochs 5 → 8"]
    (cause,) = changed.causes
    assert (cause.section, cause.path, cause.old, cause.new, cause.deciding) == (
        "params",
        ("params", "epochs"),
        5,
        8,
        True,
    )
    assert changed.outputs[0]["output"] == "weights"

    other_env = _record(tmp_path, value=2.0)
    other_env["environment"]["packages"]["tensorflow"] = "0.0.1"
    drifted = classify(other_env, accepted, **TOL)
    assert drifted.status == "drifted"
    assert any(d.path == ("environment", "packages", "tensorflow") and d.deciding for d in drifted.environment)

    diverged = classify(_record(tmp_path, value=2.0), accepted, **TOL)
    assert diverged.status == "diverged" and not diverged.causes and not diverged.environment
    assert diverged.first_epoch == 3 and diverged.epoch_weights[1][2] == "sha256:2.0"
    moved = {m["label"]: m for m in diverged.deltas}  # 2x2 float32 arrays of 1.0, then of 2.0
    assert moved["weights w sum"] | {"within": None} == {
        "label": "weights w sum", "old": 4.0, "new": 8.0, "delta": 4.0, "ulps": 2**52, "ulp_of": "float64",
        "within": None,
    }  # fmt: skip
    assert (moved["weights w max"]["ulps"], moved["weights w max"]["ulp_of"]) == (2**23, "float32")
    assert render.stat_text(moved["weights w max"]) == (
        "weights w max 1 → 2 (Δ 1, 8,388,608 ULP of float32) beyond tolerance"
    )

    edited = classify(copy.deepcopy(accepted), accepted, **TOL, edited="its seal does not match")
    assert edited.status == "edited" and edited.failing and edited.edited == "its seal does not match"


def test_deep_diff_names_leaves_and_set_differences():
    flags = [f"f{i}" for i in range(10)]
    assert [str(d) for d in deep_diff({"a": {"b": 1}}, {"a": {"b": 2}}, ("params",))] == ["params.a.b 1 → 2"]
    assert [str(d) for d in deep_diff({"x": 1}, {}, ("p",))] == ["p.x removed (was 1)"]
    (flag,) = deep_diff(flags, flags[:-1] + ["avx9"], ("cpu", "flags"))
    assert str(flag) == "cpu.flags -f9 +avx9" and flag.as_dict()["path"] == "cpu.flags"
    assert [str(d) for d in deep_diff(flags, flags[::-1], ("f",))] == ["f reordered"]


def _write_record(tmp_path, rec, name):
    path = tmp_path / f"{name}.record.json"
    fileio.write_json(path, rec)
    return path


def test_verify_adds_new_steps_then_keeps_the_lock_unchanged(tmp_path):
    rec_path = _write_record(tmp_path, _record(tmp_path), "a")
    lock_path = tmp_path / "samebits.lock"
    first = verify([rec_path], lock_path, **TOL)
    assert first.ok and first.counts["new"] == 1 and first.lock_action == "updated (1 added, 0 updated)"
    text = lock_path.read_text()
    second = verify([rec_path], lock_path, **TOL)
    assert second.counts["identical"] == 1 and second.lock_action == "unchanged"
    assert lock_path.read_text() == text
    assert "1/1 steps identical" in render.terminal(second)[0]


def test_verify_leaves_a_lock_alone_when_no_entry_changes(tmp_path):
    rec_path = _write_record(tmp_path, _record(tmp_path), "a")
    lock_path = tmp_path / "samebits.lock"
    verify([rec_path], lock_path, **TOL)
    reformatted = json.dumps(json.loads(lock_path.read_text()), indent=4)  # same content, other layout
    lock_path.write_text(reformatted)
    result = verify([rec_path], lock_path, **TOL)
    assert result.lock_action == "unchanged" and lock_path.read_text() == reformatted


def test_verify_never_writes_the_lock_when_a_step_diverged(tmp_path):
    lock_path = tmp_path / "samebits.lock"
    a = _write_record(tmp_path, _record(tmp_path), "a")
    verify([a], lock_path, **TOL)
    before = lock_path.read_bytes()
    # one step diverges, another is new: nothing at all is written
    diverged = _write_record(tmp_path, _record(tmp_path, value=3.0), "a")
    other = _record(tmp_path, value=4.0)
    other["id"] = identity.step_id("train", "cnn", 0)
    new = _write_record(tmp_path, records.seal(other), "b")
    result = verify([diverged, new], lock_path, **TOL)
    assert not result.ok
    assert lock_path.read_bytes() == before
    assert "kept as it was" in result.lock_action
    assert render.as_json(result)["counts"]["diverged"] == 1
    assert "| train | mlp | 0 | diverged |" in render.markdown(result)


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
    assert "run" not in entry and entry["seal"].startswith("sha256:")
    assert again.edited(a["id"]) is None and again.edited(b["id"]) is None


@pytest.mark.parametrize(
    "text, match",
    [
        ("{not json", "not valid JSON"),
        ("[]", "must be a JSON object"),
        ('{"steps": {}}', "no 'schema' field"),
        ('{"schema": 99, "steps": {}, "environments": {}}', "schema 99 is not the one this samebits reads"),
        ('{"schema": 1, "steps": {}, "environments": {}}', "samebits rebuild-lock --yes"),
        ('{"schema": 2, "environments": {}}', "'steps' is missing"),
        ('{"schema": 2, "environments": {}, "steps": {"x": {"environment": "e"}}}', "names environment 'e'"),
        # found by fuzzing: each raised a raw exception
        (b'{"schema": 2\xff}', "byte 12 is not UTF-8"),
        ('{"schema": ' + "9" * 5000 + "}", "a value cannot be read"),
        ("[" * 100_000, "nests deeper than Python follows"),
        ('{"schema": 2, "environments": {"e": "\\ud800"}, "steps": {}}', "not Unicode"),
        ('{"schema": 2, "environments": {"e": []}, "steps": {}}', "environment 'e' is not an object"),
        ('{"schema": 2, "environments": {}, "steps": {"x": {"environment": ["e"]}}}', "names environment"),
    ],
)
def test_unreadable_locks_are_errors_that_name_the_problem_and_are_left_alone(tmp_path, text, match):
    lock_path = tmp_path / "samebits.lock"
    data = text if isinstance(text, bytes) else text.encode()
    lock_path.write_bytes(data)
    rec = _write_record(tmp_path, _record(tmp_path), "a")
    with pytest.raises(LockError, match=match) as info:
        verify([rec], lock_path, **TOL)
    assert str(lock_path) in str(info.value)
    assert lock_path.read_bytes() == data


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda d: d.update(inputs=[]), "field 'inputs' must be an object of inputs, not \\[\\]"),
        (lambda d: d.update(run=[]), "field 'run' must be an object"),
        (lambda d: d.update(seed="0"), "field 'seed' must be a seed"),
        (lambda d: d.update(seed=True), "field 'seed' must be a seed"),
        (lambda d: d.update(environment=None), "field 'environment' must be an object"),
        (lambda d: d.update(id=5), "field 'id' must be a step id"),
        (lambda d: d.update(step=None), "field 'step' must be a step name"),
        (lambda d: d["outputs"]["weights"].pop("path"), "output 'weights' has no path"),
        (lambda d: d["outputs"]["weights"].update(path=0), "output 'weights' has no path"),
        (lambda d: d["inputs"].update(data={"path": 0, "sha256": "sha256:0"}), "input 'data' has a path that is not"),
        (lambda d: d["inputs"].update(data=[1]), "input 'data' must be a checksum or an object"),
        (lambda d: d["run"].update(files={"a": "b"}), "'run.files' must map paths to their stats"),
    ],
)
def test_a_malformed_record_is_refused_naming_the_field_even_with_a_true_digest(tmp_path, change, match):
    rec = _record(tmp_path)
    change(rec)
    path = _write_record(tmp_path, records.seal(rec), "a")
    with pytest.raises(RecordError, match=match):
        records.read(path)
    assert ondisk.find_stale([path]) == {}  # the workflow's start skips it: verify names it
    with pytest.raises(RecordError, match=match):
        verify([path], tmp_path / "samebits.lock", **TOL)
    assert not (tmp_path / "samebits.lock").exists()


def test_a_record_whose_input_is_a_data_folder_is_read_and_verified(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the folder's content cache is kept under .snakemake/ here
    folder = tmp_path / "shapes" / "circle"
    folder.mkdir(parents=True)
    (folder / "a.png").write_bytes(b"not decoded here")
    out = tmp_path / "w.npz"
    fileio.write_npz(out, {"w": np.zeros(2, dtype=np.float32)})
    step = identity.identify(
        step="evaluate",
        experiment="cnn",
        seed=0,
        input_files={"data": tmp_path / "shapes"},
        inputs={"dataset": {"sha256": "0" * 64, "source": "shapes/"}},  # a data set's checksum is bare hex
        params={},
        determinism={},
    )
    assert not step.inputs["data"]["sha256"].startswith("sha256:")  # a folder's content checksum
    path = _write_record(tmp_path, records.make(step, outputs={"weights": out}), "a")
    assert records.read(path)["inputs"]["data"] == step.inputs["data"]
    assert verify([path], tmp_path / "samebits.lock", **TOL).ok


def test_a_record_whose_input_is_a_device_is_not_read(tmp_path):
    rec = _record(tmp_path)
    rec["inputs"]["data"] = {"path": "/dev/zero", "sha256": "sha256:" + "0" * 64}
    rec["run"]["files"].pop("/dev/zero", None)
    path = _write_record(tmp_path, records.seal(rec), "a")
    (message,) = ondisk.find_stale([path]).values()  # returns: /dev/zero is never read
    assert "input data (/dev/zero)" in message
    assert ondisk.check(rec)["stale"][0]["found"] == "unreadable (not a regular file)"


def test_an_edited_entry_of_a_step_this_run_does_not_have_is_refused_and_the_lock_kept(tmp_path):
    ours, other = _record(tmp_path), _record(tmp_path, value=2.0)
    other["id"] = "train/mlp/seed=1"
    lock_path = tmp_path / "samebits.lock"
    lk = lockmod.empty()
    lk.put(ours)
    lk.put(other)
    lockmod.write(lock_path, lk)
    edited = _edit(lock_path, lambda d: d["steps"]["train/mlp/seed=1"]["params"].update(epochs=1))
    rec_path = _write_record(tmp_path, _record(tmp_path, value=3.0, epochs=6), "a")  # changed: would rewrite
    with pytest.raises(LockError, match="the entry of train/mlp/seed=1 .* was edited by hand: its seal"):
        verify([rec_path], lock_path, **TOL)
    assert lock_path.read_bytes() == edited


def test_a_record_edited_after_its_step_is_refused_by_name(tmp_path):
    path = _write_record(tmp_path, _record(tmp_path), "a")
    doc = json.loads(path.read_text())
    doc["params"]["epochs"] = 50
    path.write_text(json.dumps(doc))
    lock_path = tmp_path / "samebits.lock"
    with pytest.raises(RecordError, match="a.record.json: the record was changed after its step wrote it"):
        verify([path], lock_path, **TOL)
    assert not lock_path.exists()


def _edit(lock_path, change):
    doc = json.loads(lock_path.read_text())
    change(doc)
    lock_path.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    return lock_path.read_bytes()


@pytest.mark.parametrize(
    "change, why",
    [
        (lambda d: d["steps"]["train/mlp/seed=0"]["outputs"]["weights"].update(sha256="sha256:" + "0" * 64), "seal"),
        (lambda d: d["steps"]["train/mlp/seed=0"].pop("seal"), "no seal"),
        (lambda d: next(iter(d["environments"].values()))["packages"].update(tensorflow="2.20.0"), "environment"),
    ],
    ids=["one-checksum", "seal-removed", "environment"],
)
def test_a_lock_entry_edited_by_hand_is_reported_as_edited_and_the_lock_is_kept(tmp_path, change, why):
    rec_path = _write_record(tmp_path, _record(tmp_path), "a")
    lock_path = tmp_path / "samebits.lock"
    verify([rec_path], lock_path, **TOL)
    edited = _edit(lock_path, change)
    result = verify([rec_path], lock_path, **TOL)
    (outcome,) = result.outcomes
    assert outcome.status == "edited" and not result.ok and why in outcome.edited
    assert lock_path.read_bytes() == edited
    screen = "\n".join(render.terminal(result))
    assert "EDITED    train/mlp/seed=0" in screen and "the lock entry was edited by hand" in screen
    assert "samebits accept --step train" in screen


def test_accept_is_the_way_to_replace_an_edited_entry_and_reseals_it(tmp_path):
    rec_path = _write_record(tmp_path, _record(tmp_path), "a")
    lock_path = tmp_path / "samebits.lock"
    verify([rec_path], lock_path, **TOL)
    _edit(lock_path, lambda d: d["steps"]["train/mlp/seed=0"]["params"].update(epochs=99))
    with pytest.raises(SamebitsError, match="needs a reason"):
        accept([rec_path], lock_path, reason=" ", everything=True, **TOL)
    (taken,) = accept([rec_path], lock_path, reason="restored by hand", everything=True, **TOL)
    assert taken.status == "edited"
    entry = json.loads(lock_path.read_text())["steps"]["train/mlp/seed=0"]
    assert entry["accepted"] == {"reason": "restored by hand", "status": "edited"} and entry["params"]["epochs"] == 5
    assert verify([rec_path], lock_path, **TOL).counts["identical"] == 1
