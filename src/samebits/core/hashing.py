"""Canonical content checksums.

A checksum is taken over *content*, never over a container's bytes:

- arrays (``.npz``): for each array in name order, a small JSON header with its name, dtype
  (little-endian) and shape, then its raw C-order bytes; the archive's zip metadata, member
  order and compression do not count;
- JSON: the document re-serialised with sorted keys and exact float text;
- any other file: its bytes.

Array members are streamed out of the archive in chunks, so hashing never holds a whole
array twice. The statistics of each array (sum, L2 norm, min, max) that
:mod:`samebits.provenance.compare` uses for tolerance checks are accumulated over the same
chunks (fixed element counts, so an array in memory and the same array read from a file give
the same statistics), on a second thread while SHA-256 runs on the first: both release the
GIL, so large arrays hash at ``hashlib.sha256`` speed.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import math
import threading
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from _hashlib import HASH

__all__ = [
    "canonical_json",
    "hash_json_obj",
    "hash_arrays",
    "digest_arrays",
    "hash_array_parts",
    "hash_npz",
    "hash_json_file",
    "hash_file",
    "hash_output",
    "numeric_leaves",
]

_ARRAYS_TAG = b"samebits-arrays-v1\0"
_JSON_TAG = b"samebits-json-v1\0"
_CHUNK = 1 << 22  # 4 MiB: large enough to run at hashlib speed, small enough for memory
_OVERLAP_MIN = 1 << 23  # from 8 MiB on, statistics are taken beside the hashing thread

_pool: concurrent.futures.ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _hash_pool() -> concurrent.futures.ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="samebits-sha256")
        return _pool


def _chunk_elements(dtype: np.dtype) -> int:
    return max(1, _CHUNK // max(1, dtype.itemsize))


def _feed(h: HASH, stats: _Stats, chunks: Iterable[np.ndarray], nbytes: int) -> None:
    """Hash every chunk in order and add it to ``stats``; for large data the SHA-256 of
    chunk *i* runs on a worker thread while chunk *i* is added to the statistics (strictly
    one chunk at a time, in order, so the result is the same as doing both in turn)."""
    if nbytes < _OVERLAP_MIN or not stats.numeric:
        for chunk in chunks:
            h.update(memoryview(chunk).cast("B"))  # type: ignore[arg-type]  # numpy's stub: a Buffer on 3.12+ only
            stats.add(chunk)
        return
    pool = _hash_pool()
    for chunk in chunks:
        pending = pool.submit(h.update, memoryview(chunk).cast("B"))  # type: ignore[arg-type]  # (as above)
        stats.add(chunk)
        pending.result()


def canonical_json(obj: Any) -> str:
    """Serialise ``obj`` canonically: sorted keys, no whitespace, exact float text.

    Python writes floats with ``repr``, the shortest text that reads back to the same
    double, so the text is exact.
    """
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def hash_json_obj(obj: Any) -> str:
    """SHA-256 of the canonical JSON text of ``obj``, as ``sha256:<hex>``."""
    return "sha256:" + hashlib.sha256(_JSON_TAG + canonical_json(obj).encode()).hexdigest()


class _Stats:
    """Streaming statistics of one array: sum, L2 norm, min, max (float64)."""

    def __init__(self, dtype: np.dtype, shape: tuple[int, ...]):
        self.dtype = dtype
        self.shape = shape
        self.numeric = dtype.kind in "biuf"
        self.total = 0.0
        self.sumsq = 0.0
        self.lo = math.inf
        self.hi = -math.inf
        self.count = 0

    def add(self, values: np.ndarray) -> None:
        if not self.numeric or values.size == 0:
            return
        v = values.astype(np.float64, copy=False)
        self.total += float(v.sum())
        # squares in place when v is our own copy; pairwise summation like the sum above
        self.sumsq += float(np.multiply(v, v, out=None if v is values else v).sum())
        # min and max on the stored type: casting is monotonic, so the values are the same
        self.lo = min(self.lo, float(values.min()))
        self.hi = max(self.hi, float(values.max()))
        self.count += v.size

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"dtype": self.dtype.str, "shape": list(self.shape)}
        if self.numeric:
            has = self.count > 0
            out.update(
                sum=_finite(self.total),
                l2=_finite(math.sqrt(self.sumsq)) if has else 0.0,
                min=_finite(self.lo) if has else None,
                max=_finite(self.hi) if has else None,
            )
        return out


def _finite(x: float) -> float | str:
    # JSON has no NaN/Infinity; keep them as text so records stay valid, canonical JSON.
    return x if math.isfinite(x) else repr(x)


def _header(name: str, dtype: np.dtype, shape: tuple[int, ...]) -> bytes:
    text = canonical_json({"dtype": dtype.str, "name": name, "shape": list(shape)}).encode()
    return len(text).to_bytes(8, "little") + text


def _canonical_dtype(dtype: np.dtype) -> np.dtype:
    if dtype.hasobject:
        raise ValueError("object arrays cannot be hashed (they would need pickle)")
    return dtype.newbyteorder("<") if dtype.byteorder == ">" else dtype


def hash_arrays(arrays: Mapping[str, np.ndarray]) -> tuple[str, dict[str, dict[str, Any]]]:
    """Canonical checksum and per-array statistics of in-memory arrays.

    Gives the same checksum as :func:`hash_npz` on an ``np.savez`` of the same arrays.

    Examples
    --------
    >>> a = {"w": np.arange(3, dtype=np.float32)}
    >>> hash_arrays(a)[0] == hash_arrays({"w": np.arange(3, dtype=np.float32)})[0]
    True
    """
    h = hashlib.sha256(_ARRAYS_TAG)
    stats = {name: _feed_array(h, name, arrays[name]) for name in sorted(arrays)}
    return "sha256:" + h.hexdigest(), stats


def digest_arrays(arrays: Mapping[str, np.ndarray]) -> str:
    """:func:`hash_arrays`' checksum alone, without the statistics (a checkpoint's: half the
    work, on a thread beside training).

    >>> a = {"w": np.arange(3, dtype=np.float32), "b": np.zeros((2, 2))}
    >>> digest_arrays(a) == hash_arrays(a)[0]
    True
    """
    h = hashlib.sha256(_ARRAYS_TAG)
    for name in sorted(arrays):
        _feed_array(h, name, arrays[name], stats=False)
    return "sha256:" + h.hexdigest()


def hash_array_parts(
    arrays: Mapping[str, tuple[np.dtype, tuple[int, ...], Iterable[np.ndarray]]],
) -> tuple[str, dict[str, dict[str, Any]]]:
    """:func:`hash_arrays` of arrays given as ``(dtype, shape, parts)``, the parts in C order
    (any sizes, in the given dtype): the same checksum and statistics, without the whole array
    in memory (a data set read a block at a time).

    >>> a = np.arange(10, dtype=np.float64).reshape(5, 2)
    >>> hash_array_parts({"X": (a.dtype, a.shape, [a[:2], a[2:]])}) == hash_arrays({"X": a})
    True
    """
    h = hashlib.sha256(_ARRAYS_TAG)
    stats = {}
    for name in sorted(arrays):
        dtype, shape, parts = arrays[name]
        dtype = _canonical_dtype(np.dtype(dtype))
        h.update(_header(name, dtype, tuple(shape)))
        s = _Stats(dtype, tuple(shape))
        _feed(h, s, _rechunked(parts, dtype), math.prod(shape) * dtype.itemsize)
        stats[name] = s.as_dict()
    return "sha256:" + h.hexdigest(), stats


def _rechunked(parts: Iterable[np.ndarray], dtype: np.dtype) -> Iterator[np.ndarray]:
    """The elements of ``parts`` in chunks of :func:`_chunk_elements` (the last shorter), as
    :func:`_feed_array` cuts an array: the statistics' sums depend on the cut."""
    step = _chunk_elements(dtype)
    pending: list[np.ndarray] = []
    held = 0
    for part in parts:
        flat = np.asarray(part, dtype=dtype).reshape(-1)
        while flat.size:
            take = min(step - held, flat.size)
            pending.append(flat[:take])
            held += take
            flat = flat[take:]
            if held == step:
                yield pending[0] if len(pending) == 1 else np.concatenate(pending)
                pending, held = [], 0
    if held:
        yield np.concatenate(pending)


def _feed_array(h: HASH, name: str, arr: np.ndarray, *, stats: bool = True) -> dict[str, Any]:
    """Hash one in-memory array (header, then its canonical bytes); return its statistics
    (none without ``stats``)."""
    arr = np.asarray(arr)
    dtype = _canonical_dtype(arr.dtype)
    arr = np.asarray(arr, dtype=dtype, order="C")  # (ascontiguousarray would make 0-d 1-d)
    h.update(_header(name, dtype, arr.shape))
    if not stats:
        h.update(memoryview(arr.reshape(-1)).cast("B"))  # type: ignore[arg-type]  # numpy's stub: a Buffer on 3.12+ only
        return {}
    s = _Stats(dtype, arr.shape)
    flat = arr.reshape(-1)
    step = _chunk_elements(dtype)
    _feed(h, s, (flat[i : i + step] for i in range(0, flat.size, step)), flat.nbytes)
    return s.as_dict()


def _npz_members(zf: zipfile.ZipFile) -> dict[str, str]:
    members = {}
    for info in zf.infolist():
        if not info.filename.endswith(".npy"):
            raise ValueError(f"member {info.filename!r} is not a .npy array")
        members[info.filename[: -len(".npy")]] = info.filename
    return members


def _read_chunks(fh: IO[bytes], dtype: np.dtype, size: int) -> Iterator[np.ndarray]:
    while True:
        chunk = fh.read(size)
        if not chunk:
            return
        yield np.frombuffer(chunk, dtype=dtype)


def hash_npz(path: str | Path) -> tuple[str, dict[str, dict[str, Any]]]:
    """Canonical checksum and per-array statistics of an ``.npz`` file, streamed.

    Raises ``ValueError`` for archives that hold object arrays (they would need pickle).
    """
    h = hashlib.sha256(_ARRAYS_TAG)
    stats = {}
    with zipfile.ZipFile(path) as zf:
        members = _npz_members(zf)
        for name in sorted(members):
            with zf.open(members[name]) as fh:
                version = np.lib.format.read_magic(fh)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
                else:
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
                if dtype.hasobject:
                    raise ValueError(
                        f"{path}: array {name!r} has dtype object and would need pickle; "
                        "only plain numeric arrays are accepted"
                    )
                if fortran or dtype.byteorder == ">":
                    # Rare layouts: fall back to a full read and canonicalise in memory.
                    with zf.open(members[name]) as whole:
                        stats[name] = _feed_array(h, name, np.lib.format.read_array(whole, allow_pickle=False))
                    continue
                h.update(_header(name, dtype, shape))
                s = _Stats(dtype, shape)
                nbytes = math.prod(shape) * dtype.itemsize
                _feed(h, s, _read_chunks(fh, dtype, _chunk_elements(dtype) * dtype.itemsize), nbytes)
                stats[name] = s.as_dict()
    return "sha256:" + h.hexdigest(), stats


def hash_json_file(path: str | Path) -> tuple[str, Any]:
    """Canonical checksum of a JSON file, and the parsed document."""
    with open(path, encoding="utf-8") as fh:
        doc = json.load(fh)
    return hash_json_obj(doc), doc


def hash_file(path: str | Path) -> str:
    """SHA-256 of a file's bytes, streamed."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def numeric_leaves(doc: Any, prefix: str = "") -> dict[str, float]:
    """Flatten the numbers of a JSON document into ``{"a.b[2]": value}`` (for tolerances)."""
    out: dict[str, float] = {}
    if isinstance(doc, bool):
        return out
    if isinstance(doc, (int, float)):
        out[prefix or "."] = float(doc)
    elif isinstance(doc, Mapping):
        for k in sorted(doc):
            out.update(numeric_leaves(doc[k], f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(doc, list) and len(doc) <= 1024:
        for i, v in enumerate(doc):
            out.update(numeric_leaves(v, f"{prefix}[{i}]"))
    return out


def hash_output(path: str | Path) -> dict[str, Any]:
    """Describe one output file for a record: its kind, canonical checksum and statistics
    (a data folder: its content's checksum, :mod:`samebits.core.folders`)."""
    path = Path(path)
    if path.is_dir():
        from . import folders

        return {"kind": "folder", "sha256": folders.content(path).checksum}
    suffix = path.suffix.lower()
    if suffix == ".npz":
        digest, arrays = hash_npz(path)
        return {"kind": "arrays", "sha256": digest, "arrays": arrays}
    if suffix == ".json":
        digest, doc = hash_json_file(path)
        return {"kind": "json", "sha256": digest, "numbers": numeric_leaves(doc)}
    return {"kind": "bytes", "sha256": hash_file(path)}
