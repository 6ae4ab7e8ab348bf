"""The features and batches a TensorFlow step reads: the rows of a split, in memory or
streamed from disk (:func:`features`), and the ``tf.data`` pipelines that cut them into
batches in the seeded order (:func:`epoch_batches`) or in order (:func:`batches`).

Every pipeline here runs its map sequentially and without autotuning, so batches come in
the order given and each batch's values depend on its indices alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import data, scaling

__all__ = ["CONSTANT_UP_TO", "STREAM_ABOVE", "batches", "epoch_batches", "features"]


#: ``stream: null`` streams a step's features from disk when, scaled, they would take more
#: than this in memory (config/README.md says so).
STREAM_ABOVE = 1 << 30

#: Features in memory up to this size are copied into a tensor and gathered from there;
#: larger ones are gathered by NumPy from the one array (the same values, one copy).
CONSTANT_UP_TO = 64 << 20


def features(
    ds: data.Dataset, positions: np.ndarray, scaler: scaling.Scaler, stream: bool | None
) -> scaling.Samples | np.ndarray:
    """The rows ``positions`` of the data set, scaled: in memory (an array), or read from
    disk a batch at a time (:class:`samebits.ml.scaling.Samples`); the same values."""
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

    rows, ys = _rows(x), tf.constant(y)
    indices = tf.data.Dataset.from_tensor_slices(orders).flat_map(
        lambda order: tf.data.Dataset.from_tensor_slices(order).batch(batch_size)
    )
    if first_batch:
        indices = indices.skip(first_batch)
    if sample_weight is None:
        found = indices.map(lambda idx: (rows(idx), tf.gather(ys, idx)))
    else:
        ws = tf.constant(sample_weight)
        found = indices.map(lambda idx: (rows(idx), tf.gather(ys, idx), tf.gather(ws, idx)))
    return _untuned(found.prefetch(2))


def _untuned(dataset: Any) -> Any:
    """``dataset`` without tf.data's autotuning. Nothing in these pipelines runs in parallel,
    so it has nothing to tune; and when fit() drops its iterator, the main thread waits for
    the autotuning thread's next wake-up, whose period doubles up to 60 s (measured: up to
    48 s after the last epoch in 6 of 20 medium trainings)."""
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


def _rows(x: np.ndarray | scaling.Samples) -> Callable[[Any], Any]:
    """``idx -> x[idx]`` inside a dataset: a gather from a constant for small features in
    memory; for larger ones, and for streamed ones (:class:`samebits.ml.scaling.Samples`,
    read and scaled when indexed), a NumPy call, so the array is not copied into a tensor
    (``tf.constant`` would hold a second copy). Either runs in the dataset's one sequential
    map, so batches come in the orders' order; ``prefetch`` only lets the next ones be read
    while a step trains, and each batch's values depend on its indices alone, so neither
    can change the bits."""
    import tensorflow as tf

    if _small(x):
        xs = tf.constant(x)
        return lambda idx: tf.gather(xs, idx)
    dtype, shape = tf.as_dtype(x.dtype), (None, *x.shape[1:])

    def read(idx: Any) -> Any:
        return tf.ensure_shape(tf.numpy_function(x.__getitem__, [idx], dtype), shape)

    return read


def _small(x: Any) -> bool:
    """Features in memory small enough to copy into a tensor (:data:`CONSTANT_UP_TO`)."""
    return isinstance(x, np.ndarray) and x.nbytes <= CONSTANT_UP_TO


def batches(x: Any, batch_size: int) -> Any:
    """``x`` (an array or streamed features, or a tuple of them sample by sample) in
    batches, as a dataset: Keras' own adapter of arrays would add a parallel map, whose graph
    TensorFlow's runtime logs an error line about on every predict and validation."""
    import tensorflow as tf

    parts = x if isinstance(x, tuple) else (x,)
    if all(_small(p) for p in parts):
        return _untuned(tf.data.Dataset.from_tensor_slices(x).batch(batch_size))
    readers = [_rows(p) for p in parts]
    indices = tf.data.Dataset.range(len(parts[0])).batch(batch_size)
    if isinstance(x, tuple):
        return _untuned(indices.map(lambda idx: tuple(read(idx) for read in readers)).prefetch(2))
    return _untuned(indices.map(readers[0]).prefetch(2))
