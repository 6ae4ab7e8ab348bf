"""Figure 11's training: a small CNN with BatchNormalization, fit with RMSprop, under one profile.

``python bench/bn_train.py --profile P --n N --size S --epochs E --out FILE``, started with
that profile's determinism environment: applies the recipe (:func:`samebits.ml.determinism.apply`:
under ``portable`` the exact kernels of :mod:`samebits.ml.exact`), trains on seeded uniform
images with 10 classes, and writes ``{"fit_seconds", "weights_sha256", "exact_kernels"}``.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from samebits.core.hashing import hash_arrays
from samebits.ml import determinism


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--profile", required=True)
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--size", type=int, required=True)
    p.add_argument("--epochs", type=int, required=True)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    applied = determinism.apply(0, profile=args.profile, threads=1, op_determinism=True)
    import keras

    rng = np.random.default_rng(0)
    x = rng.uniform(0.0, 1.0, size=(args.n, args.size, args.size, 1)).astype(np.float32)
    y = rng.integers(0, 10, size=args.n)
    glorot = keras.initializers.GlorotUniform
    inputs = keras.Input((args.size, args.size, 1), name="input")
    h = inputs
    for i, filters in enumerate((16, 32), start=1):
        h = keras.layers.Conv2D(filters, 3, padding="same", name=f"conv_{i}", kernel_initializer=glorot(seed=i))(h)
        h = keras.layers.BatchNormalization(name=f"bn_{i}")(h)
        h = keras.layers.Activation("relu", name=f"relu_{i}")(h)
        h = keras.layers.MaxPooling2D(2, name=f"pool_{i}")(h)
    h = keras.layers.Flatten(name="flatten")(h)
    out = keras.layers.Dense(10, activation="softmax", name="output", kernel_initializer=glorot(seed=9))(h)
    model = keras.Model(inputs, out)
    model.compile(optimizer=keras.optimizers.RMSprop(0.001), loss="sparse_categorical_crossentropy", jit_compile=False)
    t0 = time.perf_counter()
    model.fit(x, y, batch_size=32, epochs=args.epochs, shuffle=False, verbose=0)
    seconds = time.perf_counter() - t0
    weights = {w.path: np.asarray(w) for w in model.weights}
    result = {
        "fit_seconds": seconds,
        "weights_sha256": hash_arrays(weights)[0],
        "exact_kernels": applied["exact_kernels"],
    }
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump(result, fh)


if __name__ == "__main__":
    main()
