"""The samebits command on a real run's results."""

from __future__ import annotations

import json
import re

import pytest

from tests.helpers import samebits

pytestmark = pytest.mark.e2e


def test_verify_check_reports_identical_without_writing(tiny_copy):
    lock = (tiny_copy / "samebits.lock").read_bytes()
    proc = samebits(tiny_copy, "verify", "--check")
    assert proc.returncode == 0, proc.stderr
    assert "10/10 steps identical" in proc.stdout
    proc = samebits(tiny_copy, "verify", "--check", "--json")
    assert json.loads(proc.stdout)["counts"]["identical"] == 10
    assert (tiny_copy / "samebits.lock").read_bytes() == lock


def test_verify_reports_a_corrupt_lock_and_leaves_it(tiny_copy):
    (tiny_copy / "samebits.lock").write_text("{oops")
    proc = samebits(tiny_copy, "verify")
    assert proc.returncode == 2
    assert "samebits.lock: not valid JSON" in proc.stderr and "samebits rebuild-lock --yes" in proc.stderr
    assert (tiny_copy / "samebits.lock").read_text() == "{oops"


def test_env_prints_the_fingerprint_and_the_configurations_exports(tiny_copy, tmp_path):
    proc = samebits(tmp_path, "env", "--json")
    fp = json.loads(proc.stdout)
    assert fp["packages"]["tensorflow"] and fp["cpu"]["flags"]
    shown = samebits(tmp_path, "env").stdout
    assert re.search(r"^scikit-learn +1\.", shown, re.M) and re.search(r"^tensorflow +2\.", shown, re.M), shown
    exports = samebits(tiny_copy, "env", "--exports").stdout
    assert "export PYTHONHASHSEED=0" in exports and "export ONEDNN_MAX_CPU_ISA=AVX2" in exports
    missing = samebits(tmp_path, "env", "--exports")
    assert missing.returncode == 2 and "config/config.yaml: no such configuration file" in missing.stderr


def test_verify_says_which_records_are_missing(tiny_copy):
    (tiny_copy / "results/experiments/cnn/seed0/train.record.json").unlink()
    proc = samebits(tiny_copy, "verify", "--check")
    assert proc.returncode == 2
    assert "1 of the run's 10 step records are missing (results/experiments/cnn/seed0/train.record.json)" in proc.stderr


def test_rebuild_lock_is_explicit_and_keeps_the_broken_file(tiny_copy, tiny_run):
    (tiny_copy / "samebits.lock").write_text("{oops")
    refused = samebits(tiny_copy, "rebuild-lock")
    assert refused.returncode == 2 and "add --yes" in refused.stderr
    assert (tiny_copy / "samebits.lock").read_text() == "{oops"
    proc = samebits(tiny_copy, "rebuild-lock", "--yes")
    assert proc.returncode == 0, proc.stderr
    assert "rebuilt from 10 step records" in proc.stdout
    assert (tiny_copy / "samebits.lock.bak").read_text() == "{oops"
    assert (tiny_copy / "samebits.lock").read_bytes() == (tiny_run / "samebits.lock").read_bytes()
