"""The generated CSV data sets of figures 12 to 15, their workflow configuration, and the
side-by-side trainings that figures 14 and 15 read."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.harness import Timing, alternate, plan_of, say, snakemake, workdir
from bench.settings import Settings
from bench.train_job import TrainRun, only_train_ran, read_train, train_in_copy, train_paths
from samebits.core import layout
from samebits.plan import Plan

#: The issue's file: 20 float features written with ``repr``, and a 0/1 label.
FEATURES = 20
TABLE, MLP = "table", "mlp"
MODEL = {"type": "mlp", "hidden": [64]}
BATCH = 256  # the side-by-side trainings' batch size
BLOCK = 1 << 16


def write_csv(path: Path, *, rows: int | None = None, min_bytes: int | None = None) -> dict[str, Any]:
    """Write a CSV of ``rows`` rows, or of rows until it holds ``min_bytes``: 20 standard
    normal features (``repr``, 17 significant digits), the label 1 where their sum is
    positive. Rows are made a block of 65,536 at a time from one seeded block, its first
    feature moved by the block's number, so every row differs."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BLOCK, FEATURES))
    rest = [",".join(map(repr, row)) for row in x[:, 1:].tolist()]
    first = x[:, 0].tolist()
    labels = (x.sum(axis=1) > 0).astype(int).tolist()
    t = time.perf_counter()
    n = written = 0
    with open(path, "w", encoding="utf-8") as out:
        header = ",".join(f"f{i}" for i in range(FEATURES)) + ",label\n"
        out.write(header)
        written = len(header)
        block = 0
        while (rows is not None and n < rows) or (min_bytes is not None and written < min_bytes):
            take = BLOCK if rows is None else min(BLOCK, rows - n)
            text = "".join(f"{first[i] + block!r},{rest[i]},{labels[i]}\n" for i in range(take))
            out.write(text)
            written += len(text)
            n += take
            block += 1
            if block % 16 == 0:
                say(f"{path.name}: {n:,} rows, {written / 1e9:.2f} GB written")
    return {"rows": n, "bytes": path.stat().st_size, "seconds": time.perf_counter() - t}


def table_config(csv: Path, *, stream: bool | None, epochs: int, batch_size: int) -> dict[str, Any]:
    """One seed of the MLP on the CSV ``csv``; every other setting from the schema."""
    return {
        "seeds": [0],
        "datasets": {TABLE: {"source": str(csv), "label": "label", "stream": stream}},
        "experiments": {
            MLP: {"dataset": TABLE, "model": dict(MODEL), "train": {"epochs": epochs, "batch_size": batch_size}}
        },
    }


@dataclasses.dataclass
class TableRun:
    """One train job of the side-by-side trainings."""

    train: TrainRun
    hwm: float | None  # MB: the train process's VmHWM
    max_rss: float | None  # MB: its benchmark file's
    weights: str  # the record's outputs.weights.sha256
    per_epoch: float  # seconds per epoch after the first


@dataclasses.dataclass
class SideBySide:
    """Figures 14 and 15: the same CSV trained in memory and streamed, alternately."""

    made: dict[str, Any]
    plan: Plan
    epochs: int
    n_train: int
    runs: dict[str, list[TableRun]]
    timing: dict[str, Timing]
    evaluate_hwm: dict[str, float | None]  # MB, in memory and streamed: evaluate's VmHWM
    train_hwm: dict[str, float | None]  # MB, in the same two runs: train's


def side_by_side(s: Settings, root: Path) -> SideBySide:
    """Train the MLP on a CSV of ``fit_rows`` rows from one split and init, in memory and
    streamed, ``reps`` times each (A B, B A, …); then run one chain of each to its end to
    read evaluate's peak beside train's."""
    from bench.figures.f10_images import read_benchmark, snakemake_watched  # bench.figures imports this module

    csv = root / "fit.csv"
    made = write_csv(csv, rows=s.tables["fit_rows"])
    epochs = s.tables["epochs"]
    configs = {
        side: table_config(csv, stream=side == "streamed", epochs=epochs, batch_size=BATCH)
        for side in ("memory", "streamed")
    }
    plan = plan_of(configs["memory"])
    paths = train_paths(plan, MLP)
    template = workdir(root / "csv-fit-template", configs["memory"])
    snakemake(template, paths["init"])
    split = json.loads((template / layout.record("split", dataset=TABLE, seed=plan.seeds[0])).read_text())
    runs: dict[str, list[TableRun]] = {side: [] for side in configs}
    say(f"figures 14, 15: {made['rows']:,} rows, {epochs} epochs, in memory vs streamed, {s.tables['reps']} each")

    def side(name: str) -> Callable[[], float]:
        def fn() -> float:
            wd = train_in_copy(template, root / f"csv-{name}-{len(runs[name])}", configs[name])
            _, out, peaks = snakemake_watched(wd, paths["record"])
            only_train_ran(out, wd)
            streamed = bool(re.search(r"\d+ samples streamed from", (wd / paths["log"]).read_text(errors="replace")))
            if streamed != (name == "streamed"):
                raise RuntimeError(f"{wd}: the {name} side {'did not stream' if not streamed else 'streamed'}")
            train = read_train(wd, paths)
            per_epoch = train.epochs / (epochs - 1) if epochs > 1 else train.trained
            weights = json.loads((wd / paths["record"]).read_text())["outputs"]["weights"]["sha256"]
            bench = read_benchmark(wd / paths["benchmark"])
            runs[name].append(TableRun(train, peaks.of_step("train"), bench["max_rss"], weights, per_epoch))
            if len(runs[name]) < s.tables["reps"]:
                shutil.rmtree(wd)
            return per_epoch

        return fn

    timing = alternate(s.tables["reps"], balanced=True, memory=side("memory"), streamed=side("streamed"))
    evaluate_hwm, train_hwm = {}, {}
    for name in configs:  # each side's last copy, trained: its evaluate, watched
        wd = root / f"csv-{name}-{len(runs[name]) - 1}"
        _, _, peaks = snakemake_watched(wd, layout.record("evaluate", experiment=MLP, seed=plan.seeds[0]))
        evaluate_hwm[name], train_hwm[name] = peaks.of_step("evaluate"), runs[name][-1].hwm
    return SideBySide(
        made=made,
        plan=plan,
        epochs=epochs,
        n_train=split["outputs"]["split"]["arrays"]["train"]["shape"][0],
        runs=runs,
        timing=timing,
        evaluate_hwm=evaluate_hwm,
        train_hwm=train_hwm,
    )
