"""CSV and NPZ data sets, read once into a cache that every step maps.

Split reads a data file once: its features go into ``<key>.bin`` under
:data:`samebits.core.layout.TABLE_CACHE` (the stored dtype, C order, the rows one after the
other), its labels as read into ``<key>.labels.npy``, and what they are into ``<key>.json``:
the data set's checksum (:func:`samebits.core.hashing.hash_arrays` of the features and labels
as read, the same number as when the whole file was read into memory), the shape, and the
SHA-256 of both files. The key is the file's SHA-256 and the parse settings (the label
columns), so an edited file or another ``label:`` has a cache of its own, and train and
evaluate, which hash the file anyway, find the cache without parsing it; a missing or damaged
cache is made again. Nothing here holds a whole file in memory: the features go to disk a
block of rows at a time, and the steps read them through :class:`samebits.ml.rows.Rows`.

A CSV file is parsed by pandas' C reader, a block of :data:`CSV_CHUNK_ROWS` rows at a time.
Its float parsing is correctly rounded, so every value has the bits Python's ``float()``
gives the same text (tests/unit/test_tables.py checks the hard cases: 17 and more digits,
subnormals, the largest doubles, ``-0.0``, exponents, a leading ``+``). Where the two
differ in what they accept, the file is read again by :func:`_exact_chunks`, the csv module
and ``float()`` per cell, which either reads it or raises the error naming line, column and
value: pandas reads ``True``/``False`` in a float column as 1 and 0 (here they become NaN,
which sends the file to the exact reader), refuses what ``float()`` takes (``1_000``,
``nan``, digits of other scripts), and fills a short row with NaN.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import json
import logging
import math
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..core import fileio, hashing, layout
from ..core.errors import DataError
from .rows import Rows, cached, file_sha256, file_stat, locked, prune

__all__ = ["CSV_CHUNK_ROWS", "Table", "load"]


log = logging.getLogger(__name__)

_FORMAT = 1

#: Rows of a CSV file parsed at a time (about 10 MB of float64 for 20 features).
CSV_CHUNK_ROWS = 1 << 16

#: What pandas reads as a boolean in a float column (1.0 and 0.0), where ``float()`` refuses.
_BOOL_WORDS = ["True", "TRUE", "true", "False", "FALSE", "false"]


@dataclasses.dataclass(frozen=True)
class Table:
    """A CSV or NPZ data set as read: features on disk, labels in memory."""

    x: Rows  #: the features, in their stored dtype (CSV: float64)
    y: np.ndarray  #: the labels as read (CSV: text, one column per label column, 1-D for one)
    checksum: str  #: the data set's content checksum, over the features and labels as read
    features_sha256: str  #: the SHA-256 of the features file, which split records


class _Again(Exception):
    """The fast reader stops: the exact one reads the file (or names what is wrong with it)."""


def _files(key: str) -> tuple[Path, Path, Path]:
    base = Path(layout.TABLE_CACHE)
    return base / f"{key}.bin", base / f"{key}.labels.npy", base / f"{key}.json"


def load(path: Path, label: str | list[str]) -> Table:
    """The data file ``path`` (``.csv`` or ``.npz``), from the cache when it holds this
    content with these settings, else read now. Raises :class:`DataError` for bad data,
    leaving no cache (and no new folder) behind."""
    kind = "csv" if path.suffix.lower() == ".csv" else "npz"
    settings = {"kind": kind, **({"label": label} if kind == "csv" else {})}
    digest = file_sha256(path)
    key = hashlib.sha256(json.dumps([_FORMAT, digest, settings], sort_keys=True).encode()).hexdigest()[:16]
    features, labels, meta_path = _files(key)
    want = {"format": _FORMAT, "file_sha256": digest, "settings": settings}
    meta = _checked(features, labels, meta_path, want)
    if meta is None:
        made = [p for p in (Path(layout.TABLE_CACHE), *Path(layout.TABLE_CACHE).parents) if not p.exists()]
        features.parent.mkdir(parents=True, exist_ok=True)
        try:
            with locked(features.parent):
                meta = _checked(features, labels, meta_path, want)  # made by another job meanwhile?
                if meta is None:
                    log.info("reading %s into %s", path, features)
                    meta = _build(path, label, kind, features, labels, meta_path, want)
        except DataError:
            for folder in made:  # bad data: leave no trace in results/
                with contextlib.suppress(OSError):
                    folder.rmdir()
            raise
    return Table(
        x=Rows(features, meta["n"], tuple(meta["shape"]), np.dtype(meta["dtype"])),
        y=np.load(labels, allow_pickle=False),
        checksum=meta["dataset"],
        features_sha256=meta["sha256"],
    )


def _checked(features: Path, labels: Path, meta_path: Path, want: dict[str, Any]) -> dict[str, Any] | None:
    meta = cached(features, meta_path, want)
    if meta is None:
        return None
    try:
        return meta if file_sha256(labels) == meta["labels_sha256"] else None
    except (OSError, KeyError):
        return None


def _build(
    path: Path, label: str | list[str], kind: str, features: Path, labels: Path, meta_path: Path, want: dict[str, Any]
) -> dict[str, Any]:
    """Read the file into the cache's three files (each written atomically, the description last)."""
    with fileio.atomic_path(features) as tmp:
        if kind == "csv":
            try:
                n, shape, y = _write(tmp, _fast_chunks(path, label))
            except _Again:
                n, shape, y = _write(tmp, _exact_chunks(path, label))
            dtype = np.dtype(np.float64)
        else:
            shape_x, dtype, y = _read_npz(path, tmp)
            n, shape = shape_x[0], tuple(shape_x[1:])
        sha256 = file_sha256(tmp)
        rows = Rows(tmp, n, shape, dtype)
        blocks = rows.blocks(max(1, (16 << 20) // max(1, rows.row_bytes)))  # 16 MiB at a time
        with np.errstate(over="ignore", invalid="ignore"):  # statistics of values near 1e308 overflow: kept as text
            checksum, _ = hashing.hash_array_parts({"X": (dtype, (n, *shape), blocks), "y": (y.dtype, y.shape, [y])})
    with fileio.atomic_path(labels) as tmp:
        np.save(tmp, y, allow_pickle=False)
        labels_sha256 = file_sha256(tmp)
    meta = {
        **want,
        "source": str(path),
        "dataset": checksum,
        "n": n,
        "shape": list(shape),
        "dtype": dtype.str,
        "sha256": sha256,
        "labels_sha256": labels_sha256,
        "stat": file_stat(features),
    }
    fileio.write_text(meta_path, json.dumps(meta))
    for other in prune(features, {"source": meta["source"], "settings": meta["settings"]}, (".bin", ".labels.npy")):
        log.info("removed the cache %s of an earlier content of %s", other.with_suffix(".bin"), meta["source"])
    return meta


def _write(tmp: Path, chunks: Iterator[tuple[np.ndarray, np.ndarray]]) -> tuple[int, tuple[int, ...], np.ndarray]:
    """Write the features of each chunk to ``tmp`` (from its start); the rows, the feature
    shape and the labels, concatenated."""
    n, shape, labels = 0, (0,), []
    with open(tmp, "wb") as out:
        for x, y in chunks:
            out.write(np.ascontiguousarray(x).tobytes())
            n, shape = n + len(x), tuple(x.shape[1:])
            labels.append(y)
    return n, shape, np.concatenate(labels)


# -- CSV -------------------------------------------------------------------------------------


def _header(path: Path, label: str | list[str]) -> tuple[int, list[str], list[int], list[int]]:
    """The header's line and names, the label columns and the feature columns, checked."""
    line, header = next(_csv_lines(path), (0, []))
    if not header:
        raise DataError(f"{path}: the file holds only blank lines; expected a header row and data rows")
    wanted = [label] if isinstance(label, str) else list(label)
    for i, name in enumerate(header):
        if name in header[:i]:
            raise DataError(
                f"{path}: line {line} (the header): column {_shown(name)} appears twice (columns "
                f"{header.index(name) + 1} and {i + 1}); every column needs a name of its own"
            )
    for i, name in enumerate(wanted):
        if name not in header:
            raise DataError(
                f"{path}: no label column {name!r}; columns are {', '.join(header)} "
                "(set `label:` of the data set in the configuration)"
            )
        if name in wanted[:i]:
            raise DataError(f"{path}: label column {name!r} is named twice in `label:`; name each column once")
    label_cols = [header.index(name) for name in wanted]
    feature_cols = [i for i in range(len(header)) if i not in label_cols]
    if not feature_cols:
        raise DataError(
            f"{path}: no feature columns: the header has only the label column(s) {', '.join(map(repr, wanted))}; "
            "a data set needs at least one numeric feature column beside its labels"
        )
    return line, header, label_cols, feature_cols


def _csv_lines(path: Path) -> Iterator[tuple[int, list[str]]]:
    """Each row of a CSV file that is not blank (empty or spaces) with the line it starts on; a file that is not
    UTF-8 or not CSV is a :class:`DataError` naming the line."""
    line = 1
    try:
        # utf-8-sig: a byte order mark (Excel's "CSV UTF-8" writes one) is not part of the
        # first column's name
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            for row in reader:
                if row and (len(row) > 1 or row[0].strip()):  # a line of spaces is blank, as pandas reads it
                    yield line, row
                line = reader.line_num + 1
    except UnicodeDecodeError:
        raise DataError(_not_utf8(path)) from None
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise DataError(
                f"{path}: line {line}: a field is longer than {csv.field_size_limit():,} characters, the most "
                "Python's CSV reader takes; a field holds a number or a short label"
            ) from None
        raise DataError(f"{path}: line {line}: not valid CSV ({exc})") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror})") from None


def _exact_chunks(path: Path, label: str | list[str]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The features (float64, by ``float()``) and labels (text) of a CSV file, a chunk of
    rows at a time; every problem a :class:`DataError` naming the line and column."""
    _, header, label_cols, feature_cols = _header(path, label)
    rows = _csv_lines(path)
    next(rows)  # the header
    bad: tuple[int, str, str] | None = None  # the first value that is not finite: raised at the end
    empty = True
    x = np.empty((CSV_CHUNK_ROWS, len(feature_cols)))
    labels: list[list[str]] = []
    for line, row in rows:
        empty = False
        if len(row) != len(header):
            raise DataError(f"{path}: line {line} has {len(row)} fields, the header has {len(header)}")
        for i in label_cols:
            problem = _label_problem(row[i])
            if problem:
                raise DataError(f"{path}: line {line}, column {header[i]!r}: {problem}")
        r = len(labels)
        labels.append([row[i] for i in label_cols])
        for c, i in enumerate(feature_cols):
            try:
                x[r, c] = value = float(row[i])
            except ValueError:
                raise DataError(
                    f"{path}: line {line}, column {header[i]!r}: {_shown(row[i])} is not a number; "
                    "feature columns must be numeric"
                ) from None
            if bad is None and not math.isfinite(value):
                bad = (line, header[i], row[i])
        if len(labels) == CSV_CHUNK_ROWS:
            yield x.copy(), _labels(labels, label)
            labels = []
    if empty:
        raise DataError(f"{path}: the file has a header but no data rows")
    if bad is not None:
        raise DataError(
            f"{path}: features contain NaN or infinite values: line {bad[0]}, column {bad[1]!r} "
            f"holds {_shown(bad[2])}; feature values must be finite numbers"
        )
    if labels:
        yield x[: len(labels)].copy(), _labels(labels, label)


def _labels(labels: list[list[str]] | np.ndarray, label: str | list[str]) -> np.ndarray:
    found = np.asarray(labels, dtype=str)
    return found[:, 0] if isinstance(label, str) else found


def _fast_chunks(path: Path, label: str | list[str]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """What :func:`_exact_chunks` gives, by pandas; raises :class:`_Again` at the first
    chunk it cannot vouch for (a parse error, a value that is not finite, a missing or odd
    label), so the exact reader reads the file (and names the problem).

    A file of up to :data:`WHOLE_UP_TO` bytes is parsed by one call of pandas' reader, a
    larger one :data:`CSV_CHUNK_ROWS` rows at a time: pandas' chunked reader takes about twice
    as long per byte (measured on the issue's 197 MB file: 0.34–0.53 s whole, 0.63–1.12 s in
    chunks of 65,536 to 1,048,576 rows), but holds a chunk, not the file."""
    import pandas as pd  # type: ignore[import-untyped]  # no stubs pinned

    _, header, label_cols, feature_cols = _header(path, label)
    names = list(range(len(header)))
    chunked = path.stat().st_size > WHOLE_UP_TO
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandas' parser warnings: the exact reader explains
            found = pd.read_csv(
                path,
                header=0,
                names=names,
                dtype={i: (object if i in label_cols else np.float64) for i in names},
                # where a boolean word may be, it is read as NaN (sent to the exact reader);
                # elsewhere no cell is compared with a list of missing-value words
                **(
                    {"keep_default_na": False, "na_values": {i: _BOOL_WORDS for i in feature_cols}}
                    if _has_bool_words(path)
                    else {"na_filter": False}
                ),
                engine="c",
                encoding="utf-8",
                chunksize=CSV_CHUNK_ROWS if chunked else None,
            )
            n = 0
            with found if chunked else contextlib.nullcontext(found):
                for chunk in found if chunked else [found]:
                    x = chunk[feature_cols].to_numpy(np.float64)
                    if not np.isfinite(x).all():
                        raise _Again
                    n += len(x)
                    yield x, _checked_labels(chunk[label_cols].to_numpy(object), label)
            if n == 0:
                raise _Again
    except _Again:
        raise
    except Exception:  # pandas raises many types (ParserError, ValueError, UnicodeDecodeError, …)
        raise _Again from None


#: A CSV file of up to this size is parsed by one call of pandas' reader (:func:`_fast_chunks`).
WHOLE_UP_TO = 256 << 20


def _checked_labels(found: np.ndarray, label: str | list[str]) -> np.ndarray:
    """The labels of a chunk as text, if each is one (:func:`_label_problem`), else
    :class:`_Again`."""
    import pandas as pd

    if pd.isna(found).any():  # a short row's missing field
        raise _Again
    text = found.astype(str)
    if text.dtype.itemsize // 4 > csv.field_size_limit():  # what the csv module refuses
        raise _Again
    for column in found.T:
        distinct = pd.unique(column)
        if len(distinct) <= 4096:  # classes: each as float() reads it
            if any(_label_problem(v) for v in distinct):
                raise _Again
            continue
        try:  # many distinct labels: a regression's targets, each a finite number
            values = column.astype(np.float64)
        except ValueError:
            if any(_label_problem(v) for v in distinct):
                raise _Again from None
        else:
            if not np.isfinite(values).all():
                raise _Again
    return text[:, 0] if isinstance(label, str) else text


def _has_bool_words(path: Path) -> bool:
    """Whether the file may hold a word pandas reads as a boolean in a float column (``True``,
    ``false``, … in its six spellings): each has a ``u`` or an ``s``, searched for one letter at
    a time at memchr's speed, and only a block that has one is searched for the words."""
    tail = b""
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 24):
            text = tail + chunk if tail else chunk
            if any(text.find(c) >= 0 for c in (b"u", b"U", b"s", b"S")) and any(
                word in text for word in (b"rue", b"RUE", b"alse", b"ALSE")
            ):
                return True
            tail = chunk[-3:]
    return False


def _not_utf8(path: Path) -> str:
    """Where a file first fails to decode as UTF-8, as a message."""
    where = ""
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                where = f"line {n}: byte 0x{raw[exc.start]:02x} at position {exc.start + 1} is not UTF-8 text"
                break
    return (
        f'{path}: {where or "not UTF-8 text"}; a CSV data file must be UTF-8 (save it as "CSV UTF-8", '
        "or convert it, e.g. iconv -f latin1 -t utf-8)"
    )


def _shown(text: str, limit: int = 40) -> str:
    """``repr`` of a value from a file, cut short: a field can be 100,000 characters long."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f"… ({len(text):,} characters)"


def _label_problem(text: str) -> str | None:
    """Why a label (as text) is not one: empty, or NaN or infinite (a missing value as
    pandas and NumPy write it); None for a label."""
    if not text.strip():
        return "the label is empty; every row needs a label (a class, or a number for a regression)"
    try:
        value = float(text)
    except ValueError:
        return None  # text: a class
    if math.isfinite(value):
        return None
    return (
        f"label {_shown(text)} is NaN or infinite (or beyond float64's range); a label is a class (text or a "
        "whole number) or, for a regression, a finite number"
    )


# -- NPZ -------------------------------------------------------------------------------------


#: What a NPZ data set holds, for messages.
_NPZ_EXPECTED = (
    "a NPZ data set holds arrays as numpy.savez writes them (members X.npy and y.npy): 'X', the features, "
    "2-D or more with one row per sample, and 'y', the labels, with as many rows"
)


def _read_npz(path: Path, out: Path) -> tuple[tuple[int, ...], np.dtype, np.ndarray]:
    """Write the rows of ``X`` of a NPZ file into ``out`` (C order, native byte order) a
    block at a time; return X's shape and dtype, and ``y``. Every member is checked.

    Every member must be a ``.npy`` array without pickle, whole (its CRC and its header's size
    agree): the split step's record hashes the whole file after writing the split, so what it
    could not read is refused here, before anything is written.
    """
    import zipfile

    if not zipfile.is_zipfile(path):
        raise DataError(f"{path}: not a NPZ archive (numpy.savez writes one); holds arrays 'X' and 'y'")
    found_x: tuple[tuple[int, ...], np.dtype, tuple[int, ...] | None] | None = None
    y: np.ndarray | None = None
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            names = [info.filename for info in infos]
            for i, name in enumerate(names):
                if not name.endswith(".npy"):
                    raise DataError(f"{path}: member {_shown(name)} is not a .npy array; {_NPZ_EXPECTED}")
                if name in names[:i]:
                    raise DataError(f"{path}: member {_shown(name)} is stored twice; {_NPZ_EXPECTED}")
            found = [name[: -len(".npy")] for name in names]
            missing = [k for k in ("X", "y") if k not in found]
            if missing:
                raise DataError(
                    f"{path}: missing array(s) {', '.join(missing)}; a NPZ data set holds "
                    f"arrays 'X' (features) and 'y' (labels), found {', '.join(map(_shown, found)) or 'none'}"
                )
            for info in infos:
                if info.filename == "X.npy":
                    with open(out, "wb") as sink:
                        found_x = _stream_member(path, zf, info, sink)
                else:
                    array = _read_member(path, zf, info, keep=info.filename == "y.npy")
                    y = array if array is not None else y
    except DataError:
        raise
    except Exception as exc:  # zipfile raises many types on a damaged archive (BadZipFile, zlib.error, EOFError, …)
        raise DataError(
            f"{path}: cannot be read as a zip archive ({_kind(exc)}: {exc}); the file is truncated or "
            "damaged: write it again with numpy.savez"
        ) from None
    assert found_x is not None and y is not None  # both members are there: checked above
    shape, dtype, bad = found_x
    _check_npz_shapes(path, shape, y)
    _check_npz_labels(path, y)
    if dtype.kind not in "biuf":
        raise DataError(f"{path}: features must be numeric, got dtype {dtype}")
    if bad is not None:
        raise DataError(
            f"{path}: features contain NaN or infinite values: X{_index(bad)} is {_value(out, dtype, shape, bad)}; "
            "feature values must be finite numbers"
        )
    return shape, dtype, y


def _value(out: Path, dtype: np.dtype, shape: tuple[int, ...], at: tuple[int, ...]) -> Any:
    """The value at index ``at`` of the array written to ``out``."""
    offset = int(np.ravel_multi_index(at, shape)) * dtype.itemsize
    return np.fromfile(out, dtype=dtype, count=1, offset=offset)[0]


def _stream_member(
    path: Path, zf: Any, info: Any, sink: Any
) -> tuple[tuple[int, ...], np.dtype, tuple[int, ...] | None]:
    """Write a member's array to ``sink`` a block at a time (C order, native byte order);
    its shape, dtype (native) and the index of its first value that is not finite, if any."""
    fmt = np.lib.format
    _read_member(path, zf, info, keep=False)  # the header and size checked, every byte read (the CRC)
    try:
        with zf.open(info) as fh:
            version = fmt.read_magic(fh)
            read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            shape, fortran, dtype = read_header(fh)
            native = dtype.newbyteorder("=") if dtype.byteorder == ">" else dtype
            blocks: Any
            if fortran:  # rare: read whole, written in C order
                with zf.open(info) as whole:
                    blocks = [fmt.read_array(whole, allow_pickle=False)]
            else:
                step = max(1, (4 << 20) // max(1, dtype.itemsize)) * max(1, dtype.itemsize)
                blocks = (np.frombuffer(chunk, dtype=dtype) for chunk in iter(lambda: fh.read(step), b""))
            done, bad = 0, None
            for block in blocks:
                flat = np.asarray(block, dtype=native).reshape(-1)
                if bad is None and flat.dtype.kind == "f" and not np.isfinite(flat).all():
                    at = done + int(np.argmax(~np.isfinite(flat)))
                    bad = tuple(int(i) for i in np.unravel_index(at, shape))
                sink.write(flat.tobytes())
                done += flat.size
    except DataError:
        raise
    except Exception as exc:  # as _read_member: a damaged archive raises many types
        raise DataError(
            f"{path}: member {_shown(info.filename)} cannot be read ({_kind(exc)}: {exc}); the archive is "
            "truncated or damaged: write it again with numpy.savez"
        ) from None
    return tuple(shape), native, bad


def _read_member(path: Path, zf: Any, info: Any, *, keep: bool) -> np.ndarray | None:
    """One member's array if ``keep``, else None; either way its header is checked against
    its size (a header may claim any shape: it is not trusted with memory) and every byte is
    read, so the archive's CRC is checked."""
    fmt = np.lib.format
    name = info.filename
    try:
        with zf.open(info) as fh:
            version = fmt.read_magic(fh)
            read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            shape, _, dtype = read_header(fh)
            if dtype.hasobject:
                raise DataError(
                    f"{path}: cannot be read without pickle (member {_shown(name)} holds an array of dtype object); "
                    "store plain arrays"
                )
            if _has_dates(dtype):
                raise DataError(
                    f"{path}: member {_shown(name)} holds an array of dtype {dtype} (dates or durations), which "
                    "samebits cannot checksum; store them as numbers (.astype('int64')) or leave them out"
                )
            expected = math.prod(shape) * dtype.itemsize
            if info.file_size - fh.tell() != expected:
                raise DataError(
                    f"{path}: member {_shown(name)} is damaged: its header says shape {shape}, dtype {dtype} "
                    f"({expected:,} bytes), but it holds {info.file_size - fh.tell():,} bytes after the header; "
                    "write it again with numpy.savez"
                )
            if not keep:
                while fh.read(1 << 22):
                    pass
                return None
        with zf.open(info) as fh:
            array = fmt.read_array(fh, allow_pickle=False)
            fh.read()  # to its end: the CRC is checked there
            return np.asarray(array)
    except DataError:
        raise
    except Exception as exc:  # NumPy's header parser and zipfile's decompressors raise many types
        raise DataError(
            f"{path}: member {_shown(name)} cannot be read ({_kind(exc)}: {exc}); the archive is "
            "truncated or damaged: write it again with numpy.savez"
        ) from None


def _has_dates(dtype: np.dtype) -> bool:
    """Whether a dtype holds datetime64 or timedelta64 values (in a field of a structured dtype
    too): NumPy cannot hand them to hashlib as a buffer."""
    if dtype.fields:
        return any(_has_dates(field[0]) for field in dtype.fields.values())
    if dtype.subdtype is not None:
        return _has_dates(dtype.subdtype[0])
    return dtype.kind in "mM"


def _check_npz_shapes(path: Path, shape: tuple[int, ...], y: np.ndarray) -> None:
    if len(shape) < 2:
        raise DataError(
            f"{path}: X has shape {shape}; X must be 2-D or more, one row per sample "
            "((samples, features), or (samples, height, width, channels) for images)"
        )
    if y.ndim not in (1, 2):
        raise DataError(
            f"{path}: y has shape {y.shape}; y must be 1-D (one label per sample) or 2-D (one row of "
            "targets per sample, for a regression)"
        )
    if shape[0] != len(y):
        raise DataError(f"{path}: X has {shape[0]} rows but y has {len(y)}; they must match")
    if shape[0] == 0:
        raise DataError(f"{path}: X and y have 0 rows; a data set needs samples, one row per sample")
    if math.prod(shape[1:]) == 0:
        raise DataError(f"{path}: X has shape {shape}: no features; each sample needs at least one feature")
    if y.ndim == 2 and y.shape[1] == 0:
        raise DataError(f"{path}: y has shape {y.shape}: no targets; each sample needs a label or target")


def _check_npz_labels(path: Path, y: np.ndarray) -> None:
    """Labels are numbers or text, finite and not empty."""
    if y.dtype.kind not in "biufUS":
        raise DataError(
            f"{path}: y has dtype {y.dtype}; labels are numbers (int, float, bool) or text (a classification's "
            "classes, a regression's targets)"
        )
    if y.dtype.kind == "f":
        bad = ~np.isfinite(y)
        if bad.any():
            at = np.unravel_index(int(np.argmax(bad)), bad.shape)
            raise DataError(
                f"{path}: y{_index(at)} is {y[at]}; labels must be finite (a class, or a regression's target)"
            )
    if y.dtype.kind in "US":
        for value in np.unique(y):
            text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
            problem = _label_problem(text)
            if problem:
                at = np.unravel_index(int(np.argmax(y == value)), y.shape)
                raise DataError(f"{path}: y{_index(at)}: {problem}")


def _kind(exc: BaseException) -> str:
    """An exception's type as its module names it (``zlib.error``, ``zipfile.BadZipFile``)."""
    kind = type(exc)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def _index(at: tuple[Any, ...]) -> str:
    return "[" + ", ".join(str(int(i)) for i in at) + "]"
