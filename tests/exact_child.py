"""The child process of tests/unit/test_exact.py: ``python -m tests.exact_child PROFILE``.

Applies the determinism recipe with PROFILE (``portable`` installs samebits.ml.exact's kernels,
``native`` keeps TensorFlow's), runs each piece the exact kernels are for, eagerly or inside a
graph as training runs it, and prints one JSON object: per piece the approximate ops of the
graphs it executed, and the values the tests check.
"""

from __future__ import annotations

import json
import sys

import numpy as np

from samebits.diagnostics import graphops
from samebits.ml import determinism


def main(profile: str) -> dict:
    applied = determinism.apply(7, profile=profile, threads=1, op_determinism=True)
    import keras
    import tensorflow as tf

    rng = np.random.default_rng(7)
    x = tf.constant(rng.uniform(0.001, 100.0, size=4096).astype(np.float32))
    a = tf.constant(rng.uniform(-4.0, 4.0, size=4096).astype(np.float32))
    out: dict = {"exact_kernels": applied["exact_kernels"], "ops": {}, "values": {}}

    def graph(name, fn, *args):
        out["ops"][name] = graphops.approximate_ops(graphops.executed_ops(lambda: tf.function(fn)(*args)))

    def grad_of(fn):
        def both(t):
            with tf.GradientTape() as tape:
                tape.watch(t)
                y = fn(t)
            return y, tape.gradient(tf.reduce_sum(y), t)

        return both

    graph("rsqrt", grad_of(tf.math.rsqrt), x)
    graph("reciprocal", grad_of(tf.math.reciprocal), x)
    graph("one_over_x", grad_of(lambda t: 1.0 / t), x)
    graph("a_over_sqrt_b", lambda p, q: p / tf.sqrt(q), a, x)
    graph("log_gradient", grad_of(tf.math.log), x)
    graph("erfc", grad_of(tf.math.erfc), a)
    graph("gelu", grad_of(lambda t: keras.activations.gelu(t, approximate=False)), a)

    def fitted(name, layers, loss, optimizer, y):
        inputs = keras.Input((8,))
        h = inputs
        for layer in layers:
            h = layer(h)
        model = keras.Model(inputs, h)
        model.compile(optimizer=optimizer, loss=loss, jit_compile=False)
        xs = rng.uniform(-1, 1, size=(16, 8)).astype(np.float32)
        out["ops"][name] = graphops.fit_ops(model, xs, y)

    classes = np.arange(16) % 3
    softmax = keras.layers.Dense(3, activation="softmax")
    fitted(
        "batchnorm", [keras.layers.BatchNormalization(), softmax], "sparse_categorical_crossentropy", "adam", classes
    )
    fitted(
        "layernorm",
        [keras.layers.LayerNormalization(), keras.layers.Dense(3, activation="softmax")],
        "sparse_categorical_crossentropy",
        "adam",
        classes,
    )
    fitted(
        "groupnorm",
        [
            keras.layers.Reshape((2, 4)),
            keras.layers.GroupNormalization(2),
            keras.layers.Flatten(),
            keras.layers.Dense(3, activation="softmax"),
        ],
        "sparse_categorical_crossentropy",
        "adam",
        classes,
    )
    fitted(
        "rmsprop", [keras.layers.Dense(3, activation="softmax")], "sparse_categorical_crossentropy", "rmsprop", classes
    )
    fitted(
        "sigmoid_binary_crossentropy",
        [keras.layers.Dense(1, activation="sigmoid")],
        "binary_crossentropy",
        "adam",
        (np.arange(16) % 2).astype(np.float32).reshape(-1, 1),
    )

    # the values: eagerly, against float64 arithmetic, and at the special points
    special = tf.constant([0.0, -1.0, float("inf"), 4.0])
    out["values"]["rsqrt_special"] = [str(v) for v in tf.math.rsqrt(special).numpy()]
    out["values"]["reciprocal_special"] = [str(v) for v in tf.math.reciprocal(special).numpy()]
    in_graph = tf.function(lambda p, q: (p / tf.sqrt(q), 1.0 / q))
    ratio, inverse = in_graph(tf.constant([1.0, 0.0, -2.0, 3.0]), tf.constant([0.0, 0.0, 0.0, 9.0]))
    out["values"]["a_over_sqrt_b_special"] = [str(v) for v in ratio.numpy()]
    out["values"]["one_over_x_special"] = [str(v) for v in inverse.numpy()]
    x64 = x.numpy().astype(np.float64)
    out["values"]["rsqrt_correctly_rounded"] = bool(
        np.array_equal(tf.math.rsqrt(x).numpy(), (1.0 / np.sqrt(x.numpy())).astype(np.float32))
    )
    out["values"]["reciprocal_correctly_rounded"] = bool(
        np.array_equal(tf.math.reciprocal(x).numpy(), (1.0 / x64).astype(np.float32))
    )
    from math import erfc

    a64 = a.numpy().astype(np.float64)
    out["values"]["erfc_correctly_rounded"] = bool(
        np.array_equal(tf.math.erfc(a).numpy(), np.array([erfc(v) for v in a64]).astype(np.float32))
    )
    gelu64 = 0.5 * a64 * np.array([erfc(-v / np.sqrt(2)) for v in a64])
    out["values"]["gelu_max_abs_error"] = float(
        np.max(np.abs(keras.activations.gelu(a, approximate=False).numpy() - gelu64))
    )
    ragged = tf.math.rsqrt(tf.ragged.constant([[4.0], [16.0, 1.0]]))
    out["values"]["ragged_rsqrt"] = ragged.to_list()
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
