"""How big the benchmark is: the full setting (about 30 min) and ``--quick``'s tiny one."""

from __future__ import annotations

import dataclasses
from typing import Any

import yaml

from bench.harness import REPO
from samebits.core import layout


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
    exact_kernels: dict[str, int]  # figure 11's training: n images of size x size, epochs; reps of each side
    tables: dict[str, int]  # figure 12: CSV sizes (bytes of the big file, rows of the others), epochs, reps
    sweep_seeds: int
    sweep_experiment: dict[str, Any]
    hash_bytes: int
    scale_seeds: list[int]


DIGITS = {"digits": {"source": "digits"}}


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
            exact_kernels={"n": 256, "size": 16, "epochs": 1, "reps": 1},
            tables={"big_bytes": 8 << 20, "parse_rows": 20_000, "fit_rows": 40_000, "epochs": 2, "reps": 1},
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
        # about 25 s of training a run here; A B, B A, ... so a drifting load favours neither
        exact_kernels={"n": 8192, "size": 32, "epochs": 6, "reps": 4},
        # a CSV of over 3 GB (the bound), the 500,000 x 20 parse file, and a set
        # of 1.5 M rows whose float32 features (120 MB) are above batches.CONSTANT_UP_TO, trained
        # 4 times a side: one run of either side varies by 10 % here
        tables={"big_bytes": 3_200_000_000, "parse_rows": 500_000, "fit_rows": 1_500_000, "epochs": 4, "reps": 4},
        sweep_seeds=8,
        sweep_experiment=default["experiments"]["mlp"],
        hash_bytes=1 << 30,
        scale_seeds=[25, 50, 125, 250],
    )
