"""The full default configuration, once: what a reader's first command does."""

from __future__ import annotations

import json

import pytest

from conftest import REPO, explain, make_workdir, run_snakemake, statuses

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
    ours = json.loads((workdir / "samebits.lock").read_text())
    committed = json.loads((REPO / "samebits.lock").read_text())
    assert set(ours["steps"]) == set(committed["steps"])
    for step_id, entry in ours["steps"].items():
        assert entry["params"] == committed["steps"][step_id]["params"], step_id
        assert set(entry["outputs"]) == set(committed["steps"][step_id]["outputs"]), step_id
