"""The Keras names and options the configuration accepts (src/samebits/ml/keras_api.yaml)
are those of the installed Keras, and resolve as documented."""

from __future__ import annotations

import subprocess
import sys

import pytest

from samebits.core.errors import ConfigError
from samebits.ml import keras_api
from tests.helpers import REPO


def test_the_table_agrees_with_the_installed_keras():
    proc = subprocess.run(
        [sys.executable, str(REPO / "tools" / "keras_api.py"), "--check"], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, "keras_api.yaml is stale: run tools/keras_api.py\n" + proc.stderr[-2000:]


@pytest.mark.parametrize(
    ("kind", "value", "found"),
    [
        ("optimizer", "adam", ("Adam", {})),
        ("optimizer", "rmsprop", ("RMSprop", {})),
        ("optimizer", {"name": "sgd", "momentum": 0.9, "nesterov": True}, ("SGD", {"momentum": 0.9, "nesterov": True})),
        ("loss", "mean_squared_error", ("MeanSquaredError", {})),
        ("loss", {"name": "huber", "delta": 2.0}, ("Huber", {"delta": 2.0})),
        ("schedule", {"name": "ExponentialDecay", "decay_steps": 10, "decay_rate": 0.9}, None),
        ("callback", "TerminateOnNaN", ("TerminateOnNaN", {})),
    ],
)
def test_names_resolve_case_and_underscore_blind(kind, value, found):
    name, options = keras_api.resolve(kind, value, "train.x")
    if found is not None:
        assert (name, options) == found
    else:
        assert name == value["name"]


def test_a_monitored_validation_quantity_needs_validation():
    train = {"callbacks": [{"name": "ReduceLROnPlateau", "monitor": "val_accuracy"}]}
    with pytest.raises(ConfigError, match=r"monitors 'val_accuracy'.*validation_fraction is not set"):
        keras_api.check(train, "experiments.e.train")
    keras_api.check({**train, "validation_fraction": 0.2}, "experiments.e.train")
    with pytest.raises(ConfigError, match="ReduceLROnPlateau sets the learning rate, and so does"):
        keras_api.check(
            {**train, "validation_fraction": 0.2, "schedule": {"name": "CosineDecay", "decay_steps": 10}},
            "experiments.e.train",
        )
