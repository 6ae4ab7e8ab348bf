"""Rows of a cache file: the windowed gather (shuffled blocks) reads the bytes ``preadv``
reads, whatever the window, and a short file is refused, never mapped past its end."""

from __future__ import annotations

import numpy as np
import pytest

from samebits.core.errors import DataError
from samebits.ml import rows as rowsmod
from samebits.ml.rows import Rows


def _file(tmp_path, n, shape, dtype):
    x = np.random.default_rng(1).standard_normal((n, *shape)).astype(dtype)
    path = tmp_path / "x.bin"
    x.tofile(path)
    return path, x


@pytest.mark.parametrize("window", [1, 4096, 70_000, 64 << 20])
@pytest.mark.parametrize("shape", [(3,), (7, 5), (1000,)])
def test_gathered_rows_are_the_rows_read(tmp_path, monkeypatch, window, shape):
    n = 3001
    path, x = _file(tmp_path, n, shape, np.float32)
    monkeypatch.setattr(rowsmod, "WINDOW_BYTES", window)
    rows = Rows(path, n, shape, np.float32)
    rng = np.random.default_rng(0)
    for idx in (rng.permutation(n), rng.integers(0, n, 500), np.array([n - 1, 0, n - 1, 5, 4, 3, 2, 1] * 20)):
        monkeypatch.setattr(rowsmod, "READ_RUNS", 0)  # the windowed gather
        gathered = rows[idx]
        monkeypatch.setattr(rowsmod, "READ_RUNS", 1 << 30)  # one preadv per run
        read = rows[idx]
        assert gathered.tobytes() == read.tobytes() == x[idx].tobytes()


def test_a_short_file_is_refused_not_mapped_past_its_end(tmp_path, monkeypatch):
    n = 1000
    path, _ = _file(tmp_path, n, (4,), np.float64)
    with open(path, "r+b") as fh:
        fh.truncate(n * 32 - 8)
    monkeypatch.setattr(rowsmod, "READ_RUNS", 0)
    with pytest.raises(DataError, match=r"x\.bin: cut short \(under 32000 bytes\); delete it"):
        Rows(path, n, (4,), np.float64)[np.random.default_rng(0).permutation(n)]
