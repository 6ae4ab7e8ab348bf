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
import functools
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
    "TABLE_CACHE",
    "RESUME_DIR",
    "resume",
    "OUTPUT_DIR",
    "LOCK_NAME",
    "Layout",
    "DEFAULT",
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
#: CSV and NPZ data sets' features and labels as read, by the file's SHA-256 and the parse
#: settings (samebits.ml.tables): made by split, read by train and evaluate, made again if missing.
TABLE_CACHE = "results/cache/tables"

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


#: The config key ``output_dir``'s default: a configuration's ``results/``, ``logs/`` and
#: ``benchmarks/`` (and its lock, unless it names one) go in this folder of the working
#: directory. An example configuration names a folder of its own, so that it never writes
#: over the default's files.
OUTPUT_DIR = "."
#: The lock's file name in the output folder, when the configuration names no ``lock``.
LOCK_NAME = "samebits.lock"


def _under(root: str, path: str) -> str:
    return path if root in ("", ".") else f"{root.rstrip('/')}/{path}"


@dataclasses.dataclass(frozen=True)
class Layout:
    """The files of every rule of a run whose output folder is ``root`` (see :meth:`under`)."""

    root: str
    split: Files
    init: Files
    train: Files
    evaluate: Files
    figures: Files
    summarize: Files
    verify: Files
    #: A train step's checkpoints live in this folder beside its outputs, not among them:
    #: Snakemake deletes an incomplete job's outputs before it reruns the job
    #: (samebits.ml.resume). The step removes the folder when it succeeds.
    resume: str

    @classmethod
    def under(cls, root: str = OUTPUT_DIR) -> Layout:
        """The layout of a run that writes into the folder ``root``.

        >>> Layout.under("results/examples/binary").summarize.markdown
        'results/examples/binary/results/summary.md'
        """
        at = functools.partial(_under, root)
        split = "results/splits/{dataset}/seed{seed}"
        chain = "results/experiments/{experiment}/seed{seed}"
        figures = "results/figures/{experiment}"

        def files(outputs: Mapping[str, str], log: str, benchmark: str | None = None) -> Files:
            return Files({k: at(v) for k, v in outputs.items()}, at(log), benchmark and at(benchmark))

        return cls(
            root=root,
            split=files(
                {"split": f"{split}/split.npz", "record": f"{split}/split.record.json"},
                log="logs/split/{dataset}/seed{seed}.log",
            ),
            init=files(
                {"init": f"{chain}/init.npz", "model": f"{chain}/model.json", "record": f"{chain}/init.record.json"},
                log="logs/init/{experiment}/seed{seed}.log",
                benchmark="benchmarks/init/{experiment}/seed{seed}.tsv",
            ),
            train=files(
                {
                    "weights": f"{chain}/weights.npz",
                    "history": f"{chain}/history.json",
                    "keras": f"{chain}/model.keras",
                    "record": f"{chain}/train.record.json",
                },
                log="logs/train/{experiment}/seed{seed}.log",
                benchmark="benchmarks/train/{experiment}/seed{seed}.tsv",
            ),
            evaluate=files(
                {
                    "metrics": f"{chain}/metrics.json",
                    "predictions": f"{chain}/predictions.npz",
                    "record": f"{chain}/evaluate.record.json",
                },
                log="logs/evaluate/{experiment}/seed{seed}.log",
                benchmark="benchmarks/evaluate/{experiment}/seed{seed}.tsv",
            ),
            figures=files(
                {
                    "curves_png": f"{figures}/learning_curves.png",
                    "curves_svg": f"{figures}/learning_curves.svg",
                    "test_png": f"{figures}/test.png",
                    "test_svg": f"{figures}/test.svg",
                    "record": f"{figures}/figures.record.json",
                },
                log="logs/figures/{experiment}.log",
            ),
            summarize=files(
                {
                    "csv": "results/summary.csv",
                    "markdown": "results/summary.md",
                    "latex": "results/summary.tex",
                    "record": "results/summary.record.json",
                },
                log="logs/summarize.log",
            ),
            # verify writes all four whether it passes or not; ``verdict`` (a first line
            # ``passed`` or ``failed``, then the one-screen verdict) is what a run's end and
            # the next start read.
            verify=files(
                {
                    "verdict": "results/verification.txt",
                    "json": "results/verification.json",
                    "markdown": "results/verification.md",
                    "html": "results/verification.html",
                },
                log="logs/verify.log",
            ),
            resume=at(f"{chain}/{RESUME_DIR}"),
        )

    @property
    def files(self) -> dict[str, Files]:
        """Every step's files by step name."""
        return {step: getattr(self, step) for step in (*STEPS, "verify")}

    @property
    def results(self) -> str:
        """The folder of the results (``results`` under the output folder)."""
        return _under(self.root, "results")

    @property
    def lock(self) -> str:
        """The lock of a configuration that names none."""
        return _under(self.root, LOCK_NAME)

    def record(self, step: str, **wildcards: Any) -> str:
        """The record path of one step, e.g. ``record("train", experiment="mlp", seed=0)``."""
        return self.files[step].path("record", **wildcards)


#: The folder a train step keeps its checkpoints in, beside its outputs.
RESUME_DIR = "resume"

#: The default configuration's layout; the module's names below are its files.
DEFAULT = Layout.under()
split, init, train, evaluate = DEFAULT.split, DEFAULT.init, DEFAULT.train, DEFAULT.evaluate
figures, summarize, verify, resume = DEFAULT.figures, DEFAULT.summarize, DEFAULT.verify, DEFAULT.resume
FILES: dict[str, Files] = DEFAULT.files
record = DEFAULT.record


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
