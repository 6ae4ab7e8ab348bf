"""The batches a train or evaluate step reads are the same whichever way the features come:
a small array gathered by TensorFlow, a large one gathered by NumPy a block at a time, or rows
streamed from a table cache; the same rows, labels, weights and order, batch for batch."""

from __future__ import annotations

import numpy as np
import pytest

from samebits.ml import batches, scaling, training
from samebits.ml.rows import Rows


def _features(tmp_path, n=103):
    raw = np.random.default_rng(0).normal(size=(n, 3, 2)) * 50
    raw.tofile(tmp_path / "x.bin")
    rows = Rows(tmp_path / "x.bin", n, (3, 2), np.float64)
    positions = np.arange(5, n)  # a split's rows, not all
    scaler = scaling.fit("standard", rows, positions, where="d")
    return scaling.Samples(rows, positions, scaler)


def _read(dataset) -> list[list[np.ndarray]]:
    specs = dataset.element_spec if isinstance(dataset.element_spec, tuple) else (dataset.element_spec,)
    assert all(spec.shape.rank is not None for spec in specs), specs  # Keras' adapters need each rank
    return [[np.asarray(part) for part in batch] for batch in dataset]


@pytest.mark.parametrize("first_batch", [0, 3])
@pytest.mark.parametrize("weights", [False, True])
def test_block_reads_give_the_per_batch_reader_s_batches(tmp_path, monkeypatch, first_batch, weights):
    streamed = _features(tmp_path)
    memory = streamed.array()
    n = len(memory)
    y = np.arange(n) % 4
    w = (np.arange(n) / 7).astype(np.float32) if weights else None
    orders = training.epoch_orders(n, epochs=3, seed=1)
    expected = _read(batches.epoch_batches(memory, y, orders, 8, w, first_batch=first_batch))  # gathered by TF
    assert sum(len(b[0]) for b in expected) == 3 * n - first_batch * 8
    assert [len(b[0]) for b in expected][-1] == n % 8  # the epoch's shorter last batch
    monkeypatch.setattr(batches, "BLOCK_BYTES", 5 * 8 * memory[0].nbytes + 3)  # 5 batches a block
    for x in (streamed, memory):
        monkeypatch.setattr(batches, "CONSTANT_UP_TO", -1 if x is memory else batches.CONSTANT_UP_TO)
        found = _read(batches.epoch_batches(x, y, orders, 8, w, first_batch=first_batch))
        assert len(found) == len(expected)
        for got, want in zip(found, expected, strict=True):
            assert len(got) == len(want)
            for a, b in zip(got, want, strict=True):
                assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def test_in_order_batches_are_the_same_read_either_way(tmp_path, monkeypatch):
    streamed = _features(tmp_path)
    memory = streamed.array()
    y = np.arange(len(memory))
    expected = _read(batches.batches((memory, y), 16))
    monkeypatch.setattr(batches, "BLOCK_BYTES", 3 * 16 * memory[0].nbytes)
    for x in (streamed, (streamed, y)):
        found = batches.batches(x, 16)
        assert found.element_spec[0].shape.rank if isinstance(x, tuple) else found.element_spec.shape.rank
        got = _read(found) if isinstance(x, tuple) else [[np.asarray(b)] for b in found]
        assert [[a.tobytes() for a in g] for g in got] == [
            [a.tobytes() for a in e[: len(g)]] for e, g in zip(expected, got, strict=True)
        ]
