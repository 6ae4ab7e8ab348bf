import json
import os

import numpy as np
import pytest

from samebits.core import fileio, hashing
from samebits.provenance import ondisk, records
from samebits.provenance.identity import identify


@pytest.fixture
def step(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fileio.write_npz("in.npz", {"x": np.arange(4)})
    fileio.write_npz("out.npz", {"y": np.ones(3)})
    step = identify(step="train", experiment="e", seed=0, input_files={"split": "in.npz"}, params={}, determinism={})
    rec = records.make(step, outputs={"weights": "out.npz"})
    fileio.write_json("train.record.json", rec)
    return rec


def _rewrite_keeping_mtime(path, arrays):
    st = os.stat(path)
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_untouched_files_are_not_even_rehashed(step, monkeypatch):
    monkeypatch.setattr(hashing, "hash_output", lambda p: pytest.fail(f"re-hashed {p}"))
    assert ondisk.check(step) == {"stale": [], "tampered": []}


def test_content_change_with_mtime_put_back_is_found(step):
    _rewrite_keeping_mtime("in.npz", {"x": np.arange(4)[::-1]})
    _rewrite_keeping_mtime("out.npz", {"y": np.zeros(3)})
    found = ondisk.check(step)
    assert [s["name"] for s in found["stale"]] == ["split"]
    assert [s["name"] for s in found["tampered"]] == ["weights"]
    assert found["tampered"][0]["expected"] == step["outputs"]["weights"]["sha256"]


def test_same_content_rewritten_is_fine(step):
    _rewrite_keeping_mtime("in.npz", {"x": np.arange(4)})
    assert ondisk.check(step) == {"stale": [], "tampered": []}


def test_find_stale_names_the_step_and_removes_nothing(step, tmp_path):
    _rewrite_keeping_mtime("in.npz", {"x": np.arange(4) + 1})
    found = ondisk.find_stale(["train.record.json"])
    assert found == {"train.record.json": "train/e/seed=0: input split (in.npz) changed since the step ran"}
    assert (tmp_path / "train.record.json").exists()


def test_an_edited_record_is_kept_for_verify_to_name(step, tmp_path):
    doc = json.loads((tmp_path / "train.record.json").read_text())
    doc["params"]["epochs"] = 9  # its digest no longer matches
    (tmp_path / "train.record.json").write_text(json.dumps(doc))
    _rewrite_keeping_mtime("in.npz", {"x": np.arange(4) + 1})
    assert ondisk.find_stale(["train.record.json"]) == {}


INDEX = ondisk.INDEX


def _no_reading(monkeypatch):
    monkeypatch.setattr(records, "read", lambda *a, **k: pytest.fail("record parsed"))
    monkeypatch.setattr(hashing, "hash_output", lambda p: pytest.fail(f"re-hashed {p}"))


def test_index_spares_parsing_an_untouched_tree(step, monkeypatch):
    assert ondisk.find_stale(["train.record.json"], index=INDEX) == {}
    entry = json.loads(open(INDEX).read())["records"]["train.record.json"]
    assert "in.npz" in entry and "out.npz" in entry
    with monkeypatch.context() as m:
        _no_reading(m)
        assert ondisk.find_stale(["train.record.json"], index=INDEX) == {}


def test_index_does_not_hide_a_change_with_mtime_put_back(step, tmp_path):
    assert ondisk.find_stale(["train.record.json"], index=INDEX) == {}
    _rewrite_keeping_mtime("in.npz", {"x": np.arange(4) + 1})  # the ctime moves
    found = ondisk.find_stale(["train.record.json"], index=INDEX)
    assert "input split (in.npz) changed" in found["train.record.json"]


def test_a_copied_tree_is_hashed_once_then_indexed(step, tmp_path, monkeypatch):
    # a copy (cp -a, rsync -t) keeps mtimes but not ctimes: the record's stats no longer vouch
    for name in ("in.npz", "out.npz"):
        data = (tmp_path / name).read_bytes()
        st = os.stat(name)
        (tmp_path / name).unlink()
        (tmp_path / name).write_bytes(data)
        os.utime(name, ns=(st.st_atime_ns, st.st_mtime_ns))
    hashed = []
    real = hashing.hash_output
    monkeypatch.setattr(hashing, "hash_output", lambda p: hashed.append(p) or real(p))
    assert ondisk.find_stale(["train.record.json"], index=INDEX) == {}
    assert sorted(hashed) == ["in.npz", "out.npz"]
    with monkeypatch.context() as m:
        _no_reading(m)
        assert ondisk.find_stale(["train.record.json"], index=INDEX) == {}


@pytest.mark.parametrize(
    "junk",
    [
        "",
        "{not json",
        '{"version": 1, "records": []}',
        '{"version": 1, "records": {"train.record.json": [1]}}',
        '{"version": 1, "records": {"train.record.json": "1,2,3"}}',
    ],
)
def test_a_broken_index_is_only_a_miss(step, tmp_path, junk):
    os.makedirs(os.path.dirname(INDEX))
    (tmp_path / INDEX).write_text(junk)
    _rewrite_keeping_mtime("out.npz", {"y": np.zeros(3)})
    found = ondisk.find_stale(["train.record.json"], index=INDEX)
    assert "output weights (out.npz) changed" in found["train.record.json"]


def test_a_rewritten_record_is_read_again(step, tmp_path, monkeypatch):
    assert ondisk.find_stale(["train.record.json"], index=INDEX) == {}
    fileio.write_json("train.record.json", step)  # the step ran again: new record, new stat
    read = []
    real = records.read
    monkeypatch.setattr(records, "read", lambda p, **k: read.append(str(p)) or real(p, **k))
    assert ondisk.find_stale(["train.record.json"], index=INDEX) == {}
    assert read == ["train.record.json"]
