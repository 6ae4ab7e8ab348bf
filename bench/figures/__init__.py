"""The benchmark's figures, one module each (bench/schedule.py says what a figure module is;
bench/README.md, "Adding a figure", how to add one)."""

from __future__ import annotations

from bench.figures import (
    f01_noop,
    f02_step_overhead,
    f03_medium,
    f04_sweep,
    f05_hashing,
    f06_scale,
    f07_portable,
    f08_checkpoint_cost,
    f09_resume,
    f10_images,
    f11_exact_kernels,
    f12_csv_scale,
    f13_csv_parse,
    f14_in_memory,
    f15_streamed_epoch,
    f16_verdict_page,
)
from bench.schedule import FigureModule

#: Every figure; they measure by number, each after those that provide what it needs.
FIGURES: tuple[FigureModule, ...] = (
    f01_noop,
    f02_step_overhead,
    f03_medium,
    f04_sweep,
    f05_hashing,
    f06_scale,
    f07_portable,
    f08_checkpoint_cost,
    f09_resume,
    f10_images,
    f11_exact_kernels,
    f12_csv_scale,
    f13_csv_parse,
    f14_in_memory,
    f15_streamed_epoch,
    f16_verdict_page,
)
