"""The reproducible pipeline end to end: real snakemake, real TensorFlow, tiny config."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from samebits.core import layout
from tests.helpers import (
    CONFIGS,
    causes,
    explain,
    job_counts,
    jobs_run,
    make_workdir,
    run_snakemake,
    statuses,
    verification,
)

pytestmark = pytest.mark.e2e

TINY_STEPS = {
    "split/digits/seed=0",
    *(f"{step}/{exp}/seed=0" for exp in ("mlp", "cnn") for step in ("init", "train", "evaluate")),
    "figures/mlp",
    "figures/cnn",
    "summarize/all",
}
PAPER_FILES = [
    "results/summary.csv",
    "results/summary.md",
    "results/summary.tex",
    *(
        f"results/figures/{e}/{f}"
        for e in ("mlp", "cnn")
        for f in ("learning_curves.png", "learning_curves.svg", "test.png", "test.svg")
    ),
]


def test_fresh_run_reports_every_step_new_and_writes_the_lock(tiny_run):
    assert set(statuses(tiny_run)) == TINY_STEPS
    assert set(statuses(tiny_run).values()) == {"new"}
    lock = json.loads((tiny_run / "samebits.lock").read_text())
    assert lock["schema"] == 2
    assert set(lock["steps"]) == TINY_STEPS
    assert (tiny_run / layout.verify.verdict).read_text().startswith("passed\nsamebits verify: 10 steps: 10 new\n")
    assert "10 steps: 10 new" in (tiny_run / layout.verify.markdown).read_text()
    # the .keras container exists for users but is never part of what is compared
    assert (tiny_run / "results/experiments/mlp/seed0/model.keras").is_file()
    assert "model.keras" not in (tiny_run / "samebits.lock").read_text()


def test_records_carry_what_the_design_asks(tiny_run):
    rec = json.loads((tiny_run / "results/experiments/mlp/seed0/train.record.json").read_text())
    assert rec["id"] == "train/mlp/seed=0"
    assert set(rec["outputs"]) == {"weights", "history"}
    weights = rec["outputs"]["weights"]
    assert weights["kind"] == "arrays" and weights["sha256"].startswith("sha256:")
    assert set(weights["arrays"]["dense_1/kernel"]) >= {"shape", "dtype", "sum", "l2", "min", "max"}
    assert set(rec["inputs"]) == {"split", "init", "model", "dataset"}
    assert rec["params"]["epochs"] == 2
    assert set(rec["code"]) == {"samebits", "script"}
    det = rec["determinism"]
    assert det["intra_op_threads"] == 1 and det["inter_op_threads"] == 1
    assert det["op_determinism"] is True and det["jit_compile"] is False
    assert det["python_hash_seed"] == "0" and det["onednn_max_cpu_isa"] == "AVX2"
    assert set(det["sub_seeds"]) == {"shuffle"}
    env = rec["environment"]
    assert env["packages"]["tensorflow"] and env["packages"]["keras"] and env["cpu"]["flags"]
    assert env["tensorflow"]["version"]
    assert len(rec["trace"]["epoch_weights"]) == 2
    split = json.loads((tiny_run / "results/splits/digits/seed0/split.record.json").read_text())
    assert split["inputs"]["dataset"]["sha256"].startswith("sha256:")
    assert "tensorflow" not in split["environment"]


def test_rerun_has_nothing_to_do_and_imports_no_tensorflow(tiny_copy):
    proc = run_snakemake(tiny_copy, python_flags=("-X", "importtime"))
    assert proc.returncode == 0, explain(proc)
    assert "Nothing to be done" in proc.stdout + proc.stderr
    imported = re.findall(r"import time:\s+\d+ \|\s+\d+ \|\s*(\S+)", proc.stderr)
    assert "snakemake" in imported  # the import log is really there
    assert not [m for m in imported if m.split(".")[0] in ("tensorflow", "keras")]
    # The copy moved every file's ctime, so that start checked the records in full; it left
    # the index (.snakemake/samebits) that spares the next start from parsing any record.
    again = run_snakemake(tiny_copy, python_flags=("-X", "importtime"))
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr, explain(again)
    imported = re.findall(r"import time:\s+\d+ \|\s+\d+ \|\s*(\S+)", again.stderr)
    assert "samebits.provenance.ondisk" in imported and "samebits.provenance.records" not in imported
    assert "samebits.config.checks" not in imported  # the checked configuration came from the cache


def test_verify_leaves_an_index_of_every_record(tiny_run):
    index = json.loads((tiny_run / layout.RECORD_INDEX).read_text())
    written = sorted(str(p.relative_to(tiny_run)) for p in (tiny_run / "results").rglob("*.record.json"))
    assert sorted(index["records"]) == written and len(written) == 10


def test_forceall_is_identical_and_keeps_the_lock_byte_for_byte(tiny_copy):
    before = (tiny_copy / "samebits.lock").read_bytes()
    paper = {p: (tiny_copy / p).read_bytes() for p in PAPER_FILES}
    proc = run_snakemake(tiny_copy, "--forceall")
    assert proc.returncode == 0, explain(proc)
    assert set(statuses(tiny_copy).values()) == {"identical"}
    assert "10/10 steps identical" in proc.stdout
    assert (tiny_copy / "samebits.lock").read_bytes() == before
    # the summary tables and the figures are rewritten, byte for byte the same
    assert {p: (tiny_copy / p).read_bytes() for p in PAPER_FILES} == paper
    assert any("rule figures" in line for line in proc.stdout.splitlines() + proc.stderr.splitlines())


def test_changing_epochs_reruns_only_that_experiment_and_reports_changed(tiny_copy):
    cfg_path = tiny_copy / "config" / "config.yaml"
    cfg = yaml.safe_load(cfg_path.read_text())
    cfg["experiments"]["mlp"]["train"]["epochs"] = 3
    cfg_path.write_text(yaml.safe_dump(cfg))
    untouched = [
        "results/experiments/mlp/seed0/init.npz",
        "results/experiments/cnn/seed0/weights.npz",
        "results/experiments/cnn/seed0/metrics.json",
        "results/splits/digits/seed0/split.npz",
    ]
    mtimes = {p: (tiny_copy / p).stat().st_mtime_ns for p in untouched}
    lock_before = json.loads((tiny_copy / "samebits.lock").read_text())

    proc = run_snakemake(tiny_copy)
    assert proc.returncode == 0, explain(proc)
    assert {job for job in jobs_run(proc) if job[0] != "figures"} == {
        ("train", "experiment=mlp, seed=0"),
        ("evaluate", "experiment=mlp, seed=0"),
    }
    assert ("figures", "experiment=cnn") not in jobs_run(proc)
    assert {p: (tiny_copy / p).stat().st_mtime_ns for p in untouched} == mtimes

    st = statuses(tiny_copy)
    downstream = {"train/mlp/seed=0", "evaluate/mlp/seed=0", "figures/mlp", "summarize/all"}
    assert {k for k, v in st.items() if v == "changed"} == downstream
    assert {v for k, v in st.items() if k not in downstream} == {"identical"}
    train = next(s for s in verification(tiny_copy)["steps"] if s["id"] == "train/mlp/seed=0")
    assert "params.epochs 2 → 3" in causes(train)
    assert "params.epochs 2 → 3" in proc.stdout
    lock_after = json.loads((tiny_copy / "samebits.lock").read_text())
    assert lock_after["steps"]["train/mlp/seed=0"]["params"]["epochs"] == 3
    assert lock_after["steps"]["train/cnn/seed=0"] == lock_before["steps"]["train/cnn/seed=0"]


def test_a_lock_entry_edited_by_hand_is_reported_edited_once_and_the_lock_is_kept(tiny_copy):
    lock_path = tiny_copy / "samebits.lock"
    lock = json.loads(lock_path.read_text())
    lock["steps"]["train/mlp/seed=0"]["outputs"]["weights"]["sha256"] = "sha256:" + "0" * 64
    lock_path.write_text(json.dumps(lock, indent=1, sort_keys=True) + "\n")
    altered = lock_path.read_bytes()
    (tiny_copy / layout.verify.verdict).unlink()  # verify runs again (the lock is not an input)

    proc = run_snakemake(tiny_copy)
    assert proc.returncode == 1, explain(proc)
    assert job_counts(proc) == {"verify": 1, "all": 1}, explain(proc)
    assert re.search(r"EDITED\s+train/mlp/seed=0", proc.stdout), explain(proc)
    assert "the lock entry was edited by hand: its seal" in proc.stdout
    # one clean verdict, then one line that says the run failed, and no job error
    assert proc.stdout.count("samebits verify: 10 steps: 1 edited, 9 identical") == 1, explain(proc)
    assert "samebits verify:" not in proc.stderr
    assert "samebits: verification failed; samebits.lock was kept as it was" in proc.stderr
    for noise in ("RuleException", "CalledProcessError", "Error in rule"):
        assert noise not in proc.stdout + proc.stderr, explain(proc)
    assert lock_path.read_bytes() == altered
    st = statuses(tiny_copy)
    assert st["train/mlp/seed=0"] == "edited"
    assert {v for k, v in st.items() if k != "train/mlp/seed=0"} == {"identical"}
    assert (tiny_copy / layout.verify.verdict).read_text().startswith("failed\n")

    again = run_snakemake(tiny_copy, "--dry-run")  # a failed verification is repeated
    assert job_counts(again) == {"verify": 1, "all": 1}, explain(again)
    assert (tiny_copy / layout.verify.verdict).read_text().startswith("failed\n")  # the dry run left it


def test_a_second_clone_running_two_jobs_at_once_writes_the_lock_byte_for_byte(tiny_run, tmp_path):
    """Each job is single-threaded and writes only its own files, so another clone, elsewhere,
    running the two chains side by side (--cores 2; the last --cores wins) writes the lock
    of the sequential run, byte for byte."""
    other = make_workdir(tmp_path / "elsewhere" / "second-clone", CONFIGS / "tiny.yaml")
    proc = run_snakemake(other, "--cores", "2")
    assert proc.returncode == 0, explain(proc)
    assert (other / "samebits.lock").read_bytes() == (tiny_run / "samebits.lock").read_bytes()
    # the jobs really overlapped: Snakemake started two at once, which the shared run never did
    assert "Execute 2 jobs..." in proc.stdout + proc.stderr, explain(proc)
    sequential = "".join(p.read_text() for p in (tiny_run / ".snakemake" / "log").glob("*.snakemake.log"))
    assert "Execute 1 jobs..." in sequential and "Execute 2 jobs..." not in sequential


def test_the_report_holds_the_summary_the_figures_and_the_verification(tiny_copy):
    proc = run_snakemake(tiny_copy, "--report", "results/report.html")
    assert proc.returncode == 0, explain(proc)
    html = (tiny_copy / "results" / "report.html").read_text()
    for needle in ("summary.csv", "learning_curves.png", "test.png", "verification.html"):
        assert needle in html, needle
    assert "95% confidence interval" in html  # a caption from workflow/report/
    assert "status of every step" in html  # the verification page's label
