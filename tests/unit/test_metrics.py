"""Evaluate's metrics are computed with NumPy; they must be scikit-learn's numbers exactly."""

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, f1_score

from samebits.ml.metrics import classification_metrics


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
