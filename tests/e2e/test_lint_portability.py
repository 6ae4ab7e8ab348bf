"""samebits lint: it builds every configured model, runs one training step of it, and warns
about every op of the executed graph whose kernel is approximate (the user's own code
included) and every piece measured not to travel; what it could not run is listed as
unmeasured, never called portable."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from samebits.diagnostics import portable_ops
from samebits.diagnostics.lint import experiment_pieces, lint
from samebits.plan import Plan
from tests.helpers import CONFIGS, REPO, clean_env, samebits

pytestmark = pytest.mark.e2e

#: A custom model of tokens: Embedding, then an LSTM with an activation of its own.
SEQ_BUILDER = """
import keras


def build(input_shape, n_classes, seeds):
    inputs = keras.Input(shape=input_shape, name="input")
    x = keras.layers.Reshape((-1,), name="tokens")(inputs)
    x = keras.layers.Embedding(17, 8, name="embed")(x)
    x = keras.layers.LSTM(16, activation="swish", name="lstm")(x)
    x = keras.layers.Dense(16, activation="relu", name="hidden")(x)
    return keras.Model(inputs, keras.layers.Dense(n_classes, activation="softmax", name="output")(x))
"""
#: Losses of the user's own: one through Keras, and two that normalise with a reciprocal
#: square root, once through TensorFlow's API (which the portable profile makes exact) and
#: once through the raw op (which no Python entry point reaches).
USER_LOSS = """
import keras
import tensorflow as tf


def smooth(y_true, y_pred):
    return keras.losses.sparse_categorical_crossentropy(y_true, y_pred)


def scaled(y_true, y_pred):
    ce = keras.losses.sparse_categorical_crossentropy(y_true, y_pred)
    return ce * tf.math.rsqrt(tf.reduce_mean(tf.square(y_pred), axis=-1) + 1.0)


def raw(y_true, y_pred):
    ce = keras.losses.sparse_categorical_crossentropy(y_true, y_pred)
    return ce * tf.raw_ops.Rsqrt(x=tf.reduce_mean(tf.square(y_pred), axis=-1) + 1.0)
"""
#: A small CNN with BatchNormalization and a gelu layer.
BN_GELU_BUILDER = """
import keras


def build(input_shape, n_classes, seeds):
    inputs = keras.Input(shape=input_shape, name="input")
    x = keras.layers.Reshape((8, 8, 1), name="image")(inputs)
    x = keras.layers.Conv2D(4, 3, name="conv")(x)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(16, activation="gelu", name="hidden")(x)
    return keras.Model(inputs, keras.layers.Dense(n_classes, activation="softmax", name="output")(x))
"""


def run_lint(*args: str, cwd=REPO):
    """samebits lint (it only reads: the repository's own configuration is safe to lint in place)."""
    return samebits(cwd, "lint", *args)


def seq_workdir(tmp_path, train):
    """A directory with the sequence builder, a user loss and a config of it beside the tiny MLP."""
    (tmp_path / "seq_model.py").write_text(SEQ_BUILDER)
    (tmp_path / "my_losses.py").write_text(USER_LOSS)
    config = {
        "seeds": [0],
        "datasets": {"digits": {"source": "digits"}},
        "experiments": {
            "seq": {"dataset": "digits", "model": {"type": "custom", "builder": "seq_model.py:build"}, "train": train},
            "mlp": {"dataset": "digits", "model": {"type": "mlp", "hidden": [8]}, "train": {"epochs": 1}},
        },
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    return tmp_path


def test_the_default_config_has_no_warnings():
    proc = run_lint()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "samebits lint: config/config.yaml: no portability warning(s)"


def test_every_piece_of_the_default_config_was_measured_portable(monkeypatch):
    monkeypatch.chdir(REPO)
    plan = Plan.load("config/config.yaml")
    report = lint(plan)
    assert report.warnings == [] and report.unmeasured == []
    assert report.graphs == {"mlp": {}, "cnn": {}}  # their training step ran: no approximate op
    # and that is because each piece is measured, not because lint looked at nothing
    from samebits.core.seeds import SeedSource
    from samebits.ml import data, models

    seen = set()
    for exp in plan.experiments.values():
        ds = data.load("digits", "digits", label="label", task=None)
        model = models.build(exp["model"], ds.feature_shape, ds.n_classes, SeedSource(0), task=ds.task)
        for piece in experiment_pieces(model, exp["train"], task=ds.task, where="train"):
            assert portable_ops.status(piece["kind"], piece["name"])[0] == portable_ops.PORTABLE, piece
            seen.add((piece["kind"], piece["name"]))
    assert seen == {
        ("layer", "InputLayer"),
        ("layer", "Flatten"),
        ("layer", "Dense"),
        ("layer", "Dropout"),
        ("layer", "Conv2D"),
        ("layer", "MaxPooling2D"),
        ("activation", "relu"),
        ("activation", "softmax"),
        ("loss", "SparseCategoricalCrossentropy"),
        ("optimizer", "Adam"),
        ("metric", "accuracy"),
    }


def bn_gelu_workdir(tmp_path, loss: str, profile: str = "portable"):
    """The BatchNormalization + gelu CNN trained with one of the user's losses."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "bn_gelu.py").write_text(BN_GELU_BUILDER)
    (tmp_path / "my_losses.py").write_text(USER_LOSS)
    config = {
        "seeds": [0],
        "determinism": {"profile": profile},
        "datasets": {"digits": {"source": "digits"}},
        "experiments": {
            "net": {
                "dataset": "digits",
                "model": {"type": "custom", "builder": "bn_gelu.py:build"},
                "train": {"epochs": 1, "loss": f"my_losses.py:{loss}", "optimizer": "rmsprop"},
            },
        },
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    return tmp_path


def test_batchnorm_gelu_rmsprop_and_a_users_rsqrt_are_portable_but_a_raw_rsqrt_is_named_with_its_op(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(bn_gelu_workdir(tmp_path / "api", "scaled"))
    report = lint(Plan.load("config.yaml"))
    # BatchNormalization, gelu, RMSprop and tf.math.rsqrt in the user's loss: the profile's
    # exact kernels; the graph ran, so the loss of the user's is judged by it, not unmeasured
    assert report.warnings == [] and report.unmeasured == [] and report.graphs == {"net": {}}

    workdir = bn_gelu_workdir(tmp_path / "raw", "raw")
    proc = run_lint("--config", "config.yaml", "--json", cwd=workdir)
    assert proc.returncode == 1, proc.stderr
    found = json.loads(proc.stdout)
    assert list(found["graphs"]["net"]) == ["Rsqrt"]
    [warning] = found["warnings"]
    assert warning["experiment"] == "net"
    assert warning["message"].startswith("experiment 'net' runs op Rsqrt (from your loss my_losses.py:raw: node "), (
        warning["message"]
    )
    assert "compile_loss/raw/Rsqrt'" in warning["message"]
    assert "vrsqrtps" in warning["message"] and "docs/portability.md" in warning["message"]
    assert found["unmeasured"] == []


def test_under_tensorflows_own_kernels_each_approximate_op_is_named_with_its_piece(tmp_path):
    workdir = bn_gelu_workdir(tmp_path, "scaled", profile="native")
    proc = run_lint("--config", "config.yaml", "--json", cwd=workdir)
    assert proc.returncode == 1, proc.stderr
    found = json.loads(proc.stdout)
    assert sorted(found["graphs"]["net"]) == ["Erfc", "Rsqrt"]
    messages = [w["message"] for w in found["warnings"]]
    assert messages[0].startswith("determinism.profile is 'native'")
    [erfc] = [m for m in messages if "runs op Erfc" in m]
    assert "from activation 'gelu' (layer 'hidden')" in erfc
    [rsqrt] = [m for m in messages if "runs op Rsqrt" in m]
    for source in ("layer BatchNormalization (layer 'bn')", "your loss my_losses.py:scaled", "optimizer RMSprop"):
        assert source in rsqrt, rsqrt


def test_pieces_no_probe_measured_are_judged_by_the_graph_and_a_trainer_stays_unmeasured(tmp_path, monkeypatch):
    schedule = {"name": "CosineDecay", "decay_steps": 10}
    train = {"epochs": 1, "loss": "my_losses.py:smooth", "optimizer": "lion", "schedule": schedule}
    workdir = seq_workdir(tmp_path, train)
    monkeypatch.chdir(workdir)
    report = lint(Plan.load("config.yaml"))
    # the LSTM's swish (Keras' silu), the user's loss, Lion and CosineDecay: no probe case runs
    # them, and their training graph holds no approximate op
    assert report.warnings == [] and report.unmeasured == []
    assert report.graphs == {"seq": {}, "mlp": {}}

    # a loss that cannot train this model (LogCosh wants targets of the output's shape): the
    # graph did not run, so what the tables do not know stays unmeasured, and lint says why
    train["loss"] = {"name": "LogCosh"}
    seq_workdir(workdir, train)
    report = lint(Plan.load("config.yaml"))
    [found] = report.unmeasured
    assert {(p["kind"], p["name"]) for p in found.pieces} == {
        ("activation", "silu"),
        ("loss", "LogCosh"),
        ("optimizer", "Lion"),
        ("schedule", "CosineDecay"),
    }
    assert "(its training graph could not be run on a batch of zeros (ValueError: " in found.message
    assert report.graphs["seq"]["error"].startswith("ValueError: ")

    monkeypatch.chdir(REPO)
    report = lint(Plan.load("config/examples/trainer.yaml"))
    assert report.warnings == []
    [found] = report.unmeasured
    assert found.experiment == "tape"
    assert found.pieces == ({"kind": "trainer", "name": "config/examples/loops.py:gradient_tape", "where": None},)
    assert found.message.startswith(
        "experiment 'tape' uses your trainer config/examples/loops.py:gradient_tape, which samebits has not "
        "measured for portability; they may give other bits on other CPUs (lint runs fit(), not a trainer's own loop)"
    ), found.message
    proc = run_lint("--config", "config/examples/trainer.yaml")
    assert proc.returncode == 0, proc.stderr  # unmeasured is not a finding
    assert proc.stdout.splitlines()[-1] == (
        "samebits lint: config/examples/trainer.yaml: 0 portability warning(s); 1 unmeasured piece(s) in 1 "
        "experiment(s), whose portability is unknown"
    )


def test_a_config_error_is_an_error_not_a_warning(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text((CONFIGS / "tiny.yaml").read_text().replace("type: cnn", "type: rnn"))
    proc = run_lint("--config", str(config))
    assert proc.returncode == 2
    assert "experiments.cnn.model.type 'rnn' is unknown" in proc.stderr


def test_lint_finds_a_module_builder_as_the_workflow_does_and_names_an_option_typo(tmp_path):
    """The installed command (not ``python -m``, which puts the working directory on the path)."""
    workdir = seq_workdir(tmp_path, {"epochs": 1})
    (workdir / "seqpkg").mkdir()
    (workdir / "seqpkg" / "__init__.py").write_text("")
    (workdir / "seqpkg" / "model.py").write_text(SEQ_BUILDER)
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    config["experiments"]["seq"]["model"]["builder"] = "seqpkg.model:build"
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    command = [str(Path(sys.executable).with_name("samebits")), "lint", "--config", "config.yaml"]
    proc = subprocess.run(
        [*command, "--json"], cwd=workdir, env=clean_env(), capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0 and json.loads(proc.stdout)["graphs"]["seq"] == {}, proc.stdout + proc.stderr
    config["experiments"]["seq"]["model"]["options"] = {"unit": 8}
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    proc = subprocess.run(command, cwd=workdir, env=clean_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "experiments.seq.model.options.unit: build() in" in proc.stderr and "no parameter 'unit'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_start_of_a_run_on_another_cpu_names_what_lint_finds(tmp_path):
    from samebits.lifecycle import portability_findings
    from tests.helpers import make_emulation_workdir

    workdir = make_emulation_workdir(tmp_path / "wd")
    plan = Plan.load(workdir / "config" / "config.yaml")
    warnings, error = portability_findings(plan.config, cwd=workdir)
    assert error is None
    [warning] = warnings
    assert warning.startswith("experiment 'raw' runs op Rsqrt (from your loss tests/models/losses.py:raw_rsqrt")
    warnings, error = portability_findings({"seeds": "three"}, cwd=workdir)
    assert warnings == [] and error.startswith("samebits: error: ") and "is a required property" in error
