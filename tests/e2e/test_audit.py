"""samebits audit end to end: one chain run several times, for real, in scratch copies.

One audit (reference, harmless variations, four hazards) of the default MLP with 3 epochs
is shared by every test here; it takes about 75 s on 2 cores.

Measured on this machine (TensorFlow 2.21, AMD EPYC with AVX-512, 3 epochs): the harmless
run is identical at every step; lifting the ISA cap (``portable`` → ``native``) changes the
MLP's bits from train on, which it must on any CPU above AVX2 (on an AVX2 CPU the cap
changes nothing); oneDNN's custom ops off (``onednn-off``, still capped) leaves train
identical (the matrix products run in oneDNN either way) and changes evaluate's
predictions; ``threads: 2`` leaves this small MLP's bits as they are (so nothing is asserted
about it beyond "if it changes anything, it is train or later"); ``op_determinism: false``
runs (whether it changes bits depends on which kernels the model uses).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from samebits.diagnostics.audit import audit, format_report
from samebits.provenance import cpu

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
STEPS = ["split/digits/seed=0", "init/mlp/seed=0", "train/mlp/seed=0", "evaluate/mlp/seed=0"]
HAZARDS = ["threads", "op_determinism", "isa_cap", "onednn"]


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    """The audit of the repository's MLP (3 epochs), seed defaulted, with every hazard."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["experiments"]["mlp"]["train"]["epochs"] = 3
    path = tmp_path_factory.mktemp("audit") / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    said: list[str] = []
    result = audit(path, experiment="mlp", hazards=True, workflow_root=REPO, progress=said.append)
    return result, said


def _variation(result, name):
    return next(v for v in result["variations"] if v["name"] == name)


def _first_difference(variation):
    return next((s for s in STEPS if variation["steps"][s] == "different"), None)


def test_one_chain_is_audited_and_its_scratch_runs_are_removed(audited):
    result, said = audited
    assert (result["experiment"], result["seed"]) == ("mlp", 0)
    assert result["steps"] == STEPS
    assert "scratch" not in result
    scratch = next(re.search(r"scratch runs under (\S+)", line) for line in said if "scratch runs under" in line)
    assert not Path(scratch.group(1)).exists()


def test_the_harmless_run_is_identical_at_every_step(audited):
    result, _ = audited
    harmless = _variation(result, "harmless")
    assert harmless["kind"] == "harmless"
    assert harmless["ok"], harmless.get("tail")
    assert harmless["steps"] == dict.fromkeys(STEPS, "identical"), harmless["differs"]
    assert harmless["differs"] == []
    assert result["harmless_identical"] is True
    varied = " | ".join(harmless["varied"])
    for what in ("elsewhere/nested/deeper/run", "reversed order", "umask 077", "TZ=Pacific/Kiritimati", "busy-loop"):
        assert what in varied
    if len(os.sched_getaffinity(0)) > 1:
        assert "CPU affinity" in varied


def test_every_hazard_is_run_and_reported(audited):
    result, _ = audited
    hazards = [v for v in result["variations"] if v["kind"] == "hazard"]
    assert [v["name"] for v in hazards] == HAZARDS
    assert _variation(result, "threads")["varied"][0] == "threads 1 → 2"
    assert _variation(result, "op_determinism")["varied"] == ["op_determinism true → false"]
    assert _variation(result, "isa_cap")["varied"] == ["profile portable → native (ONEDNN_MAX_CPU_ISA AVX2 → ALL)"]
    assert _variation(result, "onednn")["varied"] == ["profile portable → onednn-off (TF_ENABLE_ONEDNN_OPTS 1 → 0)"]
    for v in hazards:
        assert set(v["steps"]) == set(STEPS)
        # split never imports TensorFlow, so no determinism setting can reach it
        assert v["steps"][STEPS[0]] == "identical", v["name"]
        first = _first_difference(v)
        assert first in (None, "train/mlp/seed=0", "evaluate/mlp/seed=0"), (v["name"], v["steps"])
    assert result["depends_on"] == [v["name"] for v in hazards if _first_difference(v)]


def test_lifting_the_isa_cap_changes_the_bits_from_train_on_above_avx2(audited):
    result, _ = audited
    v = _variation(result, "isa_cap")
    assert v["ok"], v.get("tail")
    above = cpu.cpu_info()["isa"] not in ("AVX2",)
    changed = "different" if above else "identical"
    assert v["steps"] == {
        "split/digits/seed=0": "identical",
        "init/mlp/seed=0": "identical",
        "train/mlp/seed=0": changed,
        "evaluate/mlp/seed=0": changed,
    }
    assert ("isa_cap" in result["depends_on"]) == above
    if above:
        assert any(d.startswith("train/mlp/seed=0: ") and "weights" in d for d in v["differs"])


def test_onednn_custom_ops_change_the_predictions_not_the_training(audited):
    result, _ = audited
    v = _variation(result, "onednn")
    assert v["ok"], v.get("tail")
    assert v["steps"]["train/mlp/seed=0"] == "identical"
    assert v["steps"]["evaluate/mlp/seed=0"] == "different"
    assert "onednn" in result["depends_on"]


def test_the_thread_hazard_really_runs(audited):
    result, _ = audited
    threads = _variation(result, "threads")
    assert threads["ok"], threads.get("tail")
    assert "missing" not in threads["steps"].values()


def test_the_op_determinism_hazard_runs(audited):
    result, _ = audited
    v = _variation(result, "op_determinism")
    assert v["ok"], v.get("cause")
    assert "missing" not in v["steps"].values()


def test_the_report_names_the_verdicts_and_every_hazard(audited):
    result, _ = audited
    report = format_report(result)
    lines = report.splitlines()
    header = next(line for line in lines if line.startswith("step "))
    assert header.split() == ["step", "harmless", *HAZARDS]
    cell = {"identical": "identical", "different": "DIFFERS", "missing": "missing"}
    for step in STEPS:
        row = next(line for line in lines if line.startswith(step + " "))
        assert row.split() == [step, *(cell[v["steps"][step]] for v in result["variations"])]
    assert "DIFFERS" in next(line for line in lines if line.startswith("train/mlp/seed=0 "))
    assert re.search(
        r"^harmless variations \(path, env order, umask, TZ/locale, .*a busy neighbour\): every step identical$",
        report,
        re.M,
    )
    assert f"the results depend on: {', '.join(result['depends_on'])}" in report
    for name in HAZARDS:
        assert re.search(rf"^  {name}: ", report, re.M), name
    failed = [v["name"] for v in result["variations"] if not v["ok"]]
    if failed:
        assert f"hazard runs that failed (their missing steps say nothing): {', '.join(failed)}" in report
    else:
        assert "failed" not in report


def test_a_custom_trainer_is_audited_like_fit(tmp_path):
    """The GradientTape loop of config/examples/trainer.yaml (2 epochs): its harmless rerun,
    elsewhere, in another order, under other umask, time zone and load, is identical."""
    config = yaml.safe_load((REPO / "config" / "examples" / "trainer.yaml").read_text())
    config["experiments"]["tape"]["train"]["epochs"] = 2
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    result = audit(path, workflow_root=REPO)
    harmless = _variation(result, "harmless")
    assert result["steps"] == ["split/digits/seed=0", "init/tape/seed=0", "train/tape/seed=0", "evaluate/tape/seed=0"]
    assert harmless["ok"], harmless.get("tail")
    assert harmless["steps"] == dict.fromkeys(result["steps"], "identical"), harmless["differs"]
