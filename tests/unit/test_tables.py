"""CSV and NPZ files read into the table cache (samebits.ml.tables): pandas' reader gives the
bits of ``float()`` or hands the file to the exact reader; the cache is made once, found by
the file's content, and made again when damaged. No TensorFlow."""

from __future__ import annotations

import contextlib
import logging
import random
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from samebits.core import layout
from samebits.core.errors import DataError
from samebits.ml import data, tables

#: Text Python's float() reads exactly and a reader must get bit for bit: 17 and more
#: significant digits, halfway cases, subnormals and the smallest ones, the largest doubles,
#: -0.0, exponents of every form, a leading +, surrounding spaces.
HARD = [
    "0.1", "0.30000000000000004", "1.00000000000000011102230246251565404236316680908203125",
    "1.000000000000000111022302462515654042363166809082031250000000001", "9007199254740993",
    "9007199254740992.5", "123456789012345678901234567890", "3.14159265358979323846264338327950288",
    "4.9e-324", "5e-324", "2.4703282292062327e-324", "2.4703282292062328e-324", "2.2250738585072011e-308",
    "2.2250738585072012e-308", "1e-400", "-1e-5000", "1e308", "1.7976931348623157e308",
    "1.7976931348623158e308", "8.98846567431158e307", "-0.0", "-0", "+0", "+1", "+.5", "-5.", "1E5", "1e+05",
    "1e-05", "1.E-3", ".5", "00012", "7.2057594037927933e16", "1e22", "1e23", " 2.5", "2.5 ", "1" + "0" * 300,
    "0." + "0" * 330 + "1",
]  # fmt: skip


def _write(path: Path, column: list[str], label: list[str] | None = None) -> None:
    label = label or [str(i % 2) for i in range(len(column))]
    path.write_text("x,label\n" + "".join(f"{v},{y}\n" for v, y in zip(column, label, strict=True)))


def _read(path: Path, reader) -> tuple[np.ndarray, np.ndarray]:
    chunks = list(reader(path, "label"))
    return np.concatenate([c[0] for c in chunks]), np.concatenate([c[1] for c in chunks])


def test_pandas_gives_float_s_bits_on_the_hard_cases(tmp_path):
    rng = random.Random(0)
    column = list(HARD)
    for _ in range(2000):  # and random doubles written every way: repr, 20 digits, rounded
        value = np.frombuffer(rng.getrandbits(64).to_bytes(8, "little"), np.float64)[0].item()
        if np.isfinite(value):
            column += [repr(value), f"{value:.20e}", f"{value:.6g}"]
    path = tmp_path / "hard.csv"
    _write(path, column)
    x, _ = _read(path, tables._fast_chunks)  # no hand-over: pandas read every one
    expected = np.asarray([float(v) for v in column])
    assert x[:, 0].tobytes() == expected.tobytes()
    assert np.signbit(x[HARD.index("-0.0"), 0]) and np.signbit(x[HARD.index("-0"), 0])


@pytest.mark.parametrize(
    "cell, why",
    [
        ("True", "pandas reads it as 1.0, float() refuses it"),
        ("false", "pandas reads it as 0.0"),
        ("1_000", "float() reads 1000.0, pandas refuses it"),
        ("１", "a digit of another script: float() reads it"),
        ("nan", "not finite: the exact reader names it"),
        ("", "an empty cell"),
    ],
)
def test_what_pandas_and_float_read_otherwise_goes_to_the_exact_reader(tmp_path, cell, why):
    path = tmp_path / "d.csv"
    _write(path, ["1.5", cell, "2"])
    with pytest.raises(tables._Again):
        _read(path, tables._fast_chunks)


def test_a_short_row_or_a_missing_label_goes_to_the_exact_reader(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b,label\n1,2,x\n3,4\n")
    with pytest.raises(tables._Again):
        _read(path, tables._fast_chunks)
    with pytest.raises(DataError, match="line 3 has 2 fields, the header has 3"):
        _read(path, tables._exact_chunks)


CELLS = [*HARD[:12], "-0", " 2", "", " ", "True", "false", "nan", "inf", "1_0", "0x1", '"4"', '" 5"', "x", "é",
         "\t8", "1,", '"a""b"', "1.5e", "１"]  # fmt: skip
LABELS = ["a", "b", " ", "", "nan", "1", "1.0", "True", '"c,d"', "ü", "-0"]
ODD_LINES = ["", "  ", "\t", ",", ",,", "a,b,c,d", "1,2", '"  "']


@st.composite
def tables_text(draw) -> str:
    rows = ["a,b,label"]
    for _ in range(draw(st.integers(1, 6))):
        if draw(st.integers(0, 9)) == 0:
            rows.append(draw(st.sampled_from(ODD_LINES)))
        else:
            a, b = draw(st.sampled_from(CELLS)), draw(st.sampled_from([*CELLS, "1.25", "1.25", "1.25"]))
            rows.append(f"{a},{b},{draw(st.sampled_from(LABELS))}")
    return "\n".join(rows) + draw(st.sampled_from(["\n", "", "\r\n", "\n\n"]))


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(tables_text(), st.booleans(), st.booleans())
def test_pandas_reads_a_file_as_the_exact_reader_does_or_hands_it_over(text, bom, chunked):
    """Whatever pandas reads without handing over, the csv module and float() read to the
    same bits and labels; what the exact reader refuses, pandas never reads. Whole or in
    chunks of 2 rows (a large file's way)."""
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as patch:
        if chunked:
            patch.setattr(tables, "WHOLE_UP_TO", 0)
            patch.setattr(tables, "CSV_CHUNK_ROWS", 2)
        path = Path(tmp) / "d.csv"
        path.write_bytes(("\ufeff" if bom else "").encode() + text.encode())
        try:
            fast = _read(path, tables._fast_chunks)
        except tables._Again:
            return
        exact = _read(path, tables._exact_chunks)  # a DataError here: pandas read what it must not
        assert fast[0].shape == exact[0].shape and fast[0].tobytes() == exact[0].tobytes()
        assert fast[1].tolist() == exact[1].tolist()


def test_rows_over_many_chunks_are_read_whole_and_in_order(tmp_path, monkeypatch):
    monkeypatch.setattr(tables, "CSV_CHUNK_ROWS", 7)
    monkeypatch.setattr(tables, "WHOLE_UP_TO", 0)  # pandas' chunked reader, as for a large file
    column = [repr(i / 3) for i in range(50)]
    path = tmp_path / "d.csv"
    _write(path, column, [f"c{i % 3}" for i in range(50)])
    for reader in (tables._fast_chunks, tables._exact_chunks):
        x, y = _read(path, reader)
        assert x[:, 0].tolist() == [i / 3 for i in range(50)] and y.tolist() == [f"c{i % 3}" for i in range(50)]


def _table_files() -> list[Path]:
    return sorted(Path(layout.TABLE_CACHE).glob("*"))


def test_the_cache_is_made_once_found_by_content_and_made_again_when_damaged(tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "d.csv"
    _write(path, [repr(i * 0.1) for i in range(40)], [str(i % 2) for i in range(40)])
    caplog.set_level(logging.INFO, logger=tables.__name__)
    first = data.load("d", str(path), label="label", task=None)
    assert [r.message for r in caplog.records if "reading" in r.message] and len(_table_files()) == 3
    caplog.clear()
    again = data.load("d", str(path), label="label", task=None)
    assert not [r.message for r in caplog.records if "reading" in r.message]  # from the cache
    assert (again.checksum, again.features_sha256) == (first.checksum, first.features_sha256)
    assert again.x.array().tobytes() == np.asarray([[i * 0.1] for i in range(40)]).tobytes()

    features = next(p for p in _table_files() if p.suffix == ".bin")
    damaged = bytearray(features.read_bytes())
    damaged[5] ^= 0xFF
    features.write_bytes(bytes(damaged))  # same size, new times: its SHA-256 is read again
    healed = data.load("d", str(path), label="label", task=None)
    assert healed.x.array().tobytes() == first.x.array().tobytes()

    _write(path, [repr(i * 0.2) for i in range(40)], [str(i % 2) for i in range(40)])
    edited = data.load("d", str(path), label="label", task=None)
    assert edited.checksum != first.checksum
    assert len(_table_files()) == 3  # the earlier content's cache is removed


def test_the_checksum_is_the_in_memory_one(tmp_path, monkeypatch):
    """A data set's checksum is hash_arrays of its features and labels as read, as before the
    cache: splits made before it keep their dataset_sha256."""
    from samebits.core.hashing import hash_arrays

    monkeypatch.chdir(tmp_path)
    path = tmp_path / "d.csv"
    _write(path, [repr(i * 0.7) for i in range(30)], [("cat", "dog")[i % 2] for i in range(30)])
    ds = data.load("d", str(path), label="label", task=None)
    x = np.asarray([[i * 0.7] for i in range(30)])
    assert ds.checksum == hash_arrays({"X": x, "y": np.asarray([("cat", "dog")[i % 2] for i in range(30)])})[0]
    npz = tmp_path / "d.npz"
    np.savez(npz, X=x.astype(">f8"), y=np.arange(30) % 2)
    found = data.load("n", str(npz), label="label", task=None)
    assert found.checksum == hash_arrays({"X": x, "y": np.arange(30) % 2})[0]
    assert found.x.array().tobytes() == x.tobytes()


def test_bad_data_leaves_no_cache_behind(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "d.csv"
    _write(path, ["1", "2", "abc", "4"])
    with pytest.raises(DataError, match="line 4, column 'x': 'abc' is not a number"):
        data.load("d", str(path), label="label", task=None)
    assert not (tmp_path / "results").exists()
    with contextlib.suppress(FileNotFoundError):
        assert not _table_files()


def test_npz_features_are_streamed_into_the_cache_in_c_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    x = np.arange(60, dtype=np.float32).reshape(10, 3, 2) / 7
    for stored in (np.asfortranarray(x), x.astype(">f4")):
        np.savez(tmp_path / "d.npz", X=stored, y=np.arange(10) % 2)
        found = data.load("n", str(tmp_path / "d.npz"), label="label", task=None)
        assert found.x.array().dtype == np.float32 and found.x.array().tobytes() == x.tobytes()
    bad = x.copy()
    bad[3, 1, 0] = np.inf
    np.savez(tmp_path / "d.npz", X=bad, y=np.arange(10) % 2)
    with pytest.raises(DataError, match=r"X\[3, 1, 0\] is inf; feature values must be finite"):
        data.load("n", str(tmp_path / "d.npz"), label="label", task=None)
