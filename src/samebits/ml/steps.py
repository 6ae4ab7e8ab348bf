"""The four steps of a chain, each a plain function a script (or a test) calls.

Each writes its outputs atomically, then its record last: a step killed mid-way leaves no
record, so Snakemake reruns it. The TensorFlow steps (init, train, evaluate) apply the
determinism recipe before any model code; split never imports TensorFlow.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..core import fileio
from ..core.hashing import hash_arrays
from ..core.seeds import SeedSource, check_seed
from ..provenance import records
from ..provenance.fingerprint import tensorflow_info
from . import data, determinism, models
from .metrics import classification_metrics
from .sources import data_files
from .weights import load_architecture, read_npz, set_weights, weights_of

__all__ = ["OPTIMIZERS", "PREDICT_BATCH_SIZE", "split", "init", "train", "evaluate"]

log = logging.getLogger(__name__)


def _dataset_inputs(source: str, checksum: str) -> tuple[dict[str, str], dict[str, Any]]:
    """The data set as inputs of a record: its content checksum, and its file if it has one."""
    files = {"data": source} if data_files(source) else {}
    return files, {"dataset": {"sha256": checksum, "source": source}}


def split(
    out_split: str | Path,
    out_record: str | Path,
    *,
    dataset: str,
    source: str,
    seed: int,
    test_fraction: float,
    label: str,
    script: str | Path | None,
) -> dict[str, Any]:
    """Seeded stratified train/test split of one data set; writes indices and a record."""
    t0 = time.perf_counter()
    seeds = SeedSource(check_seed(seed))
    ds = data.load(dataset, source, label=label)
    idx = data.split_indices(ds.y, test_fraction=test_fraction, seed=seeds("split"), where=source)
    log.info(
        "split %s (%s, %d samples, %d classes, checksum %s): %d train / %d test",
        dataset,
        data.describe_source(source),
        len(ds.y),
        ds.n_classes,
        ds.checksum,
        len(idx["train"]),
        len(idx["test"]),
    )
    fileio.write_npz(
        out_split,
        {
            **idx,
            "feature_shape": np.asarray(ds.feature_shape, dtype=np.int64),
            "n_classes": np.asarray(ds.n_classes, dtype=np.int64),
            # indices mean nothing without the data they index: the split names its data
            # set's content, so a changed data file changes the split (and what follows)
            "dataset_sha256": np.asarray(ds.checksum),
        },
    )
    data_files, data_inputs = _dataset_inputs(source, ds.checksum)
    rec = records.make(
        step="split",
        experiment=dataset,
        seed=seed,
        outputs={"split": out_split},
        input_files=data_files,
        inputs=data_inputs,
        params={"source": source, "label": label, "test_fraction": test_fraction},
        determinism={"seed": seed, "sub_seeds": seeds.taken},
        script=script,
        seconds=time.perf_counter() - t0,
    )
    fileio.write_json(out_record, rec)
    return rec


def init(
    split_path: str | Path,
    out_init: str | Path,
    out_model: str | Path,
    out_record: str | Path,
    *,
    experiment: str,
    dataset: str,
    seed: int,
    model: dict[str, Any],
    profile: str,
    threads: int,
    op_determinism: bool,
    script: str | Path | None,
) -> dict[str, Any]:
    """Build the model with seeded initializers; write the weights at t=0 and the architecture."""
    t0 = time.perf_counter()
    applied = determinism.apply(seed, profile=profile, threads=threads, op_determinism=op_determinism)
    meta = read_npz(split_path)
    seeds = SeedSource(seed)
    net = models.build(model, tuple(int(d) for d in meta["feature_shape"]), int(meta["n_classes"]), seeds)
    weights = weights_of(net)
    log.info("init %s seed %d: %d weight arrays, %d parameters", experiment, seed, len(weights), net.count_params())
    fileio.write_npz(out_init, weights)
    fileio.write_json(out_model, json.loads(net.to_json()))
    rec = records.make(
        step="init",
        experiment=experiment,
        seed=seed,
        outputs={"init": out_init, "model": out_model},
        input_files={"split": split_path},
        params={"model": model, "dataset": dataset},
        determinism={**applied, "sub_seeds": seeds.taken},
        script=script,
        builder=models.builder_file(model.get("builder")),
        tensorflow=tensorflow_info(),
        seconds=time.perf_counter() - t0,
    )
    fileio.write_json(out_record, rec)
    return rec


#: The optimizers `train.optimizer` names (the config schema lists the same choices), by Keras class.
OPTIMIZERS = {"adam": "Adam", "sgd": "SGD", "rmsprop": "RMSprop"}


def train(
    split_path: str | Path,
    init_path: str | Path,
    model_path: str | Path,
    out_weights: str | Path,
    out_history: str | Path,
    out_keras: str | Path,
    out_record: str | Path,
    *,
    experiment: str,
    dataset: str,
    source: str,
    seed: int,
    epochs: int,
    batch_size: int,
    optimizer: str,
    learning_rate: float,
    label: str,
    builder: str | None,
    profile: str,
    threads: int,
    op_determinism: bool,
    script: str | Path | None,
) -> dict[str, Any]:
    """Deterministic single-threaded training from the init weights, with a seeded shuffle.

    Each epoch sees the training set in an order drawn from a NumPy generator seeded with
    the ``shuffle`` sub-seed, and the checksum of the weights after every epoch goes into
    the record (``trace.epoch_weights``) so a divergence can be pinned to its first epoch.
    """
    t0 = time.perf_counter()
    applied = determinism.apply(seed, profile=profile, threads=threads, op_determinism=op_determinism)
    import keras

    seeds = SeedSource(seed)
    ds = data.load(dataset, source, label=label)
    idx = read_npz(split_path)
    x, y = ds.x[idx["train"]], ds.y[idx["train"]]
    net = load_architecture(model_path, builder)
    set_weights(net, read_npz(init_path), str(init_path))
    opt = getattr(keras.optimizers, OPTIMIZERS[optimizer])(learning_rate=learning_rate)
    net.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"], jit_compile=False)

    rng = np.random.default_rng(seeds("shuffle"))
    # Every epoch's order is drawn up front from the shuffle generator (the same draws, in
    # the same order, as one permutation per epoch), and one fit() runs all epochs over a
    # dataset that yields each epoch's batches in that order. A fit() per epoch gives the
    # same bits but costs tens of milliseconds per call.
    index_dtype = np.int32 if len(y) < 2**31 else np.int64
    orders = np.stack([rng.permutation(len(y)).astype(index_dtype) for _ in range(epochs)])
    steps = -(-len(y) // batch_size)
    epoch_weights: list[str] = []

    class _EpochChecksum(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            digest, _ = hash_arrays(weights_of(net))
            epoch_weights.append(digest)
            log.info(
                "train %s seed %d: epoch %d/%d loss %.6f accuracy %.4f weights %s",
                experiment,
                seed,
                epoch + 1,
                epochs,
                logs["loss"],
                logs["accuracy"],
                digest[7:19],
            )

    t = time.perf_counter()
    h = net.fit(
        _epoch_batches(x, y, orders, batch_size),
        epochs=epochs,
        steps_per_epoch=steps,
        shuffle=False,
        verbose=0,
        callbacks=[_EpochChecksum()],
    )
    fit_seconds = time.perf_counter() - t
    history: dict[str, list[float]] = {key: [float(v) for v in h.history[key]] for key in ("loss", "accuracy")}

    data_files, data_inputs = _dataset_inputs(source, ds.checksum)
    fileio.write_npz(out_weights, weights_of(net))
    fileio.write_json(out_history, {"epochs": epochs, **history, "epoch_weights": epoch_weights})
    with fileio.atomic_path(out_keras) as tmp:
        net.save(tmp)  # for users; its bytes carry a save date, so it is never compared
    rec = records.make(
        step="train",
        experiment=experiment,
        seed=seed,
        outputs={"weights": out_weights, "history": out_history},
        input_files={"split": split_path, "init": init_path, "model": model_path, **data_files},
        inputs=data_inputs,
        params={
            "dataset": dataset,
            "epochs": epochs,
            "batch_size": batch_size,
            "optimizer": optimizer,
            "learning_rate": learning_rate,
            "source": source,
            "label": label,
        },
        determinism={**applied, "sub_seeds": seeds.taken},
        script=script,
        builder=models.builder_file(builder),
        trace={"epoch_weights": epoch_weights},
        tensorflow=tensorflow_info(),
        seconds=time.perf_counter() - t0,
    )
    rec["run"]["fit_seconds"] = round(fit_seconds, 3)
    records.seal(rec)
    fileio.write_json(out_record, rec)
    return rec


def _epoch_batches(x: np.ndarray, y: np.ndarray, orders: np.ndarray, batch_size: int):
    """A dataset of the batches of every epoch in turn: epoch ``e`` is ``x[orders[e]]`` cut
    into batches of ``batch_size`` (the last one shorter), never crossing an epoch."""
    import tensorflow as tf

    xs, ys = tf.constant(x), tf.constant(y)
    return (
        tf.data.Dataset.from_tensor_slices(orders)
        .flat_map(lambda order: tf.data.Dataset.from_tensor_slices(order).batch(batch_size))
        .map(lambda idx: (tf.gather(xs, idx), tf.gather(ys, idx)), deterministic=True)
        .prefetch(2)
    )


#: Evaluate predicts in batches of this size (recorded in its params: the batch size decides
#: the shapes of the products, hence the bits).
PREDICT_BATCH_SIZE = 256


def evaluate(
    split_path: str | Path,
    weights_path: str | Path,
    model_path: str | Path,
    out_metrics: str | Path,
    out_predictions: str | Path,
    out_record: str | Path,
    *,
    experiment: str,
    dataset: str,
    source: str,
    seed: int,
    label: str,
    builder: str | None,
    profile: str,
    threads: int,
    op_determinism: bool,
    script: str | Path | None,
) -> dict[str, Any]:
    """Predict the test split with the trained weights; write metrics and predictions.

    The model is the recorded architecture with the recorded weights: exactly the content
    the train record vouches for, not the ``.keras`` container.
    """
    t0 = time.perf_counter()
    applied = determinism.apply(seed, profile=profile, threads=threads, op_determinism=op_determinism)
    ds = data.load(dataset, source, label=label)
    idx = read_npz(split_path)
    x, y = ds.x[idx["test"]], ds.y[idx["test"]]
    net = load_architecture(model_path, builder)
    set_weights(net, read_npz(weights_path), str(weights_path))
    t = time.perf_counter()
    proba = np.asarray(net.predict(x, batch_size=PREDICT_BATCH_SIZE, verbose=0), dtype=np.float32)
    predict_seconds = time.perf_counter() - t
    metrics = classification_metrics(y, proba, ds.n_classes)
    log.info(
        "evaluate %s seed %d: accuracy %.4f loss %.6f macro-F1 %.4f on %d test samples",
        experiment,
        seed,
        metrics["accuracy"],
        metrics["loss"],
        metrics["macro_f1"],
        metrics["n"],
    )
    data_files, data_inputs = _dataset_inputs(source, ds.checksum)
    fileio.write_json(out_metrics, metrics)
    fileio.write_npz(
        out_predictions, {"proba": proba, "pred": proba.argmax(axis=1).astype(np.int64), "y": y, "index": idx["test"]}
    )
    rec = records.make(
        step="evaluate",
        experiment=experiment,
        seed=seed,
        outputs={"metrics": out_metrics, "predictions": out_predictions},
        input_files={"split": split_path, "weights": weights_path, "model": model_path, **data_files},
        inputs=data_inputs,
        params={"dataset": dataset, "batch_size": PREDICT_BATCH_SIZE, "source": source, "label": label},
        determinism=applied,
        script=script,
        builder=models.builder_file(builder),
        tensorflow=tensorflow_info(),
        seconds=time.perf_counter() - t0,
    )
    rec["run"]["predict_seconds"] = round(predict_seconds, 3)
    records.seal(rec)
    fileio.write_json(out_record, rec)
    return rec
