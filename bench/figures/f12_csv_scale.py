"""Figure 12 (#27): the whole workflow on a generated CSV of over 3 GB, streamed: split's and
the train job's peak RSS (< 2 GB, < 1.5 GB)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from bench.figures.f10_images import mb, read_benchmark, snakemake_watched
from bench.harness import Figure, plan_of, say, workdir
from bench.schedule import Need, Result
from bench.settings import Settings
from bench.tables_csv import FEATURES, MLP, MODEL, TABLE, table_config, write_csv
from samebits.core import layout

NUMBER = 12
NEEDS: tuple[Need, ...] = ()
PROVIDES: tuple[str, ...] = ()

#: The issue's bounds, in the unit of Snakemake's benchmark files (bytes / 1024²).
SPLIT_TARGET, TRAIN_TARGET = 2048.0, 1536.0
BATCH = 1024


def measure(s: Settings, root: Path) -> Result:
    csv = root / "big.csv"
    say(f"figure 12: writing a CSV of {s.tables['big_bytes'] / 1e9:.1f} GB")
    made = write_csv(csv, min_bytes=s.tables["big_bytes"])
    config = table_config(csv, stream=True, epochs=1, batch_size=BATCH)
    plan = plan_of(config)
    (seed,) = plan.seeds
    names = {"experiment": MLP, "seed": seed}
    wd = workdir(root / "csv-big-run", config)
    say(f"figure 12: the whole workflow on {made['rows']:,} rows, streamed (`snakemake --cores 1`, 1 epoch)")
    wall, _, peaks = snakemake_watched(wd)
    split = json.loads((wd / layout.record("split", dataset=TABLE, seed=seed)).read_text())
    train = json.loads((wd / layout.record("train", **names)).read_text())
    evaluate = json.loads((wd / layout.record("evaluate", **names)).read_text())
    train_bench = read_benchmark(wd / layout.train.benchmark.format(**names))
    evaluate_bench = read_benchmark(wd / layout.evaluate.benchmark.format(**names))
    log = (wd / layout.train.log.format(**names)).read_text(errors="replace")
    if not re.search(r"\d+ samples streamed from", log):
        raise RuntimeError(f"{wd}: the train step did not stream its features")
    (cache,) = (wd / layout.TABLE_CACHE).glob("*.bin")
    split_hwm, train_hwm = peaks.of_step("split"), peaks.of_step("train")
    train_peak = max(x for x in (train_bench["max_rss"], train_hwm, 0.0) if x is not None)
    met = split_hwm is not None and split_hwm < SPLIT_TARGET and 0 < train_peak < TRAIN_TARGET
    n_train = split["outputs"]["split"]["arrays"]["train"]["shape"][0]
    n_test = split["outputs"]["split"]["arrays"]["test"]["shape"][0]
    details: list[str] = [
        f"file: {made['bytes']:,} bytes ({made['bytes'] / 1e9:.2f} GB), {made['rows']:,} rows × {FEATURES} float "
        f"features written with `repr` and a 0/1 label (bench/tables_csv.py, written in {made['seconds']:.0f} s); "
        f"its table cache {cache.stat().st_size:,} bytes (float64, {made['rows']:,} × {FEATURES}); `stream: true`",
        f"the whole workflow (`snakemake --cores 1`: split, init, train, evaluate, figures, summary, verify): "
        f"{wall:.0f} s; split (record `run.seconds`: the file hashed, parsed by pandas into the cache, the "
        f"cache hashed, the scaling fitted): {split['run']['seconds']:.0f} s; its peak RSS {mb(split_hwm)} "
        "(VmHWM, polled every 0.2 s; split has no benchmark file)",
        f"train job: peak RSS {mb(train_bench['max_rss'])} (`max_rss`), {mb(train_hwm)} (VmHWM); 1 epoch over "
        f"{n_train:,} rows in batches of {BATCH}: `run.fit_seconds` {train['run']['fit_seconds']:.0f} s; "
        f"job wall time {train_bench['s']:.0f} s",
        f"evaluate job ({n_test:,} test rows, streamed): peak RSS {mb(evaluate_bench['max_rss'])} (`max_rss`), "
        f"{mb(peaks.of_step('evaluate'))} (VmHWM); prediction {evaluate['run']['predict_seconds']:.0f} s",
        f"model: MLP hidden {MODEL['hidden']}, seed {seed}; every other setting from the schema: scale "
        f"{plan.datasets[TABLE]['scale']}, test fraction {plan.datasets[TABLE]['test_fraction']}, profile "
        f"{plan.profile}, {plan.threads} thread(s); MB = 1024² bytes",
    ]
    figure = Figure(
        NUMBER,
        "A CSV of over 3 GB through the whole workflow, streamed: split's and the train job's peak RSS",
        f"{made['bytes'] / 1e9:.1f} GB CSV: split {mb(split_hwm)}, train {mb(train_peak)}",
        f"split < {SPLIT_TARGET:,.0f} MB, train < {TRAIN_TARGET:,.0f} MB",
        met,
        details,
    )
    return Result(figure)
