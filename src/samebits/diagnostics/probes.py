"""The portability probe: ops and Keras layers on fixed, seeded inputs, forward and backward.

``python -m samebits.diagnostics.probes --cases A,B --out F.npz`` applies the determinism
recipe (:func:`samebits.ml.determinism.apply`), runs each case with its own seed (so a case
gives the same bits whichever other cases run), writes the arrays to an ``.npz`` and prints
the checksums as JSON. :mod:`samebits.diagnostics.portability` starts it natively and under
emulated CPUs. TensorFlow is imported only in this process.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import SamebitsError
from ..core.hashing import hash_arrays
from ..core.seeds import derive
from ..ml import determinism
from ..provenance.cpu import isa_level

__all__ = ["CASES", "MASTER_SEED", "Case", "check_cases", "probe"]

MASTER_SEED = 20261126


@dataclass(frozen=True)
class Case:
    """One probe case: ``func(ctx)`` returns the arrays whose bits are compared."""

    func: Callable[[_Ctx], dict[str, Any]]
    what: str
    layers: tuple[str, ...] = ()


class _Ctx:
    """What a case gets: TensorFlow, Keras, and seeded inputs that are exact on every CPU."""

    def __init__(self, name: str):
        import keras
        import tensorflow as tf

        self.tf, self.keras = tf, keras
        self.seed = derive(MASTER_SEED, name)
        # PCG64 and the uniform transform are integer and exact IEEE arithmetic, so the
        # inputs are the same bits everywhere (a normal draw would go through libm).
        self.rng = np.random.default_rng(self.seed)
        keras.utils.set_random_seed(self.seed)

    def uniform(self, shape, low: float = -1.0, high: float = 1.0):
        return self.tf.constant(self.rng.uniform(low, high, size=shape).astype(np.float32))

    def set_weights(self, layer) -> None:
        """Give every weight of a built layer seeded values (scales and variances positive)."""
        for w in layer.weights:
            positive = any(k in w.path for k in ("gamma", "variance"))
            low, high = (0.5, 1.5) if positive else (-0.5, 0.5)
            w.assign(self.rng.uniform(low, high, size=tuple(w.shape)).astype(np.float32))

    def forward_backward(self, fn, *inputs, weights=()) -> dict[str, Any]:
        """Output of ``fn(*inputs)`` and the gradients of a seeded weighted sum of it."""
        tf = self.tf
        with tf.GradientTape(persistent=True) as tape:
            for x in inputs:
                tape.watch(x)
            y = fn(*inputs)
            probe = self.uniform(tuple(y.shape))
            loss = tf.reduce_sum(y * probe)
        out = {"output": y}
        grads = tape.gradient(loss, [*inputs, *weights])
        for i, g in enumerate(grads[: len(inputs)]):
            out[f"grad/input{i}"] = g
        for w, g in zip(weights, grads[len(inputs) :], strict=True):
            out[f"grad/{w.path}"] = g
        return out

    def layer(self, layer, x, **call_kwargs) -> dict[str, Any]:
        """A built layer with seeded weights: output, gradients, and its weights afterwards."""
        layer.build(tuple(x.shape))
        self.set_weights(layer)
        out = self.forward_backward(lambda t: layer(t, **call_kwargs), x, weights=layer.trainable_weights)
        for w in layer.non_trainable_weights:  # e.g. BatchNormalization's moving statistics
            out[f"after/{w.path}"] = w
        return out


def _dense(c: _Ctx):
    return c.layer(c.keras.layers.Dense(64, name="dense"), c.uniform((32, 100)))


def _conv2d(c: _Ctx):
    return c.layer(c.keras.layers.Conv2D(8, 3, padding="same", name="conv"), c.uniform((4, 16, 16, 3)))


def _maxpool(c: _Ctx):
    return c.layer(c.keras.layers.MaxPooling2D(2, name="pool"), c.uniform((4, 16, 16, 8)))


def _avgpool(c: _Ctx):
    return c.layer(c.keras.layers.AveragePooling2D(2, name="pool"), c.uniform((4, 16, 16, 8)))


def _bn_train(c: _Ctx):
    x = c.uniform((64, 32), -2.0, 3.0)
    return c.layer(c.keras.layers.BatchNormalization(name="bn"), x, training=True)


def _bn_infer(c: _Ctx):
    x = c.uniform((64, 32), -2.0, 3.0)
    return c.layer(c.keras.layers.BatchNormalization(name="bn"), x, training=False)


def _layernorm(c: _Ctx):
    return c.layer(c.keras.layers.LayerNormalization(name="ln"), c.uniform((64, 32), -2.0, 3.0))


def _dropout(c: _Ctx):
    return c.layer(c.keras.layers.Dropout(0.3, seed=c.seed, name="dropout"), c.uniform((64, 256)), training=True)


def _activation(name: str, low: float = -6.0, high: float = 6.0):
    def case(c: _Ctx):
        fn = c.keras.activations.get(name)
        return c.forward_backward(fn, c.uniform((8192,), low, high))

    return case


def _softmax(c: _Ctx):
    return c.forward_backward(c.tf.nn.softmax, c.uniform((64, 1000), -8.0, 8.0))


def _crossentropy(from_keras_softmax: bool):
    def case(c: _Ctx):
        labels = c.tf.constant(c.rng.integers(0, 10, size=64))
        loss = c.keras.losses.SparseCategoricalCrossentropy()
        # Keras' softmax activation tags its output with the logits, so the loss takes the
        # fused softmax-cross-entropy op (what a Keras model with a softmax output does);
        # plain probabilities go through log, whose gradient is a reciprocal.
        softmax = c.keras.activations.softmax if from_keras_softmax else c.tf.nn.softmax
        logits = c.uniform((64, 10), -4.0, 4.0)
        return c.forward_backward(lambda p: c.tf.reshape(loss(labels, softmax(p)), (1,)), logits)

    return case


def _groupnorm(c: _Ctx):
    return c.layer(c.keras.layers.GroupNormalization(4, name="gn"), c.uniform((16, 8, 8, 16), -2.0, 3.0))


def _unary(op: str, low: float, high: float):
    def case(c: _Ctx):
        return c.forward_backward(getattr(c.tf.math, op), c.uniform((8192,), low, high))

    return case


def _matmul_large_k(c: _Ctx):
    return c.forward_backward(c.tf.linalg.matmul, c.uniform((8, 65536)), c.uniform((65536, 8)))


def _reduce_sum_large(c: _Ctx):
    return c.forward_backward(lambda x: c.tf.reshape(c.tf.reduce_sum(x), (1,)), c.uniform((1 << 20,)))


def _initializers(c: _Ctx):
    init = c.keras.initializers
    return {
        "glorot_uniform": init.GlorotUniform(seed=c.seed)((64, 64)),
        "he_normal": init.HeNormal(seed=c.seed)((64, 64)),
        "orthogonal": init.Orthogonal(seed=c.seed)((64, 64)),
    }


def _optimizer(name: str):
    def case(c: _Ctx):
        keras, tf = c.keras, c.tf
        inputs = keras.Input((20,))
        hidden = keras.layers.Dense(32, activation="relu", name="hidden")
        output = keras.layers.Dense(10, activation="softmax", name="output")
        model = keras.Model(inputs, output(hidden(inputs)))
        for layer in (hidden, output):
            c.set_weights(layer)
        opt = {"sgd": keras.optimizers.SGD(0.1, momentum=0.9), "adam": keras.optimizers.Adam(0.01)}.get(name)
        opt = opt or keras.optimizers.RMSprop(0.01)
        loss_fn = keras.losses.SparseCategoricalCrossentropy()
        x, y = c.uniform((64, 20)), tf.constant(c.rng.integers(0, 10, size=64))
        out = {}
        for step in range(3):  # three steps, so momentum and moment estimates take part
            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x, training=True))
            grads = tape.gradient(loss, model.trainable_weights)
            opt.apply_gradients(zip(grads, model.trainable_weights, strict=True))
            out[f"loss/{step}"] = tf.reshape(loss, (1,))
        out.update({f"after/{w.path}": w for w in model.weights})
        return out

    return case


#: The cases, in table order: name -> Case.
CASES: dict[str, Case] = {
    "dense": Case(_dense, "Dense(64) on (32, 100): output and gradients", ("Dense",)),
    "conv2d": Case(_conv2d, "Conv2D(8, 3) on (4, 16, 16, 3)", ("Conv2D",)),
    "maxpool2d": Case(_maxpool, "MaxPooling2D(2) on (4, 16, 16, 8)", ("MaxPooling2D",)),
    "avgpool2d": Case(_avgpool, "AveragePooling2D(2) on (4, 16, 16, 8)", ("AveragePooling2D",)),
    "batchnorm_train": Case(_bn_train, "BatchNormalization, training (batch statistics)", ("BatchNormalization",)),
    "batchnorm_infer": Case(_bn_infer, "BatchNormalization, inference (moving statistics)", ("BatchNormalization",)),
    "layernorm": Case(_layernorm, "LayerNormalization on (64, 32)", ("LayerNormalization",)),
    "groupnorm": Case(_groupnorm, "GroupNormalization(4) on (16, 8, 8, 16)", ("GroupNormalization",)),
    "dropout_train": Case(_dropout, "Dropout(0.3, seed), training", ("Dropout",)),
    "relu": Case(_activation("relu"), "relu on 8192 values in [-6, 6]: output and gradient"),
    "gelu": Case(_activation("gelu"), "gelu (erf form)"),
    "sigmoid": Case(_activation("sigmoid"), "sigmoid"),
    "tanh": Case(_activation("tanh"), "tanh"),
    "softmax": Case(_softmax, "softmax over 1000 classes, batch 64"),
    "crossentropy_logits": Case(_crossentropy(True), "Keras softmax + sparse categorical cross-entropy (fused)"),
    "crossentropy_probs": Case(_crossentropy(False), "tf.nn.softmax probabilities + cross-entropy (through log)"),
    "exp": Case(_unary("exp", -10.0, 10.0), "tf.math.exp"),
    "log": Case(_unary("log", 0.001, 100.0), "tf.math.log"),
    "sqrt": Case(_unary("sqrt", 0.001, 100.0), "tf.math.sqrt"),
    "reciprocal": Case(_unary("reciprocal", 0.001, 100.0), "tf.math.reciprocal"),
    "rsqrt": Case(_unary("rsqrt", 0.001, 100.0), "tf.math.rsqrt"),
    "matmul_large_k": Case(_matmul_large_k, "matmul (8, 65536) x (65536, 8)"),
    "reduce_sum_large": Case(_reduce_sum_large, "reduce_sum of 2^20 values"),
    "initializers": Case(_initializers, "GlorotUniform, HeNormal, Orthogonal (seeded)"),
    "sgd_step": Case(_optimizer("sgd"), "3 SGD (momentum) steps of a Dense-Dense model"),
    "adam_step": Case(_optimizer("adam"), "3 Adam steps of a Dense-Dense model"),
    "rmsprop_step": Case(_optimizer("rmsprop"), "3 RMSprop steps of a Dense-Dense model"),
}


def check_cases(names: Iterable[str] | None) -> list[str]:
    """The case names to run (all when ``names`` is empty); unknown names raise."""
    names = list(names or CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        raise SamebitsError(f"unknown portability case(s) {', '.join(unknown)}; accepted: {', '.join(CASES)}")
    return names


def probe(cases: list[str], out_npz: str | Path, *, profile: str, threads: int, op_determinism: bool) -> dict[str, Any]:
    """Run ``cases`` in this process (started with the determinism environment).

    Writes every case's arrays to ``out_npz`` (keys ``<case>/<array>``) and returns
    ``{"isa": ..., "executable": ..., "cases": {case: sha256}}``.
    """
    determinism.apply(MASTER_SEED, profile=profile, threads=threads, op_determinism=op_determinism)
    hashes, arrays = {}, {}
    for i, name in enumerate(cases, 1):
        t0 = time.monotonic()
        got = {k: np.asarray(v) for k, v in CASES[name].func(_Ctx(name)).items()}
        hashes[name] = hash_arrays(got)[0]
        arrays.update({f"{name}/{k}": v for k, v in got.items()})
        print(f"[{i}/{len(cases)}] {name} {time.monotonic() - t0:.1f}s", file=sys.stderr, flush=True)
    np.savez(out_npz, **arrays)
    return {"isa": isa_level(), "executable": sys.executable, "cases": hashes}


def _probe_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m samebits.diagnostics.probes")
    p.add_argument("--probe", action="store_true", required=True)
    p.add_argument("--cases", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--profile", required=True)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--op-determinism", choices=["true", "false"], required=True)
    args = p.parse_args(argv)
    result = probe(
        args.cases.split(","),
        args.out,
        profile=args.profile,
        threads=args.threads,
        op_determinism=args.op_determinism == "true",
    )
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(_probe_main(sys.argv[1:]))
