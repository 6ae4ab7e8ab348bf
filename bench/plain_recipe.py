"""The baseline of benchmark figure 3: one plain script, the classic Keras reproducibility
recipe, doing what the pipeline does for one experiment x seed (split, init, train, evaluate).

What a careful researcher writes by hand: seeds for Python, NumPy and TensorFlow, a fixed
thread count, op determinism, a seeded stratified split, seeded initializers, a seeded
shuffle, then the weights and metrics saved. No records, no checksums, no workflow, and no
samebits: the benchmark passes every setting on the command line, taken from the checked
plan of the pipeline's experiment, and starts it with the same environment the pipeline's
steps get (PYTHONHASHSEED, thread and oneDNN variables), so both run the same model with
the same kernels.

    python bench/plain_recipe.py --seed 0 --test-fraction 0.2 --filters 32 64 --kernel-size 3 \
        --dense 128 --activation relu --epochs 30 --batch-size 32 --optimizer Adam \
        --learning-rate 0.001 --threads 1 --predict-batch-size 256 --out DIR
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--test-fraction", type=float, required=True)
    p.add_argument("--filters", type=int, nargs="+", required=True)
    p.add_argument("--kernel-size", type=int, required=True)
    p.add_argument("--dense", type=int, nargs="+", required=True)
    p.add_argument("--activation", required=True)
    p.add_argument("--epochs", type=int, required=True)
    p.add_argument("--batch-size", type=int, required=True)
    p.add_argument("--optimizer", required=True, help="a class of keras.optimizers, e.g. Adam")
    p.add_argument("--learning-rate", type=float, required=True)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--predict-batch-size", type=int, required=True)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    t0 = time.perf_counter()

    import keras
    import numpy as np
    import tensorflow as tf
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    # The classic recipe.
    os.environ.setdefault("PYTHONHASHSEED", "0")
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    keras.utils.set_random_seed(args.seed)
    random.seed(args.seed)
    np.random.seed(args.seed)
    tf.config.experimental.enable_op_determinism()

    digits = datasets.load_digits()
    x = (digits.images / 16.0)[..., np.newaxis].astype(np.float32)
    y = digits.target.astype(np.int64)
    idx = np.arange(len(y))
    train, test = train_test_split(idx, test_size=args.test_fraction, stratify=y, random_state=args.seed)

    init = keras.initializers.GlorotUniform
    inputs = keras.Input(shape=x.shape[1:])
    h = inputs
    for i, f in enumerate(args.filters):
        h = keras.layers.Conv2D(
            f, args.kernel_size, padding="same", activation=args.activation, kernel_initializer=init(seed=10 + i)
        )(h)
        if h.shape[1] >= 2 and h.shape[2] >= 2:
            h = keras.layers.MaxPooling2D(2)(h)
    h = keras.layers.Flatten()(h)
    for i, n in enumerate(args.dense):
        h = keras.layers.Dense(n, activation=args.activation, kernel_initializer=init(seed=20 + i))(h)
    outputs = keras.layers.Dense(10, activation="softmax", kernel_initializer=init(seed=30))(h)
    model = keras.Model(inputs, outputs)
    optimizer = getattr(keras.optimizers, args.optimizer)(learning_rate=args.learning_rate)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")

    t_fit = time.perf_counter()
    model.fit(x[train], y[train], batch_size=args.batch_size, epochs=args.epochs, shuffle=True, verbose=0)
    fit_seconds = time.perf_counter() - t_fit
    proba = model.predict(x[test], batch_size=args.predict_batch_size, verbose=0)
    accuracy = float((proba.argmax(axis=1) == y[test]).mean())

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / "weights.npz", *[np.asarray(w) for w in model.get_weights()])
    np.savez(out / "predictions.npz", proba=proba, y=y[test])
    metrics = {"accuracy": accuracy, "fit_seconds": fit_seconds, "seconds": time.perf_counter() - t0}
    (out / "metrics.json").write_text(json.dumps(metrics))


if __name__ == "__main__":
    main()
