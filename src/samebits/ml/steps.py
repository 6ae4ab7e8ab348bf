"""The four steps of a chain, each a plain function a script (or a test) calls.

Each reads its inputs, computes its identity once (:func:`samebits.provenance.identity.identify`),
writes its outputs atomically, then its record last: a step killed mid-way leaves no record,
so Snakemake reruns it. The TensorFlow steps (init, train, evaluate) apply the determinism
recipe before any model code; split never imports TensorFlow.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..core import fileio, layout
from ..core.errors import DataError
from ..core.seeds import SeedSource, check_seed
from ..core.usercode import CodeRef
from ..provenance import records
from ..provenance.fingerprint import tensorflow_info
from ..provenance.identity import StepIdentity, identify
from . import batches, compiling, data, determinism, models, resume, scaling, training
from .checkpointing import Checkpointer, EpochLog
from .metrics import evaluation
from .sources import BUNDLED, data_files, is_image_folder
from .weights import load_architecture, read_npz, set_weights, weights_of

__all__ = ["PREDICT_BATCH_SIZE", "split", "init", "train", "evaluate"]

log = logging.getLogger(__name__)

#: Evaluate predicts in batches of this size (recorded in its params: the batch size decides
#: the shapes of the products, hence the bits).
PREDICT_BATCH_SIZE = 256


def _dataset_inputs(source: str, checksum: str) -> tuple[dict[str, str], dict[str, Any]]:
    """The data set as inputs of a record: its file (or image folder) if it has one, and
    its content checksum."""
    files = data_files(source)
    return ({"data": files[0]} if files else {}), {"dataset": {"sha256": checksum, "source": source}}


def _data_params(source: str, image: dict[str, Any] | None) -> dict[str, Any]:
    """The decode settings of an image folder, as a record's params (none for other data)."""
    if not is_image_folder(source):
        return {}
    from .images import settings

    return {"image": settings(image)}


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
    try:
        idx = data.split_indices(ds.y, test_fraction=test_fraction, seed=seeds("split"), where=source, task=ds.task)
    except DataError as exc:
        if task is not None or ds.task == "regression" or source in BUNDLED or is_image_folder(source):
            raise
        raise DataError(
            f"{exc}. The task was inferred as {ds.task} from {ds.n_classes} distinct labels (whole numbers "
            f"make classes); if they are numbers to predict, set `task: regression` of data set {dataset!r}"
        ) from None
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
            **({} if ds.features_sha256 is None else {"features_sha256": np.asarray(ds.features_sha256)}),
        },
    )
    files, inputs = _dataset_inputs(source, ds.checksum)
    params = {"source": source, "label": label, "task": task, "test_fraction": test_fraction, "scale": scale}
    identity = identify(
        step="split",
        experiment=dataset,
        seed=seed,
        input_files=files,
        inputs=inputs,
        params={**params, **_data_params(source, image)},
        determinism={"seed": seed},
        script=script,
    )
    rec = records.make(
        identity,
        outputs={"split": out_split},
        sub_seeds=seeds.taken,
        trace={"scale": scaler.summary()},
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
    identity = identify(
        step="init",
        experiment=experiment,
        seed=seed,
        input_files={"split": split_path},
        params={"model": model, "dataset": dataset},
        determinism=applied,
        script=script,
        user_code={"builder": CodeRef.named(model.get("builder"))},
        tensorflow=tensorflow_info(),
    )
    outputs = {"init": out_init, "model": out_model}
    rec = records.make(identity, outputs=outputs, sub_seeds=seeds.taken, seconds=time.perf_counter() - t0)
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
    train: dict[str, Any],
    label: str | list[str],
    image: dict[str, Any] | None = None,
    stream: bool | None = None,
    builder: str | None,
    profile: str,
    threads: int,
    op_determinism: bool,
    script: str | Path | None,
) -> dict[str, Any]:
    """Deterministic single-threaded training from the init weights, as the experiment's
    ``train`` section says, with a seeded batch order (:mod:`samebits.ml.training`).

    The checksum of the weights after every epoch goes into the record
    (``trace.epoch_weights``), so a divergence can be pinned to its first epoch. The step
    checkpoints as ``train.checkpoint`` says and when a SIGTERM or SIGUSR1 comes, starts from
    the newest valid checkpoint of its identity, and ends with the bits of an uninterrupted
    run (:mod:`samebits.ml.resume`). The features are scaled as the split says and, with
    ``stream``, read from disk a batch at a time, with the same values. Neither
    ``train.checkpoint`` nor ``stream`` decides any bits: they are not in the record.
    """
    t0 = time.perf_counter()
    applied = determinism.apply(seed, profile=profile, threads=threads, op_determinism=op_determinism)
    where, seeds = f"experiments.{experiment}.train", SeedSource(seed)
    task, ds, net, meta, scaler = _load(split_path, model_path, init_path, dataset, source, label, image, builder)
    units, _ = models.output_units(net)
    fraction = train["validation_fraction"]
    samples = training.training_data(
        ds, meta, scaler, task=task, units=units, validation_fraction=fraction, stream=stream, seeds=seeds, where=where
    )
    if isinstance(samples.x, scaling.Samples):
        shown = data.describe_source(source)
        log.info("train %s seed %d: %d samples streamed from %s", experiment, seed, len(samples.x), shown)
    compiled = compiling.compile_training(
        train, task=task, units=units, n_classes=ds.n_classes, labels=samples.labels, where=where
    )
    orders = training.epoch_orders(len(samples.y), epochs=train["epochs"], seed=seeds("shuffle"))

    files, inputs = _dataset_inputs(source, ds.checksum)
    identity = identify(
        step="train",
        experiment=experiment,
        seed=seed,
        input_files={"split": split_path, "init": init_path, "model": model_path, **files},
        inputs=inputs,
        params={
            "dataset": dataset,
            **_bit_deciding(train),
            "source": source,
            "label": label,
            **_data_params(source, image),
        },
        determinism=applied,
        script=script,
        user_code=_user_code(builder, train),
        tensorflow=tensorflow_info(),
    )
    checkpointer = _checkpointer(net, compiled, identity, train, experiment, seed, len(samples.y), out_record)
    t = time.perf_counter()
    trainer = CodeRef.named(train["trainer"])
    ended = training.train_model(
        checkpointer,
        samples,
        compiled,
        orders,
        batch_size=train["batch_size"],
        trainer=trainer,
        task=task,
        n_classes=ds.n_classes,
        seeds=seeds,
        where=where,
    )
    fit_seconds = time.perf_counter() - t
    checkpointer.wait()  # the last checkpoint is on disk before any output

    epochs, trace = checkpointer.record, {**samples.trace, **ended}
    fileio.write_npz(out_weights, weights_of(net))
    history = {"epochs": train["epochs"], **epochs.history, "epoch_weights": epochs.checksums, **trace}
    fileio.write_json(out_history, history)
    with fileio.atomic_path(out_keras) as tmp:
        net.save(tmp)  # for users; its bytes carry a save date, so it is never compared
    rec = records.make(
        identity,
        outputs={"weights": out_weights, "history": out_history},
        sub_seeds=seeds.taken,
        trace={"epoch_weights": epochs.checksums, "compiled": compiled.described, "task": task, **trace},
        seconds=time.perf_counter() - t0,
        run={
            "fit_seconds": round(fit_seconds, 3),
            **({"resumed": checkpointer.resumed} if checkpointer.resumed else {}),
        },
    )
    fileio.write_json(out_record, rec)
    checkpointer.finish()
    return rec


def _load(
    split_path: str | Path,
    model_path: str | Path,
    weights_path: str | Path,
    dataset: str,
    source: str,
    label: str | list[str],
    image: dict[str, Any] | None,
    builder: str | None,
) -> tuple[Any, ...]:
    """What train and evaluate start from: the split's task, the data set (its content
    checked against the split's), the model with the given weights, the split file's arrays,
    and the scaling fitted by split."""
    meta = read_npz(split_path)
    task = data.split_task(meta)
    ds = data.load(dataset, source, label=label, task=task, image=image)
    data.check_cache(ds, meta, str(split_path))
    net = load_architecture(model_path, builder)
    set_weights(net, read_npz(weights_path), str(weights_path))
    return task, ds, net, meta, scaling.Scaler.from_meta(meta, str(split_path))


def _bit_deciding(train: dict[str, Any]) -> dict[str, Any]:
    """An experiment's ``train`` section without ``checkpoint``, which decides no bits."""
    return {key: value for key, value in train.items() if key != "checkpoint"}


def _user_code(builder: str | None, train: dict[str, Any]) -> dict[str, CodeRef | None]:
    """The user's code a train step runs: the model's builder (its custom layers), the
    trainer, and a loss of the user's."""
    return {
        "builder": CodeRef.named(builder),
        "trainer": CodeRef.named(train["trainer"]),
        "loss": CodeRef.named(train["loss"]),
    }


def _checkpointer(
    net: Any,
    compiled: compiling.Compiled,
    identity: StepIdentity,
    train: dict[str, Any],
    experiment: str,
    seed: int,
    n: int,
    out_record: str | Path,
) -> Checkpointer:
    """The checkpoints of a train step, beside its record, keyed by its identity. The
    optimizer is built now (Keras would build it at the first step, the same way), so a
    checkpoint's optimizer variables can be put back before training."""
    every = {"every_epochs": 1, "every_minutes": None, **(train["checkpoint"] or {})}
    compiled.optimizer.build(net.trainable_variables)
    return Checkpointer(
        model=net,
        optimizer=compiled.optimizer,
        callbacks=compiled.callbacks,
        record=EpochLog(net, experiment=experiment, seed=seed, epochs=train["epochs"]),
        store=resume.Store(
            Path(out_record).parent / layout.RESUME_DIR, resume.key_parts(**identity.checkpoint_parts())
        ),
        clock=resume.Clock(every["every_epochs"], every["every_minutes"]),
        signals=resume.Signals(),
        steps=-(-n // train["batch_size"]),
    )


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
    task, ds, net, idx, scaler = _load(split_path, model_path, weights_path, dataset, source, label, image, builder)
    x, y = batches.features(ds, idx["test"], scaler, stream), ds.y[idx["test"]]
    t = time.perf_counter()
    outputs = np.asarray(net.predict(batches.batches(x, PREDICT_BATCH_SIZE), verbose=0), dtype=np.float32)
    predict_seconds = time.perf_counter() - t
    metrics, predictions = evaluation(task=task, y=y, outputs=outputs, n_classes=ds.n_classes)
    if ds.class_names is not None:  # the figures name the confusion matrix's rows by them
        metrics["classes"] = ds.class_names
    shown = " ".join(f"{k} {v:.6g}" for k, v in metrics.items() if isinstance(v, float))
    log.info("evaluate %s seed %d: %s %s on %d test samples", experiment, seed, task, shown, metrics["n"])
    fileio.write_json(out_metrics, metrics)
    fileio.write_npz(out_predictions, {**predictions, "index": idx["test"]})
    files, inputs = _dataset_inputs(source, ds.checksum)
    identity = identify(
        step="evaluate",
        experiment=experiment,
        seed=seed,
        input_files={"split": split_path, "weights": weights_path, "model": model_path, **files},
        inputs=inputs,
        params={
            "dataset": dataset,
            "batch_size": PREDICT_BATCH_SIZE,
            "source": source,
            "label": label,
            **_data_params(source, image),
        },
        determinism=applied,
        script=script,
        user_code={"builder": CodeRef.named(builder)},
        tensorflow=tensorflow_info(),
    )
    rec = records.make(
        identity,
        outputs={"metrics": out_metrics, "predictions": out_predictions},
        seconds=time.perf_counter() - t0,
        run={"predict_seconds": round(predict_seconds, 3)},
    )
    fileio.write_json(out_record, rec)
    return rec
