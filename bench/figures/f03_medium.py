"""Figure 3: a medium CNN workload: the whole pipeline for one experiment x seed vs one plain
script following the classic recipe (bench/plain_recipe.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from bench.harness import Figure, Timing, alternate, job_env, plan_of, ratio_text, run, say, snakemake, workdir
from bench.medium import MEDIUM, medium_config, plain_cmd
from bench.schedule import Need, Result
from bench.settings import Settings
from samebits.core import layout

NUMBER = 3
NEEDS: tuple[Need, ...] = ()
PROVIDES: tuple[str, ...] = ()


def measure(s: Settings, root: Path) -> Result:
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
        return wall

    def plain() -> float:
        out = root / f"plain-{len(fits['plain'])}"
        wall, _ = run(plain_cmd(plan, out), root, env)
        fits["plain"].append(json.loads((out / "metrics.json").read_text())["fit_seconds"])
        return wall

    t = alternate(s.heavy_reps, pipeline=pipeline, plain=plain)
    r = t["pipeline"].median / t["plain"].median
    figure = Figure(
        NUMBER,
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
    return Result(figure)
