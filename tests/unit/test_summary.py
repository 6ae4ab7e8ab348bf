import csv
import json
import statistics

import pytest

from samebits.core import fileio
from samebits.core.errors import RecordError
from samebits.paper.summary import aggregate, summarize
from samebits.provenance import records

T975_DOF2 = 4.302652729749464  # Student's t, 97.5% quantile, 2 degrees of freedom (tables)


def test_aggregate_matches_an_independent_calculation():
    values = [0.9722222222222222, 0.975, 0.9472222222222222]
    agg = aggregate(values)
    assert agg["n"] == 3
    assert agg["mean"] == pytest.approx(statistics.fmean(values), rel=1e-15)
    assert agg["std"] == pytest.approx(statistics.stdev(values), rel=1e-13)
    half = T975_DOF2 * statistics.stdev(values) / 3**0.5
    assert agg["ci95_low"] == pytest.approx(statistics.fmean(values) - half, rel=1e-12)
    assert aggregate([0.5]) == {"n": 1, "mean": 0.5, "std": None, "ci95_low": None, "ci95_high": None}


@pytest.fixture
def evaluated(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    paths = []
    for exp, accs in {"mlp": [0.9, 0.8, 0.85], "cnn_b": [0.7, 0.75, 0.72]}.items():
        for seed, acc in enumerate(accs):
            m = f"{exp}{seed}.metrics.json"
            fileio.write_json(m, {"accuracy": acc, "loss": 1 - acc, "macro_f1": acc - 0.01, "n": 10})
            rec = records.make(
                step="evaluate", experiment=exp, seed=seed, outputs={"metrics": m}, params={}, determinism={}
            )
            fileio.write_json(f"{exp}{seed}.record.json", rec)
            paths.append(f"{exp}{seed}.record.json")
    return paths


def test_summary_files_hold_the_numbers_and_their_sources(evaluated, tmp_path):
    rec = summarize(evaluated, "s.csv", "s.md", "s.tex", "s.record.json", script=None)
    rows = list(csv.DictReader(open("s.csv")))
    row = next(r for r in rows if r["experiment"] == "mlp" and r["metric"] == "accuracy")
    assert float(row["mean"]) == pytest.approx(statistics.fmean([0.9, 0.8, 0.85]), rel=1e-15)
    assert float(row["std"]) == pytest.approx(statistics.stdev([0.9, 0.8, 0.85]), rel=1e-13)
    assert row["n"] == "3" and row["seeds"] == "0 1 2"
    assert row["sources"].split()[0].startswith("evaluate/mlp/seed=0@sha256:")
    md = open("s.md").read()
    assert "| mlp | 3 | 0.8500 ± 0.0500 |" in md
    tex = open("s.tex").read()
    assert "\\toprule" in tex and "cnn\\_b & 3 & $0.7233 \\pm 0.0252$" in tex
    assert set(rec["outputs"]) == {"csv", "markdown", "latex"}
    assert set(rec["inputs"]) == {f"evaluate/{e}/seed={s}" for e in ("mlp", "cnn_b") for s in range(3)}


def test_summary_refuses_metrics_that_do_not_match_their_record(evaluated):
    doc = json.loads(open("mlp1.metrics.json").read())
    doc["accuracy"] = 1.0
    open("mlp1.metrics.json", "w").write(json.dumps(doc))
    with pytest.raises(RecordError, match="mlp1.metrics.json: checksum"):
        summarize(evaluated, "s.csv", "s.md", "s.tex", "s.record.json", script=None)
