"""The full default configuration, once: what a reader's first command does."""

from __future__ import annotations

import csv
import json
import statistics

import pytest

from tests.helpers import REPO, explain, make_workdir, run_snakemake, statuses

pytestmark = pytest.mark.e2e


def test_default_config_trains_every_chain_and_matches_the_committed_lock_layout(tmp_path):
    workdir = make_workdir(tmp_path / "default")  # no lock: this test must not depend on the CPU
    proc = run_snakemake(workdir)
    assert proc.returncode == 0, explain(proc)
    st = statuses(workdir)
    assert len(st) == 24 and set(st.values()) == {"new"}
    assert "24 steps: 24 new" in proc.stdout
    for exp in ("mlp", "cnn"):
        for seed in (0, 1, 2):
            metrics = json.loads((workdir / f"results/experiments/{exp}/seed{seed}/metrics.json").read_text())
            assert metrics["accuracy"] > 0.9, (exp, seed, metrics["accuracy"])  # it really learned
            assert sum(map(sum, metrics["confusion_matrix"])) == metrics["n"] == 360
    _summary_matches_an_independent_calculation(workdir)
    for exp in ("mlp", "cnn"):
        for name in ("learning_curves.png", "learning_curves.svg", "test.png", "test.svg"):
            assert (workdir / f"results/figures/{exp}/{name}").stat().st_size > 1000
    ours = json.loads((workdir / "samebits.lock").read_text())
    committed = json.loads((REPO / "samebits.lock").read_text())
    assert set(ours["steps"]) == set(committed["steps"])
    for step_id, entry in ours["steps"].items():
        assert entry["params"] == committed["steps"][step_id]["params"], step_id
        assert set(entry["outputs"]) == set(committed["steps"][step_id]["outputs"]), step_id


def _summary_matches_an_independent_calculation(workdir):
    rows = {(r["experiment"], r["metric"]): r for r in csv.DictReader(open(workdir / "results/summary.csv"))}
    md = (workdir / "results/summary.md").read_text()
    tex = (workdir / "results/summary.tex").read_text()
    for exp in ("mlp", "cnn"):
        cells = []
        for metric in ("accuracy", "loss", "macro_f1"):
            values = [
                json.loads((workdir / f"results/experiments/{exp}/seed{s}/metrics.json").read_text())[metric]
                for s in (0, 1, 2)
            ]
            row = rows[(exp, metric)]
            assert row["n"] == "3"
            assert float(row["mean"]) == pytest.approx(statistics.fmean(values), rel=1e-14, abs=1e-15)
            assert float(row["std"]) == pytest.approx(statistics.stdev(values), rel=1e-12, abs=1e-15)
            half = 4.302652729749464 * statistics.stdev(values) / 3**0.5  # t(0.975, 2) from tables
            assert float(row["ci95_high"]) == pytest.approx(statistics.fmean(values) + half, rel=1e-12, abs=1e-15)
            cells.append(f"{statistics.fmean(values):.4f} ± {statistics.stdev(values):.4f}")
        assert f"| {exp} | 3 | " + " | ".join(cells) + " |" in md
        assert cells[0].replace(" ± ", " \\pm ") in tex
