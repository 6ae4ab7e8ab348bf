"""The paper table: every metric of every experiment, over its seeds. No TensorFlow.

For each experiment and metric: n, mean, sample standard deviation (ddof = 1) and the 95%
confidence interval of the mean (Student's t with n − 1 degrees of freedom). Each row names
the evaluate records (and the checksums of the metrics files) it came from, and the metrics
files are checked against those checksums before they are used.
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..core import fileio
from ..core.errors import RecordError
from ..core.hashing import hash_output
from ..core.layout import HEADLINE_METRICS
from ..provenance import records

__all__ = ["METRICS", "summarize", "aggregate"]

#: The metrics tabulated, in column order, with their column titles.
METRICS = {m: {"macro_f1": "Macro-F1"}.get(m, m.capitalize()) for m in HEADLINE_METRICS}


def _t975(dof: int) -> float:
    from scipy.stats import t

    return float(t.ppf(0.975, dof))


def aggregate(values: list[float]) -> dict[str, Any]:
    """n, mean, sample std and 95% CI of the mean; std and CI are ``None`` for n < 2."""
    n = len(values)
    mean = math.fsum(values) / n
    if n < 2:
        return {"n": n, "mean": mean, "std": None, "ci95_low": None, "ci95_high": None}
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    half = _t975(n - 1) * std / math.sqrt(n)
    return {"n": n, "mean": mean, "std": std, "ci95_low": mean - half, "ci95_high": mean + half}


def _load(record_paths: Iterable[str | Path]) -> dict[str, list[dict[str, Any]]]:
    by_experiment: dict[str, list[dict[str, Any]]] = {}
    for path in record_paths:
        rec = records.read(path)
        out = rec["outputs"]["metrics"]
        found = hash_output(out["path"])["sha256"]
        if found != out["sha256"]:
            raise RecordError(
                f"{out['path']}: checksum {found} is not the {out['sha256']} its record {path} holds; "
                "rerun the workflow"
            )
        metrics = json.loads(Path(out["path"]).read_text(encoding="utf-8"))
        by_experiment.setdefault(rec["experiment"], []).append(
            {"id": rec["id"], "seed": rec["seed"], "sha256": out["sha256"], "path": out["path"], "metrics": metrics}
        )
    return {k: sorted(v, key=lambda r: r["seed"]) for k, v in sorted(by_experiment.items())}


def _rows(runs: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    rows = []
    for experiment, seeds in runs.items():
        for metric in METRICS:
            row = {"experiment": experiment, "metric": metric}
            row.update(aggregate([float(s["metrics"][metric]) for s in seeds]))
            row["seeds"] = " ".join(str(s["seed"]) for s in seeds)
            row["sources"] = " ".join(f"{s['id']}@{s['sha256']}" for s in seeds)
            rows.append(row)
    return rows


def _csv(rows: list[dict[str, Any]]) -> str:
    fields = ["experiment", "metric", "n", "mean", "std", "ci95_low", "ci95_high", "seeds", "sources"]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        # repr: the exact double, so every number can be recomputed and compared bit for bit
        writer.writerow(
            {k: ("" if row[k] is None else repr(row[k]) if isinstance(row[k], float) else row[k]) for k in fields}
        )
    return buf.getvalue()


def _cell(row: dict[str, Any], digits: int = 4, pm: str = "±") -> str:
    if row["std"] is None:
        return f"{row['mean']:.{digits}f}"
    return f"{row['mean']:.{digits}f} {pm} {row['std']:.{digits}f}"


def _by_experiment(rows):
    table: dict[str, dict[str, dict[str, Any]]] = {}
    for row in rows:
        table.setdefault(row["experiment"], {})[row["metric"]] = row
    return table


def _markdown(rows: list[dict[str, Any]]) -> str:
    table = _by_experiment(rows)
    lines = [
        "| Experiment | n | " + " | ".join(METRICS.values()) + " |",
        "|---|---|" + "---|" * len(METRICS),
    ]
    for exp, metrics in table.items():
        n = next(iter(metrics.values()))["n"]
        lines.append(f"| {exp} | {n} | " + " | ".join(_cell(metrics[m]) for m in METRICS) + " |")
    lines += ["", "Mean ± sample standard deviation over seeds; 95% confidence intervals of the means:", ""]
    for exp, metrics in table.items():
        cis = []
        for m, name in METRICS.items():
            r = metrics[m]
            cis.append(f"{name} [{r['ci95_low']:.4f}, {r['ci95_high']:.4f}]" if r["std"] is not None else f"{name} —")
        lines.append(f"- {exp}: " + "; ".join(cis))
    lines += ["", "Sources (evaluate records and metrics checksums):", ""]
    for exp, metrics in table.items():
        lines.append(f"- {exp}: " + ", ".join(f"`{s}`" for s in next(iter(metrics.values()))["sources"].split()))
    return "\n".join(lines) + "\n"


def _tex_escape(text: str) -> str:
    return "".join("\\" + c if c in "&%$#_{}" else c for c in text)


def _latex(rows: list[dict[str, Any]]) -> str:
    table = _by_experiment(rows)
    lines = [
        "% Generated by samebits (summarize); needs \\usepackage{booktabs}.",
        "\\begin{tabular}{l" + "r" * (len(METRICS) + 1) + "}",
        "\\toprule",
        "Experiment & $n$ & " + " & ".join(METRICS.values()) + " \\\\",
        "\\midrule",
    ]
    for exp, metrics in table.items():
        n = next(iter(metrics.values()))["n"]
        cells = [f"${_cell(metrics[m], pm=chr(92) + 'pm')}$" for m in METRICS]
        lines.append(f"{_tex_escape(exp)} & {n} & " + " & ".join(cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"


def summarize(
    record_paths: Iterable[str | Path],
    out_csv: str | Path,
    out_md: str | Path,
    out_tex: str | Path,
    out_record: str | Path,
    *,
    script: str | Path | None,
) -> dict[str, Any]:
    """Write the summary table (CSV, Markdown, LaTeX) from the evaluate records, and a record."""
    t0 = time.perf_counter()
    runs = _load(record_paths)
    rows = _rows(runs)
    fileio.write_text(out_csv, _csv(rows))
    fileio.write_text(out_md, _markdown(rows))
    fileio.write_text(out_tex, _latex(rows))
    rec = records.make(
        step="summarize",
        experiment="all",
        seed=None,
        outputs={"csv": out_csv, "markdown": out_md, "latex": out_tex},
        # the metrics files, not the records: records carry run times, content does not
        input_files={run["id"]: run["path"] for seeds in runs.values() for run in seeds},
        params={"metrics": list(METRICS)},
        determinism={},
        script=script,
        seconds=time.perf_counter() - t0,
    )
    fileio.write_json(out_record, rec)
    return rec
