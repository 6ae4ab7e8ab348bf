"""Figure 15 (#27): a CSV streamed from its table cache vs held in memory: time per epoch,
and the same weights."""

from __future__ import annotations

from pathlib import Path

from bench.harness import Figure, Timing, ratio_text
from bench.schedule import Need, Result
from bench.settings import Settings
from bench.tables_csv import BATCH, MODEL, TABLE, SideBySide, side_by_side

NUMBER = 15
NEEDS: tuple[Need, ...] = (Need("table_runs", setup=side_by_side),)
PROVIDES: tuple[str, ...] = ()

TARGET = 1.15


def measure(s: Settings, root: Path, *, table_runs: SideBySide) -> Result:
    runs, t, epochs = table_runs.runs, table_runs.timing, table_runs.epochs
    ratio = t["streamed"].median / t["memory"].median
    rounds = [a.per_epoch / b.per_epoch for a, b in zip(runs["streamed"], runs["memory"], strict=True)]
    weights = {r.weights for rs in runs.values() for r in rs}
    outputs_same = all(r.train.outputs == runs["memory"][0].train.outputs for rs in runs.values() for r in rs)
    identical = len(weights) == 1 and outputs_same
    plan = table_runs.plan
    figure = Figure(
        NUMBER,
        "A CSV streamed from its table cache vs in memory: time per epoch, the same weights",
        f"epoch {ratio_text(ratio)} in-memory's",
        f"≤ {TARGET}×; same weights",
        ratio <= TARGET and identical,
        [
            f"{table_runs.made['rows']:,} rows, {epochs} epochs over {table_runs.n_train:,} training rows in batches "
            f"of {BATCH}, only the train job run, from one split and init; time per epoch (from the first epoch's "
            f"log line to the last's): streamed {t['streamed'].text()}, in memory {t['memory'].text()} → "
            f"{ratio_text(ratio)}; each round (the order alternating): " + ", ".join(ratio_text(r) for r in rounds),
            f"`run.fit_seconds` / {epochs}: streamed "
            f"{Timing([r.train.fit / epochs for r in runs['streamed']]).text()}, in memory "
            f"{Timing([r.train.fit / epochs for r in runs['memory']]).text()}",
            f"`outputs.weights.sha256` of all {sum(map(len, runs.values()))} trainings: "
            f"{', '.join(sorted(w.split(':')[-1][:12] + '…' for w in weights))} → identical: "
            f"{'yes' if identical else 'NO'} (every output checksum: {'the same' if outputs_same else 'DIFFERENT'})",
            f"model: MLP hidden {MODEL['hidden']}, seed {plan.seeds[0]}; scale {plan.datasets[TABLE]['scale']}, "
            f"profile {plan.profile}, {plan.threads} thread(s)",
        ],
    )
    return Result(figure)
