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

from . import data, determinism, envinfo, fileio, models, records
from .hashing import hash_arrays
from .seeds import SeedSource, check_seed

__all__ = ["split", "init", "train", "evaluate"]

log = logging.getLogger(__name__)


def _dataset_inputs(source: str, checksum: str) -> tuple[dict[str, str], dict[str, Any]]:
    """The data set as inputs of a record: its content checksum, and its file if it has one."""
    files = {} if source in data.BUNDLED else {"data": source}
    return files, {"dataset": {"sha256": checksum, "source": source}}


def split(
    out_split: str | Path,
    out_record: str | Path,
    *,
    dataset: str,
    source: str,
    seed: int,
    test_fraction: float = 0.2,
    label: str = "label",
    script: str | Path | None = None,
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


def _read_npz(path: str | Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _weights(model) -> dict[str, np.ndarray]:
    """Model weights by their (explicitly named) paths, e.g. ``dense_1/kernel``."""
    out = {}
    for v in model.weights:
        if v.path in out:
            raise ValueError(f"two weights share the name {v.path!r}; name every layer explicitly")
        out[v.path] = np.asarray(v.numpy())
    return out


def _set_weights(model, arrays: dict[str, np.ndarray], where: str) -> None:
    names = {v.path for v in model.weights}
    if names != set(arrays):
        raise ValueError(
            f"{where}: weights {sorted(set(arrays) ^ names)} do not match the model's ({', '.join(sorted(names))})"
        )
    for v in model.weights:
        v.assign(arrays[v.path])


def _load_architecture(model_json: str | Path, builder: str | None = None):
    import keras

    if builder is not None:
        from .models import load_builder

        load_builder(builder)  # registers the builder's custom layers before deserialising
    text = Path(model_json).read_text(encoding="utf-8")
    # Safe mode: only registered layer classes, never the Python code of a Lambda layer.
    return keras.saving.deserialize_keras_object(json.loads(text), safe_mode=True)


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
    profile: str = "portable",
    threads: int = 1,
    op_determinism: bool = True,
    script: str | Path | None = None,
) -> dict[str, Any]:
    """Build the model with seeded initializers; write the weights at t=0 and the architecture."""
    t0 = time.perf_counter()
    applied = determinism.apply(seed, profile=profile, threads=threads, op_determinism=op_determinism)
    meta = _read_npz(split_path)
    seeds = SeedSource(seed)
    net = models.build(model, tuple(int(d) for d in meta["feature_shape"]), int(meta["n_classes"]), seeds)
    weights = _weights(net)
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
        builder=models.builder_file(model),
        tensorflow=envinfo.tensorflow_info(),
        seconds=time.perf_counter() - t0,
    )
    fileio.write_json(out_record, rec)
    return rec


_OPTIMIZERS = {"adam": "Adam", "sgd": "SGD", "rmsprop": "RMSprop"}


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
    batch_size: int = 32,
    optimizer: str = "adam",
    learning_rate: float = 0.001,
    label: str = "label",
    builder: str | None = None,
    profile: str = "portable",
    threads: int = 1,
    op_determinism: bool = True,
    script: str | Path | None = None,
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
    idx = _read_npz(split_path)
    x, y = ds.x[idx["train"]], ds.y[idx["train"]]
    net = _load_architecture(model_path, builder)
    _set_weights(net, _read_npz(init_path), str(init_path))
    opt = getattr(keras.optimizers, _OPTIMIZERS[optimizer])(learning_rate=learning_rate)
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
            digest, _ = hash_arrays(_weights(net))
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
    fileio.write_npz(out_weights, _weights(net))
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
        builder=models.builder_file({"type": "custom", "builder": builder}) if builder else None,
        trace={"epoch_weights": epoch_weights},
        tensorflow=envinfo.tensorflow_info(),
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


def _metrics(y_true: np.ndarray, proba: np.ndarray, n_classes: int) -> dict[str, Any]:
    """Accuracy, log loss, macro F1 and the confusion matrix (NumPy only: the same numbers
    as scikit-learn's ``f1_score(average="macro", zero_division=0)`` and
    ``confusion_matrix``, which tests/unit/test_steps_metrics.py checks, without its import)."""
    pred = proba.argmax(axis=1)
    p = np.clip(proba.astype(np.float64)[np.arange(len(y_true)), y_true], 1e-12, 1.0)
    cm = np.bincount(y_true * n_classes + pred, minlength=n_classes * n_classes).reshape(n_classes, n_classes)
    tp = np.diag(cm).astype(np.float64)
    denom = cm.sum(axis=0) + cm.sum(axis=1)  # predicted + true per class = 2tp + fp + fn
    f1 = np.divide(2 * tp, denom, out=np.zeros(n_classes), where=denom > 0)
    return {
        "n": int(len(y_true)),
        "accuracy": float(np.mean(pred == y_true)),
        "loss": float(-np.mean(np.log(p))),
        "macro_f1": float(np.mean(f1)),
        "confusion_matrix": cm.tolist(),
    }


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
    batch_size: int = 256,
    label: str = "label",
    builder: str | None = None,
    profile: str = "portable",
    threads: int = 1,
    op_determinism: bool = True,
    script: str | Path | None = None,
) -> dict[str, Any]:
    """Predict the test split with the trained weights; write metrics and predictions.

    The model is the recorded architecture with the recorded weights: exactly the content
    the train record vouches for, not the ``.keras`` container.
    """
    t0 = time.perf_counter()
    applied = determinism.apply(seed, profile=profile, threads=threads, op_determinism=op_determinism)
    ds = data.load(dataset, source, label=label)
    idx = _read_npz(split_path)
    x, y = ds.x[idx["test"]], ds.y[idx["test"]]
    net = _load_architecture(model_path, builder)
    _set_weights(net, _read_npz(weights_path), str(weights_path))
    t = time.perf_counter()
    proba = np.asarray(net.predict(x, batch_size=batch_size, verbose=0), dtype=np.float32)
    predict_seconds = time.perf_counter() - t
    metrics = _metrics(y, proba, ds.n_classes)
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
        params={"dataset": dataset, "batch_size": batch_size, "source": source, "label": label},
        determinism=applied,
        script=script,
        builder=models.builder_file({"type": "custom", "builder": builder}) if builder else None,
        tensorflow=envinfo.tensorflow_info(),
        seconds=time.perf_counter() - t0,
    )
    rec["run"]["predict_seconds"] = round(predict_seconds, 3)
    records.seal(rec)
    fileio.write_json(out_record, rec)
    return rec
