"""A configuration runs alone: ``--configfile X`` plans X's experiments only and writes into
X's ``output_dir``, leaving the default's results and lock byte for byte as they were; the
variations a researcher tries first run and reproduce on ``--forceall``; ``--config`` numbers
are read as numbers; the ``samebits`` command reads X as the workflow does."""

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from samebits.core import layout
from tests.helpers import CONFIGS, REPO, explain, job_counts, jobs_run, make_workdir, run_snakemake, samebits

VARIATIONS = "tests/configs/variations.yaml"
OUT = layout.Layout.under("results/variations")


def _files(root: Path) -> dict[str, str]:
    """Every file of the tree but Snakemake's own folder, by path, with its SHA-256."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".snakemake" not in p.relative_to(root).parts
    }


@pytest.fixture(scope="module")
def variations(tiny_run, tmp_path_factory):
    """A copy of the tiny run, its files before, and the variations run alone in it."""
    workdir = tmp_path_factory.mktemp("examples") / "run"
    shutil.copytree(tiny_run, workdir, symlinks=True)
    before = _files(workdir)
    shutil.copytree(REPO / "tests" / "models", workdir / "tests" / "models", ignore=shutil.ignore_patterns("__pyc*"))
    (workdir / "tests" / "configs").mkdir(parents=True)
    shutil.copy2(CONFIGS / "variations.yaml", workdir / VARIATIONS)
    # seeds=[0] is what the file says: given on the command line, Snakemake reads it as text
    proc = run_snakemake(workdir, "--configfile", VARIATIONS, "--config", "seeds=[0]")
    assert proc.returncode == 0, explain(proc)
    return workdir, before, proc


def test_an_example_plans_only_its_own_jobs(tiny_copy):
    proc = run_snakemake(tiny_copy, "-n", "--configfile", "config/examples/binary.yaml")
    assert proc.returncode == 0, explain(proc)
    counts = job_counts(proc)
    assert {rule: counts.get(rule) for rule in layout.CHAIN_STEPS} == dict.fromkeys(layout.CHAIN_STEPS, 3), counts
    assert {w.split(", ")[0] for _, w in jobs_run(proc) if "experiment=" in w} == {"experiment=recipe"}


def test_a_configuration_of_its_own_leaves_the_defaults_files_as_they_were(variations):
    workdir, before, _ = variations
    after = _files(workdir)
    assert {p: after.get(p) for p in before} == before  # the lock, results, logs: byte for byte
    new = set(after) - set(before)
    assert {p.split("/")[0] for p in new} <= {"results", "tests"}
    assert {p for p in new if p.startswith("results/")} <= {p for p in new if p.startswith(f"{OUT.root}/")}
    assert (workdir / OUT.lock).is_file() and (workdir / OUT.verify.verdict).read_text().startswith("passed")


def test_probability_metrics_on_two_softmax_units_and_an_own_loss_in_an_own_loop_are_recorded(variations):
    workdir, _, _ = variations
    history = json.loads((workdir / OUT.train.path("history", experiment="probabilities", seed=0)).read_text())
    assert {"accuracy", "auc", "precision"} <= set(history)
    record = json.loads((workdir / OUT.record("train", experiment="ownloss", seed=0)).read_text())
    assert record["code"]["loss"].startswith("sha256:") and record["code"]["trainer"].startswith("sha256:")


def test_the_variations_reproduce_and_the_command_reads_them_as_the_workflow(variations):
    workdir, _, _ = variations
    proc = run_snakemake(workdir, "--configfile", VARIATIONS, "--forceall")
    assert proc.returncode == 0, explain(proc)
    verdict = json.loads((workdir / OUT.verify.json).read_text())
    assert {s["status"] for s in verdict["steps"]} == {"identical"}, explain(proc)
    cli = samebits(workdir, "verify", "--check", "--json", "--config", VARIATIONS)
    assert cli.returncode == 0, cli.stderr
    assert sorted(s["id"] for s in json.loads(cli.stdout)["steps"]) == sorted(s["id"] for s in verdict["steps"])


def test_a_yaml_mistake_in_the_default_configuration_is_named_with_its_line(tmp_path):
    workdir = make_workdir(tmp_path / "w")
    (workdir / layout.CONFIG_FILE).write_text("seeds: [0\ndatasets: {}\n")
    proc = run_snakemake(workdir, "-n")
    said = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert f"{layout.CONFIG_FILE}: not valid YAML" in said and "line 1, column 8" in said, explain(proc)
