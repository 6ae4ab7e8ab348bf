"""Figure 13 (#27): parsing a CSV of 500,000 rows × 20 features written with ``repr``: pandas'
reader (samebits.ml.tables' fast path) vs the csv module and ``float()`` per cell (its exact
path, the reader samebits had before), in one process, alternately; and the same bits."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from bench.harness import Figure, alternate, ratio_text, say
from bench.schedule import Need, Result
from bench.settings import Settings
from bench.tables_csv import FEATURES, write_csv
from samebits.ml import tables

NUMBER = 13
NEEDS: tuple[Need, ...] = ()
PROVIDES: tuple[str, ...] = ()

TARGET = 10.0
REPS = 3


def measure(s: Settings, root: Path) -> Result:
    csv = root / "parse.csv"
    made = write_csv(csv, rows=s.tables["parse_rows"])
    say(
        f"figure 13: parsing {made['rows']:,} rows ({made['bytes'] / 1e6:.0f} MB), pandas vs csv + float(), {REPS} each"
    )

    def side(reader: Callable[[Path, str], Iterator[tuple[np.ndarray, np.ndarray]]]) -> Callable[[], float]:
        def fn() -> float:
            t = time.perf_counter()
            for _ in reader(csv, "label"):
                pass
            return time.perf_counter() - t

        return fn

    t = alternate(REPS, balanced=True, pandas=side(tables._fast_chunks), exact=side(tables._exact_chunks))
    found: dict[str, Any] = {}
    for name, reader in (("pandas", tables._fast_chunks), ("exact", tables._exact_chunks)):
        chunks = list(reader(csv, "label"))
        found[name] = (np.concatenate([c[0] for c in chunks]), np.concatenate([c[1] for c in chunks]))
    same = found["pandas"][0].tobytes() == found["exact"][0].tobytes() and np.array_equal(
        *[f[1] for f in found.values()]
    )
    speedup = t["exact"].median / t["pandas"].median
    figure = Figure(
        NUMBER,
        "CSV parsing: pandas' reader vs the csv module and float() per cell, the same bits",
        f"{ratio_text(speedup)} faster",
        f"≥ {TARGET:.0f}× faster; bit-identical",
        speedup >= TARGET and same,
        [
            f"file: {made['rows']:,} rows × {FEATURES} float features written with `repr` and a 0/1 label, "
            f"{made['bytes']:,} bytes (bench/tables_csv.py)",
            f"each reader's whole pass over the file in blocks of {tables.CSV_CHUNK_ROWS:,} rows, in this process "
            f"(the file in the page cache), the order alternating: pandas {t['pandas'].text()}, csv module + float() "
            f"{t['exact'].text()}",
            f"float64 features and labels of both: {'bit-identical' if same else 'DIFFERENT'} "
            f"({found['pandas'][0].size:,} values)",
        ],
    )
    return Result(figure)
