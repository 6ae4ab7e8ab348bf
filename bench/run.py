"""The samebits benchmark: what reproducibility costs, measured against the bare tools.

    python bench/run.py                  # the full benchmark (about 30 min), writes bench/RESULTS.md
    python bench/run.py --quick --out X  # a tiny setting (about 3 min): checks that it runs (figures 1-7)
    python bench/run.py --only 1,5       # some figures only

Every figure is a ratio of two things timed side by side in this one run (several
repetitions, alternating, median and min-max), so a noisy machine moves both sides alike:

1. no-op rerun of the default workflow vs bare Snakemake's no-op on the same job graph;
2. per-step overhead (a TensorFlow step's wall time minus its own training or prediction
   time) vs ``python -c "import tensorflow"``; steps that need no TensorFlow must not load it;
3. a medium CNN workload: the whole pipeline for one experiment x seed vs one plain script
   following the classic recipe;
4. eight seeds with ``--cores 2`` vs ``--cores 1`` (and the two locks must be byte-identical);
5. canonical hashing of 1 GiB of arrays vs ``hashlib.sha256`` of the same bytes; verify over
   1,000 step records;
6. a 250-seed sweep (1,000 jobs): DAG build and no-op vs bare Snakemake on the same graph;
   lock size and verify time against the number of records;
7. training time of the portable profile (oneDNN capped at AVX2) vs native;
8. training the medium CNN with a checkpoint at every epoch end vs with none;
9. a train step killed after epoch k of N and rerun: the resumed attempt's training time vs
   an uninterrupted one's, against (N - k) / N;
10. the workflow on a generated image folder of over 2 GB of decoded pixels, streamed: the
    train job's peak RSS (< 1.5 GB); and on a folder that fits, time per epoch streamed vs
    in memory (and the same weights).

Runs happen in scratch copies of the workflow (``samebits.core.layout.copy_workflow``) under
a temporary directory; nothing in the repository is touched except the results file. Every
path read from a run (records, logs, benchmark files, the lock) comes from
``samebits.core.layout`` or from the run's checked plan (``samebits.plan.Plan``), which also
supplies every setting the benchmark's configurations leave to the schema's defaults.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from samebits.core import layout
from samebits.plan import Plan

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

import bare  # noqa: E402  (bench/bare.py: the same-shape bare Snakemake workflow)
import synth  # noqa: E402  (bench/synth.py: a large sweep's records from a small real one)

PYTHON = sys.executable
#: The steps that run a model and so import TensorFlow; split, figures, summary and verify must not.
MODEL_STEPS = layout.CHAIN_STEPS[1:]


@dataclasses.dataclass
class Settings:
    quick: bool
    reps: int  # repetitions of the cheap timings (no-op, imports)
    heavy_reps: int  # repetitions of the minute-long timings
    noop_config: dict[str, Any]  # the run of figures 1 and 2
    medium: dict[str, Any]  # figure 3's CNN
    checkpointed: dict[str, Any]  # figures 8 and 9's CNN: figure 3's, but for --quick
    checkpoint_reps: int  # repetitions of each side of figure 8
    kill_at: tuple[float, ...]  # figure 9: kill after these fractions of the epochs
    images_big: dict[str, Any]  # figure 10's streamed folder: per_class, size (h, w); 2 classes, RGB
    images_fit: dict[str, Any]  # figure 10's folder that fits in memory
    images_epochs: int  # figure 10: epochs of each training on the folder that fits
    images_reps: int  # figure 10: trainings of each side (streamed, in memory) on it
    sweep_seeds: int
    sweep_experiment: dict[str, Any]
    hash_bytes: int
    scale_seeds: list[int]


DIGITS = {"digits": {"source": "digits"}}
MEDIUM = "medium"  # figure 3's experiment


def settings(quick: bool) -> Settings:
    if quick:
        tiny_mlp = {"dataset": "digits", "model": {"type": "mlp", "hidden": [16]}, "train": {"epochs": 2}}
        return Settings(
            quick=True,
            reps=2,
            heavy_reps=1,
            noop_config={"seeds": [0, 1], "datasets": DIGITS, "experiments": {"mlp": tiny_mlp}},
            medium={"filters": [8], "dense": [16], "epochs": 1, "batch_size": 64},
            # epochs to kill one half-way through (figure 9)
            checkpointed={"filters": [8], "dense": [16], "epochs": 12, "batch_size": 16},
            checkpoint_reps=1,
            kill_at=(0.5,),
            images_big={"per_class": 150, "size": (32, 32)},
            images_fit={"per_class": 100, "size": (32, 32)},
            images_epochs=2,
            images_reps=1,
            sweep_seeds=2,
            sweep_experiment=tiny_mlp,
            hash_bytes=16 << 20,
            scale_seeds=[3, 6],
        )
    default = yaml.safe_load((REPO / layout.CONFIG_FILE).read_text())
    # About a minute of training here (0.5 s per epoch on one thread).
    medium = {"filters": [128, 256], "dense": [256], "epochs": 120, "batch_size": 32}
    return Settings(
        quick=False,
        reps=7,
        heavy_reps=2,
        noop_config=default,
        medium=medium,
        checkpointed=medium,
        # a 5 % cost is within one run's noise here: an even number of rounds, A B then B A
        checkpoint_reps=4,
        kill_at=(0.25, 0.75),
        # 2 x 22,000 RGB images of 128 x 128: 2.01 GiB of decoded pixels (the issue: >= 2 GB)
        images_big={"per_class": 22_000, "size": (128, 128)},
        # 2 x 2,560 of them: 240 MB decoded (MB = 1024² bytes), 960 MB as float32 features
        images_fit={"per_class": 2_560, "size": (128, 128)},
        images_epochs=3,
        images_reps=4,
        sweep_seeds=8,
        sweep_experiment=default["experiments"]["mlp"],
        hash_bytes=1 << 30,
        scale_seeds=[25, 50, 125, 250],
    )


# ---------------------------------------------------------------------------- helpers


def say(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAKEMAKE")}
    env["PATH"] = f"{Path(PYTHON).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra or {})
    return env


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, check: bool = True) -> tuple[float, str]:
    """Run ``cmd``; return (wall seconds, stdout+stderr)."""
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env or clean_env(), capture_output=True, text=True)
    wall = time.perf_counter() - t
    out = proc.stdout + proc.stderr
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed in {cwd} (exit {proc.returncode}):\n{out[-4000:]}")
    return wall, out


def snakemake(workdir: Path, *args: str, cores: int = 1) -> tuple[float, str]:
    return run([PYTHON, "-m", "snakemake", "--cores", str(cores), *args], workdir)


def workdir(dest: Path, config: dict[str, Any]) -> Path:
    """A fresh scratch copy of the workflow with ``config``."""
    if dest.exists():
        shutil.rmtree(dest)
    return layout.copy_workflow(REPO, dest, config=config)


def plan_of(config: dict[str, Any]) -> Plan:
    """The checked plan of a benchmark configuration, every default of the schema filled in."""
    return Plan.check(config, where="the benchmark's configuration")


def job_env(plan: Plan) -> dict[str, str]:
    """The environment the workflow gives the jobs of ``plan`` (profile, threads, op determinism)."""
    return clean_env(plan.process_env())


def glob_pattern(pattern: str) -> str:
    """A layout path pattern with each ``{wildcard}`` made a ``*``."""
    return re.sub(r"\{\w+\}", "*", pattern)


@dataclasses.dataclass
class Timing:
    values: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def text(self, unit: str = "s") -> str:
        if len(self.values) == 1:
            return f"{self.values[0]:.3g} {unit} (1 run)"
        return f"{self.median:.3g} {unit} ({min(self.values):.3g}–{max(self.values):.3g}, {len(self.values)} runs)"


def alternate(reps: int, *, balanced: bool = False, **sides: Callable[[], float]) -> dict[str, Timing]:
    """Time each side ``reps`` times, interleaved, so drifting load hits both alike;
    ``balanced``: every other round in reverse order (A B, B A, ...), so load that keeps
    rising or falling over minute-long runs does not favour the side that goes first."""
    out: dict[str, list[float]] = {name: [] for name in sides}
    for i in range(reps):
        for name, fn in reversed(sides.items()) if balanced and i % 2 else sides.items():
            out[name].append(fn())
    return {name: Timing(v) for name, v in out.items()}


@dataclasses.dataclass
class Figure:
    number: int
    title: str
    measured: str  # e.g. "1.08×"
    target: str  # e.g. "≤ 1.2×"
    met: bool | None  # None: informative only
    details: list[str]


def ratio_text(x: float) -> str:
    return f"{x:.2f}×"


def tf_loaded_by_step(wd: Path) -> dict[str, set[bool]]:
    """Which steps of the run in ``wd`` loaded TensorFlow, from the last line every step
    writes to its log (each step's logs found by its layout pattern)."""
    found: dict[str, set[bool]] = {}
    for step, files in layout.FILES.items():
        for log in sorted(wd.glob(glob_pattern(files.log))):
            m = re.search(r"tensorflow (loaded|not loaded)", log.read_text(errors="replace"))
            if m:
                found.setdefault(step, set()).add(m.group(1) == "loaded")
    return found


# ---------------------------------------------------------------------------- figures


def fig_noop(s: Settings, root: Path, state: dict[str, Any]) -> Figure:
    say("figure 1: the real run of the workflow (default config)" if not s.quick else "figure 1: a tiny real run")
    ours = workdir(root / "noop-ours", s.noop_config)
    wall, _ = snakemake(ours)
    state["noop_run"] = (ours, wall)
    shape = bare.shape_of(s.noop_config)
    bares = {jobs: bare.write(root / f"noop-bare-{jobs}", shape, jobs=jobs) for jobs in ("script", "shell")}
    for wd in bares.values():
        snakemake(wd)  # a real run of the bare workflow, metadata included, like ours

    def timed(wd: Path) -> Callable[[], float]:
        def fn() -> float:
            wall, out = snakemake(wd)
            if "Nothing to be done" not in out:
                raise RuntimeError(f"the no-op rerun in {wd} ran jobs:\n{out[-3000:]}")
            return wall

        return fn

    say(f"figure 1: {s.reps} no-op reruns of each")
    t = alternate(s.reps, ours=timed(ours), script=timed(bares["script"]), shell=timed(bares["shell"]))
    _, imports = run([PYTHON, "-X", "importtime", "-m", "snakemake", "--cores", "1"], ours)
    tf_in_noop = bool(re.search(r"\|\s+tensorflow$", imports, re.M))
    r = t["ours"].median / t["script"].median
    return Figure(
        1,
        "No-op rerun vs bare Snakemake (same job graph)",
        f"{ratio_text(r)} ({ratio_text(t['ours'].median / t['shell'].median)} vs shell jobs)",
        "≤ 1.2×, no TensorFlow import",
        r <= 1.2 and not tf_in_noop,
        [
            f"samebits no-op: {t['ours'].text()}; bare Snakemake no-op, script jobs: {t['script'].text()}; "
            f"shell jobs: {t['shell'].text()}",
            f"job graph: {shape.describe()} (the real run took {wall:.0f} s)",
            f"TensorFlow imported by the no-op: {'YES' if tf_in_noop else 'no'} (python -X importtime)",
        ],
    )


def fig_step_overhead(s: Settings, root: Path, state: dict[str, Any]) -> Figure:
    ours, _ = state["noop_run"]
    say("figure 2: per-step overhead vs `python -c 'import tensorflow'`")
    plan = plan_of(s.noop_config)
    env = job_env(plan)

    def import_tf() -> float:
        return run([PYTHON, "-c", "import tensorflow"], ours, env)[0]

    base = alternate(s.reps, tf=import_tf)["tf"]
    overheads: dict[str, list[float]] = {}
    for step in MODEL_STEPS:
        for experiment in plan.experiments:
            for seed in plan.seeds:
                rec = json.loads((ours / layout.record(step, experiment=experiment, seed=seed)).read_text())
                bench_file = ours / layout.FILES[step].benchmark.format(experiment=experiment, seed=seed)
                wall = float(bench_file.read_text().splitlines()[-1].split("\t")[0])
                own = rec["run"].get("fit_seconds", 0.0) + rec["run"].get("predict_seconds", 0.0)
                overheads.setdefault(step, []).append(wall - own)
    worst = max(statistics.median(v) for v in overheads.values()) / base.median
    loaded = tf_loaded_by_step(ours)
    no_tf_steps = sorted(k for k, v in loaded.items() if v == {False})
    tf_steps = sorted(k for k, v in loaded.items() if True in v)
    wrong = sorted(set(tf_steps) - set(MODEL_STEPS))
    details = [f'`python -c "import tensorflow"`: {base.text()}']
    for step, values in overheads.items():
        own = {"train": "training", "evaluate": "prediction"}.get(step, "work")
        details.append(
            f"{step}: job wall minus own {own} time: {Timing(values).text()}"
            f" → {statistics.median(values) / base.median:.2f}× the import"
        )
    details.append(f"steps that loaded TensorFlow: {', '.join(tf_steps)}; steps that did not: {', '.join(no_tf_steps)}")
    return Figure(
        2,
        "Per-step overhead of a TensorFlow step vs importing TensorFlow",
        f"{ratio_text(worst)} (worst step kind)",
        "≤ 1.25×; no TensorFlow in steps that need none",
        worst <= 1.25 and not wrong,
        details,
    )


def medium_config(
    s: Settings, determinism: dict[str, Any] | None = None, workload: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Figure 3's configuration (or ``workload``'s): one CNN experiment, one seed; the rest
    (determinism settings unless given, test fraction, optimizer, learning rate, checkpoints,
    ...) left to the schema's defaults."""
    m = s.medium if workload is None else workload
    config: dict[str, Any] = {
        "seeds": [0],
        "datasets": DIGITS,
        "experiments": {
            MEDIUM: {
                "dataset": "digits",
                "model": {"type": "cnn", "filters": m["filters"], "dense": m["dense"]},
                "train": {"epochs": m["epochs"], "batch_size": m["batch_size"]},
            }
        },
    }
    if determinism is not None:
        config["determinism"] = determinism
    return config


def plain_cmd(plan: Plan, out: Path) -> list[str]:
    """bench/plain_recipe.py doing what the pipeline of ``plan`` (figure 3's) does, every
    setting taken from the plan."""
    from samebits.ml.keras_api import resolve
    from samebits.ml.steps import PREDICT_BATCH_SIZE

    (seed,) = plan.seeds
    experiment = plan.experiments[MEDIUM]
    model, train = experiment["model"], experiment["train"]
    if model["dropout"] or model["augment"]:
        raise ValueError("bench/plain_recipe.py builds no dropout or augmentation layers")
    return [
        PYTHON,
        str(REPO / "bench" / "plain_recipe.py"),
        *("--seed", str(seed)),
        *("--test-fraction", str(plan.datasets[experiment["dataset"]]["test_fraction"])),
        *("--filters", *map(str, model["filters"])),
        *("--kernel-size", str(model["kernel_size"])),
        *("--dense", *map(str, model["dense"])),
        *("--activation", model["activation"]),
        *("--epochs", str(train["epochs"])),
        *("--batch-size", str(train["batch_size"])),
        *("--optimizer", resolve("optimizer", train["optimizer"], "train.optimizer")[0]),
        *("--learning-rate", repr(train["learning_rate"])),
        *("--threads", str(plan.threads)),
        *("--predict-batch-size", str(PREDICT_BATCH_SIZE)),
        *("--out", str(out)),
    ]


def fig_medium(s: Settings, root: Path, state: dict[str, Any]) -> Figure:
    say(f"figure 3: medium CNN workload ({s.medium}), pipeline vs plain script, {s.heavy_reps} each")
    config = medium_config(s)
    plan = plan_of(config)
    template = workdir(root / "medium-template", config)
    env = job_env(plan)
    (seed,) = plan.seeds
    dataset = plan.experiments[MEDIUM]["dataset"]
    fits: dict[str, list[float]] = {"pipeline": [], "plain": []}
    n = {"i": 0}
    training_images: dict[str, int] = {}  # from the pipeline's split record

    def pipeline() -> float:
        n["i"] += 1
        wd = root / f"medium-{n['i']}"
        shutil.copytree(template, wd)
        wall, _ = snakemake(wd)
        rec = json.loads((wd / layout.record("train", experiment=MEDIUM, seed=seed)).read_text())
        fits["pipeline"].append(rec["run"]["fit_seconds"])
        split = json.loads((wd / layout.record("split", dataset=dataset, seed=seed)).read_text())
        training_images["n"] = split["outputs"]["split"]["arrays"]["train"]["shape"][0]
        state["medium_workdir"] = wd
        return wall

    def plain() -> float:
        out = root / f"plain-{len(fits['plain'])}"
        wall, _ = run(plain_cmd(plan, out), root, env)
        fits["plain"].append(json.loads((out / "metrics.json").read_text())["fit_seconds"])
        return wall

    t = alternate(s.heavy_reps, pipeline=pipeline, plain=plain)
    r = t["pipeline"].median / t["plain"].median
    return Figure(
        3,
        "Medium workload: whole pipeline (1 experiment × 1 seed) vs a plain classic-recipe script",
        ratio_text(r),
        "≤ 1.10×",
        r <= 1.10,
        [
            f"pipeline (`snakemake --cores 1`: {', '.join(layout.FILES)}): {t['pipeline'].text()}",
            f"plain script (bench/plain_recipe.py, the same split, model and training settings): {t['plain'].text()}",
            f"training alone: pipeline {Timing(fits['pipeline']).text()}, plain {Timing(fits['plain']).text()}",
            f"model: CNN filters {s.medium['filters']}, dense {s.medium['dense']}, {s.medium['epochs']} epochs, "
            f"batch {s.medium['batch_size']}, {dataset} ({training_images['n']:,} training images); "
            f"every other setting of both sides from the plan: profile {plan.profile}, {plan.threads} thread(s)",
        ],
    )


def fig_portable(s: Settings, root: Path, state: dict[str, Any]) -> Figure:
    from samebits.ml import determinism

    say(f"figure 7: portable vs native profile, training time of the medium workload, {s.heavy_reps} each")
    fits: dict[str, list[float]] = {determinism.PORTABLE: [], "native": []}

    def side(profile: str) -> Callable[[], float]:
        plan = plan_of(medium_config(s, {"profile": profile}))
        env = job_env(plan)

        def fn() -> float:
            out = root / f"plain-{profile}-{len(fits[profile])}"
            run(plain_cmd(plan, out), root, env)
            fit = json.loads((out / "metrics.json").read_text())["fit_seconds"]
            fits[profile].append(fit)
            return fit

        return fn

    t = alternate(s.heavy_reps, portable=side(determinism.PORTABLE), native=side("native"))
    r = t["portable"].median / t["native"].median
    return Figure(
        7,
        "Portable profile (oneDNN capped at AVX2) vs native: training time of the medium workload",
        ratio_text(r),
        "informative",
        None,
        [f"portable: {t['portable'].text()}; native: {t['native'].text()}"],
    )


# ---------------------------------------------------------------------------- checkpoints (#15)


def checkpoint_config(s: Settings, every_epochs: int | None) -> dict[str, Any]:
    """Figures 8 and 9's configuration: the medium CNN with ``train.checkpoint.every_epochs``
    set (``None``: no checkpoint at epoch ends); every other setting from the schema."""
    config = medium_config(s, workload=s.checkpointed)
    config["experiments"][MEDIUM]["train"]["checkpoint"] = {"every_epochs": every_epochs}
    return config


@dataclasses.dataclass
class TrainRun:
    """One train job of figures 8 and 9, read back from its record, benchmark file and log."""

    fit: float  # run.fit_seconds: the training in this attempt
    wall: float  # the job's wall time (its benchmark file)
    outputs: dict[str, Any]  # the record's outputs (checksums): what must not depend on checkpoints
    resumed: list[dict[str, Any]]  # run.resumed: where the attempt started from
    saves: list[float]  # seconds inside each epoch-end checkpoint (see read_log)
    epochs: float  # seconds from the first epoch's log line to the last's (see read_log)
    tail: float  # seconds from the last epoch's log line to the step's last line

    @property
    def trained(self) -> float:
        """The training up to its last epoch: ``run.fit_seconds`` less :attr:`tail`, which
        leaves out the end of fit() (with tf.data's autotuning on, it waited 0 to 60 s for
        the autotuning thread: bench/README.md)."""
        return self.fit - self.tail


#: A line of a step's log (samebits.core.logs): its time, to the millisecond, and message.
LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \w+ [\w.]+: (.*)$", re.M)


def read_log(log_text: str) -> tuple[list[float], float, float]:
    """What a train log's times say: the time of each epoch-end checkpoint, from the epoch's
    line (written once the epoch's weights are hashed) to the checkpoint's line (written
    once it is saved), so the whole of ``Run.save`` and nothing of the training; the span
    from the first epoch's line to the last's (the training without its first epoch, whose
    graph tracing costs the same whatever is saved); and from the last epoch's line to the
    step's last line (the end of fit(), then writing the outputs)."""
    ended: dict[int, datetime.datetime] = {}
    saves: list[float] = []
    last = None
    for stamp, message in LOG_LINE.findall(log_text):
        last = datetime.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f")
        if m := re.search(r": epoch (\d+)/\d+ ", message):
            ended[int(m.group(1))] = last
        elif (m := re.search(r": checkpoint \S+, after epoch (\d+) of \d+$", message)) and int(m.group(1)) in ended:
            saves.append((last - ended[int(m.group(1))]).total_seconds())
    if not ended or last is None:
        raise ValueError("no epoch in the train log")
    first_epoch, last_epoch = ended[min(ended)], ended[max(ended)]
    return saves, (last_epoch - first_epoch).total_seconds(), (last - last_epoch).total_seconds()


def train_paths(plan: Plan, experiment: str = MEDIUM) -> dict[str, str]:
    """The train step's target, log, benchmark file and checkpoint folder for ``plan``'s one
    chain (of ``experiment``), from the layout."""
    (seed,) = plan.seeds
    names = {"experiment": experiment, "seed": seed}
    return {
        "record": layout.record("train", **names),
        "init": layout.record("init", **names),
        "log": layout.train.log.format(**names),
        "benchmark": layout.train.benchmark.format(**names),
        "resume": layout.resume.format(**names),
    }


def read_train(wd: Path, paths: dict[str, str]) -> TrainRun:
    rec = json.loads((wd / paths["record"]).read_text())
    wall = float((wd / paths["benchmark"]).read_text().splitlines()[-1].split("\t")[0])
    saves, epochs, tail = read_log((wd / paths["log"]).read_text(errors="replace"))
    return TrainRun(
        fit=rec["run"]["fit_seconds"],
        wall=wall,
        outputs=rec["outputs"],
        resumed=rec["run"].get("resumed", []),
        saves=saves,
        epochs=epochs,
        tail=tail,
    )


def checkpoint_template(s: Settings, root: Path, state: dict[str, Any]) -> Path:
    """A scratch workflow of figures 8 and 9 with the chain's split and init done: each run
    copies it and trains only."""
    if "checkpoint_template" not in state:
        wd = workdir(root / "checkpoint-template", checkpoint_config(s, 1))
        snakemake(wd, train_paths(plan_of(checkpoint_config(s, 1)))["init"])
        state["checkpoint_template"] = wd
    return state["checkpoint_template"]


def train_in_copy(template: Path, wd: Path, config: dict[str, Any]) -> Path:
    """A copy of ``template`` with ``config``, ready to run its train job (and nothing else)."""
    if wd.exists():
        shutil.rmtree(wd)
    shutil.copytree(template, wd, symlinks=True)
    layout.write_config(wd, config)
    return wd


def only_train_ran(out: str, wd: Path) -> None:
    ran = set(re.findall(r"^(?:local)?rule (\w+):$", out, re.M))
    if ran != {"train"}:
        raise RuntimeError(f"{wd}: expected only the train job to run, ran {sorted(ran)}:\n{out[-3000:]}")


def fig_checkpoint_cost(s: Settings, root: Path, state: dict[str, Any]) -> Figure:
    w = s.checkpointed
    say(
        f"figure 8: training the medium CNN ({w}) with a checkpoint at every epoch end vs none, "
        f"{s.checkpoint_reps} each"
    )
    template = checkpoint_template(s, root, state)
    configs = {"every": checkpoint_config(s, 1), "none": checkpoint_config(s, None)}
    plans = {side: plan_of(config) for side, config in configs.items()}
    paths = train_paths(plans["every"])
    runs: dict[str, list[TrainRun]] = {side: [] for side in configs}

    def side(name: str) -> Callable[[], float]:
        def fn() -> float:
            wd = train_in_copy(template, root / f"checkpoint-{name}-{len(runs[name])}", configs[name])
            _, out = snakemake(wd, paths["record"])
            only_train_ran(out, wd)
            if (wd / paths["resume"]).exists():
                raise RuntimeError(f"{wd}: the train step left its checkpoints ({paths['resume']}) behind")
            runs[name].append(read_train(wd, paths))
            return runs[name][-1].trained

        return fn

    t = alternate(s.checkpoint_reps, balanced=True, every=side("every"), none=side("none"))
    epochs = plans["every"].experiments[MEDIUM]["train"]["epochs"]
    cost = t["every"].median / t["none"].median - 1
    pairs = [a.trained / b.trained - 1 for a, b in zip(runs["every"], runs["none"], strict=True)]
    fits = {name: Timing([r.fit for r in rs]) for name, rs in runs.items()}
    walls = {name: Timing([r.wall for r in rs]) for name, rs in runs.items()}
    saves = [x for r in runs["every"] for x in r.saves]
    per_run = Timing([sum(r.saves) for r in runs["every"]])
    direct = per_run.median / t["none"].median
    counts = {name: "/".join(sorted({str(len(r.saves)) for r in rs})) for name, rs in runs.items()}
    tails = [r.tail for rs in runs.values() for r in rs]
    waited = [x for x in tails if x > 1]
    every = [o == runs["every"][0].outputs for o in (r.outputs for rs in runs.values() for r in rs)]
    settings_text = {name: plan.experiments[MEDIUM]["train"]["checkpoint"] for name, plan in plans.items()}
    return Figure(
        8,
        "Checkpoint cost: training the medium CNN with a checkpoint at every epoch end vs none",
        f"{cost:+.1%} ({direct:.1%} inside `Run.save`)",
        "≤ 5 % of training time",
        cost <= 0.05,
        [
            f"training up to its last epoch (`run.fit_seconds` less the time from the last epoch's log line "
            f"to the step's end), a checkpoint at every epoch end: {t['every'].text()}; none: "
            f"{t['none'].text()}; each round (the order alternating): " + ", ".join(f"{p:+.1%}" for p in pairs),
            f"time inside the checkpoints (from each epoch's log line to its checkpoint's, so `Run.save` "
            f"alone): {per_run.text()} per training, {statistics.median(saves) * 1000:.0f} ms each "
            f"({min(saves) * 1000:.0f}–{max(saves) * 1000:.0f}, {len(saves)} checkpoints) → "
            f"{direct:.1%} of the training without checkpoints",
            f"`run.fit_seconds` as recorded: every epoch end {fits['every'].text()}; none {fits['none'].text()}; "
            f"train job wall time (benchmark file): every epoch end {walls['every'].text()}; "
            f"none {walls['none'].text()}",
            f"from the last epoch's log line to the step's end: {Timing(tails).text()}; over 1 s in "
            f"{len(waited)} of {len(tails)} trainings"
            + (f" ({', '.join(f'{x:.0f} s' for x in waited)})" if waited else "")
            + ", with or without checkpoints: the end of fit() waiting for tf.data's autotuning thread",
            f"checkpoints written per training: {counts['every']} at epoch ends (the last epoch's included), "
            f"{counts['none']} without; the folder was removed when each step succeeded",
            f"outputs of all {len(every)} trainings identical (record checksums): {'yes' if all(every) else 'NO'}",
            f"model: CNN filters {w['filters']}, dense {w['dense']}, {epochs} epochs, batch {w['batch_size']}, "
            f"train.checkpoint {settings_text['every']} vs {settings_text['none']}; only the train job runs "
            f"(split and init done beforehand); profile {plans['every'].profile}, {plans['every'].threads} thread(s)",
        ],
    )


def kill_after_checkpoint(wd: Path, paths: dict[str, str], epoch: int, epochs: int) -> float:
    """Start the train job in ``wd`` in a session of its own; once its log says the
    checkpoint after ``epoch`` is written, SIGKILL Snakemake and the job (as a node failure
    or an OOM kill would). Returns the seconds from the start to the kill."""
    line = re.compile(rf": checkpoint \S+, after epoch {epoch} of {epochs}$", re.M)
    log_path = wd / paths["log"]
    deadline = time.monotonic() + 1800
    t = time.perf_counter()
    with open(wd / "killed-run.out", "w") as out:
        proc = subprocess.Popen(
            [PYTHON, "-m", "snakemake", "--cores", "1", paths["record"]],
            cwd=wd,
            env=clean_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        while not (log_path.exists() and line.search(log_path.read_text(errors="replace"))):
            if proc.poll() is not None:
                raise RuntimeError(f"{wd}: the train job ended before epoch {epoch} (see killed-run.out)")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{wd}: no checkpoint after epoch {epoch} in {log_path}")
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)
        return time.perf_counter() - t
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)


def fig_resume(s: Settings, root: Path, state: dict[str, Any]) -> Figure:
    template = checkpoint_template(s, root, state)
    config = checkpoint_config(s, 1)
    plan = plan_of(config)
    paths = train_paths(plan)
    epochs = plan.experiments[MEDIUM]["train"]["epochs"]
    rows, details, worst, identical = [], [], 0.0, True
    sizes: list[int] = []
    for fraction in s.kill_at:
        k = max(1, min(epochs - 2, round(epochs * fraction)))
        # the uninterrupted side runs right before the other, so both see the same machine
        say(f"figure 9: an uninterrupted training, then one killed after epoch {k} of {epochs} and resumed")
        wd = train_in_copy(template, root / f"uninterrupted-{k}", config)
        _, out = snakemake(wd, paths["record"])
        only_train_ran(out, wd)
        whole = read_train(wd, paths)
        wd = train_in_copy(template, root / f"resume-{k}", config)
        killed_after = kill_after_checkpoint(wd, paths, k, epochs)
        if (wd / paths["record"]).exists():
            raise RuntimeError(f"{wd}: the killed train job wrote its record")
        left = sorted((wd / paths["resume"]).glob("*.npz"))
        sizes += [p.stat().st_size for p in left]
        snakemake(wd, "--unlock")
        rerun_wall, out = snakemake(wd, "--rerun-incomplete", paths["record"])
        only_train_ran(out, wd)
        if "resumed from checkpoint" not in (wd / paths["log"]).read_text(errors="replace"):
            raise RuntimeError(f"{wd}: the rerun did not resume:\n{out[-3000:]}")
        resumed = read_train(wd, paths)
        (start,) = resumed.resumed  # one resume: epoch is the next epoch to run
        at = start["epoch"]
        identical = identical and resumed.outputs == whole.outputs
        ratio = resumed.trained / whole.trained
        expected = (epochs - at) / epochs
        worst = max(worst, abs(ratio - expected))
        per_epoch = (resumed.epochs / (epochs - at - 1)) / (whole.epochs / (epochs - 1))
        rows.append(f"k/N = {at}/{epochs}: {ratio:.2f} (expected {expected:.2f})")
        details.append(
            f"k = {at}: the uninterrupted training {whole.trained:.3g} s up to its last epoch "
            f"(`run.fit_seconds` {whole.fit:.3g} s, its job {whole.wall:.3g} s); killed after epoch {at} "
            f"(aimed at {k}; SIGKILL of Snakemake's process group {killed_after:.1f} s after its start; "
            f"checkpoints left: {len(left)}), `--unlock`, `--rerun-incomplete`: the resumed attempt trained "
            f"{resumed.trained:.3g} s = {ratio:.2f}× (expected (N−k)/N = {expected:.2f}; saving {1 - ratio:.0%} "
            f"vs k/N = {at / epochs:.0%}), its epochs {per_epoch:.2f}× as long as the uninterrupted one's "
            f"(`run.fit_seconds` {resumed.fit:.3g} s, its job {resumed.wall:.3g} s, "
            f"`snakemake --rerun-incomplete` {rerun_wall:.3g} s)"
        )
    return Figure(
        9,
        "Resume: a train step killed after epoch k of N, rerun: its training time vs uninterrupted",
        "; ".join(rows),
        "≈ (N−k)/N (within 0.05)",
        worst <= 0.05 and identical,
        [
            "training time: up to the last epoch's log line, as in figure 8, for both sides",
            *details,
            f"outputs of every resumed training identical to the uninterrupted one's (record checksums): "
            f"{'yes' if identical else 'NO'}",
            f"a checkpoint of this model (weights, Adam's moments, state): "
            f"{statistics.median(sizes) / (1 << 20):.2f} MiB"
            if sizes
            else "no checkpoint was left to measure",
        ],
    )


# ---------------------------------------------------------------------------- image folders (#16)

#: Figure 10's data set and experiment: the issue's small CNN, batch 64, one seed; every
#: other setting (scale maxabs, test fraction, optimizer, threads, ...) from the schema.
IMAGES, IMAGE_CNN = "shapes", "cnn"
IMAGE_MODEL = {"type": "cnn", "filters": [8, 16], "dense": [32]}
IMAGE_BATCH = 64
IMAGE_CLASSES = 2
#: The issue's bound on the train job's peak RSS, 1.5 GB, in the unit of Snakemake's benchmark
#: files: their ``max_rss`` is bytes / 1024² (they call it MB, as this figure does).
RSS_TARGET = 1536.0
MB = 1 << 20


def image_config(folder: Path, stream: bool, epochs: int) -> dict[str, Any]:
    """Figure 10's configuration: the image folder ``folder`` read with ``stream``, the CNN."""
    return {
        "seeds": [0],
        "datasets": {IMAGES: {"source": f"{folder}/", "stream": stream}},
        "experiments": {
            IMAGE_CNN: {
                "dataset": IMAGES,
                "model": dict(IMAGE_MODEL),
                "train": {"epochs": epochs, "batch_size": IMAGE_BATCH},
            }
        },
    }


def image_paths(plan: Plan) -> dict[str, str]:
    """Figure 10's chain: the train step's paths (:func:`train_paths`), and the split's and
    evaluate's that it reads, from the layout."""
    (seed,) = plan.seeds
    names = {"experiment": IMAGE_CNN, "seed": seed}
    return {
        **train_paths(plan, IMAGE_CNN),
        "split": layout.record("split", dataset=IMAGES, seed=seed),
        "split_log": layout.split.log.format(dataset=IMAGES, seed=seed),
        "evaluate": layout.record("evaluate", **names),
        "evaluate_benchmark": layout.evaluate.benchmark.format(**names),
    }


def make_folder(dest: Path, spec: dict[str, Any]) -> dict[str, Any]:
    """Generate an image folder with tools/make_images.py (two classes, RGB, seed 0), every
    image a JPEG: made twice as fast as PNGs of its noisy backgrounds, and a quarter of their
    size on disk; the decoded pixels are the same size either way. Says every 15 s how far
    it got."""
    h, w = spec["size"]
    n = spec["per_class"] * IMAGE_CLASSES
    decoded = n * h * w * 3
    say(f"figure 10: generating {n:,} JPEG images of {h}x{w}x3 ({decoded / (1 << 30):.2f} GiB decoded) in {dest}")
    if dest.exists():
        shutil.rmtree(dest)
    cmd = [
        PYTHON,
        str(REPO / "tools" / "make_images.py"),
        str(dest),
        *("--per-class", str(spec["per_class"])),
        *("--size", str(h), str(w)),
        *("--classes", str(IMAGE_CLASSES)),
        *("--jpeg-every", "1"),
    ]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    while True:
        try:
            out = proc.communicate(timeout=15)[0]
            break
        except subprocess.TimeoutExpired:
            made = sum(len(names) for _, _, names in os.walk(dest))
            say(f"figure 10: {made:,} of {n:,} images written ({time.perf_counter() - t:.0f} s)")
    seconds = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed (exit {proc.returncode}):\n{out[-4000:]}")
    files = [Path(here, name) for here, _, names in os.walk(dest) for name in names]
    if len(files) != n:
        raise RuntimeError(f"{dest}: {len(files)} files, expected {n}")
    return {"n": n, "shape": (h, w, 3), "decoded": decoded, "disk": sum(f.stat().st_size for f in files),
            "seconds": seconds}  # fmt: skip


class Peaks:
    """The kernel's high-water mark of resident memory (``VmHWM`` of /proc/<pid>/status) of
    every process under a running command, polled every ``every`` seconds.

    A check of Snakemake's benchmark files, whose ``max_rss`` is the largest of samples of
    the job's memory taken every 0.5 s for its first 15 s and every 30 s after that, so a
    peak between two samples is missed. A high-water mark only grows: the last poll before
    a process ends misses at most what its last ``every`` seconds added."""

    def __init__(self, pid: int, every: float = 0.2):
        import psutil

        self.root, self.every = psutil.Process(pid), every
        self.seen: dict[int, tuple[str, int]] = {}  # pid -> (command line, high-water mark in bytes)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                procs = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                procs = []
            for p in procs:
                try:
                    with open(f"/proc/{p.pid}/status") as fh:
                        hwm = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmHWM:"))
                    cmd = self.seen[p.pid][0] if p.pid in self.seen else " ".join(p.cmdline())
                except (OSError, StopIteration, ValueError, psutil.Error):
                    continue
                self.seen[p.pid] = (cmd, max(hwm, self.seen.get(p.pid, ("", 0))[1]))
            self._stop.wait(self.every)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def of_step(self, step: str) -> float | None:
        """The largest high-water mark (MB) of the processes that ran ``step``'s script
        (Snakemake runs ``workflow/scripts/<step>.py`` as a copy ``.snakemake/scripts/tmp….<step>.py``)."""
        found = [hwm for cmd, hwm in self.seen.values() if re.search(rf"\.{step}\.py\b", cmd)]
        return max(found) / MB if found else None


def snakemake_watched(wd: Path, *args: str) -> tuple[float, str, Peaks]:
    """``snakemake --cores 1 args`` in ``wd``, its processes' memory watched (:class:`Peaks`);
    returns (wall seconds, its output, the peaks)."""
    with tempfile.TemporaryFile("w+") as out:
        t = time.perf_counter()
        proc = subprocess.Popen(
            [PYTHON, "-m", "snakemake", "--cores", "1", *args],
            cwd=wd,
            env=clean_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
        peaks = Peaks(proc.pid)
        try:
            code = proc.wait()
        finally:
            peaks.stop()
        wall = time.perf_counter() - t
        out.seek(0)
        text = out.read()
    if code != 0:
        raise RuntimeError(f"snakemake {' '.join(args)} failed in {wd} (exit {code}):\n{text[-4000:]}")
    return wall, text, peaks


def read_benchmark(path: Path) -> dict[str, float | None]:
    """A Snakemake benchmark file's last row by column (``s``, ``max_rss`` in MB, ``cpu_time``,
    ...); None where it says ``NA`` or holds no number."""
    header, *rows = path.read_text().splitlines()
    found: dict[str, float | None] = {}
    for name, value in zip(header.split("\t"), rows[-1].split("\t"), strict=True):
        try:
            found[name] = float(value)
        except ValueError:
            found[name] = None
    return found


def mb(x: float | None) -> str:
    return "NA" if x is None else f"{x:,.0f} MB"


def decode_seconds(log_text: str) -> float | None:
    """From a split log: the time from its ``decoding N images`` line to the line after the
    last image (the split's summary, once the scaling is fitted too), or None without one."""
    lines = [
        (datetime.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f"), msg) for stamp, msg in LOG_LINE.findall(log_text)
    ]
    start = next((t for t, msg in lines if re.search(r"decoding \d+ images", msg)), None)
    end = next((t for t, msg in lines if start and t >= start and re.search(r"\d+ train / \d+ test$", msg)), None)
    return None if start is None or end is None else (end - start).total_seconds()


def pixel_cache(wd: Path) -> tuple[Path, dict[str, Any]]:
    """The one pixel cache of the run in ``wd`` and its description."""
    (pixels,) = (wd / layout.IMAGE_CACHE).glob("*.u8")
    return pixels, json.loads(pixels.with_suffix(".json").read_text())


def images_streamed(s: Settings, root: Path) -> dict[str, Any]:
    """Figure 10, memory: the whole workflow, streamed, on a folder of over 2 GB of pixels."""
    folder = root / "images-big"
    made = make_folder(folder, s.images_big)
    config = image_config(folder, True, 1)
    plan = plan_of(config)
    paths = image_paths(plan)
    wd = workdir(root / "images-big-run", config)
    say(f"figure 10: the whole workflow on {made['n']:,} images, streamed (`snakemake --cores 1`, 1 epoch)")
    wall, _, peaks = snakemake_watched(wd)
    pixels, meta = pixel_cache(wd)
    split = json.loads((wd / paths["split"]).read_text())
    evaluate = json.loads((wd / paths["evaluate"]).read_text())
    log = (wd / paths["log"]).read_text(errors="replace")
    if not re.search(r"\d+ samples streamed from", log):
        raise RuntimeError(f"{wd}: the train step did not stream its features")
    return {
        "made": made,
        "plan": plan,
        "wall": wall,
        "train": read_train(wd, paths),
        "train_bench": read_benchmark(wd / paths["benchmark"]),
        "evaluate_bench": read_benchmark(wd / paths["evaluate_benchmark"]),
        "train_hwm": peaks.of_step("train"),
        "evaluate_hwm": peaks.of_step("evaluate"),
        "split_hwm": peaks.of_step("split"),
        "split_seconds": split["run"]["seconds"],
        "decode_seconds": decode_seconds((wd / paths["split_log"]).read_text(errors="replace")),
        "n_train": split["outputs"]["split"]["arrays"]["train"]["shape"][0],
        "n_test": split["outputs"]["split"]["arrays"]["test"]["shape"][0],
        "predict_seconds": evaluate["run"]["predict_seconds"],
        "cache_bytes": pixels.stat().st_size,
        "cache_shape": [meta["n"], *meta["shape"]],
        "weights": json.loads((wd / paths["record"]).read_text())["outputs"]["weights"]["sha256"],
    }


@dataclasses.dataclass
class ImageRun:
    """One training of figure 10's second part."""

    train: TrainRun
    bench: dict[str, float | None]
    hwm: float | None
    weights: str  # the record's outputs.weights.sha256
    per_epoch: float  # seconds per epoch, the first (graph tracing) left out when there are others


def images_side_by_side(s: Settings, root: Path) -> dict[str, Any]:
    """Figure 10, time: streamed vs in memory on a folder that fits, trained alternately
    from one split and init (as figures 8 and 9 do)."""
    folder = root / "images-fit"
    made = make_folder(folder, s.images_fit)
    epochs = s.images_epochs
    configs = {"streamed": image_config(folder, True, epochs), "memory": image_config(folder, False, epochs)}
    plans = {side: plan_of(config) for side, config in configs.items()}
    paths = image_paths(plans["streamed"])
    template = workdir(root / "images-fit-template", configs["streamed"])
    snakemake(template, paths["init"])
    split = json.loads((template / paths["split"]).read_text())
    runs: dict[str, list[ImageRun]] = {side: [] for side in configs}
    say(
        f"figure 10: {made['n']:,} images, {epochs} epochs, streamed vs in memory, {s.images_reps} each "
        "(the order alternating)"
    )

    def side(name: str) -> Callable[[], float]:
        def fn() -> float:
            wd = train_in_copy(template, root / f"images-{name}-{len(runs[name])}", configs[name])
            _, out, peaks = snakemake_watched(wd, paths["record"])
            only_train_ran(out, wd)
            streamed = bool(re.search(r"\d+ samples streamed from", (wd / paths["log"]).read_text(errors="replace")))
            if streamed != (name == "streamed"):
                raise RuntimeError(f"{wd}: the {name} side {'did not stream' if not streamed else 'streamed'}")
            train = read_train(wd, paths)
            per_epoch = train.epochs / (epochs - 1) if epochs > 1 else train.trained
            rec = json.loads((wd / paths["record"]).read_text())
            bench = read_benchmark(wd / paths["benchmark"])
            weights = rec["outputs"]["weights"]["sha256"]
            runs[name].append(ImageRun(train, bench, peaks.of_step("train"), weights, per_epoch))
            shutil.rmtree(wd / layout.IMAGE_CACHE)  # a copy of the template's: 1/4 GB per training
            return per_epoch

        return fn

    t = alternate(s.images_reps, balanced=True, streamed=side("streamed"), memory=side("memory"))
    return {
        "made": made,
        "plans": plans,
        "epochs": epochs,
        "timing": t,
        "runs": runs,
        "n_train": split["outputs"]["split"]["arrays"]["train"]["shape"][0],
    }


def fig_images(s: Settings, root: Path, state: dict[str, Any]) -> Figure:
    big = images_streamed(s, root)
    fit = images_side_by_side(s, root)
    made, train = big["made"], big["train"]
    runs, t = fit["runs"], fit["timing"]
    rss = big["train_bench"]["max_rss"]
    peak = max(x for x in (rss, big["train_hwm"]) if x is not None) if rss or big["train_hwm"] else None
    ratio = t["streamed"].median / t["memory"].median
    rounds = [a.per_epoch / b.per_epoch for a, b in zip(runs["streamed"], runs["memory"], strict=True)]
    weights = {r.weights for rs in runs.values() for r in rs}
    outputs_same = all(r.train.outputs == runs["streamed"][0].train.outputs for rs in runs.values() for r in rs)
    identical = len(weights) == 1 and outputs_same
    gib = big["cache_bytes"] / (1 << 30)
    fit_made = fit["made"]
    h, w, c = made["shape"]

    def per_image(seconds: float, n: int) -> str:
        return f"{seconds / n * 1e6:.0f} µs per training image"

    def megabytes(values: list[float | None]) -> str:
        found = [x for x in values if x is not None]
        if not found:
            return "NA"
        if len(found) == 1:
            return f"{found[0]:,.0f} MB (1 run)"
        return f"{statistics.median(found):,.0f} MB ({min(found):,.0f}–{max(found):,.0f}, {len(found)} runs)"

    def side_rss(name: str) -> str:
        bench = megabytes([r.bench["max_rss"] for r in runs[name]])
        return f"{bench} (`max_rss`), {megabytes([r.hwm for r in runs[name]])} (VmHWM)"

    plan = big["plan"]
    return Figure(
        10,
        "Image folders: the train job's peak RSS streaming ≥ 2 GB of pixels; epoch time, streamed vs in memory",
        f"train peak RSS {mb(peak)} streaming {gib:.2f} GiB; epoch {ratio_text(ratio)} in-memory's",
        "< 1536 MB (1.5 GB); same weights",
        peak is not None and peak < RSS_TARGET and identical,
        [
            f"folder: {made['n']:,} generated JPEG images of {h}×{w}×{c} (tools/make_images.py, 2 classes; "
            f"{made['disk'] / MB:,.0f} MB on disk, made in {made['seconds']:.0f} s); pixel cache "
            f"{big['cache_bytes']:,} bytes = {gib:.2f} GiB (uint8, {' × '.join(map(str, big['cache_shape']))}); "
            f"`stream: true`",
            f"the whole workflow (`snakemake --cores 1`: split, init, train, evaluate, figures, summary, verify): "
            f"{big['wall']:.0f} s; split (record `run.seconds`: every file hashed, every image decoded into the "
            f"cache, the scaling fitted on the training split): {big['split_seconds']:.0f} s, of which "
            + (
                f"{big['decode_seconds']:.0f} s from its log's `decoding` line to its summary line"
                if big["decode_seconds"] is not None
                else "no decoding logged"
            )
            + f"; its peak RSS {mb(big['split_hwm'])} (VmHWM; split has no benchmark file)",
            f"train job: peak RSS {mb(rss)} (`max_rss` of its benchmark file), {mb(big['train_hwm'])} "
            f"(the kernel's high-water mark VmHWM of its Python process, polled every 0.2 s); "
            f"`max_uss` {mb(big['train_bench'].get('max_uss'))}; job wall time {big['train_bench']['s']:.0f} s; "
            f"1 epoch over {big['n_train']:,} training images: {train.trained:.0f} s up to its epoch's log line "
            f"(`run.fit_seconds` {train.fit:.0f} s) = {per_image(train.trained, big['n_train'])}",
            f"evaluate job ({big['n_test']:,} test images, streamed): peak RSS {mb(big['evaluate_bench']['max_rss'])} "
            f"(`max_rss`), {mb(big['evaluate_hwm'])} (VmHWM); prediction {big['predict_seconds']:.0f} s; "
            f"job wall time {big['evaluate_bench']['s']:.0f} s",
            f"a set that fits: {fit_made['n']:,} images of the same size ({fit_made['decoded'] / MB:,.0f} MB "
            f"decoded, {4 * fit_made['decoded'] / MB:,.0f} MB as float32 features), {fit['epochs']} epochs "
            f"over {fit['n_train']:,} training images, only the train job run, from one split and init; "
            f"time per epoch (from the first epoch's log line to the last's, over the epochs after the first): "
            f"streamed {t['streamed'].text()}, in memory {t['memory'].text()} → {ratio_text(ratio)} "
            f"({per_image(t['streamed'].median, fit['n_train'])} vs {per_image(t['memory'].median, fit['n_train'])}); "
            f"each round (the order alternating): " + ", ".join(ratio_text(r) for r in rounds),
            f"`run.fit_seconds` / {fit['epochs']}: streamed "
            f"{Timing([r.train.fit / fit['epochs'] for r in runs['streamed']]).text()}, in memory "
            f"{Timing([r.train.fit / fit['epochs'] for r in runs['memory']]).text()}",
            f"the train job's peak RSS on the set that fits: streamed {side_rss('streamed')}; "
            f"in memory {side_rss('memory')}",
            f"`outputs.weights.sha256` of all {sum(map(len, runs.values()))} trainings on the set that fits, "
            f"streamed and in memory: {', '.join(sorted(w.split(':')[-1][:12] + '…' for w in weights))} → identical: "
            f"{'yes' if identical else 'NO'} (every output checksum: {'the same' if outputs_same else 'DIFFERENT'})",
            f"model: CNN filters {IMAGE_MODEL['filters']}, dense {IMAGE_MODEL['dense']}, batch {IMAGE_BATCH}, "
            f"seed {plan.seeds[0]}; every other setting from the schema: scale "
            f"{plan.datasets[IMAGES]['scale']}, test fraction {plan.datasets[IMAGES]['test_fraction']}, "
            f"profile {plan.profile}, {plan.threads} thread(s); MB = 1024² bytes, as in Snakemake's benchmark "
            "files, which sample the job every 0.5 s for 15 s and every 30 s after",
        ],
    )


def sweep_config(s: Settings, seeds: int) -> dict[str, Any]:
    return {"seeds": list(range(seeds)), "datasets": DIGITS, "experiments": {"mlp": s.sweep_experiment}}


def occupancy(wd: Path, cores: int) -> tuple[float, float]:
    """How busy the chain jobs kept the cores: (span of the chain jobs in s, share of it with
    ``cores`` jobs running). Each job's interval is its benchmark file's mtime (written when
    the job ends) minus its wall time; a hardware-independent view of the scheduling."""
    spans = []
    chain_benchmarks = [files.benchmark for files in layout.FILES.values() if files.benchmark is not None]
    for f in (p for pattern in chain_benchmarks for p in wd.glob(glob_pattern(pattern))):
        wall = float(f.read_text().splitlines()[1].split("\t")[0])
        end = f.stat().st_mtime
        spans.append((end - wall, end))
    if not spans:
        return 0.0, 0.0
    events = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans])
    running, last, full = 0, events[0][0], 0.0
    for t, step in events:
        if running >= cores:
            full += t - last
        running, last = running + step, t
    span = max(b for _, b in spans) - min(a for a, _ in spans)
    return span, full / span if span else 0.0


def fig_sweep(s: Settings, root: Path, state: dict[str, Any]) -> Figure:
    say(f"figure 4: {s.sweep_seeds} seeds, --cores 2 vs --cores 1, {s.heavy_reps} each")
    config = sweep_config(s, s.sweep_seeds)
    lock = plan_of(config).lock
    locks: dict[str, list[bytes]] = {"1": [], "2": []}

    def side(cores: int) -> Callable[[], float]:
        def fn() -> float:
            wd = workdir(root / f"sweep-c{cores}-{len(locks[str(cores)])}", config)
            wall, _ = snakemake(wd, cores=cores)
            locks[str(cores)].append((wd / lock).read_bytes())
            state[f"sweep_c{cores}"] = wd
            return wall

        return fn

    t = alternate(s.heavy_reps, one=side(1), two=side(2))
    speedup = t["one"].median / t["two"].median
    span, busy = occupancy(state["sweep_c2"], 2)
    every = locks["1"] + locks["2"]
    identical = all(lock == every[0] for lock in every)
    return Figure(
        4,
        f"Sweep scaling: {s.sweep_seeds} seeds, `--cores 2` vs `--cores 1`",
        f"{speedup:.2f}× speed-up",
        "≥ 1.8×, byte-identical locks",
        speedup >= 1.8 and identical,
        [
            f"--cores 1: {t['one'].text()}; --cores 2: {t['two'].text()}",
            f"jobs: {len(layout.CHAIN_STEPS) * s.sweep_seeds} chain steps + figures, summary, verify; "
            f"experiment: {s.sweep_experiment}",
            f"locks of all {len(every)} runs byte-identical: {'yes' if identical else 'NO'}",
            f"last --cores 2 run: both cores ran chain jobs {busy:.0%} of the {span:.1f} s from the "
            "first chain job's start to the last one's end (benchmark files); the rest of its wall "
            "time is Snakemake's start and exit and the figures, summary and verify steps",
        ],
    )


def fig_hashing(s: Settings, root: Path, state: dict[str, Any]) -> Figure:
    import numpy as np

    from samebits.core import hashing

    say(f"figure 5: canonical hashing of {s.hash_bytes >> 20} MiB of arrays vs hashlib.sha256")
    rng = np.random.default_rng(0)
    n = s.hash_bytes // 4 // 4
    arrays = {f"w{i}": rng.standard_normal(n, dtype=np.float32) for i in range(4)}

    def raw() -> float:
        t = time.perf_counter()
        h = hashlib.sha256()
        for name in sorted(arrays):
            h.update(memoryview(arrays[name]).cast("B"))
        h.hexdigest()
        return time.perf_counter() - t

    def canonical() -> float:
        t = time.perf_counter()
        hashing.hash_arrays(arrays)
        return time.perf_counter() - t

    path = root / "hash.npz"
    np.savez(path, **arrays)

    def raw_file() -> float:
        t = time.perf_counter()
        hashing.hash_file(path)
        return time.perf_counter() - t

    def canonical_file() -> float:
        t = time.perf_counter()
        hashing.hash_npz(path)
        return time.perf_counter() - t

    mem = alternate(s.reps, raw=raw, canonical=canonical)
    disk = alternate(s.reps, raw=raw_file, canonical=canonical_file)
    path.unlink()
    r_mem = mem["raw"].median / mem["canonical"].median
    r_disk = disk["raw"].median / disk["canonical"].median
    gib = s.hash_bytes / (1 << 30)
    verify_t = state.get("verify_1000")
    details = [
        f"in memory: hashlib.sha256 {mem['raw'].text()}; canonical checksum with summaries {mem['canonical'].text()}"
        f" → {gib / mem['canonical'].median:.2f} GiB/s",
        f"from an .npz file (page cache): sha256 of the file {disk['raw'].text()}; canonical, streamed "
        f"{disk['canonical'].text()} → speed ratio {r_disk:.2f}×",
    ]
    met = r_mem >= 0.9
    measured = f"{r_mem:.2f}× hashlib's speed"
    if verify_t is not None:
        details.append(
            f"`samebits verify --check` over {verify_t['records']} step records: {verify_t['timing'].text()}"
        )
        met = met and verify_t["timing"].median < 1.0
        measured += f"; verify {verify_t['timing'].median:.2f} s"
    return Figure(5, "Checksums: canonical hashing vs hashlib.sha256; verify over 1,000 records", measured,
                  "≥ 0.9×; verify < 1 s", met, details)  # fmt: skip


def fig_scale(s: Settings, root: Path, state: dict[str, Any]) -> Figure:
    n = s.scale_seeds[-1]
    source = state.get("sweep_c1")
    if source is None:
        source = workdir(root / "scale-source", sweep_config(s, s.sweep_seeds))
        snakemake(source)
    chain_jobs = len(layout.CHAIN_STEPS) * n
    say(f"figure 6: a {n}-seed sweep ({chain_jobs} chain jobs) made from the {s.sweep_seeds}-seed real run")
    big = root / "scale-ours"
    if big.exists():
        shutil.rmtree(big)
    shutil.copytree(source, big, symlinks=True)
    config = sweep_config(s, n)
    plan = plan_of(config)
    layout.write_config(big, config)
    (experiment,) = plan.experiments
    dataset = plan.experiments[experiment]["dataset"]
    synth.extend(big, experiment, dataset, s.sweep_seeds, n)
    wall, out = snakemake(big)  # real: figures, summary and verify over all seeds
    ran = sorted(set(re.findall(r"^(?:local)?rule (\w+):$", out, re.M)))
    if set(ran) & set(layout.CHAIN_STEPS):
        raise RuntimeError(f"the synthesised sweep reran chain steps ({ran}):\n{out[-3000:]}")
    shutil.rmtree(big / ".snakemake" / "metadata", ignore_errors=True)

    shape = bare.shape_of(config)
    kinds = ("script", "shell")
    done_bare = {jobs: bare.write(root / f"scale-bare-{jobs}", shape, True, jobs) for jobs in kinds}
    empty_bare = {jobs: bare.write(root / f"scale-bare-empty-{jobs}", shape, False, jobs) for jobs in kinds}
    empty_ours = workdir(root / "scale-ours-empty", config)

    def timed(wd: Path, *args: str, expect: str) -> Callable[[], float]:
        def fn() -> float:
            wall, out = snakemake(wd, *args)
            if expect not in out:
                raise RuntimeError(f"{wd}: expected {expect!r}:\n{out[-3000:]}")
            return wall

        return fn

    say(f"figure 6: dry runs (DAG build) and no-op reruns, {s.reps} each")
    dag = alternate(
        s.reps,
        ours=timed(empty_ours, "--dry-run", expect="Job stats"),
        script=timed(empty_bare["script"], "--dry-run", expect="Job stats"),
        shell=timed(empty_bare["shell"], "--dry-run", expect="Job stats"),
    )
    noop = alternate(
        s.reps,
        ours=timed(big, expect="Nothing to be done"),
        script=timed(done_bare["script"], expect="Nothing to be done"),
        shell=timed(done_bare["shell"], expect="Nothing to be done"),
    )

    say("figure 6: lock size and verify time against the number of records")
    from samebits.provenance.verify import rebuild_lock, verify

    rows = []
    for k in s.scale_seeds:
        recs = synth.chain_records(experiment, dataset, range(k))
        lock_path = root / f"scale-{k}.lock"
        lock_path.unlink(missing_ok=True)
        with contextlib.chdir(big):
            rebuild_lock(recs, lock_path)

        def check(recs=recs, lock_path=lock_path) -> float:
            t = time.perf_counter()
            with contextlib.chdir(big):  # record paths are relative to the workflow
                result = verify(recs, lock_path, rtol=plan.rtol, atol=plan.atol, update_lock=False)
            if not result.ok:
                raise RuntimeError(f"verify over {len(recs)} synthesised records failed")
            return time.perf_counter() - t

        tv = alternate(max(2, s.reps // 2), v=check)["v"]
        rows.append((len(recs), lock_path.stat().st_size, tv.median))
    cli = alternate(  # verifies every record of the sweep's config in ``big``: plan.all_records()
        s.reps,
        v=lambda: run([PYTHON, "-m", "samebits.cli", "verify", "--check"], big)[0],
    )["v"]
    state["verify_1000"] = {"records": len(plan.all_records()), "timing": cli}

    r_dag = dag["ours"].median / dag["script"].median
    r_noop = noop["ours"].median / noop["script"].median
    sizes = fit_line([(k, b) for k, b, _ in rows])
    times = fit_line([(k, t) for k, _, t in rows])
    linear = sizes["r2"] >= 0.99 and times["r2"] >= 0.98
    table = "; ".join(f"{k} records: {b / 1024:.0f} KiB, verify {t * 1000:.0f} ms" for k, b, t in rows)
    return Figure(
        6,
        f"Scale: {n}-seed sweep ({chain_jobs} chain jobs) vs bare Snakemake; lock and verify growth",
        f"DAG {ratio_text(r_dag)}, no-op {ratio_text(r_noop)} "
        f"(vs shell jobs: {ratio_text(dag['ours'].median / dag['shell'].median)}, "
        f"{ratio_text(noop['ours'].median / noop['shell'].median)})",
        "≤ 1.2× each; lock and verify linear",
        r_dag <= 1.2 and r_noop <= 1.2 and linear,
        [
            f"dry run on empty results (DAG build): samebits {dag['ours'].text()}; bare, script jobs "
            f"{dag['script'].text()}; bare, shell jobs {dag['shell'].text()}",
            f"no-op with everything up to date: samebits {noop['ours'].text()}; bare, script jobs "
            f"{noop['script'].text()}; bare, shell jobs {noop['shell'].text()}",
            f"growth: {table}",
            f"least-squares lines: lock = {sizes['a'] / 1024:.1f} KiB + {sizes['b']:.0f} bytes × records "
            f"(R² {sizes['r2']:.4f}); verify = {times['a'] * 1000:.1f} ms + {times['b'] * 1000:.3f} ms × records "
            f"(R² {times['r2']:.4f}) → linear: {'yes' if linear else 'NO'}",
            f"how the sweep was made: the {s.sweep_seeds}-seed real run's chain outputs copied to seeds "
            f"{s.sweep_seeds}..{n - 1} and recorded again with samebits' record writer (bench/synth.py); "
            "figures, summary and verify then ran for real over all seeds. Snakemake's metadata "
            "(.snakemake/metadata) is removed on both sides, so neither checks params or code of past jobs.",
            f"the tail (figures, summary, verify over {n} seeds) took {wall:.1f} s",
        ],
    )


def fit_line(points: list[tuple[float, float]]) -> dict[str, float]:
    """Least-squares ``y = a + b x`` and its R²."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    b = sum((x - mx) * (y - my) for x, y in points) / sxx
    a = my - b * mx
    ss_tot = sum((y - my) ** 2 for _, y in points)
    ss_res = sum((y - a - b * x) ** 2 for x, y in points)
    return {"a": a, "b": b, "r2": 1.0 - ss_res / ss_tot if ss_tot else 1.0}


# ---------------------------------------------------------------------------- report


def machine() -> list[str]:
    from samebits.provenance.cpu import cpu_info
    from samebits.provenance.fingerprint import fingerprint

    cpu = cpu_info()
    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / (1 << 20):.1f} GiB"
    except OSError:
        pass
    pk = fingerprint()["packages"]
    sm = run([PYTHON, "-m", "snakemake", "--version"], REPO)[1].strip()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    at = f"; samebits at commit {commit.stdout.strip()}" if commit.returncode == 0 else ""
    return [
        f"- date: {datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d %H:%M UTC')}{at}",
        f"- CPU: {cpu['vendor']} {cpu['model']}, {os.cpu_count()} cores visible; memory {mem}",
        f"- OS: {platform.system()} {platform.release()}; Python {platform.python_version()}",
        f"- tensorflow {pk['tensorflow']}, keras {pk['keras']}, numpy {pk['numpy']}, snakemake {sm}",
        f"- load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}",
    ]


def render(figs: list[Figure], quick: bool, seconds: float) -> str:
    lines = [
        "# samebits benchmark results",
        "",
        "Made by `python bench/run.py`" + (" --quick (a tiny setting: numbers mean nothing)" if quick else "") + ".",
        "Each figure is a ratio of two things timed side by side in the same run (median, with",
        "min–max over the repetitions). bench/README.md says how each is measured.",
        "",
        "## Machine",
        "",
        *machine(),
        "",
        "## Figures",
        "",
        "| # | what | measured | target | met |",
        "|---|---|---|---|---|",
    ]
    for f in figs:
        met = "—" if f.met is None else ("yes" if f.met else "**no**")
        lines.append(f"| {f.number} | {f.title} | {f.measured} | {f.target} | {met} |")
    lines.append("")
    for f in figs:
        lines += [f"### {f.number}. {f.title}", ""]
        lines += [f"- {d}" for d in f.details]
        lines.append("")
    lines.append(f"The benchmark took {seconds / 60:.1f} min.")
    return "\n".join(lines) + "\n"


FIGURES = {
    1: fig_noop,
    2: fig_step_overhead,
    3: fig_medium,
    4: fig_sweep,
    6: fig_scale,  # before 5: it makes the 1,000 records that 5 verifies
    5: fig_hashing,
    7: fig_portable,
    8: fig_checkpoint_cost,
    9: fig_resume,
    10: fig_images,
}
#: Figures ``--quick`` leaves out unless ``--only`` names them: even tiny, the five train
#: jobs of 8 and 9 take about a minute, and 10's workflow and trainings about as long
#: (``--quick --only 8,9,10`` runs them).
NOT_QUICK = {8, 9, 10}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Benchmark samebits against bare Snakemake and a plain script.")
    p.add_argument("--quick", action="store_true", help="tiny setting (checks that the benchmark runs)")
    p.add_argument("--only", help="comma-separated figure numbers (default: all)")
    p.add_argument("--out", default=str(REPO / "bench" / "RESULTS.md"), help="results file")
    p.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = p.parse_args(argv)
    s = settings(args.quick)
    if args.only:
        wanted = {int(x) for x in args.only.split(",")}
    else:
        wanted = set(FIGURES) - (NOT_QUICK if args.quick else set())
    if 2 in wanted:
        wanted.add(1)  # figure 2 reads figure 1's run
    root = Path(tempfile.mkdtemp(prefix="samebits-bench-"))
    say(f"scratch directory {root}")
    t0 = time.perf_counter()
    state: dict[str, Any] = {}
    figs = []
    try:
        for number, fn in FIGURES.items():
            if number in wanted:
                fig = fn(s, root, state)
                say(f"figure {number}: {fig.measured} (target {fig.target})")
                figs.append(fig)
    finally:
        if args.keep:
            say(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    figs.sort(key=lambda f: f.number)
    text = render(figs, args.quick, time.perf_counter() - t0)
    Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
