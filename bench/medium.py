"""Figure 3's medium CNN workload, which figures 7, 8 and 9 reuse: its configuration, and the
command of the plain classic-recipe script (bench/plain_recipe.py) that does the same."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.harness import PYTHON, REPO
from bench.settings import DIGITS, Settings
from samebits.plan import Plan

MEDIUM = "medium"  # figure 3's experiment


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
