"""Figures for the paper: learning curves and confusion matrices. No TensorFlow.

Written with matplotlib's Agg backend, as PNG and SVG, byte-stable across reruns: the
software and date metadata are left out and SVG element ids come from a fixed salt, so the
files are recorded by their bytes like every other output.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..core import fileio
from ..provenance import records

__all__ = ["figures"]

_PNG_META = {"Software": None}
_SVG_META = {"Date": None, "Creator": None}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcdefaults()  # nobody's matplotlibrc changes our bytes
    plt.rcParams.update({"svg.hashsalt": "samebits", "figure.dpi": 100, "savefig.dpi": 150, "font.size": 9})
    return plt


def _save(fig, png: str | Path, svg: str | Path) -> None:
    for dest, fmt, meta in ((png, "png", _PNG_META), (svg, "svg", _SVG_META)):
        with fileio.atomic_path(dest) as tmp:
            fig.savefig(tmp, format=fmt, metadata=meta)


def learning_curves(experiment: str, histories: dict[int, dict[str, Any]], png, svg) -> None:
    """Loss and accuracy per epoch: each seed thin, mean over seeds bold with a ±1 std band."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(7.5, 3.0), layout="constrained")
    for ax, key, label in ((axes[0], "loss", "training loss"), (axes[1], "accuracy", "training accuracy")):
        curves = np.array([histories[s][key] for s in sorted(histories)], dtype=np.float64)
        epochs = np.arange(1, curves.shape[1] + 1)
        for seed, curve in zip(sorted(histories), curves, strict=True):
            ax.plot(epochs, curve, lw=0.6, alpha=0.5, label=f"seed {seed}")
        mean, std = curves.mean(axis=0), curves.std(axis=0, ddof=1) if len(curves) > 1 else np.zeros(len(epochs))
        ax.fill_between(epochs, mean - std, mean + std, color="0.6", alpha=0.3, lw=0)
        ax.plot(epochs, mean, color="black", lw=1.6, label=f"mean of {len(curves)}")
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[1].legend(loc="lower right", fontsize=7)
    fig.suptitle(f"{experiment}: learning curves")
    _save(fig, png, svg)
    plt.close(fig)


def confusion(experiment: str, matrices: dict[int, list[list[int]]], png, svg) -> None:
    """The test-set confusion matrix, summed over seeds."""
    plt = _pyplot()
    total = np.sum([np.asarray(matrices[s]) for s in sorted(matrices)], axis=0)
    k = total.shape[0]
    fig, ax = plt.subplots(figsize=(4.2, 3.8), layout="constrained")
    im = ax.imshow(total, cmap="Blues")
    for i in range(k):
        for j in range(k):
            if total[i, j]:
                color = "white" if total[i, j] > total.max() / 2 else "black"
                ax.text(j, i, str(int(total[i, j])), ha="center", va="center", fontsize=6, color=color)
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(f"{experiment}: confusion matrix, {len(matrices)} seeds summed", fontsize=8)
    fig.colorbar(im, ax=ax, shrink=0.8)
    _save(fig, png, svg)
    plt.close(fig)


def figures(
    history_paths: dict[int, str | Path],
    metrics_paths: dict[int, str | Path],
    out_curves_png: str | Path,
    out_curves_svg: str | Path,
    out_confusion_png: str | Path,
    out_confusion_svg: str | Path,
    out_record: str | Path,
    *,
    experiment: str,
    script: str | Path | None,
) -> dict[str, Any]:
    """Draw one experiment's figures from its per-seed histories and metrics; write a record."""
    t0 = time.perf_counter()
    histories = {int(s): json.loads(Path(p).read_text(encoding="utf-8")) for s, p in history_paths.items()}
    metrics = {int(s): json.loads(Path(p).read_text(encoding="utf-8")) for s, p in metrics_paths.items()}
    learning_curves(experiment, histories, out_curves_png, out_curves_svg)
    confusion(experiment, {s: m["confusion_matrix"] for s, m in metrics.items()}, out_confusion_png, out_confusion_svg)
    rec = records.make(
        step="figures",
        experiment=experiment,
        seed=None,
        outputs={
            "curves_png": out_curves_png,
            "curves_svg": out_curves_svg,
            "confusion_png": out_confusion_png,
            "confusion_svg": out_confusion_svg,
        },
        input_files={
            **{f"history_seed{s}": p for s, p in sorted(history_paths.items())},
            **{f"metrics_seed{s}": p for s, p in sorted(metrics_paths.items())},
        },
        params={"seeds": sorted(int(s) for s in history_paths)},
        determinism={},
        script=script,
        seconds=time.perf_counter() - t0,
    )
    fileio.write_json(out_record, rec)
    return rec
