"""A broken data file is a clear error of the split step, naming the file and what is wrong,
and leaves no output behind (in-process: the split step never imports TensorFlow)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from samebits.core.errors import DataError
from samebits.ml import data
from samebits.ml.steps import split
from tests.helpers import messages_on_the_page, page_row


def _csv(rows):
    return "\n".join(rows) + "\n"


def _good_rows(n=40):
    return ["a,b,label"] + [f"{i % 7}.5,{i % 3},{'xyz'[i % 3]}" for i in range(n)]


def _npz_member(path, name, array, compressed=False):
    """A NPZ file with X and y (10 rows) and ``array`` stored as member ``name``."""
    import io
    import zipfile

    members = {"X.npy": np.ones((10, 2)), "y.npy": np.arange(10) % 2}
    members[name] = array
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED) as zf:
        for member, value in members.items():
            buf = io.BytesIO()
            np.save(buf, value)
            zf.writestr(member, buf.getvalue())


def _damaged_npz(path, how):
    """A NPZ archive whose first member (X.npy) has a wrong CRC or a broken deflate stream."""
    if how == "crc":
        np.savez(path, X=np.ones((10, 2)), y=np.arange(10) % 2)
        data = bytearray(path.read_bytes())
        data[data.find(b"\x93NUMPY") + 200] ^= 0xFF  # a byte of X's values
    else:
        np.savez_compressed(path, X=np.ones((10, 2)), y=np.arange(10) % 2)
        data = bytearray(path.read_bytes())
        name, extra = int.from_bytes(data[26:28], "little"), int.from_bytes(data[28:30], "little")
        data[30 + name + extra] = 0xFF  # the deflate stream's first block: a reserved block type
    path.write_bytes(bytes(data))


def _lying_header(path):
    """X.npy whose header claims 10**13 rows but holds 10: refused before anything is allocated."""
    import io
    import zipfile

    x = io.BytesIO()
    np.lib.format.write_array_header_1_0(x, {"descr": "<f8", "fortran_order": False, "shape": (10**13, 2)})
    x.write(np.ones((10, 2)).tobytes())
    y = io.BytesIO()
    np.save(y, np.arange(10) % 2)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("X.npy", x.getvalue())
        zf.writestr("y.npy", y.getvalue())


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
    # found by fuzzing (tests/unit/test_fuzz_data.py): each was a raw exception or accepted silently
    (
        "not-utf8",
        "d.csv",
        lambda p: p.write_bytes(_csv(_good_rows()).encode() + b"1,2,caf\xe9\n"),
        ["data/d.csv", "line 42: byte 0xe9 at position 8 is not UTF-8 text", "must be UTF-8"],
    ),
    (
        "field-over-the-csv-limit",
        "d.csv",
        lambda p: p.write_text(_csv(_good_rows() + ["1," + "9" * 140_000 + ",x"])),
        ["data/d.csv", "line 42: a field is longer than 131,072 characters"],
    ),
    ("blank-lines-only", "d.csv", lambda p: p.write_text("\n\n\n"), ["data/d.csv", "only blank lines"]),
    (
        "label-column-twice",
        "d.csv",
        lambda p: p.write_text(_csv(["a,label,label"] + [f"{i},{i % 2},{i % 3}" for i in range(20)])),
        ["data/d.csv", "line 1 (the header): column 'label' appears twice (columns 2 and 3)"],
    ),
    (
        "feature-column-twice",
        "d.csv",
        lambda p: p.write_text(_csv(["a,b,a,label"] + [f"{i},1,2,{i % 2}" for i in range(20)])),
        ["data/d.csv", "column 'a' appears twice (columns 1 and 3)"],
    ),
    (
        "no-feature-columns",
        "d.csv",
        lambda p: p.write_text(_csv(["label"] + [f"{i % 2}" for i in range(20)])),
        ["data/d.csv", "no feature columns", "only the label column(s) 'label'"],
    ),
    (
        "nan-label",
        "d.csv",
        lambda p: p.write_text(_csv(["a,label"] + [f"{i},{('1', 'nan', '2')[i % 3]}" for i in range(30)])),
        ["data/d.csv", "line 3, column 'label': label 'nan' is NaN or infinite", "a finite number"],
    ),
    (
        "empty-label",
        "d.csv",
        lambda p: p.write_text(_csv(["a,label"] + [f"{i},{('x', '', 'y')[i % 3]}" for i in range(30)])),
        ["data/d.csv", "line 3, column 'label': the label is empty"],
    ),
    (
        "line-numbers-count-blank-lines",
        "d.csv",
        lambda p: p.write_text("a,label\n\n\n1,x\n2,y\nabc,x\n"),
        ["data/d.csv", "line 6, column 'a': 'abc' is not a number"],
    ),
    (
        "nan-feature-names-the-line",
        "d.csv",
        lambda p: p.write_text(_csv(_good_rows() + ["1,inf,x"])),
        ["data/d.csv", "NaN or infinite", "line 42, column 'b' holds 'inf'"],
    ),
    (
        "npz-bad-crc",
        "d.npz",
        lambda p: _damaged_npz(p, "crc"),
        ["data/d.npz", "member 'X.npy' cannot be read (zipfile.BadZipFile: Bad CRC-32", "write it again"],
    ),
    (
        "npz-corrupt-deflate",
        "d.npz",
        lambda p: _damaged_npz(p, "deflate"),
        ["data/d.npz", "member 'X.npy' cannot be read (zlib.error:", "invalid block type"],
    ),
    (
        "npz-0d-X",
        "d.npz",
        lambda p: np.savez(p, X=np.float64(3.0), y=np.arange(1)),
        ["data/d.npz", "X has shape ()", "2-D or more, one row per sample"],
    ),
    (
        "npz-1d-X",
        "d.npz",
        lambda p: np.savez(p, X=np.ones(10), y=np.arange(10) % 2),
        ["data/d.npz", "X has shape (10,)", "2-D or more"],
    ),
    (
        "npz-zero-rows",
        "d.npz",
        lambda p: np.savez(p, X=np.ones((0, 2)), y=np.ones(0)),
        ["data/d.npz", "X and y have 0 rows"],
    ),
    (
        "npz-no-features",
        "d.npz",
        lambda p: np.savez(p, X=np.ones((10, 0)), y=np.arange(10) % 2),
        ["data/d.npz", "X has shape (10, 0): no features"],
    ),
    (
        "npz-X-without-npy-suffix",
        "d.npz",
        lambda p: _npz_member(p, "X", np.ones((10, 2))),
        ["data/d.npz", "member 'X' is not a .npy array", "(members X.npy and y.npy)", "as many rows"],
    ),
    (
        "npz-extra-member-not-an-array",
        "d.npz",
        lambda p: _npz_member(p, "notes.txt", np.ones(3)),
        ["data/d.npz", "member 'notes.txt' is not a .npy array"],
    ),
    (
        "npz-extra-member-needs-pickle",
        "d.npz",
        lambda p: np.savez(p, X=np.ones((10, 2)), y=np.arange(10) % 2, notes=np.array([{}], dtype=object)),
        ["data/d.npz", "cannot be read without pickle (member 'notes.npy'"],
    ),
    (
        "npz-extra-member-of-dates",  # found by fuzzing: the record's checksum raised ValueError after the split
        "d.npz",
        lambda p: np.savez(p, X=np.ones((10, 2)), y=np.arange(10) % 2, when=np.zeros(3, dtype="datetime64[D]")),
        ["data/d.npz", "member 'when.npy' holds an array of dtype datetime64[D] (dates or durations)"],
    ),
    (
        "npz-header-claims-more-than-it-holds",
        "d.npz",
        _lying_header,
        ["data/d.npz", "member 'X.npy' is damaged", "shape (10000000000000, 2)", "holds 160 bytes"],
    ),
    (
        "npz-3d-y",
        "d.npz",
        lambda p: np.savez(p, X=np.ones((10, 2)), y=np.ones((10, 2, 2))),
        ["data/d.npz", "y has shape (10, 2, 2)", "1-D (one label per sample)"],
    ),
    (
        "npz-nan-label",
        "d.npz",
        lambda p: np.savez(p, X=np.ones((10, 2)), y=np.where(np.arange(10) == 3, np.nan, np.arange(10) % 2)),
        ["data/d.npz", "y[3] is nan", "labels must be finite"],
    ),
    (
        "npz-complex-labels",
        "d.npz",
        lambda p: np.savez(p, X=np.ones((10, 2)), y=np.arange(10) * 1j),
        ["data/d.npz", "y has dtype complex128", "numbers (int, float, bool) or text"],
    ),
    (
        "npz-nan-feature",
        "d.npz",
        lambda p: np.savez(p, X=np.where(np.arange(20).reshape(10, 2) == 7, np.inf, 1.0), y=np.arange(10) % 2),
        ["data/d.npz", "features contain NaN or infinite values: X[3, 1] is inf"],
    ),
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
    (
        "nan-label-of-a-classification",
        "d.csv",
        lambda p: p.write_text(_csv(["a,label"] + [f"{i},{('1', 'nan', '2')[i % 3]}" for i in range(30)])),
        "label",
        "multiclass",
        ["data/d.csv", "line 3, column 'label': label 'nan' is NaN or infinite"],
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
    message = _split_message(
        tmp_path, monkeypatch, f"data/{name}", lambda: writer and writer(tmp_path / "data" / name), label, task
    )
    for word in words:
        assert word in message, f"{word!r} not in: {message}"
    assert not (tmp_path / "out").exists()


def _split_message(tmp_path, monkeypatch, source, write, label="label", task=None) -> str:
    """What split says of ``source`` in ``tmp_path`` once ``write()`` has made it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir(exist_ok=True)
    write()
    with pytest.raises(DataError) as info:
        split(
            "out/split.npz",
            "out/split.record.json",
            dataset="mine",
            source=source,
            seed=0,
            test_fraction=0.2,
            label=label,
            task=task,
            script=None,
        )
    return str(info.value)


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


def _png16(path, color_type, channels, size=8):
    """A 16-bit PNG (color type 0 gray, 2 RGB, 4 gray+alpha, 6 RGBA): Pillow reads but does not write them."""
    import struct
    import zlib

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = b"".join(b"\0" + bytes(i % 251 for i in range(size * channels * 2)) for _ in range(size))
    header = struct.pack(">IIBBBBB", size, size, 16, color_type, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    )


def _with(make):
    """A good folder, then ``make(root)`` adds one bad entry."""

    def writer(root):
        _folder(root)
        make(root)

    return writer


SIXTEEN_BIT_REFUSED = ["(16-bit or floating-point pixels) is not read", "store 8-bit grayscale or RGB images"]
NOT_A_FILE = "a class folder holds image files (or links to them) and folders of them"

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
    # found by fuzzing: Pillow opens these in 8-bit modes and cut them to 8 bits silently
    (
        "sixteen-bit-rgb",
        _with(lambda root: _png16(root / "a" / "9.png", 2, 3)),
        ["data/shapes/a/9.png: mode RGB;16B", *SIXTEEN_BIT_REFUSED],
    ),
    (
        "sixteen-bit-rgba",
        _with(lambda root: _png16(root / "a" / "9.png", 6, 4)),
        ["data/shapes/a/9.png: mode RGBA;16B", *SIXTEEN_BIT_REFUSED],
    ),
    (
        "sixteen-bit-gray-alpha",
        _with(lambda root: _png16(root / "a" / "9.png", 4, 2)),
        ["data/shapes/a/9.png: mode LA;16B", *SIXTEEN_BIT_REFUSED],
    ),
    (
        "sixteen-bit-gray-by-hand",
        _with(lambda root: _png16(root / "a" / "9.png", 0, 1)),
        ["data/shapes/a/9.png: mode I;16 ", *SIXTEEN_BIT_REFUSED],
    ),
    (
        "sixteen-bit-ppm",
        _with(lambda root: (root / "a" / "9.ppm").write_bytes(b"P6\n8 8\n65535\n" + bytes(8 * 8 * 6))),
        ["data/shapes/a/9.ppm: mode RGB;16B", *SIXTEEN_BIT_REFUSED],
    ),
    # found by fuzzing: left out of the listing without a word
    (
        "dangling-symlink",
        _with(lambda root: (root / "a" / "9.png").symlink_to("gone.png")),
        ["data/shapes/a/9.png: a symbolic link to gone.png, which does not exist", NOT_A_FILE],
    ),
    (
        "symlink-loop",
        _with(lambda root: (root / "b" / "9.png").symlink_to("9.png")),
        ["data/shapes/b/9.png: a symbolic link loop", NOT_A_FILE],
    ),
    (
        "fifo",  # refused by stat alone: opening it would block
        _with(lambda root: os.mkfifo(root / "b" / "9.png")),
        ["data/shapes/b/9.png: a named pipe (FIFO), not an image file", NOT_A_FILE],
    ),
    (
        "symlink-to-a-folder-inside-a-class",
        _with(lambda root: (root / "a" / "more").symlink_to("../b", target_is_directory=True)),
        ["data/shapes/a/more: a symbolic link to a folder, which is not followed", NOT_A_FILE],
    ),
    (
        "dangling-class-folder-link",
        _with(lambda root: (root / "c").symlink_to("gone", target_is_directory=True)),
        ["data/shapes/c: a symbolic link to gone, which does not exist"],
    ),
    ("no-class-folders", lambda root: _png(root / "x.png"), ["data/shapes", "no class subfolders", "x.png"]),
    ("missing-folder", None, ["data set 'mine'", "folder data/shapes/ does not exist"]),
]


@pytest.mark.parametrize("writer, words", [c[1:] for c in BAD_IMAGES], ids=[c[0] for c in BAD_IMAGES])
def test_a_bad_image_folder_is_a_clear_error_at_split_naming_the_file(tmp_path, monkeypatch, writer, words):
    message = _split_message(
        tmp_path, monkeypatch, "data/shapes/", lambda: writer and writer(tmp_path / "data" / "shapes")
    )
    for word in words:
        assert word in message, f"{word!r} not in: {message}"
    assert not (tmp_path / "out").exists(), sorted((tmp_path / "out").rglob("*"))
    assert not (tmp_path / "results").exists(), sorted((tmp_path / "results").rglob("*"))  # no image cache


def test_scale_standard_refuses_features_whose_squares_overflow(tmp_path, monkeypatch):
    """Values near 1e308 overflowed the variance: every scaled training value was NaN."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "d.csv").write_text(
        _csv(["a,b,label"] + [f"{i},{(i % 5) * 3e307},{i % 2}" for i in range(20)])
    )
    arguments = dict(dataset="mine", source="data/d.csv", seed=0, test_fraction=0.2, label="label", task=None)
    with pytest.raises(DataError) as info:
        split("out/split.npz", "out/split.record.json", **arguments, scale="standard", script=None)
    for word in ["datasets.mine: scale standard cannot be fitted", "feature 1 (counting from 0)", "1.2e+308"]:
        assert word in str(info.value), f"{word!r} not in: {info.value}"
    assert "scale: maxabs" in str(info.value)
    assert not (tmp_path / "out").exists()
    split("out/split.npz", "out/split.record.json", **arguments, scale="maxabs", script=None)  # as it says


def test_numeric_labels_are_compared_as_numbers(tmp_path, monkeypatch):
    """1, 1.0, +1 and 01 are one class (they were four); text labels and the class order are as before."""
    monkeypatch.chdir(tmp_path)  # the table cache goes under results/ here
    path = tmp_path / "d.csv"
    path.write_text(_csv(["a,label"] + [f"{i},{('1', '1.0', '+1', '01', '2', '2.00')[i % 6]}" for i in range(24)]))
    ds = data.load("mine", str(path), label="label", task=None)
    assert (ds.task, ds.n_classes, ds.y.tolist()) == ("binary", 2, [0, 0, 0, 0, 1, 1] * 4)


def test_plainly_written_numeric_labels_keep_their_classes(tmp_path, monkeypatch):
    """Integers written plainly (and N.0 floats) get the classes and order they always had
    (sorted as text), so existing splits do not move."""
    monkeypatch.chdir(tmp_path)
    plain, floats = tmp_path / "plain.csv", tmp_path / "floats.csv"
    labels = [str(v) for v in (2, 10, -1, 0, 11, 3) * 4]
    plain.write_text(_csv(["a,label"] + [f"{i},{v}" for i, v in enumerate(labels)]))
    floats.write_text(_csv(["a,label"] + [f"{i},{v}.0" for i, v in enumerate(labels)]))
    as_text = np.unique(np.asarray(labels), return_inverse=True)[1].tolist()
    for path in (plain, floats):
        ds = data.load("mine", str(path), label="label", task="multiclass")
        assert ds.y.tolist() == as_text


@pytest.mark.parametrize(
    "task, words",
    [
        ("binary", ["data set 'mine' has task binary but data/shapes/ has 3 class folders ('a', 'b', 'c')"]),
        ("regression", ["data set 'mine': data/shapes/ is an image folder", "task regression needs numeric targets"]),
    ],
)
def test_a_task_an_image_folder_cannot_have_is_refused_before_any_image_is_decoded(tmp_path, monkeypatch, task, words):
    """Found by fuzzing: the folder was decoded into results/cache/images first, and that cache stayed."""
    monkeypatch.chdir(tmp_path)
    _folder(tmp_path / "data" / "shapes", classes=("a", "b", "c"))
    with pytest.raises(DataError) as info:
        data.load("mine", "data/shapes/", label="label", task=task)
    for word in words:
        assert word in str(info.value), f"{word!r} not in: {info.value}"
    assert not (tmp_path / "results").exists()


def test_the_bad_input_page_shows_every_data_message_as_it_is(tmp_path_factory, monkeypatch):
    """docs/bad-input.md's data tables: each case above with the message split gives, word for
    word, and no message the code no longer gives."""
    given = {}
    for case, name, writer, *rest in [*BAD_DATA, *BAD_TASKS]:
        label, task = rest[:2] if len(rest) == 3 else ("label", None)
        where = tmp_path_factory.mktemp("case")
        given[case] = _split_message(
            where, monkeypatch, f"data/{name}", lambda w=writer, p=where / "data" / name: w and w(p), label, task
        )
    for case, writer, _ in BAD_IMAGES:
        where = tmp_path_factory.mktemp("case")
        folder = where / "data" / "shapes"
        given["image-" + case] = _split_message(
            where, monkeypatch, "data/shapes/", lambda w=writer, p=folder: w and w(p)
        )
    for task in ("binary", "regression"):
        where = tmp_path_factory.mktemp("case")
        three = where / "data" / "shapes"
        given[f"image-task-{task}"] = _split_message(
            where, monkeypatch, "data/shapes/", lambda p=three: _folder(p, classes=("a", "b", "c")), task=task
        )
    given = {case: " ".join(m.split()) for case, m in given.items()}  # a table cell is one line
    shown = messages_on_the_page("Data (refused at split time, nothing written)")
    missing = [page_row(case, m) for case, m in given.items() if m not in shown]
    assert not missing, "docs/bad-input.md lacks these rows (or shows other words):\n" + "\n".join(missing)
    stale = {m for m in shown if m.startswith(("data/", "data set"))} - set(given.values())
    assert not stale, "docs/bad-input.md shows messages no case gets:\n" + "\n".join(sorted(stale))
