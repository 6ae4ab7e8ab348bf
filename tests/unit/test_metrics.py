"""Evaluate's metrics are computed with NumPy; they must be scikit-learn's numbers exactly."""

import json

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)

from samebits.core.layout import HEADLINE_METRICS
from samebits.ml.metrics import classification_metrics, evaluation, task_of
from samebits.ml.sources import TASKS


@pytest.mark.parametrize("seed", range(20))
def test_metrics_match_scikit_learn_bit_for_bit(seed):
    rng = np.random.default_rng(seed)
    n_classes = int(rng.integers(2, 12))
    n = int(rng.integers(1, 300))
    y = rng.integers(0, n_classes, n)
    # skewed predictions, so some classes are never predicted (zero division) or never true
    logits = rng.standard_normal((n, n_classes)) + 3 * np.eye(n_classes)[y] * rng.integers(0, 2, n)[:, None]
    logits[:, : n_classes // 3] -= 5
    proba = (np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)).astype(np.float32)
    m = classification_metrics(y, proba, n_classes)
    pred = proba.argmax(axis=1)
    labels = list(range(n_classes))
    assert m["macro_f1"] == float(f1_score(y, pred, average="macro", labels=labels, zero_division=0))
    assert m["confusion_matrix"] == confusion_matrix(y, pred, labels=labels).tolist()
    assert m["accuracy"] == float(np.mean(pred == y))
    assert m["n"] == n


def _binary_case(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 300))
    y = rng.integers(0, 2, n)
    # rounded, so scores tie; sometimes one class only, or exactly 0.5
    p1 = np.round(np.clip(0.5 + (y - 0.5) * rng.uniform(-0.4, 1.0, n), 0, 1), int(rng.integers(1, 4)))
    if seed % 2:
        p1 = np.clip(p1, 0.01, 0.99)
    if seed % 7 == 0:
        y[:] = seed % 2
    return y, p1.astype(np.float32)


@pytest.mark.parametrize("seed", range(20))
def test_binary_metrics_match_scikit_learn(seed):
    y, p1 = _binary_case(seed)
    sigmoid, sigmoid_pred = evaluation(task="binary", y=y, outputs=p1[:, None], n_classes=2)
    softmax, softmax_pred = evaluation(task="binary", y=y, outputs=np.c_[1 - p1, p1], n_classes=2)
    assert sigmoid == softmax
    for a, b in zip(sigmoid_pred.values(), softmax_pred.values(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert list(sigmoid_pred) == ["proba", "pred", "y"]
    assert sigmoid_pred["proba"].dtype == np.float32 and sigmoid_pred["pred"].dtype == np.int64
    pred = (p1.astype(np.float64) > 0.5).astype(np.int64)
    np.testing.assert_array_equal(sigmoid_pred["pred"], pred)
    m = sigmoid
    assert m["task"] == "binary" and task_of(m) == "binary" and m["n"] == len(y)
    assert m["accuracy"] == float(accuracy_score(y, pred))
    assert m["f1"] == float(f1_score(y, pred, zero_division=0))
    assert m["confusion_matrix"] == confusion_matrix(y, pred, labels=[0, 1]).tolist()
    if np.all((p1 > 0) & (p1 < 1)):  # else the clipping differs (a certain miss costs -log(1e-12) here)
        assert m["loss"] == pytest.approx(log_loss(y, p1.astype(np.float64), labels=[0, 1]), rel=1e-12)
    if len(set(y.tolist())) < 2:
        assert m["roc_auc"] is None
    else:
        assert m["roc_auc"] == pytest.approx(roc_auc_score(y, p1), rel=1e-12)
    json.dumps(m, allow_nan=False)


def test_binary_loss_is_clipped_like_the_multiclass_loss():
    m, _ = evaluation(task="binary", y=np.array([0, 1]), outputs=np.array([[1.0], [1.0]], np.float32), n_classes=2)
    c = classification_metrics(np.array([0, 1]), np.array([[0.0, 1.0], [0.0, 1.0]], np.float32), 2)
    assert m["loss"] == c["loss"] == -np.log(1e-12) / 2


def test_binary_rejects_other_labels_and_shapes():
    with pytest.raises(ValueError, match=r"found \[2\]"):
        evaluation(task="binary", y=np.array([0, 2]), outputs=np.array([[0.1], [0.9]]), n_classes=2)
    with pytest.raises(ValueError, match=r"shape \(2, 3\)"):
        evaluation(task="binary", y=np.array([0, 1]), outputs=np.zeros((2, 3)), n_classes=2)
    with pytest.raises(ValueError, match="task 'ranking' is not one of multiclass, binary, regression"):
        evaluation(task="ranking", y=np.array([0, 1]), outputs=np.zeros((2, 1)), n_classes=2)


@pytest.mark.parametrize("k", [None, 1, 3])
@pytest.mark.parametrize("seed", range(5))
def test_regression_metrics_match_scikit_learn(seed, k):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 200))
    y = rng.standard_normal((n,) if k is None else (n, k)) * 3 + 1
    if k == 3 and seed == 0:
        y[:, 1] = 2.0  # a constant target
    outputs = (y.reshape(n, -1) + rng.standard_normal((n, k or 1))).astype(np.float32)
    m, preds = evaluation(task="regression", y=y, outputs=outputs, n_classes=0)
    assert list(preds) == ["pred", "y"] and preds["pred"].shape == y.shape and preds["pred"].dtype == np.float32
    pred = preds["pred"].astype(np.float64)
    assert m["task"] == "regression" and task_of(m) == "regression" and m["n"] == n
    assert m["mse"] == pytest.approx(mean_squared_error(y, pred), rel=1e-12)
    assert m["mae"] == pytest.approx(mean_absolute_error(y, pred), rel=1e-12)
    assert m["r2"] == pytest.approx(r2_score(y, pred), rel=1e-12)
    if k == 3:
        per = m["per_target"]
        assert len(per) == 3
        for name, ref in (("mse", mean_squared_error), ("mae", mean_absolute_error), ("r2", r2_score)):
            expected = ref(y, pred, multioutput="raw_values")
            assert [t[name] for t in per] == pytest.approx(expected.tolist(), rel=1e-12)
    else:
        assert "per_target" not in m
    json.dumps(m, allow_nan=False)


def test_every_task_has_its_headline_metrics():
    assert tuple(HEADLINE_METRICS) == TASKS


def test_multiclass_evaluation_is_what_evaluate_writes():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 50)
    proba = rng.dirichlet(np.ones(4), 50).astype(np.float32)
    m, preds = evaluation(task="multiclass", y=y, outputs=proba, n_classes=4)
    assert m == classification_metrics(y, proba, 4) and "task" not in m and task_of(m) == "multiclass"
    assert list(preds) == ["proba", "pred", "y"]
    assert preds["proba"] is proba and preds["y"] is y
    np.testing.assert_array_equal(preds["pred"], proba.argmax(axis=1))
    assert preds["pred"].dtype == np.int64
