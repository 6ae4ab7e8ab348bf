"""The test-set metrics evaluate writes (NumPy only).

The same numbers as scikit-learn's ``f1_score``, ``confusion_matrix``, ``log_loss``,
``roc_auc_score``, ``mean_squared_error``, ``mean_absolute_error`` and ``r2_score``
(tests/unit/test_metrics.py checks it), without its import.

Three tasks (:data:`samebits.ml.sources.TASKS`): ``multiclass`` (softmax over
``n_classes``), ``binary`` (one sigmoid or a two-class softmax) and ``regression``. The
metrics of a binary or regression evaluation name their task under ``"task"``; multiclass
metrics carry no task key, as they are what samebits has always written (:func:`task_of`,
defined in ``core.layout`` for the layers that do not import ``ml``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.layout import task_of
from .sources import TASKS

__all__ = ["BINARY_THRESHOLD", "classification_metrics", "evaluation", "task_of"]

#: A binary task predicts class 1 where its probability is above this (``p1 > 0.5``), as
#: Keras' ``BinaryAccuracy`` does; a tie goes to class 0, as with the argmax of a softmax.
BINARY_THRESHOLD = 0.5


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


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``values``, tied values sharing the mean of their ranks.

    Sorted by NumPy's stable sort: its default quicksort dispatches to SIMD code
    (x86-simd-sort) whose AVX2 argsort QEMU 7.2 emulates wrongly, and the emulated-CPU test
    evaluates binary models under QEMU; the ranks are the same with any correct sort.
    """
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.concatenate(([True], ordered[1:] != ordered[:-1]))
    group = np.cumsum(starts) - 1
    counts = np.bincount(group)
    last = np.cumsum(counts).astype(np.float64)
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = ((last - counts + 1 + last) / 2)[group]
    return ranks


def _roc_auc(y: np.ndarray, score: np.ndarray) -> float | None:
    """The area under the ROC curve as the Mann–Whitney U statistic (ties count one half);
    ``None`` when one class is absent (the area is undefined)."""
    positive = y == 1
    n_pos = int(positive.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = _average_ranks(score)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _binary(y: np.ndarray, outputs: np.ndarray) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    if outputs.ndim != 2 or outputs.shape[1] not in (1, 2):
        raise ValueError(
            f"binary outputs have shape {outputs.shape}; expected (n, 1) sigmoid probabilities of class 1 "
            "or (n, 2) softmax probabilities"
        )
    y = np.asarray(y).astype(np.int64)
    found = sorted(set(np.unique(y).tolist()) - {0, 1})
    if found:
        raise ValueError(f"binary labels must be 0 or 1; found {found}")
    p1 = outputs[:, outputs.shape[1] - 1].astype(np.float32)
    p1_64 = p1.astype(np.float64)
    pred = (p1_64 > BINARY_THRESHOLD).astype(np.int64)
    p_true = np.clip(np.where(y == 1, p1_64, 1.0 - p1_64), 1e-12, 1.0)
    cm = np.bincount(y * 2 + pred, minlength=4).reshape(2, 2)
    tp, fp, fn = int(cm[1, 1]), int(cm[0, 1]), int(cm[1, 0])
    metrics = {
        "task": "binary",
        "n": int(len(y)),
        "accuracy": float(np.mean(pred == y)),
        "loss": float(-np.mean(np.log(p_true))),
        "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0,
        "roc_auc": _roc_auc(y, p1_64),
        "confusion_matrix": cm.tolist(),
    }
    return metrics, {"proba": p1, "pred": pred, "y": y}


def _regression_scores(y: np.ndarray, pred: np.ndarray) -> dict[str, Any]:
    """MSE, MAE and R² of each column of ``y`` (n, k) and ``pred`` (n, k), in float64."""
    residual = pred - y
    ss_res = np.sum(residual**2, axis=0)
    ss_tot = np.sum((y - y.mean(axis=0)) ** 2, axis=0)
    # a constant target: R² is 1 if predicted exactly, else 0 (scikit-learn's force_finite)
    r2 = np.where(ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0), np.where(ss_res == 0, 1.0, 0.0))
    return {"mse": np.mean(residual**2, axis=0), "mae": np.mean(np.abs(residual), axis=0), "r2": r2}


def _regression(y: np.ndarray, outputs: np.ndarray) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    y = np.asarray(y)
    if outputs.size != y.size or len(outputs) != len(y):
        raise ValueError(f"regression outputs have shape {outputs.shape}, the targets {y.shape}; expected as many")
    pred = outputs.reshape(y.shape).astype(np.float32)
    y2 = y.astype(np.float64).reshape(len(y), -1)
    scores = _regression_scores(y2, pred.astype(np.float64).reshape(len(y), -1))
    metrics: dict[str, Any] = {
        "task": "regression",
        "n": int(len(y)),
        # the means over targets, as scikit-learn's multioutput="uniform_average"
        **{name: float(np.mean(values)) for name, values in scores.items()},
    }
    if y2.shape[1] > 1:
        metrics["per_target"] = [
            {name: float(values[j]) for name, values in scores.items()} for j in range(y2.shape[1])
        ]
    return metrics, {"pred": pred, "y": y}


def evaluation(
    *, task: str, y: np.ndarray, outputs: np.ndarray, n_classes: int
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The metrics and predictions of a model's test-set ``outputs`` for targets ``y``.

    Parameters
    ----------
    task
        One of :data:`samebits.ml.sources.TASKS`.
    y
        The targets: class indices (multiclass, binary: 0 or 1) or values (regression,
        shape ``(n,)`` or ``(n, k)``).
    outputs
        What the model predicted: class probabilities ``(n, n_classes)`` (multiclass);
        ``(n, 1)`` sigmoid probabilities of class 1 or ``(n, 2)`` softmax probabilities
        (binary); ``(n, k)`` values (regression).
    n_classes
        The number of classes of a multiclass task (the other tasks do not read it).

    Returns
    -------
    metrics, predictions
        ``metrics`` is metrics.json's document: floats are Python floats, computed in
        float64. Multiclass: :func:`classification_metrics`, without a task key. Binary
        (class 1 predicted where ``p1 > 0.5``): task, n, accuracy, loss (log loss), f1 (of
        class 1, 0 when undefined), roc_auc (``None`` when one class is absent) and the 2x2
        confusion matrix (rows true, columns predicted). Regression: task, n, mse, mae and
        r2, means over the targets, and with several targets ``per_target``, the three of
        each. ``predictions`` holds the arrays of predictions.npz: multiclass ``proba``,
        ``pred``, ``y``; binary ``proba`` (p1, float32), ``pred``, ``y`` (int64);
        regression ``pred`` (float32, the shape of ``y``) and ``y``.

    Examples
    --------
    >>> m, p = evaluation(task="binary", y=np.array([0, 1]), outputs=np.array([[0.2], [0.7]]), n_classes=2)
    >>> m["accuracy"], m["roc_auc"], p["pred"].tolist()
    (1.0, 1.0, [0, 1])
    """
    outputs = np.asarray(outputs)
    if task == "multiclass":
        metrics = classification_metrics(y, outputs, n_classes)
        return metrics, {"proba": outputs, "pred": outputs.argmax(axis=1).astype(np.int64), "y": y}
    if task == "binary":
        return _binary(y, outputs)
    if task == "regression":
        return _regression(y, outputs)
    raise ValueError(f"task {task!r} is not one of {', '.join(TASKS)}")
