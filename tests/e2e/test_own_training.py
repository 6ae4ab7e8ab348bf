"""A researcher's own training, end to end: the recipe's binary Sequential model, a
regression, a schedule with validation and early stopping, and a GradientTape loop of their
own (the examples of config/examples/, made tiny) reproduce bit for bit; a changed schedule,
loss or trainer is named; an unseeded trainer is caught."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from tests.helpers import causes, copy_run, explain, make_workdir, run_snakemake, statuses, verification

pytestmark = pytest.mark.e2e

CONFIG = """
seeds: [0]
datasets:
  breast_cancer: {source: breast_cancer}
  diabetes: {source: diabetes}
  digits: {source: digits}
experiments:
  recipe:
    dataset: breast_cancer
    model: {type: custom, builder: "config/examples/models.py:recipe", options: {units: 16}}
    train: {epochs: 5, metrics: [accuracy, AUC]}
  diabetes_mlp:
    dataset: diabetes
    model: {type: mlp, hidden: [16]}
    train: {epochs: 30, batch_size: 16, learning_rate: 0.05, loss: {name: Huber, delta: 20.0}, metrics: [mae]}
  cosine_early_stop:
    dataset: digits
    model: {type: mlp, hidden: [16], dropout: 0.1}
    train:
      epochs: 8
      optimizer: {name: AdamW, weight_decay: 0.0001}
      learning_rate: 0.0001
      schedule: {name: CosineDecay, decay_steps: 200, warmup_target: 0.01, warmup_steps: 20}
      validation_fraction: 0.2
      # no epoch improves val_loss by 10: training stops after epoch 2, restoring epoch 1
      callbacks: [{name: EarlyStopping, monitor: val_loss, patience: 1, min_delta: 10, restore_best_weights: true}]
  tape:
    dataset: digits
    model: {type: mlp, hidden: [16]}
    train:
      epochs: 3
      optimizer: sgd
      learning_rate: 0.05
      validation_fraction: 0.1
      trainer: "config/examples/loops.py:gradient_tape"
"""


#: Two jobs at once (the last --cores wins): single-threaded jobs give the same lock with
#: --cores 2 as with --cores 1 (tests/e2e/test_pipeline.py), in about half the time.
TWO_JOBS = ("--cores", "2")


def _result(workdir, experiment, name):
    return json.loads((workdir / f"results/experiments/{experiment}/seed0/{name}.json").read_text())


@pytest.fixture(scope="module")
def own_run(tmp_path_factory):
    """One fresh run of the four experiments, then --forceall."""
    workdir = make_workdir(tmp_path_factory.mktemp("own") / "wd")
    (workdir / "config" / "config.yaml").write_text(CONFIG)
    first = run_snakemake(workdir, *TWO_JOBS)
    assert first.returncode == 0, explain(first)
    lock = (workdir / "samebits.lock").read_bytes()
    again = run_snakemake(workdir, "--forceall", *TWO_JOBS)
    return workdir, lock, again


def test_own_training_reproduces_bit_for_bit(own_run):
    workdir, lock, again = own_run
    assert again.returncode == 0, explain(again)
    assert set(statuses(workdir).values()) == {"identical"}, statuses(workdir)
    assert (workdir / "samebits.lock").read_bytes() == lock

    # the recipe's binary classifier, a keras.Sequential with one sigmoid unit
    weights = np.load(workdir / "results/experiments/recipe/seed0/weights.npz")
    assert sorted(weights.files) == ["hidden/bias", "hidden/kernel", "output/bias", "output/kernel"]
    assert weights["output/kernel"].shape == (16, 1)
    binary = _result(workdir, "recipe", "metrics")
    assert binary["task"] == "binary" and binary["accuracy"] > 0.85 and binary["roc_auc"] > 0.9
    assert len(binary["confusion_matrix"]) == 2
    assert set(_result(workdir, "recipe", "history")) >= {"loss", "accuracy", "AUC"}

    regression = _result(workdir, "diabetes_mlp", "metrics")
    assert regression["task"] == "regression" and regression["r2"] > 0, regression

    history = _result(workdir, "cosine_early_stop", "history")
    assert (history["stopped_epoch"], history["restored_epoch"]) == (2, 1)
    assert len(history["loss"]) == len(history["val_loss"]) == len(history["epoch_weights"]) == 2
    assert history["validation"]["n"] == 288  # a fifth of digits' 1437 training samples, stratified

    tape = _result(workdir, "tape", "train.record")
    assert tape["code"]["trainer"].startswith("sha256:")
    assert len(tape["trace"]["epoch_weights"]) == 3 and _result(workdir, "tape", "metrics")["accuracy"] > 0.5
    for name in ("test.png", "learning_curves.png"):
        assert (workdir / "results/figures/diabetes_mlp" / name).stat().st_size > 0


def test_a_changed_schedule_loss_or_trainer_is_named_and_an_unseeded_trainer_diverges(own_run, tmp_path):
    workdir = copy_run(own_run[0], tmp_path / "changed")
    config = workdir / "config" / "config.yaml"
    config.write_text(
        config.read_text().replace("warmup_target: 0.01", "warmup_target: 0.02").replace("delta: 20.0", "delta: 10.0")
    )
    loops = workdir / "config" / "examples" / "loops.py"
    text = loops.read_text()
    # the batch order drawn from an unseeded generator: every run trains differently
    unseeded = text.replace("for x, y in ctx.batches(epoch):", "for x, y in _unseeded(ctx):") + (
        "\n\ndef _unseeded(ctx):\n"
        "    import numpy as np\n\n"
        "    order = np.random.default_rng().permutation(len(ctx.x))\n"
        "    for start in range(0, len(order), ctx.batch_size):\n"
        "        idx = order[start : start + ctx.batch_size]\n"
        "        yield ctx.x[idx], ctx.y[idx]\n"
    )
    assert unseeded != text
    loops.write_text(unseeded)

    changed = run_snakemake(workdir, *TWO_JOBS)
    assert changed.returncode == 0, explain(changed)
    steps = {s["id"]: s for s in verification(workdir)["steps"]}
    for step, cause in (
        ("train/cosine_early_stop/seed=0", "params.schedule"),
        ("train/diabetes_mlp/seed=0", "params.loss"),
        ("train/tape/seed=0", "code.trainer"),
    ):
        assert steps[step]["status"] == "changed", steps[step]
        assert any(c.startswith(cause) for c in causes(steps[step])), (cause, causes(steps[step]))
    assert steps["train/recipe/seed=0"]["status"] == "identical"
    lock = (workdir / "samebits.lock").read_bytes()

    rerun = run_snakemake(workdir, "--forcerun", "train", *TWO_JOBS)
    assert rerun.returncode == 1, explain(rerun)
    found = statuses(workdir)
    assert found["train/tape/seed=0"] == "diverged", found
    assert {found[f"train/{e}/seed=0"] for e in ("recipe", "diabetes_mlp", "cosine_early_stop")} == {"identical"}
    assert (workdir / "samebits.lock").read_bytes() == lock
    assert "train/tape/seed=0" in rerun.stdout
    shutil.rmtree(workdir)
