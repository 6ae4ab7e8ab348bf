"""The benchmark runs end to end on its tiny setting and writes its table (no time asserted:
the numbers of a tiny run on a shared CI machine mean nothing; bench/RESULTS.md holds the
real ones), and its bare-Snakemake baseline has samebits' job graph and files."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from bench import bare

from samebits.core import layout
from samebits.plan import Plan

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


def test_bare_workflow_writes_the_files_of_samebits_rules_at_the_same_paths():
    config = {
        "seeds": [0, 1],
        "datasets": {"digits": {"source": "digits"}, "wine": {"source": "wine"}},
        "experiments": {
            "mlp": {"dataset": "digits", "model": {"type": "mlp"}, "train": {"epochs": 1}},
            "other": {"dataset": "wine", "model": {"type": "mlp"}, "train": {"epochs": 1}},
        },
    }
    plan = Plan.check(config)
    shape = bare.shape_of(config)
    written = [f for job in shape.outputs() for f in job]
    assert len(written) == len(set(written))
    # every record verify reads, and verify's own verdict and reports, as samebits names them
    assert set(plan.all_records()) <= set(written)
    assert set(layout.verify.outputs.values()) <= set(written)
    assert shape.describe().endswith(": 20 jobs")  # 2 x 2 splits, 2 x 2 x 3 chain steps, 2 figures, summary, verify
    text = bare.snakefile(shape, "shell")
    for files in layout.FILES.values():
        for pattern in (*files.outputs.values(), files.log, files.benchmark):
            if pattern is not None:
                assert repr(pattern) in text, pattern
    assert f"input:\n        {layout.verify.verdict!r}," in text  # the target of rule all


def test_quick_benchmark_measures_every_figure_and_writes_the_table(tmp_path):
    out = tmp_path / "RESULTS.md"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    text = out.read_text()
    assert "## Machine" in text and "- CPU: " in text and "tensorflow 2.21.0" in text
    rows = re.findall(r"^\| (\d+) \| (.+?) \| (.+?) \| (.+?) \| (yes|\*\*no\*\*|—) \|$", text, re.M)
    assert [int(r[0]) for r in rows] == [1, 2, 3, 4, 5, 6, 7, 11]
    for number, _, measured, target, _ in rows:
        assert re.search(r"\d+\.\d+×", measured), (number, measured)  # a measured ratio, not a placeholder
        assert target
    # the side-by-side timings behind each ratio are in the details
    noop = r"samebits no-op: [\d.]+ s .*bare Snakemake no-op, script jobs: [\d.]+ s .*shell jobs: [\d.]+ s"
    assert re.search(noop, text)
    assert "job graph: 1 data set(s) × 2 seed(s) splits, 1 experiment(s) × 2 seed(s) × 3 steps" in text
    assert re.search(r"steps that loaded TensorFlow: evaluate, init, train; steps that did not: .*split", text)
    assert "TensorFlow imported by the no-op: no" in text
    assert "pipeline (`snakemake --cores 1`: split, init, train, evaluate, figures, summarize, verify)" in text
    assert "every other setting of both sides from the plan: profile portable, 1 thread(s)" in text
    assert "locks of all 2 runs byte-identical: yes" in text
    busy = re.search(r"both cores ran chain jobs (\d+)% of the ([\d.]+) s", text)
    assert busy and 0 < int(busy.group(1)) <= 100 and float(busy.group(2)) > 0
    assert re.search(r"growth: 12 records: \d+ KiB, verify \d+ ms; 24 records", text)
    # the CLI verifies every record of the synthesised 6-seed sweep's plan: 6 x 4 chain steps, figures, summary
    assert "`samebits verify --check` over 26 step records" in text
    assert "each profile gave the same weights in every run: portable yes, native yes" in text
    assert "[bench " in proc.stderr  # progress on stderr
