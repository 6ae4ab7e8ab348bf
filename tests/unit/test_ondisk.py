import os

import numpy as np
import pytest

from samebits import fileio, ondisk, records


@pytest.fixture
def step(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fileio.write_npz("in.npz", {"x": np.arange(4)})
    fileio.write_npz("out.npz", {"y": np.ones(3)})
    rec = records.make(
        step="train",
        experiment="e",
        seed=0,
        outputs={"weights": "out.npz"},
        input_files={"split": "in.npz"},
        params={},
        determinism={},
    )
    fileio.write_json("train.record.json", rec)
    return rec


def _rewrite_keeping_mtime(path, arrays):
    st = os.stat(path)
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_untouched_files_are_not_even_rehashed(step, monkeypatch):
    monkeypatch.setattr(ondisk, "hash_output", lambda p: pytest.fail(f"re-hashed {p}"))
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


def test_invalidate_removes_the_record_and_the_marker_but_not_in_a_dry_run(step, tmp_path):
    (tmp_path / "verified.ok").write_text("ok")
    _rewrite_keeping_mtime("in.npz", {"x": np.arange(4) + 1})
    msgs = ondisk.invalidate_stale(["train.record.json"], marker="verified.ok", dry_run=True)
    assert msgs and "would rerun" in msgs[0] and (tmp_path / "train.record.json").exists()
    msgs = ondisk.invalidate_stale(["train.record.json"], marker="verified.ok")
    assert "train/e/seed=0: input split (in.npz) changed" in msgs[0]
    assert not (tmp_path / "train.record.json").exists() and not (tmp_path / "verified.ok").exists()


@pytest.mark.parametrize(
    "argv, runs",
    [
        (["snakemake", "--cores", "1"], True),
        (["snakemake", "-n"], False),
        (["snakemake", "-pn"], False),
        (["snakemake", "--dry-run"], False),
        (["snakemake", "--lint"], False),
        (["snakemake", "--report=r.html"], False),
        (["snakemake", "--forceall", "-c1"], True),
    ],
)
def test_only_real_runs_remove_records(argv, runs):
    assert ondisk.executing(argv) is runs
