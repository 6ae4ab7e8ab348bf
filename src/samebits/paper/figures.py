"""Figures for the paper: learning curves and the test set. No TensorFlow.

Two figures per experiment: the learning curves of its seeds (:func:`learning_curves`) and
what its seeds did on the test set, by task (:func:`figure_of_test_set`): the summed
confusion matrix (multiclass), the summed confusion matrix and each seed's ROC curve
(binary), predicted against true values and the residuals (regression).

Written with matplotlib's Agg backend, as PNG and SVG, byte-stable across reruns: the
software and date metadata are left out and SVG element ids come from a fixed salt, so the
files are recorded by their bytes like every other output.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core import fileio
from ..core.errors import RecordError
from ..core.layout import task_of
from ..provenance import records
from ..provenance.identity import identify

if TYPE_CHECKING:  # matplotlib is imported by the functions that draw (_pyplot)
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.image import AxesImage

__all__ = ["figure_of_test_set", "figures", "first_metric", "learning_curves", "roc_points"]

#: History keys that are not a compiled metric's curve (samebits' own and the callbacks').
_NOT_METRICS = {"epochs", "loss", "epoch_weights", "learning_rate", "stopped_epoch", "restored_epoch", "validation"}

_PNG_META = {"Software": None}
_SVG_META = {"Date": None, "Creator": None}


def _pyplot() -> ModuleType:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcdefaults()  # nobody's matplotlibrc changes our bytes
    plt.rcParams.update({"svg.hashsalt": "samebits", "figure.dpi": 100, "savefig.dpi": 150, "font.size": 9})
    return plt


def _save(fig: Figure, png: str | Path, svg: str | Path) -> None:
    for dest, fmt, meta in ((png, "png", _PNG_META), (svg, "svg", _SVG_META)):
        with fileio.atomic_path(dest) as tmp:
            fig.savefig(tmp, format=fmt, metadata=meta)


def first_metric(history: dict[str, Any]) -> str | None:
    """The first compiled metric of a history, in its key order (``None`` if only the loss):
    the first per-epoch list that is not the loss, a validation curve or samebits' own."""
    return next(
        (k for k, v in history.items() if k not in _NOT_METRICS and not k.startswith("val_") and isinstance(v, list)),
        None,
    )


def _mean_std(curves: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and sample std at each epoch over the curves that reached it, and how many did;
    the std is NaN where fewer than two did."""
    longest = max(len(c) for c in curves)
    padded = np.full((len(curves), longest), np.nan)
    for i, c in enumerate(curves):
        padded[i, : len(c)] = c
    reached = ~np.isnan(padded)
    count = reached.sum(axis=0)
    mean = np.where(reached, padded, 0.0).sum(axis=0) / count
    squares = np.where(reached, (padded - mean) ** 2, 0.0).sum(axis=0)
    std = np.full(longest, np.nan)
    np.divide(squares, count - 1, out=std, where=count > 1)
    return mean, np.sqrt(std), count


def _curves_panel(ax: Axes, histories: dict[int, dict[str, Any]], key: str, label: str) -> None:
    seeds = [s for s in sorted(histories) if key in histories[s]]
    curves = [np.asarray(histories[s][key], dtype=np.float64) for s in seeds]
    lines = {}
    if len({len(c) for c in curves}) == 1:
        # every seed ran as many epochs: the default run's case, whose figure's bytes the lock holds
        stacked = np.array(curves, dtype=np.float64)
        epochs = np.arange(1, stacked.shape[1] + 1)
        for seed, curve in zip(seeds, stacked, strict=True):
            lines[seed] = ax.plot(epochs, curve, lw=0.6, alpha=0.5, label=f"seed {seed}")[0]
        mean, std = stacked.mean(axis=0), stacked.std(axis=0, ddof=1) if len(stacked) > 1 else np.zeros(len(epochs))
        ax.fill_between(epochs, mean - std, mean + std, color="0.6", alpha=0.3, lw=0)
    else:
        # early stopping: at each epoch, the seeds that reached it
        for seed, curve in zip(seeds, curves, strict=True):
            lines[seed] = ax.plot(np.arange(1, len(curve) + 1), curve, lw=0.6, alpha=0.5, label=f"seed {seed}")[0]
        mean, std, count = _mean_std(curves)
        epochs = np.arange(1, len(mean) + 1)
        ax.fill_between(
            epochs, mean - std, mean + std, where=count > 1, color="0.6", alpha=0.3, lw=0, interpolate=False
        )
    ax.plot(epochs, mean, color="black", lw=1.6, label=f"mean of {len(curves)}")
    val = [s for s in seeds if f"val_{key}" in histories[s]]
    if val:
        val_curves = [np.asarray(histories[s][f"val_{key}"], dtype=np.float64) for s in val]
        for seed, curve in zip(val, val_curves, strict=True):
            ax.plot(np.arange(1, len(curve) + 1), curve, lw=0.6, alpha=0.5, ls="--", color=lines[seed].get_color())
        val_mean = _mean_std(val_curves)[0]
        ax.plot(
            np.arange(1, len(val_mean) + 1),
            val_mean,
            color="black",
            lw=1.6,
            ls="--",
            label=f"validation mean of {len(val_curves)}",
        )
    ax.set_xlabel("epoch")
    # The axis' default locator is an AutoLocator (a MaxNLocator, which takes integer=); matplotlib's
    # stub types get_major_locator() as the base Locator, whose set_params takes no options.
    ax.xaxis.get_major_locator().set_params(integer=True)  # type: ignore[call-arg]
    ax.set_ylabel(label)
    ax.grid(alpha=0.3)


def learning_curves(experiment: str, histories: dict[int, dict[str, Any]], png: str | Path, svg: str | Path) -> None:
    """The loss and the first compiled metric per epoch (:func:`first_metric`; the loss alone
    if there is none): each seed thin, the mean over seeds bold with a ±1 std band, and the
    validation curves, if any, dashed. Seeds stopped early count at the epochs they reached."""
    plt = _pyplot()
    metric = first_metric(histories[min(histories)])
    panels = [("loss", "training loss")] + ([(metric, f"training {metric}")] if metric else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(7.5 if metric else 4.0, 3.0), layout="constrained", squeeze=False)
    for ax, (key, label) in zip(axes[0], panels, strict=True):
        _curves_panel(ax, histories, key, label)
    axes[0][-1].legend(loc="lower right" if metric == "accuracy" else "best", fontsize=7)
    fig.suptitle(f"{experiment}: learning curves")
    _save(fig, png, svg)
    plt.close(fig)


def confusion(
    experiment: str,
    matrices: dict[int, list[list[int]]],
    png: str | Path,
    svg: str | Path,
    classes: list[str] | None = None,
) -> None:
    """The test-set confusion matrix, summed over seeds; its rows and columns named by
    ``classes`` (the data's class names) where given, else by label."""
    plt = _pyplot()
    total = np.sum([np.asarray(matrices[s]) for s in sorted(matrices)], axis=0)
    fig, ax = plt.subplots(figsize=(4.2, 3.8), layout="constrained")
    im = _matrix(ax, total, fontsize=6, classes=classes)
    ax.set_title(f"{experiment}: confusion matrix, {len(matrices)} seeds summed", fontsize=8)
    fig.colorbar(im, ax=ax, shrink=0.8)
    _save(fig, png, svg)
    plt.close(fig)


def _matrix(ax: Axes, total: np.ndarray, *, fontsize: int, classes: list[str] | None = None) -> AxesImage:
    """A confusion matrix with its counts, its ticks named by ``classes`` where given."""
    k = total.shape[0]
    im = ax.imshow(total, cmap="Blues")
    for i in range(k):
        for j in range(k):
            if total[i, j]:
                color = "white" if total[i, j] > total.max() / 2 else "black"
                ax.text(j, i, str(int(total[i, j])), ha="center", va="center", fontsize=fontsize, color=color)
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    if classes is not None:
        names = [_short(name) for name in classes]
        turned = k > 3 or max(map(len, names)) > 6  # long names or many: turned so that they do not overlap
        ax.set_xticklabels(names, rotation=90 if turned else 0, fontsize=6 if k > 10 else 7)
        ax.set_yticklabels(names, fontsize=6 if k > 10 else 7)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    return im


def _short(name: str, limit: int = 16) -> str:
    """A class name as a tick label: cut to ``limit`` characters."""
    return name if len(name) <= limit else name[: limit - 1] + "…"


def roc_points(*, y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The ROC curve of scores for class 1: ``(fpr, tpr)``, one point per distinct score
    from the highest down, after ``(0, 0)``.

    The points of scikit-learn's ``roc_curve(y, score, drop_intermediate=False)``; ``None``
    when one class is absent (the curve is undefined).
    """
    y = np.asarray(y).astype(np.int64)
    score = np.asarray(score, dtype=np.float64)
    n_pos = int((y == 1).sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(-score, kind="stable")
    ends = np.r_[np.flatnonzero(np.diff(score[order])), len(y) - 1]  # last index of each distinct score
    tps = np.cumsum(y[order] == 1)[ends]
    fps = ends + 1 - tps
    return np.r_[0.0, fps / n_neg], np.r_[0.0, tps / n_pos]


def binary(
    experiment: str,
    matrices: dict[int, list[list[int]]],
    predictions: dict[int, dict[str, np.ndarray]],
    auc: dict[int, float | None],
    png: str | Path,
    svg: str | Path,
    classes: list[str] | None = None,
) -> None:
    """The test-set confusion matrix summed over seeds, and the ROC curve of every seed (of
    label 1, the positive class, named in the title when ``classes`` names the classes)."""
    plt = _pyplot()
    total = np.sum([np.asarray(matrices[s]) for s in sorted(matrices)], axis=0)
    fig, (left, right) = plt.subplots(1, 2, figsize=(7.5, 3.4), layout="constrained")
    im = _matrix(left, total, fontsize=7, classes=classes)
    left.set_title(f"confusion matrix, {len(matrices)} seeds summed", fontsize=8)
    fig.colorbar(im, ax=left, shrink=0.8)
    right.plot([0, 1], [0, 1], color="0.6", lw=0.8, ls="--", label="chance")
    for seed in sorted(predictions):
        points = roc_points(y=predictions[seed]["y"], score=predictions[seed]["proba"])
        if points is None:  # a test set with one class has no ROC curve
            continue
        area = "—" if auc.get(seed) is None else f"{auc[seed]:.3f}"
        right.plot(*points, lw=1.0, drawstyle="steps-post", label=f"seed {seed} (AUC {area})")
    right.set_xlim(0, 1)
    right.set_ylim(0, 1.01)
    right.set_aspect("equal")
    right.set_xlabel("false positive rate")
    right.set_ylabel("true positive rate")
    right.set_title("ROC curves" + (f" ({_short(classes[1])} positive)" if classes else ""), fontsize=8)
    right.grid(alpha=0.3)
    right.legend(loc="lower right", fontsize=7)
    fig.suptitle(f"{experiment}: test set")
    _save(fig, png, svg)
    plt.close(fig)


def regression(
    experiment: str, predictions: dict[int, dict[str, np.ndarray]], png: str | Path, svg: str | Path
) -> None:
    """Predicted against true test-set values, and the residuals (predicted − true) against
    the true values, each seed in its own color; of the first target if there are several."""
    plt = _pyplot()
    first = predictions[min(predictions)]["y"]
    k = 1 if first.ndim == 1 else first.shape[1]
    fig, (left, right) = plt.subplots(1, 2, figsize=(7.5, 3.4), layout="constrained")
    low, high = np.inf, -np.inf
    for seed in sorted(predictions):
        y = np.asarray(predictions[seed]["y"], dtype=np.float64).reshape(len(predictions[seed]["y"]), -1)[:, 0]
        pred = np.asarray(predictions[seed]["pred"], dtype=np.float64).reshape(len(y), -1)[:, 0]
        color = left.scatter(y, pred, s=6, alpha=0.5, lw=0, label=f"seed {seed}").get_facecolor()[0]
        right.scatter(y, pred - y, s=6, alpha=0.5, lw=0, color=color)
        low, high = min(low, y.min(), pred.min()), max(high, y.max(), pred.max())
    left.plot([low, high], [low, high], color="black", lw=0.8, ls="--", label="predicted = true")
    right.axhline(0.0, color="black", lw=0.8, ls="--")
    target = "" if k == 1 else f" (target 1 of {k})"
    left.set_xlabel(f"true value{target}")
    left.set_ylabel("predicted value")
    left.set_title("predicted against true", fontsize=8)
    left.legend(loc="best", fontsize=7)
    right.set_xlabel(f"true value{target}")
    right.set_ylabel("residual (predicted − true)")
    right.set_title("residuals", fontsize=8)
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.suptitle(f"{experiment}: test set, {len(predictions)} seeds" + target)
    _save(fig, png, svg)
    plt.close(fig)


def _read_predictions(path: str | Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


def figure_of_test_set(
    *,
    experiment: str,
    task: str,
    metrics: dict[int, dict[str, Any]],
    prediction_paths: dict[int, str | Path],
    png: str | Path,
    svg: str | Path,
) -> None:
    """The test-set figure of a task: :func:`confusion` (multiclass), :func:`binary` or
    :func:`regression`; the last two read the seeds' predictions.npz."""
    classes = metrics[min(metrics)].get("classes")  # the data's class names, when not 0, 1, …
    if task == "multiclass":
        confusion(experiment, {s: m["confusion_matrix"] for s, m in metrics.items()}, png, svg, classes)
        return
    predictions = {s: _read_predictions(prediction_paths[s]) for s in sorted(metrics)}
    if task == "binary":
        auc = {s: m.get("roc_auc") for s, m in metrics.items()}
        matrices = {s: m["confusion_matrix"] for s, m in metrics.items()}
        binary(experiment, matrices, predictions, auc, png, svg, classes)
    else:
        regression(experiment, predictions, png, svg)


def figures(
    history_paths: dict[int, str | Path],
    metrics_paths: dict[int, str | Path],
    prediction_paths: dict[int, str | Path],
    out_curves_png: str | Path,
    out_curves_svg: str | Path,
    out_test_png: str | Path,
    out_test_svg: str | Path,
    out_record: str | Path,
    *,
    experiment: str,
    script: str | Path | None,
) -> dict[str, Any]:
    """Draw one experiment's figures from its per-seed histories, metrics and predictions;
    write a record.

    The predictions are read, and named as inputs in the record, for a binary or
    regression task only: the multiclass figure is drawn from the metrics.
    """
    t0 = time.perf_counter()
    histories = {int(s): json.loads(Path(p).read_text(encoding="utf-8")) for s, p in history_paths.items()}
    metrics = {int(s): json.loads(Path(p).read_text(encoding="utf-8")) for s, p in metrics_paths.items()}
    tasks = {str(metrics_paths[s]): task_of(m) for s, m in metrics.items()}
    if len(set(tasks.values())) > 1:
        raise RecordError(
            f"the seeds of experiment {experiment} evaluated different tasks: "
            + ", ".join(f"{path}: {task}" for path, task in tasks.items())
        )
    task = next(iter(tasks.values()))
    predictions = {int(s): p for s, p in prediction_paths.items()}
    if task != "multiclass" and set(predictions) != set(metrics):
        raise RecordError(
            f"experiment {experiment} ({task}): the test-set figure needs the predictions of seeds "
            f"{sorted(metrics)}; given {sorted(predictions)}"
        )
    learning_curves(experiment, histories, out_curves_png, out_curves_svg)
    figure_of_test_set(
        experiment=experiment,
        task=task,
        metrics=metrics,
        prediction_paths=predictions,
        png=out_test_png,
        svg=out_test_svg,
    )
    identity = identify(
        step="figures",
        experiment=experiment,
        seed=None,
        input_files={
            **{f"history_seed{s}": p for s, p in sorted(history_paths.items())},
            **{f"metrics_seed{s}": p for s, p in sorted(metrics_paths.items())},
            **({} if task == "multiclass" else {f"predictions_seed{s}": p for s, p in sorted(predictions.items())}),
        },
        params={"seeds": sorted(int(s) for s in history_paths)},
        determinism={},
        script=script,
    )
    outputs = {
        "curves_png": out_curves_png,
        "curves_svg": out_curves_svg,
        "test_png": out_test_png,
        "test_svg": out_test_svg,
    }
    rec = records.make(identity, outputs=outputs, seconds=time.perf_counter() - t0)
    fileio.write_json(out_record, rec)
    return rec
