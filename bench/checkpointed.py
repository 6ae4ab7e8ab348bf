"""The checkpointed medium CNN of figures 8 and 9 (#15): its configuration, and the scratch
workflow both figures train from (a setup made once, however many of them run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.harness import plan_of, snakemake, workdir
from bench.medium import MEDIUM, medium_config
from bench.settings import Settings
from bench.train_job import train_paths


def checkpoint_config(s: Settings, every_epochs: int | None) -> dict[str, Any]:
    """Figures 8 and 9's configuration: the medium CNN with ``train.checkpoint.every_epochs``
    set (``None``: no checkpoint at epoch ends); every other setting from the schema."""
    config = medium_config(s, workload=s.checkpointed)
    config["experiments"][MEDIUM]["train"]["checkpoint"] = {"every_epochs": every_epochs}
    return config


def make_template(s: Settings, root: Path) -> Path:
    """A scratch workflow of figures 8 and 9 with the chain's split and init done: each run
    copies it and trains only."""
    wd = workdir(root / "checkpoint-template", checkpoint_config(s, 1))
    snakemake(wd, train_paths(plan_of(checkpoint_config(s, 1)))["init"])
    return wd
