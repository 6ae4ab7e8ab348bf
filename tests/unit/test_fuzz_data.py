"""Every data-file parser is total: a CSV file, a NPZ file or an image folder is read into a
well-formed data set, or refused with a :class:`DataError` (or :class:`ConfigError`) naming
it, never another exception, and a refused image folder leaves nothing in ``results/``.

Property-based (Hypothesis): arbitrary bytes, valid files mutated (cut short, a byte flipped,
a NUL inserted, rows of tricky text), NPZ archives of random members, dtypes and shapes, and
image folders of random modes and formats with one damaged or odd entry. What split does
next with a data set that loads is checked too: the record hashes its file, the split and
every scaling are made or refused. The example counts are fixed (``derandomize``: the same
cases on every run); the whole file takes about 12 s. No TensorFlow: the readers need none.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from samebits.core import hashing
from samebits.core.errors import ConfigError, DataError
from samebits.ml import data, images, scaling
from samebits.ml.sources import TASKS

#: Examples per test: 1,500 CSV files, 1,100 NPZ files, 500 image folders in all.
CSV_BYTES, CSV_TABLES, CSV_MUTATIONS = 400, 600, 500
NPZ_BYTES, NPZ_ARCHIVES = 400, 700
IMAGE_FOLDERS = 500


def fuzz(examples: int) -> settings:
    """Fixed cases, no example database (tests write nothing into the repository), no deadline
    (a machine under load is not a failure)."""
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


def mostly(usual: st.SearchStrategy, other: st.SearchStrategy, one_in: int = 8) -> st.SearchStrategy:
    """``usual``, and ``other`` one time in ``one_in`` (``usual | other`` would be half and half)."""
    return st.integers(min_value=1, max_value=one_in).flatmap(lambda i: other if i == one_in else usual)


@contextlib.contextmanager
def workdir() -> Iterator[Path]:
    """A fresh working directory per example (an image folder's caches go under it)."""
    with tempfile.TemporaryDirectory(prefix="samebits-fuzz-") as tmp, contextlib.chdir(tmp):
        yield Path(tmp)


def loads_or_refuses(load: Callable[[], data.Dataset], names: str) -> data.Dataset | None:
    """The data set, or None when refused with a samebits error that names ``names``; any
    other exception fails the test."""
    try:
        ds = load()
    except (DataError, ConfigError) as exc:
        assert names in str(exc), f"{names!r} not named in: {exc}"
        event("refused")  # --hypothesis-show-statistics: how many examples were refused, how many loaded
        return None
    event(f"loaded: {ds.task}")
    return ds


def well_formed(ds: data.Dataset) -> None:
    """What the later steps rely on."""
    x = ds.x.array() if isinstance(ds.x, images.Rows) else ds.x
    n = len(ds.y)
    assert n > 0 and x.shape[0] == n and x.ndim >= 2 and int(np.prod(x.shape[1:])) > 0, (x.shape, ds.y.shape)
    assert x.dtype.kind in "biuf" and (x.dtype.kind != "f" or np.all(np.isfinite(x)))
    assert ds.task in TASKS and ds.checksum and ds.feature_shape == tuple(x.shape[1:])
    if ds.task == "regression":
        assert ds.y.dtype == np.float32 and np.all(np.isfinite(ds.y))
        assert ds.n_classes == (1 if ds.y.ndim == 1 else ds.y.shape[1])
    else:
        assert ds.y.dtype == np.int64 and ds.y.ndim == 1 and ds.n_classes >= 2
        assert np.array_equal(np.unique(ds.y), np.arange(ds.n_classes)), "every class has a sample"
        assert ds.task != "binary" or ds.n_classes == 2


def split_goes_on(ds: data.Dataset, source: str) -> None:
    """What split does after loading: hash the data file for the record, split, fit each
    scaling; each works or is a DataError, and a fitted scaling gives finite features."""
    hashing.hash_output(source)
    try:
        idx = data.split_indices(ds.y, test_fraction=0.25, seed=0, where=source, task=ds.task)
    except DataError:
        return
    for kind in scaling.SCALES:
        try:
            scaler = scaling.fit(kind, ds.x, idx["train"], where="datasets.mine")
        except DataError as exc:
            assert "datasets.mine" in str(exc)
            continue
        scaled = scaling.Samples(ds.x, idx["train"], scaler).array()
        assert scaled.dtype.kind != "f" or np.all(np.isfinite(scaled)), kind


def mutated(data_: bytes, how: str, at: int, junk: bytes) -> bytes:
    """``data_`` cut short at ``at``, a byte flipped, a NUL or ``junk`` inserted there."""
    at = at % (len(data_) + 1)
    if how == "truncate":
        return data_[:at]
    if how == "flip" and data_:
        at = min(at, len(data_) - 1)
        return data_[:at] + bytes([data_[at] ^ 0xFF]) + data_[at + 1 :]
    if how == "nul":
        return data_[:at] + b"\0" + data_[at:]
    if how == "insert":
        return data_[:at] + junk + data_[at:]
    return data_


MUTATIONS = st.tuples(
    st.sampled_from(["none"] * 4 + ["truncate", "flip", "nul", "insert"]),
    st.integers(min_value=0, max_value=1 << 16),
    st.binary(max_size=12),
)

# -- CSV ---------------------------------------------------------------------------------------

#: Cells that have meant trouble: numbers written several ways, missing values, quoting,
#: text that is not a number, a field over the reader's limit.
TRICKY = ["0", "1", "2", "1.0", "+1", "01", "-0", "0.5", "1e308", "-1e308", "1e309", "nan", "NaN", "inf", "-inf"]
TRICKY += ["", " ", "x", "y", "cat", "é", "\x00", "a\nb", '"', '""', "1_0", "0x10", "9" * 400, "1" * 5000]
CELLS = st.sampled_from(TRICKY) | st.text(max_size=4) | st.floats().map(repr) | st.integers(-(2**70), 2**70).map(str)
NUMBERS = st.sampled_from(["0", "1", "2.5", "-3", "1e3", "0.25", "7", "1.0"])
CLASSES = st.sampled_from(["x", "y", "z", "1", "1.0", "2", "+2", "0.5", "10"])
HEADERS = st.sampled_from([["a", "b", "label"], ["label", "a"], ["a", "label", "b", "c"]])
COLUMNS = st.sampled_from(["a", "b", "label", "c", "", " label", "label\n"]) | st.text(max_size=3)
LABELS = st.sampled_from(["label"] * 12 + ["a", ["a", "label"], ["label", "label"], "nope"])
TASK = st.sampled_from([None, *TASKS])
ENCODINGS = st.sampled_from(["utf-8"] * 6 + ["utf-8-sig", "latin-1", "utf-16"])


@st.composite
def tables(draw: st.DrawFn) -> list[list[str]]:
    """Mostly a header with a label column and rows of its width, numbers in the features and
    classes in the labels; now and then any header, a tricky cell or a row of another width."""
    header = draw(mostly(HEADERS, st.lists(COLUMNS, min_size=1, max_size=5), one_in=5))
    rows = [header]
    for _ in range(draw(st.integers(min_value=0, max_value=16))):
        width = draw(st.sampled_from([len(header)] * 40 + [0, 1, len(header) + 1]))
        row = [draw(CLASSES if header[i % len(header)] == "label" else NUMBERS) for i in range(width)]
        if row and draw(st.integers(min_value=0, max_value=30)) == 0:
            row[draw(st.integers(min_value=0, max_value=width - 1))] = draw(CELLS)
        rows.append(row)
    return rows


def load_csv(tmp: Path, content: bytes, label: str | list[str], task: str | None) -> None:
    path = tmp / "d.csv"
    path.write_bytes(content)
    ds = loads_or_refuses(lambda: data.load("mine", str(path), label=label, task=task), str(path))
    if ds is not None:
        assert len(ds.x) == len(ds.y)
        well_formed(ds)
        split_goes_on(ds, str(path))


def csv_text(rows: list[list[str]], quoted: bool) -> str:
    if not quoted:  # as a hand-written file: no quoting, so a comma or quote in a cell shifts fields
        return "".join(",".join(row) + "\n" for row in rows)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def good_csv(n: int, labels: list[str]) -> str:
    rows = [["a", "b", "label"]] + [[str(i % 7 + 0.5), str(i % 3), labels[i % len(labels)]] for i in range(n)]
    return csv_text(rows, quoted=True)


@fuzz(CSV_BYTES)
@given(content=st.binary(max_size=300), label=LABELS, task=TASK)
def test_csv_of_arbitrary_bytes_is_read_or_refused(content, label, task):
    with workdir() as tmp:
        load_csv(tmp, content, label, task)


@fuzz(CSV_TABLES)
@given(table=tables(), quoted=st.booleans(), encoding=ENCODINGS, label=LABELS, task=TASK)
def test_csv_of_random_text_rows_is_read_or_refused(table, quoted, encoding, label, task):
    text = csv_text(table, quoted)
    with workdir() as tmp:
        load_csv(tmp, text.encode(encoding, errors="replace"), label, task)


@fuzz(CSV_MUTATIONS)
@given(
    n=mostly(st.integers(min_value=4, max_value=30), st.sampled_from([0, 1]), one_in=6),
    labels=st.lists(
        st.sampled_from(["x", "y", "1", "1.0", "+1", "2", "0.5", "nan", ""]), min_size=2, max_size=3, unique=True
    ),
    extra=mostly(st.just([]), st.lists(st.lists(CELLS, min_size=1, max_size=4), min_size=1, max_size=2), one_in=4),
    mutation=MUTATIONS,
    task=TASK,
)
def test_a_valid_csv_mutated_is_read_or_refused(n, labels, extra, mutation, task):
    content = (good_csv(n, labels) + csv_text(extra, quoted=False)).encode()
    with workdir() as tmp:
        load_csv(tmp, mutated(content, *mutation), "label", task)


# -- NPZ ---------------------------------------------------------------------------------------

DTYPES = ["<f8", "<f8", "<i8", "<i8", "?", "i1", "<u2", "<f2", "<f4", ">f8", ">i4", "<c8", "<U3", "S2", "O"]
DTYPES += ["<M8[D]", "<m8[s]", "V4"]
ODD_NAMES = st.sampled_from(["X", "y", "x.npy", "X.npy.npy", "dir/X.npy", "X.txt"])
ODD_NAMES |= st.text(alphabet="Xy._-/ab", min_size=1, max_size=6)
EXTRA_NAMES = mostly(st.sampled_from(["notes.npy", "meta.npy", "ids.npy", "X.npy", "y.npy"]), ODD_NAMES, one_in=4)


def array(dtype: str, shape: tuple[int, ...], seed: int, huge: bool) -> np.ndarray:
    """Values of ``dtype``: small integers (classes), floats (now and then NaN or near 1e308),
    text labels, objects (which need pickle)."""
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape, dtype=np.int64))
    kind = np.dtype(dtype).kind
    if kind == "O":
        return np.array([{"i": i} for i in range(size)] + [None], dtype=object)[:size].reshape(shape)
    if kind in "US":
        return rng.choice(np.asarray(["a", "b", "1", "1.0", "nan", ""], dtype=dtype), size=shape)
    if kind in "fc":
        with np.errstate(over="ignore"):  # 2e308 is inf, and in float16 so is 1e308: data like any other
            values = rng.integers(0, 3, size=shape) * (1e308 if huge else 1.0) + rng.random(shape) * (seed % 2)
            return np.where(rng.random(shape) < 0.02, np.nan, values).astype(dtype)
    if kind == "V":
        return np.zeros(shape, dtype=dtype)
    return rng.integers(0, 3, size=shape).astype(dtype)


SHAPES = mostly(st.just("rows"), st.sampled_from(["vector", "scalar", "no-columns", "image", "one-more"]), one_in=6)


@st.composite
def npz_members(draw: st.DrawFn) -> list[tuple[str, np.ndarray]]:
    """Mostly an X and a y of n rows, with now and then another name, dtype or shape, and
    members beside them."""
    n = draw(st.integers(min_value=0, max_value=12))
    members = []
    for default in ("X.npy", "y.npy"):
        name = draw(mostly(st.just(default), ODD_NAMES, one_in=10))
        dtype = draw(st.sampled_from(["<f8" if default == "X.npy" else "<i8"] * 6 + DTYPES))
        form = draw(SHAPES)
        shape = {"rows": (n, 2) if default == "X.npy" else (n,), "vector": (n,), "scalar": (), "no-columns": (n, 0)}
        shape |= {"image": (n, 3, 3, 1), "one-more": (n + 1, 2) if default == "X.npy" else (n + 1,)}
        members.append((name, array(dtype, shape[form], draw(st.integers(0, 99)), draw(st.booleans()))))
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
        shape = tuple(draw(st.lists(st.integers(min_value=0, max_value=4), max_size=3)))
        members.append((draw(EXTRA_NAMES), array(draw(st.sampled_from(DTYPES)), shape, 0, False)))
    return members


def npz_bytes(members: list[tuple[str, np.ndarray]], compression: int) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as zf:
        for name, value in members:
            buf = io.BytesIO()
            np.save(buf, value, allow_pickle=True)
            zf.writestr(name, buf.getvalue())
    return out.getvalue()


def load_npz(tmp: Path, content: bytes, task: str | None) -> None:
    path = tmp / "d.npz"
    path.write_bytes(content)
    ds = loads_or_refuses(lambda: data.load("mine", str(path), label="label", task=task), str(path))
    if ds is not None:
        well_formed(ds)
        split_goes_on(ds, str(path))


COMPRESSION = st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])


@fuzz(NPZ_BYTES)
@given(
    content=st.binary(max_size=200) | st.builds(lambda b: b"PK\x03\x04" + b, st.binary(max_size=200)),
    n=st.integers(min_value=1, max_value=12),
    compression=COMPRESSION,
    mutation=MUTATIONS,
    task=TASK,
    valid=st.booleans(),
)
def test_npz_of_arbitrary_bytes_or_a_valid_one_mutated_is_read_or_refused(
    content, n, compression, mutation, task, valid
):
    if valid:
        content = npz_bytes([("X.npy", np.arange(2.0 * n).reshape(n, 2)), ("y.npy", np.arange(n) % 2)], compression)
        content = mutated(content, *mutation)
    with workdir() as tmp:
        load_npz(tmp, content, task)


@pytest.mark.filterwarnings("ignore:Duplicate name:UserWarning")  # zipfile's, writing a member twice on purpose
@fuzz(NPZ_ARCHIVES)
@given(members=npz_members(), compression=COMPRESSION, task=TASK)
def test_npz_of_random_members_dtypes_and_shapes_is_read_or_refused(members, compression, task):
    with workdir() as tmp:
        load_npz(tmp, npz_bytes(members, compression), task)


# -- image folders -----------------------------------------------------------------------------

#: Modes and formats Pillow writes (and reads back): 8-bit, 16-bit and floating-point.
SAVED = [("L", "PNG"), ("RGB", "PNG"), ("RGBA", "PNG"), ("LA", "PNG"), ("P", "PNG"), ("1", "PNG")]
SAVED += [("I;16", "PNG"), ("RGB", "JPEG"), ("L", "JPEG"), ("CMYK", "JPEG"), ("RGB", "BMP"), ("P", "GIF")]
SAVED += [("RGB", "TIFF"), ("F", "TIFF"), ("I", "TIFF"), ("RGB", "WEBP"), ("RGB", "PPM"), ("YCbCr", "JPEG")]
ODD = ["none", "bytes", "text", "empty-class", "hidden", "nested", "dangling", "loop", "fifo", "png16", "dir-link"]


def an_image(path: Path, mode: str, fmt: str, size: tuple[int, int], seed: int) -> None:
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 256, size=(*size, 3), dtype=np.uint8)
    im = Image.new("I;16", size[::-1], seed * 257) if mode == "I;16" else Image.fromarray(pixels).convert(mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, fmt)


def add_odd(root: Path, odd: str, junk: bytes) -> None:
    """One entry a class folder should not have (or may have: hidden files, subfolders)."""
    a = root / "a"
    if odd == "bytes":
        (a / "junk.png").write_bytes(junk)
    elif odd == "text":
        (a / "notes.txt").write_text("not an image\n")
    elif odd == "empty-class":
        (root / "empty").mkdir()
    elif odd == "hidden":
        (a / ".DS_Store").write_bytes(junk)
    elif odd == "nested":
        an_image(a / "more" / "n.png", "RGB", "PNG", (4, 4), 1)
    elif odd == "dangling":
        (a / "gone.png").symlink_to("nowhere.png")
    elif odd == "loop":
        (a / "loop.png").symlink_to("loop.png")
    elif odd == "fifo":
        os.mkfifo(a / "pipe.png")
    elif odd == "png16":
        (a / "deep.png").write_bytes(_png16_rgb())
    elif odd == "dir-link":
        (a / "linked").symlink_to(root / "b", target_is_directory=True)


def _png16_rgb() -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = b"".join(b"\0" + bytes(range(4 * 6)) for _ in range(4))
    header = struct.pack(">IIBBBBB", 4, 4, 16, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@pytest.mark.filterwarnings("ignore::UserWarning:PIL.*")  # Pillow's about the damaged files it is given
@fuzz(IMAGE_FOLDERS)
@given(
    classes=st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3, unique=True),
    files=st.lists(
        st.tuples(st.sampled_from(SAVED), st.sampled_from([(4, 4), (4, 4), (3, 5)]), st.integers(0, 9)),
        min_size=1,
        max_size=4,
    ),
    damage=MUTATIONS,
    odd=mostly(st.just("none"), st.sampled_from(ODD), one_in=3),
    channels=st.sampled_from([None, None, 1, 3]),
    size=st.sampled_from([None, None, [4, 4], [2, 3]]),
    resize=st.sampled_from(images.RESIZE),
    task=TASK,
)
def test_an_image_folder_is_read_or_refused_and_a_refusal_leaves_nothing(
    classes, files, damage, odd, channels, size, resize, task
):
    with workdir() as tmp:
        root = tmp / "data" / "shapes"
        root.mkdir(parents=True)
        written = []
        for c, cls in enumerate(classes):
            for i, ((mode, fmt), shape, seed) in enumerate(files):
                path = root / cls / f"{i}.{fmt.lower()}"
                an_image(path, mode, fmt, shape, seed + c)
                written.append(path)
        victim = written[damage[1] % len(written)]
        victim.write_bytes(mutated(victim.read_bytes(), *damage))
        if "a" in classes:
            add_odd(root, odd, damage[2])
        image = {"channels": channels, "size": size, "resize": resize}
        ds = loads_or_refuses(
            lambda: data.load("mine", "data/shapes/", label="label", task=task, image=image), "data/shapes"
        )
        if ds is None:
            assert not (tmp / "results").exists(), sorted(map(str, (tmp / "results").rglob("*")))
            return
        well_formed(ds)
        assert ds.x.dtype == np.uint8 and ds.x.shape[-1] in (1, 3)
        split_goes_on(ds, "data/shapes")
