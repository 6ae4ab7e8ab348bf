"""The portability probe: ops, Keras layers and whole training steps on fixed, seeded inputs.

``python -m samebits.diagnostics.probes --probe --cases A,B --out DIR`` applies the
determinism recipe (:func:`samebits.ml.determinism.apply`) and runs each case with its own
seed (so a case gives the same bits whichever other cases run in the process). It writes
each case's arrays to ``DIR/<case>.npz`` as soon as the case is done and tells its progress
on stdout, one JSON object a line (:data:`EVENTS`), so that the runner
(:mod:`samebits.diagnostics.portability`) keeps every finished case when a later one kills
the process, and knows which case did. TensorFlow is imported only in this process.

Two kinds of case: op and layer cases run one op or one layer eagerly, forward and backward;
``fit_*`` cases compile a tiny Keras model and ``fit()`` it for two epochs of two steps, then
predict, the way the train and evaluate steps run Keras. Only the second kind measures
what training runs: ``fit()`` runs a TensorFlow graph, in which oneDNN fuses a Dense layer's
matrix product, bias and activation into one kernel that the eager ``tanh`` case never calls.
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

__all__ = ["CASES", "EVENTS", "MASTER_SEED", "Case", "check_cases", "main", "probe"]

MASTER_SEED = 20261126

#: What the probe process prints on stdout, one JSON object a line, by ``event``:
#: ``ready`` (``isa``, ``executable``, ``exact_kernels``) once TensorFlow is set up; ``start`` (``case``) before a
#: case; ``done`` (``case``, ``sha256``, ``seconds``) once its arrays are written;
#: ``error`` (``case``, ``error``) when the case raised (the process goes on with the next).
EVENTS = ("ready", "start", "done", "error")


@dataclass(frozen=True)
class Case:
    """One probe case: ``func(ctx)`` returns the arrays whose bits are compared.

    ``layers``, ``activations``, ``losses``, ``optimizers`` and ``metrics`` name (by Keras
    class, activation name, or ``accuracy``) every piece whose arithmetic the case runs: a
    ``fit_*`` case names all the pieces of its model and training, a layer case its layer,
    an op case nothing. A case measured portable shows each of its pieces portable in that
    use (:mod:`samebits.diagnostics.portable_ops` keeps what was found).
    """

    func: Callable[[_Ctx], dict[str, Any]]
    what: str
    layers: tuple[str, ...] = ()
    activations: tuple[str, ...] = ()
    losses: tuple[str, ...] = ()
    optimizers: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()

    def pieces(self) -> dict[str, tuple[str, ...]]:
        """What the case measures, by kind (kinds it does not touch left out)."""
        kinds = {
            "layer": self.layers,
            "activation": self.activations,
            "loss": self.losses,
            "optimizer": self.optimizers,
            "metric": self.metrics,
        }
        return {kind: names for kind, names in kinds.items() if names}


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

    def fit(self, model, x, y, *, loss: str, optimizer: dict[str, Any], metrics: tuple[str, ...]) -> dict[str, Any]:
        """Train ``model`` (seeded weights) as the train step does and predict as evaluate does.

        ``compile()`` then ``fit()`` two epochs of two batches, unshuffled (four optimizer
        steps, so momentum and moment estimates take part), then ``predict()``. Returns the
        history, the weights afterwards and the predictions.
        """
        keras = self.keras
        for layer in model.layers:
            self.set_weights(layer)
        opt = keras.optimizers.get(
            {"class_name": optimizer["name"], "config": {k: v for k, v in optimizer.items() if k != "name"}}
        )
        model.compile(optimizer=opt, loss=loss, metrics=list(metrics), jit_compile=False)
        history = model.fit(x, y, batch_size=len(x) // 2, epochs=2, shuffle=False, verbose=0)
        out: dict[str, Any] = {
            f"history/{k}": np.asarray(v, dtype=np.float64) for k, v in sorted(history.history.items())
        }
        out.update({f"after/{w.path}": w for w in model.weights})
        out["predict"] = model.predict(x, batch_size=len(x), verbose=0)
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


def _one_over_x(c: _Ctx):
    """``1 / x`` eagerly and inside ``tf.function``, where Grappler's constant folding turns it
    into ``reciprocal(x)``."""
    x = c.uniform((8192,), 0.001, 100.0)
    out = c.forward_backward(lambda t: 1.0 / t, x)
    out["in_graph"] = c.tf.function(lambda t: 1.0 / t, jit_compile=False)(x)
    return out


def _div_by_sqrt_in_graph(c: _Ctx):
    """``a / sqrt(b)`` inside ``tf.function``: the graph Grappler rewrites into ``a * rsqrt(b)``."""
    tf = c.tf
    a, b = c.uniform((8192,), -4.0, 4.0), c.uniform((8192,), 0.001, 100.0)

    @tf.function(jit_compile=False)
    def both(a, b):
        with tf.GradientTape() as tape:
            tape.watch([a, b])
            y = a / tf.sqrt(b)
            loss = tf.reduce_sum(y * tf.range(8192, dtype=tf.float32) / 8192.0)
        return y, tape.gradient(loss, [a, b])

    y, (ga, gb) = both(a, b)
    return {"output": y, "grad/input0": ga, "grad/input1": gb}


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


#: The optimizer of every ``fit_*`` case but the optimizer cases.
_ADAM = {"name": "Adam", "learning_rate": 0.01}


def _dense_model(c: _Ctx, n_in: int, activation: str, units: int, output_activation: str):
    keras = c.keras
    inputs = keras.Input((n_in,), name="input")
    hidden = keras.layers.Dense(32, activation=activation, name="hidden")(inputs)
    return keras.Model(inputs, keras.layers.Dense(units, activation=output_activation, name="output")(hidden))


def _fit_activation(activation: str):
    """A Dense layer with ``activation`` fused (oneDNN's MatMul + BiasAdd + activation)."""

    def case(c: _Ctx):
        model = _dense_model(c, 20, activation, 10, "softmax")
        x, y = c.uniform((32, 20), -2.0, 2.0), c.rng.integers(0, 10, size=32)
        return c.fit(model, x, y, loss="sparse_categorical_crossentropy", optimizer=_ADAM, metrics=("accuracy",))

    return case


def _fit_loss(loss: str, task: str):
    """A small model with ``task``'s output layer, trained with ``loss``."""

    def case(c: _Ctx):
        x = c.uniform((32, 20), -2.0, 2.0)
        if task == "binary":
            model = _dense_model(c, 20, "relu", 1, "sigmoid")
            y, metrics = c.rng.integers(0, 2, size=(32, 1)).astype(np.float32), ("accuracy",)
        else:
            model = _dense_model(c, 20, "relu", 3, "linear")
            y, metrics = c.rng.uniform(-2.0, 2.0, size=(32, 3)).astype(np.float32), ("mae",)
        return c.fit(model, x, y, loss=loss, optimizer=_ADAM, metrics=metrics)

    return case


def _fit_optimizer(optimizer: dict[str, Any]):
    def case(c: _Ctx):
        model = _dense_model(c, 20, "relu", 10, "softmax")
        x, y = c.uniform((32, 20), -2.0, 2.0), c.rng.integers(0, 10, size=32)
        return c.fit(model, x, y, loss="sparse_categorical_crossentropy", optimizer=optimizer, metrics=("accuracy",))

    return case


def _fit_mlp(c: _Ctx):
    """The default configuration's MLP (``model.type: mlp``, dropout 0.1) on 8x8 images."""
    keras = c.keras
    inputs = keras.Input((8, 8), name="input")
    x = keras.layers.Flatten(name="flatten")(inputs)
    x = keras.layers.Dense(64, activation="relu", name="dense_1")(x)
    x = keras.layers.Dropout(0.1, seed=c.seed, name="dropout_1")(x)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax", name="output")(x))
    x, y = c.uniform((32, 8, 8), 0.0, 1.0), c.rng.integers(0, 10, size=32)
    return c.fit(model, x, y, loss="sparse_categorical_crossentropy", optimizer=_ADAM, metrics=("accuracy",))


def _fit_cnn(c: _Ctx):
    """The default configuration's CNN (``model.type: cnn``) on 8x8x1 images."""
    keras = c.keras
    inputs = keras.Input((8, 8, 1), name="input")
    x = inputs
    for i, filters in enumerate((16, 32), start=1):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv_{i}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool_{i}")(x)
    x = keras.layers.Dense(64, activation="relu", name="dense_1")(keras.layers.Flatten(name="flatten")(x))
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax", name="output")(x))
    x, y = c.uniform((32, 8, 8, 1), 0.0, 1.0), c.rng.integers(0, 10, size=32)
    return c.fit(model, x, y, loss="sparse_categorical_crossentropy", optimizer=_ADAM, metrics=("accuracy",))


def _fit_batchnorm(c: _Ctx):
    """A small CNN with BatchNormalization, fit with RMSprop (training and moving statistics)."""
    keras = c.keras
    inputs = keras.Input((8, 8, 1), name="input")
    x = keras.layers.Conv2D(8, 3, padding="same", name="conv_1")(inputs)
    x = keras.layers.BatchNormalization(name="bn_1")(x)
    x = keras.layers.Activation("relu", name="relu_1")(x)
    x = keras.layers.MaxPooling2D(2, name="pool_1")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax", name="output")(x))
    x, y = c.uniform((32, 8, 8, 1), 0.0, 1.0), c.rng.integers(0, 10, size=32)
    rmsprop = {"name": "RMSprop", "learning_rate": 0.01}
    return c.fit(model, x, y, loss="sparse_categorical_crossentropy", optimizer=rmsprop, metrics=("accuracy",))


def _fit_recipe_binary(c: _Ctx):
    """The classic recipe's binary model: Dense(1, sigmoid), binary cross-entropy, RMSprop."""
    model = _dense_model(c, 20, "relu", 1, "sigmoid")
    x, y = c.uniform((32, 20), -2.0, 2.0), c.rng.integers(0, 2, size=(32, 1)).astype(np.float32)
    rmsprop = {"name": "RMSprop", "learning_rate": 0.01}
    return c.fit(model, x, y, loss="binary_crossentropy", optimizer=rmsprop, metrics=("accuracy",))


def _fit_embedding(c: _Ctx):
    keras = c.keras
    inputs = keras.Input((12,), dtype="int32", name="input")
    x = keras.layers.Flatten(name="flatten")(keras.layers.Embedding(50, 8, name="embedding")(inputs))
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax", name="output")(x))
    x, y = c.rng.integers(0, 50, size=(32, 12)).astype(np.int32), c.rng.integers(0, 10, size=32)
    return c.fit(model, x, y, loss="sparse_categorical_crossentropy", optimizer=_ADAM, metrics=("accuracy",))


def _fit_recurrent(kind: str):
    """A recurrent layer (its default activations: tanh, recurrent sigmoid) over 10 steps."""

    def case(c: _Ctx):
        keras = c.keras
        inputs = keras.Input((10, 8), name="input")
        x = getattr(keras.layers, kind)(16, name=kind.lower())(inputs)
        model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax", name="output")(x))
        x, y = c.uniform((32, 10, 8)), c.rng.integers(0, 10, size=32)
        return c.fit(model, x, y, loss="sparse_categorical_crossentropy", optimizer=_ADAM, metrics=("accuracy",))

    return case


#: What every classification ``fit_*`` case runs besides its subject.
_CLASSIFY = {
    "losses": ("SparseCategoricalCrossentropy",),
    "optimizers": ("Adam",),
    "metrics": ("accuracy",),
}
_DENSE = ("InputLayer", "Dense")


def _fit_case(func, what: str, **pieces) -> Case:
    """A ``fit_*`` case; ``pieces`` name what it runs (defaults: a Dense classifier's)."""
    defaults = {"layers": _DENSE, "activations": ("relu", "softmax"), **_CLASSIFY}
    return Case(func, what, **{**defaults, **pieces})


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
    "erfc": Case(_unary("erfc", -4.0, 4.0), "tf.math.erfc"),
    "one_over_x": Case(_one_over_x, "1 / x, eagerly and inside tf.function (constant folding's reciprocal)"),
    "div_by_sqrt_graph": Case(_div_by_sqrt_in_graph, "a / sqrt(b) inside tf.function (Grappler's rsqrt rewrite)"),
    "matmul_large_k": Case(_matmul_large_k, "matmul (8, 65536) x (65536, 8)"),
    "reduce_sum_large": Case(_reduce_sum_large, "reduce_sum of 2^20 values"),
    "initializers": Case(_initializers, "GlorotUniform, HeNormal, Orthogonal (seeded)"),
    "sgd_step": Case(_optimizer("sgd"), "3 SGD (momentum) steps of a Dense-Dense model"),
    "adam_step": Case(_optimizer("adam"), "3 Adam steps of a Dense-Dense model"),
    "rmsprop_step": Case(_optimizer("rmsprop"), "3 RMSprop steps of a Dense-Dense model"),
    # Training as the train step runs it: compile, fit (a graph, with oneDNN's fusions), predict.
    "fit_mlp": _fit_case(
        _fit_mlp,
        "the default MLP (Flatten, Dense relu, Dropout, Dense softmax), fit with Adam",
        layers=("InputLayer", "Flatten", "Dense", "Dropout"),
    ),
    "fit_cnn": _fit_case(
        _fit_cnn,
        "the default CNN (Conv2D relu, MaxPooling2D, Flatten, Dense), fit with Adam",
        layers=("InputLayer", "Conv2D", "MaxPooling2D", "Flatten", "Dense"),
    ),
    "fit_relu": _fit_case(_fit_activation("relu"), "Dense(32, relu) then softmax, fit with Adam"),
    "fit_tanh": _fit_case(
        _fit_activation("tanh"), "Dense(32, tanh) then softmax, fit", activations=("tanh", "softmax")
    ),
    "fit_sigmoid": _fit_case(
        _fit_activation("sigmoid"), "Dense(32, sigmoid) then softmax, fit", activations=("sigmoid", "softmax")
    ),
    "fit_elu": _fit_case(_fit_activation("elu"), "Dense(32, elu) then softmax, fit", activations=("elu", "softmax")),
    "fit_gelu": _fit_case(
        _fit_activation("gelu"), "Dense(32, gelu) then softmax, fit", activations=("gelu", "softmax")
    ),
    "fit_binary_crossentropy": _fit_case(
        _fit_loss("binary_crossentropy", "binary"),
        "one sigmoid unit, binary_crossentropy (the classic recipe's binary model)",
        activations=("relu", "sigmoid"),
        losses=("BinaryCrossentropy",),
    ),
    "fit_mse": _fit_case(
        _fit_loss("mean_squared_error", "regression"),
        "3 linear outputs, mean_squared_error (the regression default), mae metric",
        activations=("relu", "linear"),
        losses=("MeanSquaredError",),
        metrics=("MeanAbsoluteError",),
    ),
    "fit_huber": _fit_case(
        _fit_loss("huber", "regression"),
        "3 linear outputs, Huber loss",
        activations=("relu", "linear"),
        losses=("Huber",),
        metrics=("MeanAbsoluteError",),
    ),
    "fit_mae": _fit_case(
        _fit_loss("mean_absolute_error", "regression"),
        "3 linear outputs, mean_absolute_error loss",
        activations=("relu", "linear"),
        losses=("MeanAbsoluteError",),
        metrics=("MeanAbsoluteError",),
    ),
    "fit_sgd": _fit_case(
        _fit_optimizer({"name": "SGD", "learning_rate": 0.1, "momentum": 0.9}),
        "Dense relu, softmax, fit with SGD (momentum 0.9)",
        optimizers=("SGD",),
    ),
    "fit_rmsprop": _fit_case(
        _fit_optimizer({"name": "RMSprop", "learning_rate": 0.01}),
        "Dense relu, softmax, fit with RMSprop",
        optimizers=("RMSprop",),
    ),
    "fit_adamw": _fit_case(
        _fit_optimizer({"name": "AdamW", "learning_rate": 0.01, "weight_decay": 0.004}),
        "Dense relu, softmax, fit with AdamW (weight decay 0.004)",
        optimizers=("AdamW",),
    ),
    "fit_batchnorm": _fit_case(
        _fit_batchnorm,
        "a small CNN with BatchNormalization (Conv2D, BN, relu, MaxPooling2D), fit with RMSprop",
        layers=("InputLayer", "Conv2D", "BatchNormalization", "MaxPooling2D", "Flatten", "Dense"),
        activations=("relu", "softmax"),
        optimizers=("RMSprop",),
    ),
    "fit_recipe_binary": _fit_case(
        _fit_recipe_binary,
        "the classic recipe's binary model: Dense(1, sigmoid), binary_crossentropy, RMSprop",
        activations=("relu", "sigmoid"),
        losses=("BinaryCrossentropy",),
        optimizers=("RMSprop",),
    ),
    "fit_embedding": _fit_case(
        _fit_embedding,
        "Embedding(50, 8) on 12 tokens, Flatten, softmax, fit",
        layers=("InputLayer", "Embedding", "Flatten", "Dense"),
        activations=("softmax",),
    ),
    "fit_lstm": _fit_case(
        _fit_recurrent("LSTM"),
        "LSTM(16) over 10 steps, softmax, fit",
        layers=("InputLayer", "LSTM", "Dense"),
        activations=("tanh", "sigmoid", "softmax"),
    ),
    "fit_gru": _fit_case(
        _fit_recurrent("GRU"),
        "GRU(16) over 10 steps, softmax, fit",
        layers=("InputLayer", "GRU", "Dense"),
        activations=("tanh", "sigmoid", "softmax"),
    ),
}


def check_cases(names: Iterable[str] | None) -> list[str]:
    """The case names to run (all when ``names`` is empty); unknown names raise."""
    names = list(names or CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        raise SamebitsError(f"unknown portability case(s) {', '.join(unknown)}; accepted: {', '.join(CASES)}")
    return names


def _emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}, sort_keys=True), flush=True)


def probe(cases: list[str], out_dir: str | Path, *, profile: str, threads: int, op_determinism: bool) -> dict[str, Any]:
    """Run ``cases`` in this process (started with the determinism environment).

    Writes each case's arrays to ``out_dir/<case>.npz`` and prints :data:`EVENTS` on stdout
    as it goes; a case that raises is reported (``error``) and the next one runs. Returns
    ``{"isa", "executable", "exact_kernels", "cases": {case: sha256}, "errors": {case: message}}``.
    """
    applied = determinism.apply(MASTER_SEED, profile=profile, threads=threads, op_determinism=op_determinism)
    import tensorflow as tf  # imported before "ready", so a case's time is its own

    # fit() in case after case retraces; TensorFlow's warning about it changes no bits and
    # would crowd out the lines a failed case's report keeps
    tf.get_logger().setLevel("ERROR")

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "isa": isa_level(),
        "executable": sys.executable,
        "exact_kernels": applied["exact_kernels"],
        "cases": {},
        "errors": {},
    }
    _emit("ready", isa=result["isa"], executable=result["executable"], exact_kernels=result["exact_kernels"])
    for i, name in enumerate(cases, 1):
        _emit("start", case=name)
        t0 = time.monotonic()
        try:
            got = {k: np.asarray(v) for k, v in CASES[name].func(_Ctx(name)).items()}
        except Exception as exc:  # noqa: BLE001 (reported as the case's failure; the others still run)
            result["errors"][name] = f"{type(exc).__name__}: {exc}"
            _emit("error", case=name, error=result["errors"][name])
            print(f"[{i}/{len(cases)}] {name} failed: {result['errors'][name]}", file=sys.stderr, flush=True)
            continue
        digest = hash_arrays(got)[0]
        np.savez(out_dir / f"{name}.npz", **got)  # type: ignore[arg-type]  # numpy's stub: see fileio.write_npz
        result["cases"][name] = digest
        seconds = round(time.monotonic() - t0, 1)
        _emit("done", case=name, sha256=digest, seconds=seconds)
        print(f"[{i}/{len(cases)}] {name} {seconds:.1f}s", file=sys.stderr, flush=True)
    return result


def main(argv: list[str]) -> int:
    """The probe process: ``--probe --cases A,B --out DIR --profile P --threads N --op-determinism B``."""
    p = argparse.ArgumentParser(prog="python -m samebits.diagnostics.probes")
    p.add_argument("--probe", action="store_true", required=True)
    p.add_argument("--cases", required=True)
    p.add_argument("--out", required=True, help="directory for the cases' .npz files")
    p.add_argument("--profile", required=True)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--op-determinism", choices=["true", "false"], required=True)
    args = p.parse_args(argv)
    cases = args.cases.split(",")
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        p.error(f"unknown case(s) {', '.join(unknown)}; accepted: {', '.join(CASES)}")
    probe(
        cases,
        args.out,
        profile=args.profile,
        threads=args.threads,
        op_determinism=args.op_determinism == "true",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
