"""The paper table: the headline metrics of every experiment, over its seeds. No TensorFlow.

For each experiment and headline metric of its task (``HEADLINE_METRICS``): n, mean, sample
standard deviation (ddof = 1) and the 95% confidence interval of the mean (Student's t with
n − 1 degrees of freedom). A metric a seed could not compute (``null``, e.g. the ROC-AUC of a
test set with one class) is aggregated over the seeds that have it. Each row names the
evaluate records (and the checksums of the metrics files) it came from, and the metrics
files are checked against those checksums before they are used.

When every experiment has one task, the Markdown and LaTeX files hold one table; with
several tasks, one table per task (in the order of ``HEADLINE_METRICS``).
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
from ..core.layout import HEADLINE_METRICS, task_of
from ..provenance import records
from ..provenance.identity import identify

__all__ = ["TITLES", "summarize", "aggregate"]

#: The column title of every headline metric: Markdown, LaTeX.
TITLES = {
    "accuracy": ("Accuracy", "Accuracy"),
    "loss": ("Loss", "Loss"),
    "macro_f1": ("Macro-F1", "Macro-F1"),
    "f1": ("F1", "F1"),
    "roc_auc": ("ROC-AUC", "ROC-AUC"),
    "mse": ("MSE", "MSE"),
    "mae": ("MAE", "MAE"),
    "r2": ("R²", "$R^2$"),
}
#: The heading of each task's table when the summary has more than one.
TASK_TITLES = {"multiclass": "Multiclass classification", "binary": "Binary classification", "regression": "Regression"}


def _t975(dof: int) -> float:
    from scipy.stats import t

    return float(t.ppf(0.975, dof))


def aggregate(values: list[float]) -> dict[str, Any]:
    """n, mean, sample std and 95% CI of the mean; std and CI are ``None`` for n < 2, and
    the mean too for n = 0."""
    n = len(values)
    if n == 0:
        return {"n": 0, "mean": None, "std": None, "ci95_low": None, "ci95_high": None}
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


def _tasks(runs: dict[str, list[dict[str, Any]]]) -> dict[str, str]:
    """The task of every experiment, in the order of the tables: by task, then by name."""
    tasks = {}
    for experiment, seeds in runs.items():
        found = {s["path"]: task_of(s["metrics"]) for s in seeds}
        if len(set(found.values())) > 1:
            raise RecordError(
                f"the seeds of experiment {experiment} evaluated different tasks: "
                + ", ".join(f"{path}: {task}" for path, task in found.items())
            )
        task = next(iter(found.values()))
        if task not in HEADLINE_METRICS:
            raise RecordError(
                f"{next(iter(found))}: task {task!r} is not one of {', '.join(HEADLINE_METRICS)}; rerun evaluate"
            )
        tasks[experiment] = task
    order = list(HEADLINE_METRICS)
    return dict(sorted(tasks.items(), key=lambda item: order.index(item[1])))


def _values(seeds: list[dict[str, Any]], metric: str) -> list[float | None]:
    for s in seeds:
        if metric not in s["metrics"]:
            raise RecordError(f"{s['path']}: no {metric!r}, a headline metric of its task; rerun evaluate")
    return [s["metrics"][metric] for s in seeds]


def _rows(runs: dict[str, list[dict[str, Any]]], tasks: dict[str, str]) -> list[dict[str, Any]]:
    rows = []
    for experiment, task in tasks.items():
        seeds = runs[experiment]
        for metric in HEADLINE_METRICS[task]:
            row: dict[str, Any] = {"experiment": experiment, "task": task, "metric": metric}
            row.update(aggregate([float(v) for v in _values(seeds, metric) if v is not None]))
            row["seeds"] = " ".join(str(s["seed"]) for s in seeds)
            row["of"] = len(seeds)
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


def _md_cell(row: dict[str, Any]) -> str:
    if row["mean"] is None:
        return "—"
    # a metric some seeds could not compute says over how many seeds it is
    return _cell(row) if row["n"] == row["of"] else f"{_cell(row)} (n = {row['n']})"


def _tex_cell(row: dict[str, Any]) -> str:
    if row["mean"] is None:
        return "--"
    cell = f"${_cell(row, pm=chr(92) + 'pm')}$"
    return cell if row["n"] == row["of"] else f"{cell} ($n = {row['n']}$)"


def _by_task(rows: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, dict[str, Any]]]]:
    """The rows as ``{task: {experiment: {metric: row}}}``, in the order of the rows."""
    table: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
    for row in rows:
        table.setdefault(row["task"], {}).setdefault(row["experiment"], {})[row["metric"]] = row
    return table


def _markdown(rows: list[dict[str, Any]]) -> str:
    tables = _by_task(rows)
    lines: list[str] = []
    for task, table in tables.items():
        metrics_of = HEADLINE_METRICS[task]
        if len(tables) > 1:
            lines += [*([""] if lines else []), f"### {TASK_TITLES[task]}", ""]
        lines += [
            "| Experiment | n | " + " | ".join(TITLES[m][0] for m in metrics_of) + " |",
            "|---|---|" + "---|" * len(metrics_of),
        ]
        for exp, metrics in table.items():
            n = next(iter(metrics.values()))["of"]
            lines.append(f"| {exp} | {n} | " + " | ".join(_md_cell(metrics[m]) for m in metrics_of) + " |")
    lines += ["", "Mean ± sample standard deviation over seeds; 95% confidence intervals of the means:", ""]
    for task, table in tables.items():
        for exp, metrics in table.items():
            cis = []
            for m in HEADLINE_METRICS[task]:
                r, name = metrics[m], TITLES[m][0]
                cis.append(
                    f"{name} [{r['ci95_low']:.4f}, {r['ci95_high']:.4f}]" if r["std"] is not None else f"{name} —"
                )
            lines.append(f"- {exp}: " + "; ".join(cis))
    lines += ["", "Sources (evaluate records and metrics checksums):", ""]
    for table in tables.values():
        for exp, metrics in table.items():
            lines.append(f"- {exp}: " + ", ".join(f"`{s}`" for s in next(iter(metrics.values()))["sources"].split()))
    return "\n".join(lines) + "\n"


def _tex_escape(text: str) -> str:
    return "".join("\\" + c if c in "&%$#_{}" else c for c in text)


def _latex(rows: list[dict[str, Any]]) -> str:
    tables = _by_task(rows)
    lines = ["% Generated by samebits (summarize); needs \\usepackage{booktabs}."]
    for task, table in tables.items():
        metrics_of = HEADLINE_METRICS[task]
        if len(tables) > 1:
            lines += [*([""] if len(lines) > 1 else []), f"% {TASK_TITLES[task]}"]
        lines += [
            "\\begin{tabular}{l" + "r" * (len(metrics_of) + 1) + "}",
            "\\toprule",
            "Experiment & $n$ & " + " & ".join(TITLES[m][1] for m in metrics_of) + " \\\\",
            "\\midrule",
        ]
        for exp, metrics in table.items():
            n = next(iter(metrics.values()))["of"]
            cells = [_tex_cell(metrics[m]) for m in metrics_of]
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
    tasks = _tasks(runs)
    rows = _rows(runs, tasks)
    fileio.write_text(out_csv, _csv(rows))
    fileio.write_text(out_md, _markdown(rows))
    fileio.write_text(out_tex, _latex(rows))
    identity = identify(
        step="summarize",
        experiment="all",
        seed=None,
        # the metrics files, not the records: records carry run times, content does not
        input_files={run["id"]: run["path"] for seeds in runs.values() for run in seeds},
        params={"metrics": list(dict.fromkeys(row["metric"] for row in rows))},
        determinism={},
        script=script,
    )
    outputs = {"csv": out_csv, "markdown": out_md, "latex": out_tex}
    rec = records.make(identity, outputs=outputs, seconds=time.perf_counter() - t0)
    fileio.write_json(out_record, rec)
    return rec
