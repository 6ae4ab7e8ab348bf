import io
import json
import zipfile

import numpy as np
import pytest

from samebits.core.hashing import hash_arrays, hash_file, hash_json_obj, hash_npz, hash_output


@pytest.fixture
def arrays():
    rng = np.random.default_rng(0)
    return {
        "w": rng.standard_normal((7, 5)).astype(np.float32),
        "b": np.arange(5, dtype=np.int64),
        "empty": np.zeros((0, 3)),
        "scalar": np.asarray(3.5),
    }


def test_npz_checksum_equals_in_memory_checksum(tmp_path, arrays):
    np.savez(tmp_path / "a.npz", **arrays)
    assert hash_npz(tmp_path / "a.npz") == hash_arrays(arrays)


def test_checksum_is_of_content_not_container(tmp_path, arrays):
    np.savez(tmp_path / "plain.npz", **arrays)
    np.savez_compressed(tmp_path / "zipped.npz", **dict(reversed(list(arrays.items()))))
    assert hash_file(tmp_path / "plain.npz") != hash_file(tmp_path / "zipped.npz")
    assert hash_npz(tmp_path / "plain.npz")[0] == hash_npz(tmp_path / "zipped.npz")[0]


def test_layout_and_byte_order_do_not_count_but_values_dtype_shape_and_names_do(tmp_path, arrays):
    base = hash_arrays(arrays)[0]
    w = arrays["w"]
    np.savez(tmp_path / "f.npz", **{**arrays, "w": np.asfortranarray(w), "b": arrays["b"].astype(">i8")})
    assert hash_npz(tmp_path / "f.npz")[0] == base
    bumped = w.copy()
    bumped[3, 2] = np.nextafter(bumped[3, 2], np.float32(np.inf))  # one ULP
    assert hash_arrays({**arrays, "w": bumped})[0] != base
    assert hash_arrays({**arrays, "w": w.astype(np.float64)})[0] != base
    assert hash_arrays({**arrays, "w": w.reshape(5, 7)})[0] != base
    assert hash_arrays({**{k: v for k, v in arrays.items() if k != "w"}, "w2": w})[0] != base


def test_statistics_are_exact_enough_and_json_safe(arrays):
    _, stats = hash_arrays(arrays)
    w = arrays["w"].astype(np.float64)
    assert stats["w"]["shape"] == [7, 5] and stats["w"]["dtype"] == "<f4"
    assert stats["w"]["sum"] == pytest.approx(w.sum(), rel=1e-12)
    assert stats["w"]["l2"] == pytest.approx(np.linalg.norm(w), rel=1e-12)
    assert stats["w"]["min"] == w.min() and stats["w"]["max"] == w.max()
    assert stats["empty"]["min"] is None
    json.dumps(stats, allow_nan=False)


def test_streaming_crosses_chunk_boundaries(tmp_path, monkeypatch):
    import samebits.core.hashing as h

    monkeypatch.setattr(h, "_CHUNK", 64)
    big = {"x": np.arange(1001, dtype=np.float64) / 7}
    np.savez(tmp_path / "x.npz", **big)
    assert hash_npz(tmp_path / "x.npz") == hash_arrays(big)


def test_object_arrays_are_refused(tmp_path):
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(tmp_path / "o.npz", "w") as zf:
        zf.writestr("o.npy", buf.getvalue())
    with pytest.raises(ValueError, match="pickle"):
        hash_npz(tmp_path / "o.npz")


def test_json_checksum_ignores_key_order_and_whitespace(tmp_path):
    (tmp_path / "a.json").write_text('{"b": 1.5, "a": [1, 2]}')
    (tmp_path / "b.json").write_text('{\n  "a": [1, 2],\n  "b": 1.5\n}\n')
    a, b = hash_output(tmp_path / "a.json"), hash_output(tmp_path / "b.json")
    assert a["sha256"] == b["sha256"] == hash_json_obj({"a": [1, 2], "b": 1.5})
    assert a["numbers"] == {"a[0]": 1.0, "a[1]": 2.0, "b": 1.5}
    assert hash_json_obj({"x": 0.1}) != hash_json_obj({"x": 0.1 + 1e-17 + 2e-17})


def test_large_arrays_hash_the_same_in_memory_and_from_file_on_the_overlapped_path(tmp_path):
    """Arrays above the overlap threshold take the two-thread path; the checksum must still
    be SHA-256 of the canonical stream, and memory and file must agree on the statistics."""
    import hashlib

    from samebits.core import hashing

    rng = np.random.default_rng(3)
    arrays = {"big": rng.standard_normal(5_000_003).astype(np.float32), "ints": np.arange(3_000_001, dtype=np.int64)}
    assert arrays["big"].nbytes > hashing._OVERLAP_MIN
    digest, stats = hashing.hash_arrays(arrays)
    np.savez(tmp_path / "a.npz", **arrays)
    assert hashing.hash_npz(tmp_path / "a.npz") == (digest, stats)

    h = hashlib.sha256(hashing._ARRAYS_TAG)
    for name in sorted(arrays):
        h.update(hashing._header(name, arrays[name].dtype, arrays[name].shape))
        h.update(arrays[name].tobytes())
    assert digest == "sha256:" + h.hexdigest()
    assert stats["ints"]["sum"] == float(sum(range(3_000_001)))
    assert stats["big"]["max"] == float(arrays["big"].max())
