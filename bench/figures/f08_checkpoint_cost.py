"""Figure 8: training the medium CNN with a checkpoint at every epoch end vs with none."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from pathlib import Path

from bench.checkpointed import checkpoint_config, make_template
from bench.harness import Figure, Timing, alternate, plan_of, say, snakemake
from bench.medium import MEDIUM
from bench.schedule import Need, Result
from bench.settings import Settings
from bench.train_job import TrainRun, only_train_ran, read_train, train_in_copy, train_paths

NUMBER = 8
NEEDS: tuple[Need, ...] = (Need("checkpoint_template", setup=make_template),)
PROVIDES: tuple[str, ...] = ()


def measure(s: Settings, root: Path, *, checkpoint_template: Path) -> Result:
    w = s.checkpointed
    say(
        f"figure 8: training the medium CNN ({w}) with a checkpoint at every epoch end vs none, "
        f"{s.checkpoint_reps} each"
    )
    configs = {"every": checkpoint_config(s, 1), "none": checkpoint_config(s, None)}
    plans = {side: plan_of(config) for side, config in configs.items()}
    paths = train_paths(plans["every"])
    runs: dict[str, list[TrainRun]] = {side: [] for side in configs}

    def side(name: str) -> Callable[[], float]:
        def fn() -> float:
            wd = train_in_copy(checkpoint_template, root / f"checkpoint-{name}-{len(runs[name])}", configs[name])
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
    figure = Figure(
        NUMBER,
        "Checkpoint cost: training the medium CNN with a checkpoint at every epoch end vs none",
        f"{cost:+.1%} (checkpoints written beside training for {direct:.1%} of it)",
        "≤ 5 % of training time",
        cost <= 0.05,
        [
            f"training up to its last epoch (`run.fit_seconds` less the time from the last epoch's log line "
            f"to the step's end), a checkpoint at every epoch end: {t['every'].text()}; none: "
            f"{t['none'].text()}; each round (the order alternating): " + ", ".join(f"{p:+.1%}" for p in pairs),
            f"time from each epoch's log line to its checkpoint's (the values copied, then hashed, written and "
            f"fsynced on the checkpoint thread while the next epoch trains): {per_run.text()} per training, "
            f"{statistics.median(saves) * 1000:.0f} ms each ({min(saves) * 1000:.0f}–{max(saves) * 1000:.0f}, "
            f"{len(saves)} checkpoints) → {direct:.1%} of the training without checkpoints",
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
    return Result(figure)
