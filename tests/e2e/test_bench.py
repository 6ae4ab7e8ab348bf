"""The benchmark runs end to end on its tiny setting and writes its table (no time asserted:
the numbers of a tiny run on a shared CI machine mean nothing; bench/RESULTS.md holds the
real ones)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


def test_quick_benchmark_measures_every_figure_and_writes_the_table(tmp_path):
    out = tmp_path / "RESULTS.md"
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run.py"), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    text = out.read_text()
    assert "## Machine" in text and "- CPU: " in text and "tensorflow 2.21.0" in text
    rows = re.findall(r"^\| (\d) \| (.+?) \| (.+?) \| (.+?) \| (yes|\*\*no\*\*|—) \|$", text, re.M)
    assert [int(r[0]) for r in rows] == [1, 2, 3, 4, 5, 6, 7]
    for number, _, measured, target, _ in rows:
        assert re.search(r"\d+\.\d+×", measured), (number, measured)  # a measured ratio, not a placeholder
        assert target
    # the side-by-side timings behind each ratio are in the details
    noop = r"samebits no-op: [\d.]+ s .*bare Snakemake no-op, script jobs: [\d.]+ s .*shell jobs: [\d.]+ s"
    assert re.search(noop, text)
    assert re.search(r"steps that loaded TensorFlow: evaluate, init, train; steps that did not: .*split", text)
    assert "TensorFlow imported by the no-op: no" in text
    assert "locks of all 2 runs byte-identical: yes" in text
    busy = re.search(r"both cores ran chain jobs (\d+)% of the ([\d.]+) s", text)
    assert busy and 0 < int(busy.group(1)) <= 100 and float(busy.group(2)) > 0
    assert re.search(r"growth: 12 records: \d+ KiB, verify \d+ ms; 24 records", text)
    assert "[bench " in proc.stderr  # progress on stderr
