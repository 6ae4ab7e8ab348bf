"""Compare two result trees step by step, down to the tensor element (``samebits diff A B``).

Steps are paired by record id (e.g. ``train/mlp/seed=0``). What is compared is what is on
disk, not what the records say: each output file is first checked against its own record (a
stat check, then a re-hash when the file may have changed since its record was written),
and a file that no longer matches its record is reported as such. Outputs whose content has
the same canonical checksum in both trees are identical; only the outputs that differ are
loaded, to say *where* and *by how much* they differ:

- arrays (``.npz``): per array, how many elements differ in their bits, the largest absolute
  difference and the largest distance in units in the last place (ULP);
- JSON: every numeric leaf whose value differs, with both values and the difference;
- any other file: only that it differs.

Non-finite numbers (NaN, infinities) are written as their ``repr`` text, as in records, so
the result is strict JSON.
"""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import SamebitsError
from ..core.hashing import hash_output, numeric_leaves
from ..provenance import records

__all__ = ["RECORD_GLOB", "diff_array", "diff_trees", "format_table"]

#: Where step records lie in a results tree.
RECORD_GLOB = "**/*.record.json"

_SIDES = ("A", "B")


def diff_trees(a: str | Path, b: str | Path) -> dict[str, Any]:
    """Compare the step outputs of two result trees.

    Parameters
    ----------
    a, b : str or Path
        Results directories (e.g. ``results/`` of two clones), each holding step records
        (``*.record.json``) beside their outputs.

    Returns
    -------
    dict
        JSON-serialisable, ordered by step id, output name and array name::

            {"a": str, "b": str, "identical": bool,
             "steps": [{"id": str,
                        "status": "identical" | "different" | "only-in-a" | "only-in-b",
                        "first_epoch": int | None,
                        "unrecorded": [{"side": "A" | "B", "output": str, "path": str,
                                        "recorded": str, "found": str | None}],
                        "outputs": [{"output": str, "kind": str, "identical": False,
                                     "note": str | None,
                                     "arrays": [{"name", "identical", "max_abs", "max_ulp",
                                                 "n_differ", "size", "note"}],
                                     "numbers": [{"key", "a", "b", "delta"}]}]}]}

        Only outputs that differ are listed, and within them only arrays that differ.
        ``unrecorded`` lists the output files that no longer match their own record (``found``
        is ``None`` for a missing file); a step with any is ``different``, whatever the other
        tree holds. ``first_epoch`` is the 1-based index of the first differing entry of the
        records' ``trace.epoch_weights`` (train steps), or None.

    Raises
    ------
    SamebitsError
        If ``a`` or ``b`` is not a directory or holds no step records, or a record is
        malformed (:class:`samebits.core.errors.RecordError`).
    """
    a, b = Path(a), Path(b)
    recs_a, recs_b = _records(a), _records(b)
    steps = []
    for sid in sorted(set(recs_a) | set(recs_b)):
        if sid not in recs_b:
            steps.append(_step(sid, "only-in-a"))
        elif sid not in recs_a:
            steps.append(_step(sid, "only-in-b"))
        else:
            steps.append(_diff_step(sid, recs_a[sid], recs_b[sid]))
    return {
        "a": str(a),
        "b": str(b),
        "identical": all(s["status"] == "identical" for s in steps),
        "steps": steps,
    }


def format_table(result: dict[str, Any]) -> str:
    """Render a :func:`diff_trees` result as a human table.

    Parameters
    ----------
    result : dict
        What :func:`diff_trees` returned.

    Returns
    -------
    str
        A headline (``A and B are identical: 21 steps`` or ``2 of 21 steps differ``), then
        one line per differing array, number or output, e.g.
        ``train/mlp/seed=0  weights  dense_1/kernel  max|Δ| 1.19e-07  max ULP 2  3/1024 differ``,
        one per output file that does not match its record, and ``first diverging epoch 3``
        for train steps whose epoch trace differs.
    """
    steps = result["steps"]
    differing = [s for s in steps if s["status"] != "identical"]
    total = f"{len(steps)} step{'' if len(steps) == 1 else 's'}"
    if not differing:
        headline = f"A and B are identical: {total}"
    else:
        headline = f"{len(differing)} of {total} differ"
    rows: list[list[str]] = []
    for s in differing:
        sid = s["id"]
        if s["status"] in ("only-in-a", "only-in-b"):
            rows.append([sid, "", "", f"only in {s['status'][-1].upper()}"])
            continue
        for bad in s["unrecorded"]:
            found = "missing" if bad["found"] is None else f"found {bad['found'][7:19]}"
            rows.append(
                [
                    sid,
                    bad["output"],
                    "",
                    f"{bad['side']}: does not match its record (recorded {bad['recorded'][7:19]}, {found})",
                ]
            )
        for out in s["outputs"]:
            name = out["output"]
            for arr in out["arrays"]:
                rows.append([sid, name, arr["name"], _array_text(arr)])
            for num in out["numbers"]:
                rows.append([sid, name, num["key"], _number_text(num)])
            if out["note"] or not (out["arrays"] or out["numbers"]):
                rows.append([sid, name, "", out["note"] or f"differs ({out['kind']})"])
        if s["first_epoch"] is not None:
            rows.append([sid, "", "", f"first diverging epoch {s['first_epoch']}"])
    lines = [f"A  {result['a']}", f"B  {result['b']}", headline]
    widths = [max((len(r[i]) for r in rows if r[i]), default=0) for i in range(3)]
    for sid, output, name, detail in rows:
        # Columns are aligned; blank ones (step- and output-level lines) are skipped rather
        # than padded, so those lines do not carry runs of spaces.
        cells = [sid.ljust(widths[0])]
        cells += [c.ljust(w) for c, w in ((output, widths[1]), (name, widths[2])) if c]
        lines.append("  ".join([*cells, detail]))
    return "\n".join(lines) + "\n"


# --- records -------------------------------------------------------------------------


def _records(root: Path) -> dict[str, tuple[Path, dict[str, Any]]]:
    """``{step id: (record path, record)}`` of one tree."""
    if not root.is_dir():
        raise SamebitsError(f"{root}: not a directory (expected a results tree with *.record.json files)")
    found: dict[str, tuple[Path, dict[str, Any]]] = {}
    for path in sorted(root.glob(RECORD_GLOB)):
        rec = records.read(path)
        sid = rec["id"]
        if sid in found:
            raise SamebitsError(f"{root}: step {sid} has two records, {found[sid][0]} and {path}")
        found[sid] = (path, rec)
    if not found:
        raise SamebitsError(f"{root}: no step records (*.record.json) found; is it a results directory?")
    return found


def _step(
    sid: str, status: str, first_epoch: int | None = None, outputs: list | None = None, unrecorded: list | None = None
) -> dict[str, Any]:
    return {
        "id": sid,
        "status": status,
        "first_epoch": first_epoch,
        "outputs": outputs or [],
        "unrecorded": unrecorded or [],
    }


def _on_disk(record_path: Path, record: dict[str, Any], desc: dict[str, Any]) -> str | None:
    """The canonical checksum of an output's file as it is now (``None``: missing).

    The file is re-hashed only when its stat differs from the one its record was written
    with (a copied tree is re-hashed: a copy has new ctimes, which nobody can set back)."""
    path = _output_path(record_path, desc)
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    seen = (record.get("run") or {}).get("files", {}).get(desc.get("path"))
    if seen == [st.st_size, st.st_mtime_ns, st.st_ctime_ns]:
        return desc["sha256"]
    try:
        return hash_output(path)["sha256"]
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        return f"unreadable ({exc})"


def _diff_step(sid: str, ra: tuple[Path, dict], rb: tuple[Path, dict]) -> dict[str, Any]:
    (pa, rec_a), (pb, rec_b) = ra, rb
    outs_a, outs_b = rec_a["outputs"], rec_b["outputs"]
    outputs, unrecorded = [], []
    for name in sorted(set(outs_a) | set(outs_b)):
        da, db = outs_a.get(name), outs_b.get(name)
        found = {}
        for side, path, rec, desc in (("A", pa, rec_a, da), ("B", pb, rec_b, db)):
            if desc is None:
                continue
            found[side] = _on_disk(path, rec, desc)
            if found[side] != desc["sha256"]:
                unrecorded.append(
                    {
                        "side": side,
                        "output": name,
                        "path": desc.get("path"),
                        "recorded": desc["sha256"],
                        "found": found[side],
                    }
                )
        if da is not None and db is not None and found["A"] == found["B"] is not None:
            continue  # the same canonical content on disk: no need to open the files
        outputs.append(_diff_output(name, pa, da, pb, db))
    first = _first_epoch(rec_a.get("trace") or {}, rec_b.get("trace") or {})
    status = "different" if outputs or unrecorded else "identical"
    return _step(sid, status, first, outputs, unrecorded)


def _first_epoch(ta: dict[str, Any], tb: dict[str, Any]) -> int | None:
    """1-based index of the first differing per-epoch weight checksum, or None."""
    ea, eb = ta.get("epoch_weights"), tb.get("epoch_weights")
    if not isinstance(ea, list) or not isinstance(eb, list):
        return None
    for i, (x, y) in enumerate(zip(ea, eb, strict=False), start=1):
        if x != y:
            return i
    # Equal common prefix: the first epoch that exists in only one trace is where they part.
    return None if len(ea) == len(eb) else min(len(ea), len(eb)) + 1


# --- outputs -------------------------------------------------------------------------


def _output_path(record_path: Path, desc: dict[str, Any]) -> Path:
    # Recorded paths are relative to the workflow's working directory, which differs between
    # clones; the output always lies beside its record, so only its file name is used.
    return record_path.parent / Path(desc["path"]).name


def _diff_output(name: str, pa: Path, da: dict | None, pb: Path, db: dict | None) -> dict[str, Any]:
    kind = (da or db or {}).get("kind", "bytes")
    out: dict[str, Any] = {"output": name, "kind": kind, "identical": False, "note": None, "arrays": [], "numbers": []}
    if da is None or db is None:
        out["note"] = f"only in {'B' if da is None else 'A'}"
        return out
    if da.get("kind") != db.get("kind"):
        out["note"] = f"kind {da.get('kind')} in A, {db.get('kind')} in B"
        return out
    files = [_output_path(pa, da), _output_path(pb, db)]
    missing = [f"{side} ({f})" for side, f in zip(_SIDES, files, strict=True) if not f.is_file()]
    if missing:
        out["note"] = f"file missing in {', '.join(missing)}"
        return out
    try:
        if kind == "arrays":
            out["arrays"] = _diff_npz(*files)
        elif kind == "json":
            out["numbers"], out["note"] = _diff_json(*files)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        # A damaged output is itself a finding; report it and go on with the other steps.
        out["arrays"], out["numbers"] = [], []
        out["note"] = f"cannot read: {exc}"
    return out


def _diff_json(fa: Path, fb: Path) -> tuple[list[dict[str, Any]], str | None]:
    with open(fa, encoding="utf-8") as fh:
        la = numeric_leaves(json.load(fh))
    with open(fb, encoding="utf-8") as fh:
        lb = numeric_leaves(json.load(fh))
    numbers = []
    # numeric_leaves orders keys naturally (list indices in order), so keep that order.
    for key in [*la, *(k for k in lb if k not in la)]:
        x, y = la.get(key), lb.get(key)
        if x is not None and y is not None and (x == y or (math.isnan(x) and math.isnan(y))):
            continue
        delta = None if x is None or y is None else y - x
        numbers.append({"key": key, "a": _num(x), "b": _num(y), "delta": _num(delta)})
    # The checksums differ, so something does: if no number does, it is text or structure.
    return numbers, None if numbers else "differs outside its numeric values"


def _num(x: float | None) -> float | str | None:
    # Strict JSON has no NaN or Infinity; records spell them as text, and so does the diff.
    if x is None or math.isfinite(x):
        return x
    return repr(x)


# --- arrays --------------------------------------------------------------------------


def _diff_npz(fa: Path, fb: Path) -> list[dict[str, Any]]:
    with np.load(fa, allow_pickle=False) as za, np.load(fb, allow_pickle=False) as zb:
        names_a, names_b = set(za.files), set(zb.files)
        diffs = []
        for name in sorted(names_a | names_b):
            if name not in names_b:
                diffs.append(_array_entry(name, note="only in A"))
            elif name not in names_a:
                diffs.append(_array_entry(name, note="only in B"))
            else:
                entry = diff_array(name, za[name], zb[name])
                if entry is not None:
                    diffs.append(entry)
    return diffs


def _flat_native(arr: np.ndarray) -> np.ndarray:
    # Checksums ignore byte order, and so must the comparison; bit views need native order.
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return np.ascontiguousarray(arr).reshape(-1)


def _array_entry(name: str, **fields: Any) -> dict[str, Any]:
    entry = dict.fromkeys(("max_abs", "max_ulp", "n_differ", "size", "note"))
    return {"name": name, "identical": False, **entry, **fields}


def diff_array(name: str, a: np.ndarray, b: np.ndarray) -> dict[str, Any] | None:
    """The entry for one array present in both trees, or None if its bits are equal."""
    da, db = a.dtype.newbyteorder("<"), b.dtype.newbyteorder("<")
    if da != db:
        return _array_entry(name, note=f"dtype {da.str} in A, {db.str} in B")
    if a.shape != b.shape:
        return _array_entry(name, note=f"shape {list(a.shape)} in A, {list(b.shape)} in B")
    a, b = _flat_native(a), _flat_native(b)
    # Compare bits, not values: -0.0 vs 0.0 and NaN payloads are differences in the checksum.
    differ = _bits(a) != _bits(b)
    if differ.ndim == 2:
        differ = differ.any(axis=1)
    n_differ = int(np.count_nonzero(differ))
    if n_differ == 0:
        return None
    entry = _array_entry(name, n_differ=n_differ, size=int(a.size))
    xa, xb = a[differ], b[differ]
    kind = a.dtype.kind
    if kind in "biu":
        if kind == "b":
            xa, xb = xa.view(np.uint8), xb.view(np.uint8)
        ulp = int(_distance(xa, xb).max())
        entry.update(max_abs=float(ulp), max_ulp=ulp)
    elif kind in "fc":
        nan = np.isnan(xa) | np.isnan(xb)
        notes = []
        if nan.any():
            # A NaN has no distance to anything; count those elements and measure the rest.
            notes.append(f"{int(nan.sum())} differing element(s) involve NaN")
            xa, xb = xa[~nan], xb[~nan]
        if xa.size:
            wide = np.complex128 if kind == "c" else np.float64
            with np.errstate(over="ignore", invalid="ignore"):
                max_abs = float(np.abs(xb.astype(wide) - xa.astype(wide)).max())
            entry["max_abs"] = _num(max_abs)
            if kind == "f" and a.dtype.itemsize in (2, 4, 8):
                entry["max_ulp"] = int(_distance(_ordered(xa), _ordered(xb)).max())
                if entry["max_ulp"] == 0:
                    notes.append("only the sign of zero differs")
        entry["note"] = "; ".join(notes) or None
    return entry


def _bits(x: np.ndarray) -> np.ndarray:
    """The raw bits of each element of flat ``x``: one unsigned int each, or a row of bytes."""
    size = x.dtype.itemsize
    if size in (1, 2, 4, 8):
        return x.view(f"u{size}")
    return x.view(np.uint8).reshape(x.size, size)


def _ordered(x: np.ndarray) -> np.ndarray:
    """Map IEEE floats to signed ints whose order and spacing are those of the floats.

    Positive floats' bit patterns, read as signed ints, already count up in ULPs from +0.
    Negative floats are sign-magnitude, so they are reflected: ``INT_MIN - i`` sends -0.0
    to 0, the negative subnormal next to it to -1, and so on, making the integer line
    continuous through zero (-0.0 and +0.0 both land on 0).
    """
    i = x.view(f"i{x.dtype.itemsize}")
    return np.where(i < 0, np.iinfo(i.dtype).min - i, i)


def _distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``|a - b|`` of two integer arrays of one dtype, exact, as unsigned ints of that width.

    The true difference of two n-bit ints can need n+1 bits; subtracting the smaller from
    the larger in unsigned n-bit arithmetic wraps to exactly the right value, so nothing
    overflows even for 64-bit values.
    """
    u = np.dtype(f"u{a.dtype.itemsize}")
    ua, ub = a.view(u), b.view(u)
    return np.where(a >= b, ua - ub, ub - ua)


# --- table text ----------------------------------------------------------------------


def _array_text(arr: dict[str, Any]) -> str:
    if arr["n_differ"] is None:
        return arr["note"] or "differs"
    parts = []
    if arr["max_abs"] is not None:
        max_abs = arr["max_abs"]
        parts.append(f"max|Δ| {max_abs:.3g}" if isinstance(max_abs, float) else f"max|Δ| {max_abs}")
    if arr["max_ulp"] is not None:
        parts.append(f"max ULP {arr['max_ulp']}")
    parts.append(f"{arr['n_differ']}/{arr['size']} differ")
    if arr["note"]:
        parts.append(f"({arr['note']})")
    return "  ".join(parts)


def _number_text(num: dict[str, Any]) -> str:
    x, y = num["a"], num["b"]
    if x is None:
        return f"only in B ({_fmt(y)})"
    if y is None:
        return f"only in A ({_fmt(x)})"
    sx, sy = _distinct(x, y)
    delta = num["delta"]
    return f"{sx} → {sy} (Δ {delta:.3g})" if isinstance(delta, float) else f"{sx} → {sy} (Δ {delta})"


def _fmt(x: float | str) -> str:
    return f"{x:.7g}" if isinstance(x, float) else str(x)


def _distinct(x: float | str, y: float | str) -> tuple[str, str]:
    """Texts for two numbers, with just enough digits that they do not read the same."""
    if not (isinstance(x, float) and isinstance(y, float)):
        return _fmt(x), _fmt(y)
    for digits in range(7, 18):
        sx, sy = f"{x:.{digits}g}", f"{y:.{digits}g}"
        if sx != sy:
            return sx, sy
    return repr(x), repr(y)
