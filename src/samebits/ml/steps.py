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

from ..core import fileio, layout
from ..core.errors import ConfigError
from ..core.hashing import hash_arrays, hash_output
from ..core.seeds import SeedSource, check_seed
from ..provenance import records
from ..provenance.fingerprint import bit_deciding, fingerprint, tensorflow_info
from . import data, determinism, models, resume, scaling, training
from .metrics import evaluation
from .sources import data_files
from .weights import load_architecture, read_npz, set_weights, weights_of

__all__ = ["PREDICT_BATCH_SIZE", "split", "init", "train", "evaluate"]

log = logging.getLogger(__name__)


def _dataset_inputs(source: str, checksum: str) -> tuple[dict[str, str], dict[str, Any]]:
    """The data set as inputs of a record: its content checksum, and its file (or image
    folder) if it has one."""
    files = {"data": data_files(source)[0]} if data_files(source) else {}
    return files, {"dataset": {"sha256": checksum, "source": source}}


def _data_params(source: str, image: dict[str, Any] | None) -> dict[str, Any]:
    """The decode settings of an image folder, as a record's params (none for other data)."""
    from ..core.folders import is_folder

    if source in data.BUNDLED or not is_folder(source):
        return {}
    from .images import settings

    return {"image": settings(image)}


#: ``stream: null`` streams a step's features from disk when, scaled, they would take more
#: than this in memory (config/README.md says so).
STREAM_ABOVE = 1 << 30


def _features(ds: data.Dataset, positions: np.ndarray, scaler: scaling.Scaler, stream: bool | None):
    """The rows ``positions`` of the data set, scaled: in memory (an array), or read from
    disk a batch at a time (:class:`samebits.ml.scaling.Samples`); the same values."""
    found = scaling.Samples(ds.x, positions, scaler)
    if stream is None:
        stream = found.nbytes > STREAM_ABOVE
    return found if stream else found.array()


def split(
    out_split: str | Path,
    out_record: str | Path,
    *,
    dataset: str,
    source: str,
    seed: int,
    test_fraction: float,
    label: str | list[str],
    task: str | None,
    scale: str = "maxabs",
    image: dict[str, Any] | None = None,
    script: str | Path | None,
) -> dict[str, Any]:
    """Seeded train/test split of one data set (stratified for a classification), and the
    feature scaling fitted on its training samples; writes indices, the scaling, the data
    set's task and shape, and a record."""
    t0 = time.perf_counter()
    seeds = SeedSource(check_seed(seed))
    ds = data.load(dataset, source, label=label, task=task, image=image)
    idx = data.split_indices(ds.y, test_fraction=test_fraction, seed=seeds("split"), where=source, task=ds.task)
    scaler = scaling.fit(scale, ds.x, idx["train"], where=f"datasets.{dataset}")
    log.info(
        "split %s (%s, %s, %d samples, %d %s, checksum %s): %d train / %d test",
        dataset,
        data.describe_source(source),
        ds.task,
        len(ds.y),
        ds.n_classes,
        "target(s)" if ds.task == "regression" else "classes",
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
            **({} if ds.task == "multiclass" else {"task": np.asarray(ds.task)}),
            **scaler.meta(),
            **({} if ds.pixels_sha256 is None else {"pixels_sha256": np.asarray(ds.pixels_sha256)}),
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
        params={
            "source": source,
            "label": label,
            "task": task,
            "test_fraction": test_fraction,
            "scale": scale,
            **_data_params(source, image),
        },
        determinism={"seed": seed, "sub_seeds": seeds.taken},
        trace={"scale": scaler.summary()},
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
    task = data.split_task(meta)
    net = models.build(model, tuple(int(d) for d in meta["feature_shape"]), int(meta["n_classes"]), seeds, task=task)
    models.check_output(
        net, task=task, n_classes=int(meta["n_classes"]), where=f"experiments.{experiment}.model ({dataset}: {task})"
    )
    weights = weights_of(net)
    log.info(
        "init %s seed %d: %s, %d weight arrays, %d parameters", experiment, seed, task, len(weights), net.count_params()
    )
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
    optimizer: Any,
    learning_rate: float,
    schedule: Any,
    loss: Any,
    metrics: list[str] | None,
    class_weight: Any,
    validation_fraction: float | None,
    callbacks: list[Any],
    trainer: str | None,
    checkpoint: dict[str, Any] | None = None,
    label: str | list[str],
    image: dict[str, Any] | None = None,
    stream: bool | None = None,
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
    With ``validation_fraction`` a seeded part of the training set (stratified for a
    classification, sub-seed ``validation``) is held out and evaluated after each epoch.
    ``trainer`` (``file.py:function``) replaces ``fit()`` with the user's own loop, called
    with a :class:`samebits.ml.training.TrainContext`.

    It checkpoints as ``checkpoint`` says (``every_epochs``, ``every_minutes``), and when a
    SIGTERM or SIGUSR1 comes, in ``resume/`` beside its outputs; it starts from the newest
    valid checkpoint of its key and ends with the bits of an uninterrupted run
    (:mod:`samebits.ml.resume`). ``checkpoint`` decides no bits: it is not in the record.

    The features are scaled as the split says; with ``stream`` (``None``: when they would
    take more than :data:`STREAM_ABOVE`) they are read from disk a batch at a time, with the
    same values, so ``stream`` is not in the record either.
    """
    t0 = time.perf_counter()
    checkpoint = {"every_epochs": 1, "every_minutes": None, **(checkpoint or {})}
    applied = determinism.apply(seed, profile=profile, threads=threads, op_determinism=op_determinism)
    import keras

    where = f"experiments.{experiment}.train"
    seeds = SeedSource(seed)
    meta = read_npz(split_path)
    task = data.split_task(meta)
    ds = data.load(dataset, source, label=label, task=task, image=image)
    data.check_pixels(ds, meta, str(split_path))
    train_idx = meta["train"]
    net = load_architecture(model_path, builder)
    set_weights(net, read_npz(init_path), str(init_path))
    units, _ = models.output_units(net)
    scaler = scaling.Scaler.from_meta(meta, str(split_path))
    y, labels = training.targets_for(ds.y[train_idx], task=task, units=units), ds.y[train_idx]
    trace: dict[str, Any] = {}
    validation = None
    fit_positions = train_idx
    if validation_fraction is not None:
        held = data.validation_indices(
            ds.y[train_idx], fraction=validation_fraction, seed=seeds("validation"), task=task, where=where
        )
        validation = (_features(ds, train_idx[held["validation"]], scaler, stream), y[held["validation"]])
        fit_positions, y, labels = train_idx[held["fit"]], y[held["fit"]], labels[held["fit"]]
    x = _features(ds, fit_positions, scaler, stream)
    if isinstance(x, scaling.Samples):
        log.info(
            "train %s seed %d: %d samples streamed from %s", experiment, seed, len(x), data.describe_source(source)
        )
    if validation_fraction is not None:
        digest, _ = hash_arrays({"validation": train_idx[held["validation"]]})
        trace["validation"] = {"n": len(held["validation"]), "indices_sha256": digest}

    opt, compiled = training.build_optimizer(optimizer, learning_rate=learning_rate, schedule=schedule, where=where)
    loss_fn, compiled["loss"] = training.build_loss(
        loss, task=task, units=units, where=where, as_object=trainer is not None
    )
    if trainer is None:  # a trainer logs what it computes itself
        compiled["metrics"] = training.metric_names(metrics, task)
    weights_by_class = training.class_weights(class_weight, labels, task=task, n_classes=ds.n_classes, where=where)
    keras_callbacks = training.build_callbacks(callbacks, where=where)

    rng = np.random.default_rng(seeds("shuffle"))
    # Every epoch's order is drawn up front from the shuffle generator (the same draws, in
    # the same order, as one permutation per epoch), and one fit() runs all epochs over a
    # dataset that yields each epoch's batches in that order. A fit() per epoch gives the
    # same bits but costs tens of milliseconds per call.
    index_dtype = np.int32 if len(y) < 2**31 else np.int64
    orders = np.stack([rng.permutation(len(y)).astype(index_dtype) for _ in range(epochs)])
    record = training.Epochs(net, experiment=experiment, seed=seed, epochs=epochs)
    steps = -(-len(y) // batch_size)

    data_files, data_inputs = _dataset_inputs(source, ds.checksum)
    input_files = {"split": split_path, "init": init_path, "model": model_path, **data_files}
    params = {
        "dataset": dataset,
        "epochs": epochs,
        "batch_size": batch_size,
        "optimizer": optimizer,
        "learning_rate": learning_rate,
        "schedule": schedule,
        "loss": loss,
        "metrics": metrics,
        "class_weight": class_weight,
        "validation_fraction": validation_fraction,
        "callbacks": callbacks,
        "trainer": trainer,
        "source": source,
        "label": label,
        **_data_params(source, image),
    }
    user_files = {"trainer": trainer, "loss": loss if isinstance(loss, str) else None}
    user_code = {k: models.builder_file(v) for k, v in user_files.items() if v and ":" in v}
    # the optimizer is built now (Keras would build it at the first step, the same way),
    # so a checkpoint's optimizer variables can be put back before training
    opt.build(net.trainable_variables)
    run = training.Run(
        model=net,
        optimizer=opt,
        callbacks=keras_callbacks,
        record=record,
        store=resume.Store(
            Path(out_record).parent / layout.RESUME_DIR,
            resume.key_parts(
                inputs={
                    **{k: hash_output(v)["sha256"] for k, v in input_files.items()},
                    **data_inputs,
                },
                params=params,
                code=records.code_hash(script, models.builder_file(builder), **user_code),
                determinism=applied,
                environment={**bit_deciding(fingerprint()), "tensorflow": tensorflow_info()},
            ),
        ),
        clock=resume.Clock(checkpoint["every_epochs"], checkpoint["every_minutes"]),
        signals=resume.Signals(),
        steps=steps,
    )

    t = time.perf_counter()
    with run.signals.caught():
        start = run.restore()
        if trainer is not None:
            ctx = training.TrainContext(
                model=net,
                x=x,
                y=y,
                validation=validation,
                epochs=epochs,
                batch_size=batch_size,
                task=task,
                n_classes=ds.n_classes,
                optimizer=opt,
                loss=loss_fn,
                seeds=seeds,
                class_weight=weights_by_class,
                start_epoch=0 if start is None else start.epoch,
                _orders=orders,
                _run=run,
            )
            try:
                training.run_trainer(models.load_builder(trainer, f"{where}.trainer"), ctx, trainer)
            except ConfigError:
                if start is not None:  # a trainer that does not go on from ctx.start_epoch
                    run.store.clear()
                raise
        else:
            net.compile(optimizer=opt, loss=loss_fn, metrics=compiled["metrics"], jit_compile=False)
            sample_weight = training.sample_weights(weights_by_class, labels)
            training.fit(
                run,
                batches=lambda epoch, batch: _epoch_batches(
                    x, y, orders[epoch:], batch_size, sample_weight, first_batch=batch
                ),
                validation=None if validation is None else _batches(validation, batch_size),
                start=start,
            )
            for callback in keras_callbacks:
                if isinstance(callback, keras.callbacks.EarlyStopping):
                    trace["stopped_epoch"] = len(record.weights)
                    if callback.restore_best_weights and callback.best_weights is not None:
                        trace["restored_epoch"] = callback.best_epoch + 1
    fit_seconds = time.perf_counter() - t
    if len(record.weights) < epochs:
        trace.setdefault("stopped_epoch", len(record.weights))
        log.info("train %s seed %d: stopped after epoch %d of %d", experiment, seed, len(record.weights), epochs)
    if "restored_epoch" in trace:
        log.info("train %s seed %d: weights of epoch %d restored", experiment, seed, trace["restored_epoch"])

    fileio.write_npz(out_weights, weights_of(net))
    fileio.write_json(out_history, {"epochs": epochs, **record.history, "epoch_weights": record.weights, **trace})
    with fileio.atomic_path(out_keras) as tmp:
        net.save(tmp)  # for users; its bytes carry a save date, so it is never compared
    rec = records.make(
        step="train",
        experiment=experiment,
        seed=seed,
        outputs={"weights": out_weights, "history": out_history},
        input_files=input_files,
        inputs=data_inputs,
        params=params,
        determinism={**applied, "sub_seeds": seeds.taken},
        script=script,
        builder=models.builder_file(builder),
        user_code=user_code,
        trace={"epoch_weights": record.weights, "compiled": compiled, "task": task, **trace},
        tensorflow=tensorflow_info(),
        seconds=time.perf_counter() - t0,
    )
    rec["run"]["fit_seconds"] = round(fit_seconds, 3)
    if run.resumed:
        rec["run"]["resumed"] = run.resumed
    records.seal(rec)
    fileio.write_json(out_record, rec)
    run.store.clear()
    return rec


def _epoch_batches(
    x: np.ndarray,
    y: np.ndarray,
    orders: np.ndarray,
    batch_size: int,
    sample_weight: np.ndarray | None = None,
    *,
    first_batch: int = 0,
):
    """A dataset of the batches of every epoch in turn: epoch ``e`` is ``x[orders[e]]`` cut
    into batches of ``batch_size`` (the last one shorter), never crossing an epoch, with each
    sample's weight when there are weights; from batch ``first_batch`` of the first epoch. Its map runs sequentially (no
    ``num_parallel_calls``), so the order is the orders' order; class weights come in as
    sample weights here because Keras' own ``class_weight`` adds a parallel map."""
    import tensorflow as tf

    rows, ys = _rows(x), tf.constant(y)
    batches = tf.data.Dataset.from_tensor_slices(orders).flat_map(
        lambda order: tf.data.Dataset.from_tensor_slices(order).batch(batch_size)
    )
    if first_batch:
        batches = batches.skip(first_batch)
    if sample_weight is None:
        batches = batches.map(lambda idx: (rows(idx), tf.gather(ys, idx)))
    else:
        ws = tf.constant(sample_weight)
        batches = batches.map(lambda idx: (rows(idx), tf.gather(ys, idx), tf.gather(ws, idx)))
    return _untuned(batches.prefetch(2))


def _untuned(dataset):
    """``dataset`` without tf.data's autotuning. Nothing in these pipelines runs in parallel,
    so it has nothing to tune; and when fit() drops its iterator, the main thread waits for
    the autotuning thread's next wake-up, whose period doubles up to 60 s (measured: up to
    48 s after the last epoch in 6 of 20 medium trainings)."""
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


def _rows(x):
    """``idx -> x[idx]`` inside a dataset: a gather from a constant for features in memory;
    for streamed ones (:class:`samebits.ml.scaling.Samples`), a NumPy call that reads and
    scales those rows. Either runs in the dataset's one sequential map, so batches come in
    the orders' order; ``prefetch`` only lets the next ones be read while a step trains, and
    each batch's values depend on its indices alone, so neither can change the bits."""
    import tensorflow as tf

    if not isinstance(x, scaling.Samples):
        xs = tf.constant(x)
        return lambda idx: tf.gather(xs, idx)
    dtype, shape = tf.as_dtype(x.dtype), (None, *x.shape[1:])

    def read(idx):
        return tf.ensure_shape(tf.numpy_function(x.__getitem__, [idx], dtype), shape)

    return read


def _batches(x: Any, batch_size: int):
    """``x`` (an array or streamed features, or a tuple of them sample by sample) in
    batches, as a dataset:
    Keras' own adapter of arrays would add a parallel map, whose graph TensorFlow's runtime
    logs an error line about on every predict and validation."""
    import tensorflow as tf

    parts = x if isinstance(x, tuple) else (x,)
    if not any(isinstance(p, scaling.Samples) for p in parts):
        return _untuned(tf.data.Dataset.from_tensor_slices(x).batch(batch_size))
    readers = [_rows(p) for p in parts]
    batches = tf.data.Dataset.range(len(parts[0])).batch(batch_size)
    if isinstance(x, tuple):
        return _untuned(batches.map(lambda idx: tuple(read(idx) for read in readers)).prefetch(2))
    return _untuned(batches.map(readers[0]).prefetch(2))


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
    label: str | list[str],
    image: dict[str, Any] | None = None,
    stream: bool | None = None,
    builder: str | None,
    profile: str,
    threads: int,
    op_determinism: bool,
    script: str | Path | None,
) -> dict[str, Any]:
    """Predict the test split with the trained weights; write the task's metrics and the
    predictions (:func:`samebits.ml.metrics.evaluation`).

    The model is the recorded architecture with the recorded weights: exactly the content
    the train record vouches for, not the ``.keras`` container.
    """
    t0 = time.perf_counter()
    applied = determinism.apply(seed, profile=profile, threads=threads, op_determinism=op_determinism)
    idx = read_npz(split_path)
    task = data.split_task(idx)
    ds = data.load(dataset, source, label=label, task=task, image=image)
    data.check_pixels(ds, idx, str(split_path))
    x = _features(ds, idx["test"], scaling.Scaler.from_meta(idx, str(split_path)), stream)
    y = ds.y[idx["test"]]
    net = load_architecture(model_path, builder)
    set_weights(net, read_npz(weights_path), str(weights_path))
    t = time.perf_counter()
    outputs = np.asarray(net.predict(_batches(x, PREDICT_BATCH_SIZE), verbose=0), dtype=np.float32)
    predict_seconds = time.perf_counter() - t
    metrics, predictions = evaluation(task=task, y=y, outputs=outputs, n_classes=ds.n_classes)
    shown = " ".join(f"{k} {v:.6g}" for k, v in metrics.items() if isinstance(v, float))
    log.info("evaluate %s seed %d: %s %s on %d test samples", experiment, seed, task, shown, metrics["n"])
    data_files, data_inputs = _dataset_inputs(source, ds.checksum)
    fileio.write_json(out_metrics, metrics)
    fileio.write_npz(out_predictions, {**predictions, "index": idx["test"]})
    rec = records.make(
        step="evaluate",
        experiment=experiment,
        seed=seed,
        outputs={"metrics": out_metrics, "predictions": out_predictions},
        input_files={"split": split_path, "weights": weights_path, "model": model_path, **data_files},
        inputs=data_inputs,
        params={
            "dataset": dataset,
            "batch_size": PREDICT_BATCH_SIZE,
            "source": source,
            "label": label,
            **_data_params(source, image),
        },
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
