"""``samebits diff``: two synthetic result trees, built with the real record writer, compared."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from samebits.core import fileio
from samebits.core.errors import SamebitsError
from samebits.diagnostics.treediff import diff_trees, format_table
from samebits.provenance import records
from samebits.provenance.identity import identify

F32 = np.float32
EPOCHS = ["sha256:e1", "sha256:e2", "sha256:e3", "sha256:e4"]


def _weights() -> dict[str, np.ndarray]:
    return {
        "dense/kernel": np.linspace(-1.0, 1.0, 12, dtype=F32).reshape(3, 4),
        "dense/bias": np.array([0.5, -0.25, 0.125, 0.0], dtype=F32),
        "steps": np.array([3, 7], dtype=np.int64),
    }


def _metrics() -> dict:
    return {"loss": 0.1302501302329804, "accuracy": 0.97, "n": 360, "name": "mlp"}


def build(root: Path, *, weights=None, metrics=None, epochs=None, drop=()) -> Path:
    """Write a small results tree under ``root/results``, as the workflow lays it out.

    Records are made from ``root`` with paths that start with ``results/``, like the
    workflow's, so the diff has to find outputs beside their records.
    """
    weights = _weights() if weights is None else weights
    metrics = _metrics() if metrics is None else metrics
    epochs = EPOCHS if epochs is None else epochs
    root.mkdir(parents=True)
    with contextlib.chdir(root):
        split = Path("results/splits/toy/seed0")
        run = Path("results/experiments/mlp/seed0")
        fileio.write_npz(split / "split.npz", {"train": np.arange(8), "test": np.arange(8, 10)})
        fileio.write_npz(run / "weights.npz", weights)
        fileio.write_bytes(run / "model.keras", b"not really a keras file")
        fileio.write_json(run / "metrics.json", metrics)
        steps = [
            ("split", "toy", split, {"split": split / "split.npz"}, {}),
            (
                "train",
                "mlp",
                run,
                {"weights": run / "weights.npz", "model": run / "model.keras"},
                {"epoch_weights": list(epochs)},
            ),
            ("evaluate", "mlp", run, {"metrics": run / "metrics.json"}, {}),
        ]
        for step, experiment, where, outputs, trace in steps:
            if f"{step}/{experiment}/seed=0" in drop:
                continue
            identity = identify(step=step, experiment=experiment, seed=0, inputs={}, params={}, determinism={})
            rec = records.make(identity, outputs=outputs, trace=trace)
            fileio.write_json(where / f"{step}.record.json", rec)
    return root / "results"


def bumped(name: str, index: tuple[int, ...], value) -> dict[str, np.ndarray]:
    """The default weights with one element of one array replaced."""
    w = _weights()
    w[name] = w[name].copy()
    w[name][index] = value
    return w


def step(result: dict, sid: str) -> dict:
    (found,) = [s for s in result["steps"] if s["id"] == sid]
    return found


def only_array(result: dict) -> dict:
    """The one differing array of the whole result (fails if there is not exactly one)."""
    arrays = [(s["id"], o["output"], a) for s in result["steps"] for o in s["outputs"] for a in o["arrays"]]
    assert len(arrays) == 1, arrays
    sid, output, arr = arrays[0]
    assert (sid, output) == ("train/mlp/seed=0", "weights")
    return arr


def test_identical_trees(tmp_path):
    result = diff_trees(build(tmp_path / "a"), build(tmp_path / "b"))
    assert result["identical"] is True
    assert [s["id"] for s in result["steps"]] == ["evaluate/mlp/seed=0", "split/toy/seed=0", "train/mlp/seed=0"]
    assert all(s["status"] == "identical" and s["outputs"] == [] and s["first_epoch"] is None for s in result["steps"])
    assert format_table(result).splitlines()[2] == "A and B are identical: 3 steps"


def test_one_ulp_bump_is_reported_for_that_tensor_only(tmp_path):
    old = _weights()["dense/kernel"][1, 2]
    new = np.nextafter(old, F32(np.inf))
    a = build(tmp_path / "a")
    b = build(tmp_path / "b", weights=bumped("dense/kernel", (1, 2), new))
    result = diff_trees(a, b)

    assert result["identical"] is False
    assert step(result, "train/mlp/seed=0")["status"] == "different"
    assert step(result, "split/toy/seed=0")["status"] == "identical"
    assert step(result, "evaluate/mlp/seed=0")["status"] == "identical"
    # The model file and the other arrays of weights.npz are the same: not listed.
    assert [o["output"] for o in step(result, "train/mlp/seed=0")["outputs"]] == ["weights"]
    arr = only_array(result)
    assert arr["name"] == "dense/kernel"
    assert arr["max_abs"] == float(np.spacing(old))  # one step up from a positive float
    assert arr["max_ulp"] == 1
    assert (arr["n_differ"], arr["size"], arr["note"]) == (1, 12, None)
    json.dumps(result, allow_nan=False)  # strict JSON

    table = format_table(result)
    assert "1 of 3 steps differ" in table
    line = next(ln for ln in table.splitlines() if "dense/kernel" in ln)
    assert re.fullmatch(r"train/mlp/seed=0\s+weights\s+dense/kernel\s+max\|Δ\| \S+\s+max ULP 1\s+1/12 differ", line)
    assert "dense/bias" not in table


@pytest.mark.parametrize("old, new", [(0.75, 0.76), (-0.75, -0.5), (1.0, 1.0e30)])
def test_larger_change_same_sign(tmp_path, old, new):
    # Within one sign, float32 bit patterns read as integers count ULPs (sign-magnitude).
    old, new = F32(old), F32(new)
    expected_ulp = abs(int(new.view(np.int32)) - int(old.view(np.int32)))
    a = build(tmp_path / "a", weights=bumped("dense/bias", (1,), old))
    b = build(tmp_path / "b", weights=bumped("dense/bias", (1,), new))
    arr = only_array(diff_trees(a, b))
    assert arr["name"] == "dense/bias"
    assert arr["max_ulp"] == expected_ulp > 1
    assert arr["max_abs"] == abs(float(new) - float(old))
    assert (arr["n_differ"], arr["size"]) == (1, 4)


def _float_steps_from_zero(x: np.floating) -> int:
    # |x| in ULPs counted from zero: the magnitude bits, i.e. the pattern without its sign bit.
    width = x.dtype.itemsize * 8
    return int(np.abs(x).view(f"u{x.dtype.itemsize}")) & ((1 << (width - 1)) - 1)


@pytest.mark.parametrize(
    "dtype, old, new",
    [
        (np.float32, "-0.0", "tiny"),  # -0.0 and +0.0 are one point: one step to the subnormal
        (np.float32, "-tiny", "tiny"),  # -tiny, 0, +tiny
        (np.float32, "-1.0", "1.0"),
        (np.float64, "-tiny", "tiny"),
        (np.float64, "-1e100", "1e100"),  # more than 2**63 ULPs apart: would overflow int64
        (np.float16, "-1.0", "0.5"),
    ],
)
def test_ulp_across_zero(tmp_path, dtype, old, new):
    info = np.finfo(dtype)
    named = {"tiny": info.smallest_subnormal}

    def value(text):
        sign = -1 if text.startswith("-") else 1
        body = text.lstrip("-")
        return dtype(sign * named[body]) if body in named else dtype(float(text))

    x, y = value(old), value(new)
    expected = _float_steps_from_zero(x) + _float_steps_from_zero(y)  # x <= 0 <= y
    w = {"t": np.array([x, dtype(2.0)])}
    a = build(tmp_path / "a", weights=w)
    b = build(tmp_path / "b", weights={"t": np.array([y, dtype(2.0)])})
    arr = only_array(diff_trees(a, b))
    assert arr["max_ulp"] == expected
    assert arr["n_differ"] == 1
    if old == "-0.0":
        assert expected == 1
    if old == "-1e100":
        assert expected > 2**63


def test_sign_of_zero_and_nan(tmp_path):
    a = build(tmp_path / "a", weights={"t": np.array([0.0, 1.0, np.nan, 4.0], dtype=F32)})
    b = build(tmp_path / "b", weights={"t": np.array([-0.0, 1.0, 3.0, 4.0], dtype=F32)})
    arr = only_array(diff_trees(a, b))
    # Both differ in their bits; the NaN one has no distance, the zeros are 0 ULP apart.
    assert (arr["n_differ"], arr["max_ulp"], arr["max_abs"]) == (2, 0, 0.0)
    assert "1 differing element(s) involve NaN" in arr["note"]


def test_integer_arrays_exact_distance(tmp_path):
    lo, hi = np.iinfo(np.int64).min, np.iinfo(np.int64).max
    a = build(tmp_path / "a", weights={"i": np.array([lo, 5, 9], dtype=np.int64)})
    b = build(tmp_path / "b", weights={"i": np.array([hi, 5, 7], dtype=np.int64)})
    arr = only_array(diff_trees(a, b))
    assert arr["max_ulp"] == 2**64 - 1  # not wrapped
    assert arr["max_abs"] == float(2**64 - 1)
    assert arr["n_differ"] == 2


def test_shape_dtype_and_missing_arrays_are_named_without_numbers(tmp_path):
    wa = {"same": np.ones(3, F32), "shape": np.ones(3, F32), "dtype": np.ones(3, F32), "gone": np.ones(2, F32)}
    wb = {"same": np.ones(3, F32), "shape": np.ones(4, F32), "dtype": np.ones(3, np.float64), "new": np.ones(2, F32)}
    result = diff_trees(build(tmp_path / "a", weights=wa), build(tmp_path / "b", weights=wb))
    (out,) = step(result, "train/mlp/seed=0")["outputs"]
    by_name = {arr["name"]: arr for arr in out["arrays"]}
    assert list(by_name) == ["dtype", "gone", "new", "shape"]  # sorted, "same" omitted
    assert by_name["gone"]["note"] == "only in A" and by_name["new"]["note"] == "only in B"
    assert "<f4" in by_name["dtype"]["note"] and "<f8" in by_name["dtype"]["note"]
    assert by_name["shape"]["note"] == "shape [3] in A, [4] in B"
    assert all(arr["max_abs"] is None and arr["max_ulp"] is None and arr["n_differ"] is None for arr in out["arrays"])


def test_metric_change(tmp_path):
    m = _metrics()
    loss_b = 0.1302503302329804
    a = build(tmp_path / "a")
    b = build(tmp_path / "b", metrics={**m, "loss": loss_b, "auc": 0.99})
    result = diff_trees(a, b)
    assert [s["id"] for s in result["steps"] if s["status"] != "identical"] == ["evaluate/mlp/seed=0"]
    (out,) = step(result, "evaluate/mlp/seed=0")["outputs"]
    assert out["output"] == "metrics" and out["arrays"] == []
    by_key = {n["key"]: n for n in out["numbers"]}
    assert set(by_key) == {"loss", "auc"}  # accuracy and n are unchanged
    assert by_key["loss"] == {"key": "loss", "a": m["loss"], "b": loss_b, "delta": loss_b - m["loss"]}
    assert by_key["auc"] == {"key": "auc", "a": None, "b": 0.99, "delta": None}

    table = format_table(result)
    assert re.search(r"evaluate/mlp/seed=0\s+metrics\s+loss\s+0\.1302501 → 0\.1302503 \(Δ 2e-07\)", table)
    assert re.search(r"metrics\s+auc\s+only in B \(0\.99\)", table)


def test_json_difference_outside_numbers_is_noted(tmp_path):
    a = build(tmp_path / "a")
    b = build(tmp_path / "b", metrics={**_metrics(), "name": "cnn"})
    (out,) = step(diff_trees(a, b), "evaluate/mlp/seed=0")["outputs"]
    assert out["numbers"] == [] and out["note"] == "differs outside its numeric values"


@pytest.mark.parametrize(
    "epochs_b, expected",
    [
        (EPOCHS, None),
        (EPOCHS[:2] + ["sha256:x3", "sha256:x4"], 3),
        (["sha256:x1"] + EPOCHS[1:], 1),
        (EPOCHS + ["sha256:e5"], len(EPOCHS) + 1),  # equal prefix, one more epoch
    ],
)
def test_first_epoch(tmp_path, epochs_b, expected):
    old = _weights()["dense/kernel"][0, 0]
    a = build(tmp_path / "a")
    b = build(tmp_path / "b", epochs=epochs_b, weights=bumped("dense/kernel", (0, 0), -old))
    result = diff_trees(a, b)
    assert step(result, "train/mlp/seed=0")["first_epoch"] == expected
    assert step(result, "evaluate/mlp/seed=0")["first_epoch"] is None
    lines = [ln for ln in format_table(result).splitlines() if "first diverging epoch" in ln]
    assert lines == ([] if expected is None else [f"train/mlp/seed=0  first diverging epoch {expected}"])


def test_steps_only_in_one_tree(tmp_path):
    a = build(tmp_path / "a")
    b = build(tmp_path / "b", drop=("split/toy/seed=0",))
    result = diff_trees(a, b)
    assert result["identical"] is False
    assert step(result, "split/toy/seed=0") == {
        "id": "split/toy/seed=0",
        "status": "only-in-a",
        "first_epoch": None,
        "outputs": [],
        "unrecorded": [],
    }
    assert step(diff_trees(b, a), "split/toy/seed=0")["status"] == "only-in-b"
    table = format_table(result)
    assert "1 of 3 steps differ" in table
    assert "split/toy/seed=0  only in A" in table


def test_missing_output_file_is_noted(tmp_path):
    a = build(tmp_path / "a")
    b = build(tmp_path / "b", weights=bumped("steps", (0,), 4))
    (b / "experiments/mlp/seed0/weights.npz").unlink()
    train = step(diff_trees(a, b), "train/mlp/seed=0")
    (out,) = train["outputs"]
    assert out["note"].startswith("file missing in B")
    assert [(u["side"], u["output"], u["found"]) for u in train["unrecorded"]] == [("B", "weights", None)]


def _rewrite(path: Path, arrays: dict) -> None:
    """Write new content over an output after its record was written (the record untouched)."""
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def test_a_file_changed_after_its_record_is_compared_by_its_content_and_named(tmp_path):
    a = build(tmp_path / "a")
    b = build(tmp_path / "b")
    old = _weights()["dense/kernel"][1, 2]
    _rewrite(b / "experiments/mlp/seed0/weights.npz", bumped("dense/kernel", (1, 2), np.nextafter(old, F32(np.inf))))
    result = diff_trees(a, b)
    assert result["identical"] is False
    train = step(result, "train/mlp/seed=0")
    assert train["status"] == "different"
    (bad,) = train["unrecorded"]
    assert (bad["side"], bad["output"]) == ("B", "weights") and bad["recorded"] != bad["found"]
    arr = only_array(result)  # the tensor-level diff of what is on disk
    assert (arr["name"], arr["max_ulp"], arr["n_differ"]) == ("dense/kernel", 1, 1)
    table = format_table(result)
    assert re.search(r"train/mlp/seed=0\s+weights\s+B: does not match its record \(recorded \w+, found \w+\)", table)
    # the same file changed the same way in both trees: equal content, but neither matches its record
    _rewrite(a / "experiments/mlp/seed0/weights.npz", bumped("dense/kernel", (1, 2), np.nextafter(old, F32(np.inf))))
    again = step(diff_trees(a, b), "train/mlp/seed=0")
    assert again["status"] == "different" and again["outputs"] == []
    assert sorted(u["side"] for u in again["unrecorded"]) == ["A", "B"]


def test_untouched_files_are_not_rehashed_and_a_copied_tree_is(tmp_path, monkeypatch):
    from samebits.diagnostics import treediff

    a, b = build(tmp_path / "a"), build(tmp_path / "b")
    real = treediff.hash_output
    with monkeypatch.context() as m:
        m.setattr(treediff, "hash_output", lambda p: pytest.fail(f"re-hashed {p}"))
        assert diff_trees(a, b)["identical"] is True
    copied = tmp_path / "copied"
    shutil.copytree(b, copied)  # mtimes kept (copy2), ctimes new: the records' stats no longer vouch
    hashed = []
    monkeypatch.setattr(treediff, "hash_output", lambda p: hashed.append(Path(p).name) or real(p))
    assert diff_trees(a, copied)["identical"] is True
    assert sorted(hashed) == ["metrics.json", "model.keras", "split.npz", "weights.npz"]


def test_bad_paths(tmp_path):
    good = build(tmp_path / "a")
    with pytest.raises(SamebitsError, match=re.escape(str(tmp_path / "nowhere"))):
        diff_trees(good, tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SamebitsError, match=r"empty: no step records"):
        diff_trees(tmp_path / "empty", good)
