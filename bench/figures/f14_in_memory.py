"""Figure 14 (#27): a CSV's features held in memory: the train job's peak RSS against the
float32 features it holds plus the same job streamed (TensorFlow, the model and a few
batches: its baseline), and evaluate's peak against train's."""

from __future__ import annotations

import statistics
from pathlib import Path

from bench.figures.f10_images import MB, mb
from bench.harness import Figure, ratio_text
from bench.schedule import Need, Result
from bench.settings import Settings
from bench.tables_csv import FEATURES, SideBySide, side_by_side

NUMBER = 14
NEEDS: tuple[Need, ...] = (Need("table_runs", setup=side_by_side),)
PROVIDES: tuple[str, ...] = ()

TARGET = 1.5


def measure(s: Settings, root: Path, *, table_runs: SideBySide) -> Result:
    runs = table_runs.runs

    def peak(name: str) -> float:
        return statistics.median(max(x for x in (r.hwm, r.max_rss, 0.0) if x is not None) for r in runs[name])

    memory, streamed = peak("memory"), peak("streamed")
    features = table_runs.n_train * FEATURES * 4 / MB
    ratio = (memory - streamed) / features
    evaluate_ok = all(
        e is not None and t is not None and e <= t
        for e, t in zip(table_runs.evaluate_hwm.values(), table_runs.train_hwm.values(), strict=True)
    )
    figure = Figure(
        NUMBER,
        "Features in memory: the train job's peak RSS above its streamed baseline, per MB of float32 features",
        f"{ratio_text(ratio)} the features",
        f"≤ {TARGET}× the features; evaluate ≤ train",
        ratio <= TARGET and evaluate_ok,
        [
            f"file: {table_runs.made['rows']:,} rows × {FEATURES} features (bench/tables_csv.py); the training "
            f"split's {table_runs.n_train:,} rows as float32: {features:,.0f} MB",
            f"train job's peak RSS (the larger of VmHWM and `max_rss`, median of {len(runs['memory'])}): in memory "
            f"{mb(memory)}, streamed {mb(streamed)} (TensorFlow, the model, a few batches: the baseline) → "
            f"{memory - streamed:,.0f} MB above it = {ratio_text(ratio)} the features",
            "evaluate's peak (VmHWM) vs train's, in memory: "
            f"{mb(table_runs.evaluate_hwm['memory'])} vs {mb(table_runs.train_hwm['memory'])}; streamed: "
            f"{mb(table_runs.evaluate_hwm['streamed'])} vs {mb(table_runs.train_hwm['streamed'])} → "
            f"{'evaluate ≤ train' if evaluate_ok else 'evaluate ABOVE train'}",
        ],
    )
    return Result(figure)
