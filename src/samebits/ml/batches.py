"""The features and batches a TensorFlow step reads: the rows of a split, in memory or
streamed from disk (:func:`features`), and the ``tf.data`` pipelines that cut them into
batches in the seeded order (:func:`epoch_batches`) or in order (:func:`batches`).

Every pipeline here runs its map sequentially and without autotuning, so batches come in
the order given and each batch's values depend on its indices alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import data, scaling

__all__ = ["BLOCK_BYTES", "CONSTANT_UP_TO", "STREAM_ABOVE", "batches", "block_plan", "epoch_batches", "features"]


#: ``stream: null`` streams a step's features from disk when, scaled, they would take more
#: than this in memory (config/README.md says so).
STREAM_ABOVE = 1 << 30

#: Features in memory up to this size are copied into a tensor and gathered from there;
#: larger ones are gathered by NumPy from the one array (the same values, one copy).
CONSTANT_UP_TO = 64 << 20

#: Features read by NumPy (above :data:`CONSTANT_UP_TO`, or streamed) come a block of rows of
#: about this size at a time, cut into batches by TensorFlow: one Python call per block.
BLOCK_BYTES = 8 << 20


def features(
    ds: data.Dataset, positions: np.ndarray, scaler: scaling.Scaler, stream: bool | None
) -> scaling.Samples | np.ndarray:
    """The rows ``positions`` of the data set, scaled: in memory (an array), or read from
    disk a block at a time (:class:`samebits.ml.scaling.Samples`); the same values."""
    found = scaling.Samples(ds.x, positions, scaler)
    if stream is None:
        stream = found.nbytes > STREAM_ABOVE
    return found if stream else found.array()


def epoch_batches(
    x: np.ndarray | scaling.Samples,
    y: np.ndarray,
    orders: np.ndarray,
    batch_size: int,
    sample_weight: np.ndarray | None = None,
    *,
    first_batch: int = 0,
) -> Any:
    """A dataset of the batches of every epoch in turn: epoch ``e`` is ``x[orders[e]]`` cut
    into batches of ``batch_size`` (the last one shorter), never crossing an epoch, with each
    sample's weight when there are weights; from batch ``first_batch`` of the first epoch. Its
    map runs sequentially (no ``num_parallel_calls``), so the order is the orders' order;
    class weights come in as sample weights here because Keras' own ``class_weight`` adds a
    parallel map."""
    import tensorflow as tf

    if not _small(x):
        return _blocks(x, (y,) if sample_weight is None else (y, sample_weight), orders, batch_size, first_batch)
    xs, ys = tf.constant(x), tf.constant(y)  # small features: gathered by TensorFlow, no Python per batch
    indices = tf.data.Dataset.from_tensor_slices(orders).flat_map(
        lambda order: tf.data.Dataset.from_tensor_slices(order).batch(batch_size)
    )
    if first_batch:
        indices = indices.skip(first_batch)
    if sample_weight is None:
        found = indices.map(lambda idx: (tf.gather(xs, idx), tf.gather(ys, idx)))
    else:
        ws = tf.constant(sample_weight)
        found = indices.map(lambda idx: (tf.gather(xs, idx), tf.gather(ys, idx), tf.gather(ws, idx)))
    return _untuned(found.prefetch(2))


def block_plan(n: int, epochs: int, batch_size: int, rows_per_block: int, first_batch: int = 0) -> np.ndarray:
    """``(start, batches, size)`` of each block of the flattened orders: ``batches`` batches
    of ``size`` rows from row ``start``, each block within one epoch and as many whole
    batches as fit in ``rows_per_block`` (at least one); an epoch's shorter last batch is a
    block of its own. From batch ``first_batch`` of the first epoch.

    >>> block_plan(10, 2, 3, 7).tolist()
    [[0, 2, 3], [6, 1, 3], [9, 1, 1], [10, 2, 3], [16, 1, 3], [19, 1, 1]]
    >>> block_plan(10, 1, 3, 7, first_batch=1).tolist()
    [[3, 2, 3], [9, 1, 1]]
    """
    per_block = max(1, rows_per_block // batch_size)
    full, rest = divmod(n, batch_size)
    plan = []
    for epoch in range(epochs):
        first = first_batch if epoch == 0 else 0
        for b in range(first, full, per_block):
            plan.append((epoch * n + b * batch_size, min(per_block, full - b), batch_size))
        if rest and first <= full:
            plan.append((epoch * n + full * batch_size, 1, rest))
    return np.asarray(plan, dtype=np.int64).reshape(-1, 3)


def _blocks(
    x: np.ndarray | scaling.Samples, others: tuple[np.ndarray, ...], orders: np.ndarray, batch_size: int, first: int
) -> Any:
    """:func:`epoch_batches` for features read by NumPy (large, or streamed): each call
    reads a block of about :data:`BLOCK_BYTES` of rows in the orders' order (one Python call
    per block, not per batch), which TensorFlow cuts into the block's batches; the next blocks
    are read while the step trains on this one. The batches, their rows and their order are
    the per-batch reader's."""
    import tensorflow as tf

    flat = np.ascontiguousarray(orders, dtype=np.int64).reshape(-1)
    plan = block_plan(orders.shape[1], orders.shape[0], batch_size, _rows_per_block(x), first)
    tails = [tuple(x.shape[1:]), *(part.shape[1:] for part in others)]  # Keras needs each part's rank

    def read(start: np.ndarray, count: np.ndarray) -> list[np.ndarray]:
        idx = flat[int(start) : int(start) + int(count)]
        return [np.asarray(x[idx]), *(part[idx] for part in others)]

    dtypes = [tf.as_dtype(x.dtype), *(tf.as_dtype(part.dtype) for part in others)]

    def block(row: Any) -> Any:
        parts = tf.numpy_function(read, [row[0], row[1] * row[2]], dtypes)
        shaped = [tf.reshape(p, tf.concat([row[1:3], tf.shape(p, out_type=tf.int64)[1:]], 0)) for p in parts]
        return tuple(tf.ensure_shape(p, (None, None, *tail)) for p, tail in zip(shaped, tails, strict=True))

    # The next blocks are read on tf.data's prefetch thread while the step trains on this one:
    # two ahead, as the reader shares the GIL with training's Python and may wait for it.
    blocks = tf.data.Dataset.from_tensor_slices(plan).map(block).prefetch(2)
    return _untuned(blocks.flat_map(lambda *parts: tf.data.Dataset.from_tensor_slices(parts)).prefetch(2))


def _rows_per_block(x: Any) -> int:
    """Rows of ``x`` in :data:`BLOCK_BYTES`."""
    row = int(np.prod(x.shape[1:], dtype=np.int64)) * np.dtype(x.dtype).itemsize
    return max(1, BLOCK_BYTES // max(1, row))


def _untuned(dataset: Any) -> Any:
    """``dataset`` without tf.data's autotuning. Nothing in these pipelines runs in parallel,
    so it has nothing to tune; and when fit() drops its iterator, the main thread waits for
    the autotuning thread's next wake-up, whose period doubles up to 60 s (measured: up to
    48 s after the last epoch in 6 of 20 medium trainings)."""
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


def _small(x: Any) -> bool:
    """Features in memory small enough to copy into a tensor (:data:`CONSTANT_UP_TO`)."""
    return isinstance(x, np.ndarray) and x.nbytes <= CONSTANT_UP_TO


def batches(x: Any, batch_size: int) -> Any:
    """``x`` (an array or streamed features, or a tuple of them sample by sample, features
    first) in batches, as a dataset: Keras' own adapter of arrays would add a parallel map,
    whose graph TensorFlow's runtime logs an error line about on every predict and validation."""
    import tensorflow as tf

    parts = x if isinstance(x, tuple) else (x,)
    if all(_small(p) for p in parts):
        return _untuned(tf.data.Dataset.from_tensor_slices(x).batch(batch_size))
    others = tuple(np.asarray(p) for p in parts[1:])
    found = _blocks(parts[0], others, np.arange(len(parts[0]), dtype=np.int64)[np.newaxis], batch_size, 0)
    return found if isinstance(x, tuple) else _untuned(found.map(lambda *p: p[0]))
