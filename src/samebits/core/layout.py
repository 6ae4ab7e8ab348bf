"""Where everything of a run lives: the steps, and every file the workflow writes.

The rules (``workflow/rules/*.smk``) name their outputs, logs and benchmarks from here, and
so do verify, audit, the benchmark and the tests. Patterns use Snakemake's wildcards
``{dataset}``, ``{experiment}`` and ``{seed}``; :meth:`Files.path` fills them. Every path is
relative to the workflow's working directory, and records name their files by these paths.

Examples
--------
>>> train.weights
'results/experiments/{experiment}/seed{seed}/weights.npz'
>>> record("split", dataset="digits", seed=0)
'results/splits/digits/seed0/split.record.json'
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "CHAIN_STEPS",
    "STEPS",
    "NAME",
    "CONFIG_FILE",
    "CACHE_DIR",
    "RECORD_INDEX",
    "CONFIG_CACHE",
    "FOLDER_CACHE",
    "IMAGE_CACHE",
    "RESUME_DIR",
    "resume",
    "SET_ASIDE",
    "SNAKEFILES",
    "VERSION_FILE",
    "WORKFLOW_FILES",
    "HEADLINE_METRICS",
    "task_of",
    "Files",
    "FILES",
    "split",
    "init",
    "train",
    "evaluate",
    "figures",
    "summarize",
    "verify",
    "record",
    "copy_workflow",
    "write_config",
]

#: The steps of one experiment x seed chain, in the order they run.
CHAIN_STEPS = ("split", "init", "train", "evaluate")
#: Every step that writes a record, in report order: the chains, then the steps over all seeds.
STEPS = (*CHAIN_STEPS, "figures", "summarize")

#: Names of data sets and experiments (they become path parts). The config schema's
#: ``$defs.name.pattern`` is this, anchored (tests/unit/test_plan.py checks it).
NAME = r"[A-Za-z0-9][A-Za-z0-9_-]*"

#: The configuration file the workflow and the ``samebits`` command read by default.
CONFIG_FILE = "config/config.yaml"

#: samebits' caches beside Snakemake's (delete at will: anything not found there is checked
#: in full): the stat index of records found matching their files, the checked
#: configuration, and the files a run set aside until it ends (see samebits.lifecycle).
CACHE_DIR = ".snakemake/samebits"
RECORD_INDEX = f"{CACHE_DIR}/ondisk-index.json"
CONFIG_CACHE = f"{CACHE_DIR}/config-cache.json"
SET_ASIDE = f"{CACHE_DIR}/set-aside"
#: Each data folder's file checksums by size, mtime and ctime (samebits.core.folders).
FOLDER_CACHE = f"{CACHE_DIR}/folders"
#: Image folders' decoded pixels, by the data set's checksum and the decoder
#: (samebits.ml.images): made by split, read by train and evaluate, made again if missing.
IMAGE_CACHE = "results/cache/images"

#: The numbers of evaluate's metrics.json a reader looks at first, by task (the
#: ``samebits.ml.sources.TASKS``): verify shows how each moved, the summary table of a task
#: has a column for each, in this order.
HEADLINE_METRICS = {
    "multiclass": ("accuracy", "loss", "macro_f1"),
    "binary": ("accuracy", "loss", "f1", "roc_auc"),
    "regression": ("mse", "mae", "r2"),
}


def task_of(metrics: Mapping[str, Any]) -> str:
    """The task of an evaluation, from its metrics.json document (one of the keys of
    :data:`HEADLINE_METRICS`).

    Multiclass metrics carry no ``"task"`` key: they are what samebits has always written,
    byte for byte, so a missing key means ``"multiclass"``.
    """
    return metrics.get("task", "multiclass")


#: Where Snakemake finds a workflow, in its order: a clone's top-level file, or the
#: ``workflow/Snakefile`` of a paper's repository that uses samebits as a module.
SNAKEFILES = ("Snakefile", "workflow/Snakefile")
#: The workflow's own copy of the release it is (samebits.core.version): the workflow refuses
#: to run with an installed library of another release.
VERSION_FILE = "src/samebits/core/version.py"
#: What a copy of the workflow is made of (the lock and results are never copied).
WORKFLOW_FILES = ("Snakefile", "workflow", "config", "data", "profiles", VERSION_FILE)


@dataclasses.dataclass(frozen=True)
class Files:
    """The files of one rule: its outputs by name (``train.weights``), its log and benchmark."""

    outputs: Mapping[str, str]
    log: str
    benchmark: str | None = None

    def __getattr__(self, name: str) -> str:
        if name.startswith("__") or name == "outputs":  # copy and pickle look before init
            raise AttributeError(name)
        try:
            return self.outputs[name]
        except KeyError:
            raise AttributeError(name) from None

    def path(self, name: str, **wildcards: Any) -> str:
        """The output ``name`` with its wildcards filled."""
        return self.outputs[name].format(**wildcards)


_SPLIT = "results/splits/{dataset}/seed{seed}"
_CHAIN = "results/experiments/{experiment}/seed{seed}"
_FIGURES = "results/figures/{experiment}"

split = Files(
    {"split": f"{_SPLIT}/split.npz", "record": f"{_SPLIT}/split.record.json"},
    log="logs/split/{dataset}/seed{seed}.log",
)
init = Files(
    {"init": f"{_CHAIN}/init.npz", "model": f"{_CHAIN}/model.json", "record": f"{_CHAIN}/init.record.json"},
    log="logs/init/{experiment}/seed{seed}.log",
    benchmark="benchmarks/init/{experiment}/seed{seed}.tsv",
)
train = Files(
    {
        "weights": f"{_CHAIN}/weights.npz",
        "history": f"{_CHAIN}/history.json",
        "keras": f"{_CHAIN}/model.keras",
        "record": f"{_CHAIN}/train.record.json",
    },
    log="logs/train/{experiment}/seed{seed}.log",
    benchmark="benchmarks/train/{experiment}/seed{seed}.tsv",
)
#: A train step's checkpoints live in this folder beside its outputs, not among them:
#: Snakemake deletes an incomplete job's outputs before it reruns the job
#: (samebits.ml.resume). The step removes the folder when it succeeds.
RESUME_DIR = "resume"
resume = f"{_CHAIN}/{RESUME_DIR}"
evaluate = Files(
    {
        "metrics": f"{_CHAIN}/metrics.json",
        "predictions": f"{_CHAIN}/predictions.npz",
        "record": f"{_CHAIN}/evaluate.record.json",
    },
    log="logs/evaluate/{experiment}/seed{seed}.log",
    benchmark="benchmarks/evaluate/{experiment}/seed{seed}.tsv",
)
figures = Files(
    {
        "curves_png": f"{_FIGURES}/learning_curves.png",
        "curves_svg": f"{_FIGURES}/learning_curves.svg",
        "test_png": f"{_FIGURES}/test.png",
        "test_svg": f"{_FIGURES}/test.svg",
        "record": f"{_FIGURES}/figures.record.json",
    },
    log="logs/figures/{experiment}.log",
)
summarize = Files(
    {
        "csv": "results/summary.csv",
        "markdown": "results/summary.md",
        "latex": "results/summary.tex",
        "record": "results/summary.record.json",
    },
    log="logs/summarize.log",
)
#: verify writes all four whether it passes or not; ``verdict`` (a first line ``passed`` or
#: ``failed``, then the one-screen verdict) is what a run's end and the next start read.
verify = Files(
    {
        "verdict": "results/verification.txt",
        "json": "results/verification.json",
        "markdown": "results/verification.md",
        "html": "results/verification.html",
    },
    log="logs/verify.log",
)

FILES: dict[str, Files] = {
    "split": split,
    "init": init,
    "train": train,
    "evaluate": evaluate,
    "figures": figures,
    "summarize": summarize,
    "verify": verify,
}


def record(step: str, **wildcards: Any) -> str:
    """The record path of one step, e.g. ``record("train", experiment="mlp", seed=0)``."""
    return FILES[step].path("record", **wildcards)


def copy_workflow(root: str | Path, dest: str | Path, *, config: Mapping[str, Any] | None = None) -> Path:
    """A fresh copy of the workflow at ``root`` in ``dest`` (created), without results or lock.

    With ``config``, that configuration (a mapping) is written as the copy's
    :data:`CONFIG_FILE`. Returns ``dest``.
    """
    root, dest = Path(root), Path(dest)
    dest.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", ".snakemake")
    for name in WORKFLOW_FILES:
        src = root / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        elif src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    if config is not None:
        write_config(dest, config)
    return dest


def write_config(root: str | Path, config: Mapping[str, Any]) -> Path:
    """Write ``config`` (a mapping) as the :data:`CONFIG_FILE` of the workflow at ``root``."""
    import yaml

    target = Path(root) / CONFIG_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(dict(config), sort_keys=False, allow_unicode=True), encoding="utf-8")
    return target
