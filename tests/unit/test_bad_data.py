"""A broken data file is a clear error of the split step, naming the file and what is wrong,
and leaves no output behind (in-process: the split step never imports TensorFlow)."""

from __future__ import annotations

import numpy as np
import pytest

from samebits.core.errors import DataError
from samebits.ml.steps import split


def _csv(rows):
    return "\n".join(rows) + "\n"


def _good_rows(n=40):
    return ["a,b,label"] + [f"{i % 7}.5,{i % 3},{'xyz'[i % 3]}" for i in range(n)]


BAD_DATA = [
    # (id, file name, writer, words)
    ("missing-file", "absent.csv", None, ["data/absent.csv", "does not exist"]),
    ("empty-file", "d.csv", lambda p: p.write_text(""), ["data/d.csv", "empty"]),
    ("header-only", "d.csv", lambda p: p.write_text("a,b,label\n"), ["data/d.csv", "no data rows"]),
    (
        "no-label-column",
        "d.csv",
        lambda p: p.write_text(_csv(["a,b,c", "1,2,3", "4,5,6"])),
        ["data/d.csv", "no label column 'label'", "a, b, c"],
    ),
    (
        "non-numeric",
        "d.csv",
        lambda p: p.write_text(_csv(_good_rows() + ["1,abc,x"])),
        ["data/d.csv", "line 42", "'abc' is not a number"],
    ),
    ("nan", "d.csv", lambda p: p.write_text(_csv(_good_rows() + ["nan,1,x"])), ["data/d.csv", "NaN or infinite"]),
    ("infinite", "d.csv", lambda p: p.write_text(_csv(_good_rows() + ["inf,1,x"])), ["data/d.csv", "NaN or infinite"]),
    (
        "ragged-row",
        "d.csv",
        lambda p: p.write_text(_csv(_good_rows() + ["1,2"])),
        ["data/d.csv", "line 42 has 2 fields"],
    ),
    (
        "one-class",
        "d.csv",
        lambda p: p.write_text(_csv(["a,label"] + [f"{i},x" for i in range(20)])),
        ["data/d.csv", "only one class"],
    ),
    (
        "class-too-small",
        "d.csv",
        lambda p: p.write_text(_csv(_good_rows() + ["1,1,lonely"])),
        ["data/d.csv", "stratified split", "smallest class has 1"],
    ),
    ("npz-without-y", "d.npz", lambda p: np.savez(p, X=np.ones((10, 2))), ["data/d.npz", "missing array(s) y"]),
    (
        "npz-lengths",
        "d.npz",
        lambda p: np.savez(p, X=np.ones((10, 2)), y=np.arange(9) % 2),
        ["data/d.npz", "X has 10 rows but y has 9"],
    ),
    (
        "npz-pickle",
        "d.npz",
        lambda p: np.savez(p, X=np.array([{"a": 1}] * 10, dtype=object), y=np.arange(10) % 2),
        ["data/d.npz", "pickle"],
    ),
    ("npz-not-a-zip", "d.npz", lambda p: p.write_bytes(b"not a zip file at all"), ["data/d.npz", "not a NPZ archive"]),
]


BAD_TASKS = [
    # (id, file name, writer, label, task, words)
    (
        "binary-with-three-classes",
        "d.csv",
        lambda p: p.write_text(_csv(_good_rows())),
        "label",
        "binary",
        ["data set 'mine' has task binary", "data/d.csv has 3 classes", "'x', 'y', 'z'", "task: multiclass"],
    ),
    (
        "regression-of-text",
        "d.csv",
        lambda p: p.write_text(_csv(_good_rows())),
        "label",
        "regression",
        ["data/d.csv", "label 'label' holds 'x'", "numeric targets"],
    ),
    (
        "two-label-columns-of-a-classification",
        "d.csv",
        lambda p: p.write_text(_csv(_good_rows())),
        ["a", "label"],
        None,
        ["data/d.csv", "holds 'x'", "several label columns make a regression", "numeric targets"],
    ),
]


@pytest.mark.parametrize("name, writer, words", [c[1:] for c in BAD_DATA], ids=[c[0] for c in BAD_DATA])
@pytest.mark.parametrize("label, task", [("label", None)])
def test_bad_data_is_a_clear_error_at_split_and_writes_nothing(tmp_path, monkeypatch, name, writer, words, label, task):
    _split_fails(tmp_path, monkeypatch, name, writer, words, label, task)


@pytest.mark.parametrize("name, writer, label, task, words", [c[1:] for c in BAD_TASKS], ids=[c[0] for c in BAD_TASKS])
def test_labels_unfit_for_the_task_are_a_clear_error_at_split(tmp_path, monkeypatch, name, writer, label, task, words):
    _split_fails(tmp_path, monkeypatch, name, writer, words, label, task)


def _split_fails(tmp_path, monkeypatch, name, writer, words, label, task):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    if writer is not None:
        writer(tmp_path / "data" / name)
    with pytest.raises(DataError) as info:
        split(
            "out/split.npz",
            "out/split.record.json",
            dataset="mine",
            source=f"data/{name}",
            seed=0,
            test_fraction=0.2,
            label=label,
            task=task,
            script=None,
        )
    for word in words:
        assert word in str(info.value), f"{word!r} not in: {info.value}"
    assert not (tmp_path / "out").exists()


def _png(path, size=(8, 8), mode="RGB", value=7):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, (size[1], size[0]), value if mode in ("L", "I;16") else (value,) * len(mode)).save(path)


def _folder(root, classes=("a", "b"), per_class=4, **image):
    for cls in classes:
        for i in range(per_class):
            _png(root / cls / f"{i}.png", **image)


def _truncated(root):
    from PIL import Image

    _folder(root)
    path = root / "b" / "2.png"
    noise = np.random.default_rng(0).integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
    Image.fromarray(noise).save(path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _not_an_image(root):
    _folder(root)
    (root / "a" / "notes.txt").write_text("not an image\n")


def _empty_class(root):
    _folder(root)
    (root / "c").mkdir()


def _mixed_channels(root):
    _folder(root)
    _png(root / "b" / "9.png", mode="L")


def _other_size(root):
    _folder(root)
    _png(root / "b" / "9.png", size=(8, 9))


BAD_IMAGES = [
    # (id, writer, words): each names the file (or folder) and what to do
    ("truncated", _truncated, ["data/shapes/b/2.png", "cannot be decoded", "truncated or damaged"]),
    ("not-an-image", _not_an_image, ["data/shapes/a/notes.txt", "not an image"]),
    ("empty-class-folder", _empty_class, ["data/shapes/c", "class folder is empty"]),
    ("single-class", lambda root: _folder(root, classes=("a",)), ["data/shapes", "only one class folder ('a')"]),
    (
        "mixed-channels",
        _mixed_channels,
        ["data/shapes/b/9.png", "1 channel(s) (mode L)", "data/shapes/a/0.png has 3", "set image.channels"],
    ),
    (
        "other-size",
        _other_size,
        ["data/shapes/b/9.png", "8x9 pixels", "data/shapes/a/0.png is 8x8", "set image.size: [height, width]"],
    ),
    (
        "sixteen-bit",
        lambda root: (_folder(root), _png(root / "a" / "9.png", mode="I;16", value=300)),
        ["data/shapes/a/9.png", "mode I;16", "8-bit"],
    ),
    ("no-class-folders", lambda root: _png(root / "x.png"), ["data/shapes", "no class subfolders", "x.png"]),
    ("missing-folder", None, ["data set 'mine'", "folder data/shapes/ does not exist"]),
]


@pytest.mark.parametrize("writer, words", [c[1:] for c in BAD_IMAGES], ids=[c[0] for c in BAD_IMAGES])
def test_a_bad_image_folder_is_a_clear_error_at_split_naming_the_file(tmp_path, monkeypatch, writer, words):
    monkeypatch.chdir(tmp_path)
    if writer is not None:
        writer(tmp_path / "data" / "shapes")
    with pytest.raises(DataError) as info:
        split(
            "results/splits/mine/seed0/split.npz",
            "results/splits/mine/seed0/split.record.json",
            dataset="mine",
            source="data/shapes/",
            seed=0,
            test_fraction=0.25,
            label="label",
            task=None,
            script=None,
        )
    for word in words:
        assert word in str(info.value), f"{word!r} not in: {info.value}"
    assert not (tmp_path / "results").exists(), sorted((tmp_path / "results").rglob("*"))
