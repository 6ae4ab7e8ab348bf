"""The model's output must suit the data set's task, and what training is built from the
``train`` section (in-process, no training)."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from samebits.core.errors import ConfigError  # noqa: E402
from samebits.core.seeds import SeedSource  # noqa: E402
from samebits.ml import compiling, models, resume, trainer  # noqa: E402
from samebits.ml.checkpointing import Checkpointer, EpochLog  # noqa: E402

MLP = {"type": "mlp", "hidden": [4], "activation": "relu", "dropout": 0.0, "augment": {}}


def _model(units, activation):
    inputs = keras.Input(shape=(3,))
    return keras.Model(inputs, keras.layers.Dense(units, activation=activation, name="output")(inputs))


@pytest.mark.parametrize(
    ("task", "n", "units", "activation"),
    [
        ("binary", 2, 1, "sigmoid"),
        ("binary", 2, 2, "softmax"),
        ("multiclass", 3, 3, "softmax"),
        ("regression", 2, 2, None),
    ],
)
def test_outputs_that_suit_the_task_pass(task, n, units, activation):
    models.check_output(_model(units, activation), task=task, n_classes=n, where="m")


@pytest.mark.parametrize(
    ("task", "n", "units", "activation", "message"),
    [
        (
            "multiclass",
            3,
            1,
            "sigmoid",
            "experiments.mine.model (iris: multiclass): the model's output has 1 unit(s) with activation 'sigmoid', "
            "but the data set's task is multiclass (3 units, one per class (softmax, or logits with from_logits))",
        ),
        (
            "regression",
            1,
            1,
            "softmax",
            "experiments.mine.model (diabetes: regression): the model's output has 1 unit(s) with activation "
            "'softmax', but the data set's task is regression (1 unit(s), one per target, without softmax "
            "(a linear output))",
        ),
    ],
)
def test_an_output_unfit_for_the_task_names_both(task, n, units, activation, message):
    where = f"experiments.mine.model ({'iris' if task == 'multiclass' else 'diabetes'}: {task})"
    with pytest.raises(ConfigError) as info:
        models.check_output(_model(units, activation), task=task, n_classes=n, where=where)
    assert str(info.value) == message


@pytest.mark.parametrize(("task", "units"), [("multiclass", 5), ("binary", 2), ("regression", 2)])
def test_the_built_in_models_end_in_the_tasks_output(task, units):
    net = models.build(MLP, (3,), 5 if task == "multiclass" else 2, SeedSource(0), task=task)
    assert models.output_units(net)[0] == units
    assert compiling.default_loss(task, units) in (
        "sparse_categorical_crossentropy",
        "binary_crossentropy",
        "mean_squared_error",
    )


def test_a_value_keras_refuses_is_a_config_error_naming_the_key():
    with pytest.raises(
        ConfigError,
        match=r"experiments.mlp.train.optimizer: SGD\(learning_rate=0.1, momentum='fast'\) was refused by Keras: "
        r"`momentum` must be",
    ):
        compiling.build_optimizer(
            {"name": "SGD", "momentum": "fast"}, learning_rate=0.1, schedule=None, where="experiments.mlp.train"
        )


def test_balanced_class_weights_follow_scikit_learns_rule():
    y = np.array([0, 0, 0, 1])
    assert compiling.class_weights("balanced", y, task="binary", n_classes=2, where="t") == {0: 4 / 6, 1: 2.0}
    with pytest.raises(ConfigError, match="key '7' is not a class index; accepted: 0 to 1"):
        compiling.class_weights({"7": 2.0}, y, task="binary", n_classes=2, where="t")


def test_a_loss_of_ones_own_is_imported_from_its_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "losses.py").write_text("def half_mse(y_true, y_pred):\n    return ((y_true - y_pred) ** 2) / 2\n")
    loss, name = compiling.build_loss("losses.py:half_mse", task="regression", units=1, where="t", as_object=False)
    assert name == "losses.py:half_mse" and loss.__name__ == "half_mse"
    with pytest.raises(ConfigError, match=r"t.loss 'losses.py:nope': losses.py has no function 'nope'"):
        compiling.build_loss("losses.py:nope", task="regression", units=1, where="t", as_object=False)


def test_a_trainer_must_end_its_epochs_in_order(tmp_path):
    epochs = EpochLog(_model(2, "softmax"), experiment="e", seed=0, epochs=3)
    ctx = trainer.TrainContext(
        model=epochs.model,
        x=np.zeros((5, 3), np.float32),
        y=np.zeros(5, np.int64),
        validation=None,
        epochs=3,
        batch_size=2,
        task="multiclass",
        n_classes=2,
        optimizer=None,
        loss=None,
        seeds=SeedSource(0),
        class_weight=None,
        _orders=np.array([[4, 3, 2, 1, 0]] * 3),
        _checkpointer=Checkpointer(
            model=epochs.model,
            optimizer=None,
            callbacks=[],
            record=epochs,
            store=resume.Store(tmp_path, {}, failpoint=""),
            clock=resume.Clock(None, None),  # no checkpoint here: tests/e2e/test_resume.py
            signals=resume.Signals(),
            steps=3,
        ),
    )
    assert [len(x) for x, _ in ctx.batches(0)] == [2, 2, 1]
    with pytest.raises(ConfigError, match=r"returned without calling ctx.epoch_end\(epoch, logs\)"):
        trainer.run_trainer(lambda c: None, ctx, "loop.py:train")
    with pytest.raises(ConfigError, match=r"epoch_end\(1\) after 0 epoch\(s\)"):
        ctx.epoch_end(1, {"loss": 1.0})
    ctx.epoch_end(0, {"loss": 1.0})
    assert epochs.history == {"loss": [1.0]} and len(epochs.checksums) == 1
