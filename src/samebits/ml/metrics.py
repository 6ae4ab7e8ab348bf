"""The test-set metrics evaluate writes (NumPy only).

The same numbers as scikit-learn's ``f1_score(average="macro", zero_division=0)`` and
``confusion_matrix`` (tests/unit/test_metrics.py checks it), without its import.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["classification_metrics"]


def classification_metrics(y_true: np.ndarray, proba: np.ndarray, n_classes: int) -> dict[str, Any]:
    """Accuracy, log loss, macro F1 and the confusion matrix of predicted probabilities."""
    pred = proba.argmax(axis=1)
    p = np.clip(proba.astype(np.float64)[np.arange(len(y_true)), y_true], 1e-12, 1.0)
    cm = np.bincount(y_true * n_classes + pred, minlength=n_classes * n_classes).reshape(n_classes, n_classes)
    tp = np.diag(cm).astype(np.float64)
    denom = cm.sum(axis=0) + cm.sum(axis=1)  # predicted + true per class = 2tp + fp + fn
    f1 = np.divide(2 * tp, denom, out=np.zeros(n_classes), where=denom > 0)
    return {
        "n": int(len(y_true)),
        "accuracy": float(np.mean(pred == y_true)),
        "loss": float(-np.mean(np.log(p))),
        "macro_f1": float(np.mean(f1)),
        "confusion_matrix": cm.tolist(),
    }
