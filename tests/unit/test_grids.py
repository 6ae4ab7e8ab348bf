import pytest

from samebits.config.grids import expand, name_part
from samebits.core.errors import ConfigError

BASE = {
    "mlp": {"dataset": "digits", "model": {"type": "mlp"}, "train": {"epochs": 2}},
    "cnn": {"dataset": "digits", "model": {"type": "cnn"}, "train": {"epochs": 1}},
}


def test_two_learning_rates_times_two_models():
    out = expand(BASE, {"lr": {"base": ["mlp", "cnn"], "vary": {"train.learning_rate": [0.001, 0.01]}}})
    grid = {k: v for k, v in out.items() if k.startswith("lr_")}
    assert sorted(grid) == [
        "lr_cnn_learning_rate-0p001",
        "lr_cnn_learning_rate-0p01",
        "lr_mlp_learning_rate-0p001",
        "lr_mlp_learning_rate-0p01",
    ]
    assert grid["lr_cnn_learning_rate-0p01"] == {
        "dataset": "digits",
        "model": {"type": "cnn"},
        "train": {"epochs": 1, "learning_rate": 0.01},
    }
    assert BASE["mlp"]["train"] == {"epochs": 2}  # the base is not changed
    assert set(out) >= set(BASE)


def test_names_are_path_safe():
    assert name_part([32, 64]) == "32-64" and name_part(-0.5) == "m0p5" and name_part("tanh") == "tanh"


@pytest.mark.parametrize(
    "grid, match",
    [
        ({"base": "rnn", "vary": {"train.epochs": [1]}}, "'rnn' is not an experiment"),
        ({"base": "mlp", "vary": {"seeds": [1]}}, "'seeds' is not variable"),
        ({"base": "mlp", "vary": {"model.type.x": [1]}}, "'type' is not a section"),
    ],
)
def test_bad_grids_are_named(grid, match):
    with pytest.raises(ConfigError, match=match):
        expand(BASE, {"g": grid})
