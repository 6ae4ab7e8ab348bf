"""Weights are named by their place in the model, the same in the process that built it and
in one that read its architecture back: Sequential, nested and shared layers included."""

from __future__ import annotations

import json

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from samebits.ml.weights import load_architecture, set_weights, weights_of  # noqa: E402


def _dense(units, name, seed, activation=None):
    return keras.layers.Dense(
        units, activation=activation, name=name, kernel_initializer=keras.initializers.GlorotUniform(seed=seed)
    )


def _sequential():
    return keras.Sequential(
        [keras.Input(shape=(10,)), _dense(8, "hidden", 1, "relu"), _dense(1, "output", 2, "sigmoid")],
        name="seed_model",
    )


def _nested_and_shared():
    inner = keras.Sequential([keras.Input(shape=(4,)), _dense(4, "d", 3)], name="inner")
    shared = _dense(4, "shared", 4)
    inputs = keras.Input(shape=(4,), name="input")
    return keras.Model(inputs, shared(shared(inner(inputs))), name="outer")


@pytest.mark.parametrize(
    ("build", "names"),
    [
        (_sequential, ["hidden/kernel", "hidden/bias", "output/kernel", "output/bias"]),
        (_nested_and_shared, ["inner/d/kernel", "inner/d/bias", "shared/kernel", "shared/bias"]),
    ],
)
def test_weights_keep_their_names_through_the_architecture_file(tmp_path, build, names):
    model = build()
    weights = weights_of(model)
    assert list(weights) == names
    path = tmp_path / "model.json"
    path.write_text(json.dumps(json.loads(model.to_json())))
    again = load_architecture(path, None)
    set_weights(again, weights, "init.npz")
    assert all(np.array_equal(a, b) for a, b in zip(weights.values(), weights_of(again).values(), strict=True))


def test_weights_that_do_not_match_name_what_is_missing_and_what_is_extra():
    weights = weights_of(_sequential())
    weights["extra/kernel"] = weights.pop("output/bias")
    with pytest.raises(ValueError, match=r"init.npz: .*missing output/bias; not in the model extra/kernel"):
        set_weights(_sequential(), weights, "init.npz")
