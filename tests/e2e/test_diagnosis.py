"""Divergence diagnosis on real runs: drift and tolerance, accept, stale files, real
nondeterminism caught at the right step and epoch, and samebits diff."""

from __future__ import annotations

import json
import os
import re
import shutil
import textwrap

import numpy as np
import pytest
import yaml

from samebits.core import fileio, layout
from samebits.core.hashing import hash_json_obj, hash_npz, hash_output
from samebits.provenance import lock as lockmod
from samebits.provenance import records
from tests.helpers import explain, job_counts, make_workdir, run_snakemake, samebits, statuses, verification

pytestmark = pytest.mark.e2e


def _fake_drift(workdir, l2_factor):
    """Make the lock say: made with TensorFlow 2.20.0, and the MLP's weights came out other.

    The entries are sealed again, as another machine's run would have sealed them: a seal
    catches a hand edit, not a forger, and this test plays the forger to stand for a lock
    made on another machine."""
    path = workdir / "samebits.lock"
    lock = json.loads(path.read_text())
    renamed = {}
    for env_id, env in list(lock["environments"].items()):
        env["packages"]["tensorflow"] = "2.20.0"
        renamed[env_id] = lockmod.environment_id(env)  # ids are content hashes
        lock["environments"][renamed[env_id]] = lock["environments"].pop(env_id)
    for entry in lock["steps"].values():
        entry["environment"] = renamed[entry["environment"]]
    weights = lock["steps"]["train/mlp/seed=0"]["outputs"]["weights"]
    weights["sha256"] = "sha256:" + "ab" * 32
    weights["arrays"]["dense_1/kernel"]["l2"] *= l2_factor
    for entry in lock["steps"].values():
        entry["seal"] = hash_json_obj({k: v for k, v in entry.items() if k != "seal"})
    path.write_text(json.dumps(lock, indent=1, sort_keys=True) + "\n")
    (workdir / layout.verify.verdict).unlink()  # verify runs again, nothing else does
    return path.read_bytes()


def test_drift_within_tolerance_is_equivalent_warns_and_passes(tiny_copy):
    altered = _fake_drift(tiny_copy, 1 + 1e-7)
    proc = run_snakemake(tiny_copy)
    assert proc.returncode == 0, explain(proc)
    out = proc.stdout + proc.stderr
    # the environment warning comes before any job runs
    warning = out.index("packages.tensorflow 2.20.0 → 2.21.0")
    assert warning < out.index("rule verify:")
    assert "drifted (equivalent) train/mlp/seed=0" in proc.stdout
    assert "environment.packages.tensorflow 2.20.0 → 2.21.0" in proc.stdout
    assert "WARNING: 1 step(s) drifted" in proc.stdout and "(rtol 1e-05, atol 1e-08)" in proc.stdout
    assert (tiny_copy / "samebits.lock").read_bytes() == altered
    step = next(s for s in verification(tiny_copy)["steps"] if s["id"] == "train/mlp/seed=0")
    assert step["status"] == "drifted" and step["equivalent"] is True and not step["failing"]

    check = samebits(tiny_copy, "env", "--check")
    assert check.returncode == 1 and "packages.tensorflow 2.20.0 → 2.21.0" in check.stdout


def test_drift_beyond_tolerance_is_not_reproduced_then_accept_takes_it_with_a_reason(tiny_copy):
    altered = _fake_drift(tiny_copy, 1.001)
    proc = run_snakemake(tiny_copy)
    assert proc.returncode == 1, explain(proc)
    assert "DRIFTED (NOT REPRODUCED) train/mlp/seed=0" in proc.stdout
    assert re.search(r"weights dense_1/kernel l2 .* beyond tolerance", proc.stdout)
    assert (tiny_copy / "samebits.lock").read_bytes() == altered
    before = json.loads(altered)

    acc = samebits(tiny_copy, "accept", "--step", "train", "--experiment", "mlp", "--reason", "TF 2.21 upgrade")
    assert acc.returncode == 0, acc.stderr
    assert "train/mlp/seed=0" in acc.stdout
    after = json.loads((tiny_copy / "samebits.lock").read_text())
    entry = after["steps"]["train/mlp/seed=0"]
    assert entry["accepted"] == {"reason": "TF 2.21 upgrade", "status": "drifted"}
    assert entry["outputs"]["weights"]["sha256"] == hash_npz(tiny_copy / "results/experiments/mlp/seed0/weights.npz")[0]
    assert lockmod.read(tiny_copy / "samebits.lock").edited("train/mlp/seed=0") is None  # accept seals it
    for step_id in set(before["steps"]) - {"train/mlp/seed=0"}:
        assert after["steps"][step_id] == before["steps"][step_id], step_id
    for env_id, env in before["environments"].items():
        assert after["environments"].get(env_id, env) == env

    again = run_snakemake(tiny_copy)
    assert again.returncode == 0, explain(again)
    assert statuses(tiny_copy)["train/mlp/seed=0"] == "identical"


def test_the_command_and_the_workflow_judge_with_the_configurations_tolerance(tiny_copy):
    altered = _fake_drift(tiny_copy, 1.01)  # beyond the default rtol 1e-5, within 0.5
    config_path = tiny_copy / layout.CONFIG_FILE
    config = yaml.safe_load(config_path.read_text())
    config["verify"] = {"rtol": 0.5}
    config_path.write_text(yaml.safe_dump(config))
    command = samebits(tiny_copy, "verify", "--check")
    workflow = run_snakemake(tiny_copy)
    for proc in (command, workflow):
        assert proc.returncode == 0, explain(proc)
        assert "drifted (equivalent) train/mlp/seed=0" in proc.stdout, explain(proc)
        assert "(rtol 0.5, atol 1e-08)" in proc.stdout, explain(proc)
    assert (tiny_copy / "samebits.lock").read_bytes() == altered
    config["verify"] = {"rtol": 1e-6}
    config_path.write_text(yaml.safe_dump(config))
    strict = samebits(tiny_copy, "verify", "--check")
    assert strict.returncode == 1 and "DRIFTED (NOT REPRODUCED) train/mlp/seed=0" in strict.stdout


def test_accept_refuses_without_a_reason_or_a_selection(tiny_copy):
    assert samebits(tiny_copy, "accept", "--all", "--reason", " ").returncode == 2
    proc = samebits(tiny_copy, "accept", "--reason", "x")
    assert proc.returncode == 2 and "--step, --experiment, --seed or --all" in proc.stderr
    proc = samebits(tiny_copy, "accept", "--all", "--reason", "nothing differs")
    assert proc.returncode == 2 and "nothing to accept" in proc.stderr


def test_output_rewritten_with_its_mtime_put_back_is_stale_and_regenerated(tiny_copy):
    split = tiny_copy / "results/splits/digits/seed0/split.npz"
    original = hash_npz(split)[0]
    lock = (tiny_copy / "samebits.lock").read_bytes()
    st = split.stat()
    arrays = dict(np.load(split))
    arrays["train"] = arrays["train"][::-1].copy()
    with open(split, "wb") as fh:
        np.savez(fh, **arrays)
    os.utime(split, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert hash_npz(split)[0] != original

    dry = run_snakemake(tiny_copy, "-n")
    assert "stale: split/digits/seed=0: output split" in dry.stderr + dry.stdout
    assert "changed since the step ran; it will be rerun" in dry.stderr + dry.stdout
    # the dry run shows what a real run will execute: the stale chain, what follows it, verify
    expected = {"split": 1, "init": 2, "train": 2, "evaluate": 2, "figures": 2, "summarize": 1, "verify": 1, "all": 1}
    assert job_counts(dry) == expected, explain(dry)
    assert (tiny_copy / "results/splits/digits/seed0/split.record.json").exists()  # and leaves every file
    assert not (tiny_copy / layout.SET_ASIDE).exists()

    proc = run_snakemake(tiny_copy)
    assert proc.returncode == 0, explain(proc)
    assert "stale: split/digits/seed=0: output split" in proc.stderr + proc.stdout
    assert "stale: train/mlp/seed=0: input split" in proc.stderr + proc.stdout
    assert hash_npz(split)[0] == original
    assert set(statuses(tiny_copy).values()) == {"identical"}
    assert (tiny_copy / "samebits.lock").read_bytes() == lock


def test_verify_names_a_tampered_output_with_expected_and_found_checksums(tiny_copy):
    metrics = tiny_copy / "results/experiments/cnn/seed0/metrics.json"
    doc = json.loads(metrics.read_text())
    doc["accuracy"] = 1.0
    metrics.write_text(json.dumps(doc))
    lock = (tiny_copy / "samebits.lock").read_bytes()
    proc = samebits(tiny_copy, "verify")
    assert proc.returncode == 1
    assert "TAMPERED  evaluate/cnn/seed=0" in proc.stdout
    assert f"found {hash_output(metrics)['sha256'][7:23]}…" in proc.stdout
    assert (tiny_copy / "samebits.lock").read_bytes() == lock


NOISY_BUILDER = textwrap.dedent(
    '''
    """A test-only model whose training noise comes from an unseeded RNG."""
    import os

    import keras
    import tensorflow as tf

    _SEED = int.from_bytes(os.urandom(4), "little") & 0x7FFFFFFF  # unseeded on purpose


    @keras.saving.register_keras_serializable(package="samebits_test")
    class UnseededNoise(keras.layers.Layer):
        def call(self, x, training=None):
            if training:
                return x + 0.01 * tf.random.stateless_normal(tf.shape(x), seed=[_SEED, 0])
            return x


    def build(input_shape, n_classes, seeds):
        glorot = keras.initializers.GlorotUniform
        inputs = keras.Input(shape=input_shape, name="input")
        x = keras.layers.Flatten(name="flatten")(inputs)
        x = UnseededNoise(name="noise")(x)
        x = keras.layers.Dense(16, activation="relu", name="dense_1", kernel_initializer=glorot(seeds("d1")))(x)
        y = keras.layers.Dense(n_classes, activation="softmax", name="output", kernel_initializer=glorot(seeds("o")))(x)
        return keras.Model(inputs, y, name="noisy")
    '''
)

NOISY_CONFIG = """
seeds: [0]
datasets:
  digits: {source: digits}
experiments:
  noisy:
    dataset: digits
    model: {type: custom, builder: "models/noisy.py:build"}
    train: {epochs: 2, batch_size: 128}
"""


def test_unseeded_randomness_is_caught_as_diverged_at_train_from_epoch_1(tmp_path):
    workdir = make_workdir(tmp_path / "noisy")
    (workdir / "models").mkdir()
    (workdir / "models" / "noisy.py").write_text(NOISY_BUILDER)
    (workdir / "config" / "config.yaml").write_text(NOISY_CONFIG)
    first = run_snakemake(workdir)
    assert first.returncode == 0, explain(first)
    lock = (workdir / "samebits.lock").read_bytes()
    rec = json.loads((workdir / "results/experiments/noisy/seed0/init.record.json").read_text())
    assert rec["code"]["builder"].startswith("sha256:")

    proc = run_snakemake(workdir, "--forceall")
    assert proc.returncode == 1, explain(proc)
    st = statuses(workdir)
    assert st["split/digits/seed=0"] == st["init/noisy/seed=0"] == "identical"
    assert st["train/noisy/seed=0"] == "diverged"
    assert re.search(r"DIVERGED\s+train/noisy/seed=0", proc.stdout)
    assert "weights first differ after epoch 1" in proc.stdout
    chain = verification(workdir)["chains"][0]
    assert chain["first"] == "train/noisy/seed=0"
    assert chain["steps"][0].startswith("train: diverged") and "from epoch 1" in chain["steps"][0]
    # evaluate read the diverged weights: it inherits the verdict (it is not "changed", so
    # the lock does not take it) and says where its changed input came from
    assert st["evaluate/noisy/seed=0"] == "diverged"
    assert chain["steps"][1].startswith("evaluate: diverged")
    assert "its only changed inputs were written by train/noisy/seed=0 (diverged above)" in proc.stdout
    assert (workdir / "samebits.lock").read_bytes() == lock


def _bump_kernel(weights):
    arrays = dict(np.load(weights))
    kernel = arrays["dense_1/kernel"].copy()
    kernel[3, 2] = np.nextafter(kernel[3, 2], np.float32(np.inf))
    arrays["dense_1/kernel"] = kernel
    fileio.write_npz(weights, arrays)
    return kernel


def test_diff_of_two_trees_names_the_one_tensor_that_differs(tiny_run, tmp_path):
    other = tmp_path / "b"
    shutil.copytree(tiny_run / "results", other / "results")
    weights = other / "results/experiments/mlp/seed0/weights.npz"
    kernel = _bump_kernel(weights)
    record_path = other / "results/experiments/mlp/seed0/train.record.json"
    record = json.loads(record_path.read_text())
    record["outputs"]["weights"]["sha256"] = hash_npz(weights)[0]
    fileio.write_json(record_path, records.seal(record))  # as another machine's run would have it

    proc = samebits(tmp_path, "diff", str(tiny_run / "results"), str(other / "results"), "--json")
    assert proc.returncode == 1, proc.stderr
    result = json.loads(proc.stdout)
    differing = [s for s in result["steps"] if s["status"] != "identical"]
    assert [s["id"] for s in differing] == ["train/mlp/seed=0"]
    (output,) = differing[0]["outputs"]
    (array,) = output["arrays"]
    assert (output["output"], array["name"]) == ("weights", "dense_1/kernel")
    assert array["max_ulp"] == 1 and array["n_differ"] == 1
    assert array["max_abs"] == pytest.approx(float(np.spacing(np.float32(abs(kernel[3, 2])))), rel=1e-6)
    table = samebits(tmp_path, "diff", str(tiny_run / "results"), str(other / "results")).stdout
    assert "dense_1/kernel" in table and "max ULP 1" in table
    same = samebits(tmp_path, "diff", str(tiny_run / "results"), str(tiny_run / "results"))
    assert same.returncode == 0 and "identical" in same.stdout


def test_diff_compares_the_files_not_the_records(tiny_run, tmp_path):
    other = tmp_path / "b"
    shutil.copytree(tiny_run / "results", other / "results")
    same = samebits(tmp_path, "diff", str(tiny_run / "results"), str(other / "results"))
    assert same.returncode == 0 and "A and B are identical: 10 steps" in same.stdout, same.stdout + same.stderr
    _bump_kernel(other / "results/experiments/mlp/seed0/weights.npz")  # its record untouched
    proc = samebits(tmp_path, "diff", str(tiny_run / "results"), str(other / "results"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 of 10 steps differ" in proc.stdout
    assert re.search(r"train/mlp/seed=0\s+weights\s+B: does not match its record", proc.stdout), proc.stdout
    assert re.search(r"train/mlp/seed=0\s+weights\s+dense_1/kernel\s+.*max ULP 1\s+1/\d+ differ", proc.stdout)
    broken = samebits(tmp_path, "diff", str(tiny_run / "results"), str(tmp_path / "nowhere"))
    assert broken.returncode == 2 and "not a directory" in broken.stderr
