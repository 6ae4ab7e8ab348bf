"""The Keras objects built from a ``train`` section: probability metrics on either binary
output, and a loss of the user's reduced over the batch in the user's own loop."""

import numpy as np
import pytest

from samebits.core.errors import ConfigError
from samebits.ml import compiling, keras_api


def _two_unit_probabilities(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    positive = np.clip(rng.random(n) * 0.6 + 0.4 * y, 0, 1).astype(np.float32)
    return y, np.stack([1 - positive, positive], axis=1)


@pytest.mark.parametrize(
    "name, key",
    [("AUC", "auc"), ("Precision", "precision"), ("Recall", "recall"), ("true_positives", "true_positives")]
    + [("binary_accuracy", "binary_accuracy"), ("BinaryIoU", "binary_io_u")],
)
def test_a_probability_metric_on_two_softmax_units_scores_the_positive_class(name, key):
    import keras

    y, probabilities = _two_unit_probabilities(64, seed=len(name))
    [wrapped] = compiling.build_metrics([name], task="binary", units=2, where="experiments.e.train")
    direct = keras.metrics.get(name)
    wrapped.update_state(y, probabilities)
    direct.update_state(y.astype(np.float32).reshape(-1, 1), probabilities[:, 1:])
    assert wrapped.name == key  # as on one sigmoid unit in a fresh process, however many came before
    assert float(wrapped.result()) == float(direct.result())
    wrapped.reset_state()
    assert float(wrapped.result()) == 0.0


def test_a_model_with_two_softmax_units_fits_with_auc_precision_and_recall():
    import keras

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((48, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    metrics = compiling.build_metrics(["accuracy", "AUC", "Precision", "Recall"], task="binary", units=2, where="e")
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=metrics, jit_compile=False)
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False).history
    assert {"accuracy", "auc", "precision", "recall"} <= set(history)
    assert all(0.0 <= v <= 1.0 for key in ("auc", "precision", "recall") for v in history[key])


def test_one_sigmoid_unit_gets_the_metric_as_keras_names_it():
    assert compiling.build_metrics(["AUC", "accuracy"], task="binary", units=1, where="e") == ["AUC", "accuracy"]


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_a_probability_metric_on_another_task_is_refused_naming_it(task):
    with pytest.raises(ConfigError) as info:
        compiling.build_metrics(["accuracy", "AUC"], task=task, units=3, where="experiments.e.train")
    assert str(info.value).startswith("experiments.e.train.metrics[1]: AUC scores the probability of one positive")
    assert f"task is {task}" in str(info.value)


def test_every_probability_metric_is_a_metric_compile_accepts():
    assert keras_api.POSITIVE_CLASS_METRICS <= set(keras_api.api()["metric_names"])


def test_a_loss_of_the_users_is_reduced_over_the_batch_in_the_users_loop(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "losses.py").write_text(
        "import keras\n\n\ndef absolute(y_true, y_pred):\n"
        "    return keras.ops.mean(keras.ops.abs(y_true - y_pred), axis=-1)\n"
    )
    y_true = np.array([[0.0], [1.0], [2.0], [4.0]], dtype=np.float32)
    y_pred = np.array([[1.0], [1.0], [0.0], [0.0]], dtype=np.float32)
    loss, name = compiling.build_loss("losses.py:absolute", task="regression", units=1, where="e", as_object=True)
    assert name == "losses.py:absolute"
    value = loss(y_true, y_pred)
    assert np.ndim(value) == 0 and float(value) == (1 + 0 + 2 + 4) / 4
    # fit() gets the function as it is: compile() wraps and reduces it the same way
    function, _ = compiling.build_loss("losses.py:absolute", task="regression", units=1, where="e", as_object=False)
    assert np.shape(function(y_true, y_pred)) == (4,)
