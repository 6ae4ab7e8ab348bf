"""samebits lint: it builds every configured model and warns about what will not travel, and
lists what was never measured instead of calling it portable."""

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
from tests.helpers import CONFIGS, REPO, clean_env, make_emulation_workdir, samebits

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
#: A loss of the user's own.
USER_LOSS = """
import keras


def smooth(y_true, y_pred):
    return keras.losses.sparse_categorical_crossentropy(y_true, y_pred)
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


def test_an_embedding_lstm_model_lists_what_is_unmeasured_and_claims_no_portability(tmp_path, monkeypatch):
    schedule = {"name": "CosineDecay", "decay_steps": 10}
    train = {"epochs": 1, "loss": {"name": "LogCosh"}, "optimizer": "lion", "schedule": schedule}
    workdir = seq_workdir(tmp_path, train)
    monkeypatch.chdir(workdir)
    report = lint(Plan.load("config.yaml"))
    assert report.warnings == []
    [found] = report.unmeasured
    assert found.experiment == "seq"
    pieces = {(p["kind"], p["name"]): p["where"] for p in found.pieces}
    # Embedding and LSTM are measured (fit_embedding, fit_lstm); Reshape does no arithmetic;
    # the LSTM's swish (Keras' silu), the loss, the optimizer and the schedule are not
    assert pieces == {
        ("activation", "silu"): ["lstm"],
        ("loss", "LogCosh"): None,
        ("optimizer", "Lion"): None,
        ("schedule", "CosineDecay"): None,
    }
    assert found.message.startswith(
        "experiment 'seq' uses activation 'silu' (layer 'lstm'), loss LogCosh, optimizer Lion, "
        "learning-rate schedule CosineDecay, which samebits has not measured for portability"
    )
    assert "docs/portability.md" in found.message

    proc = run_lint("--config", "config.yaml", cwd=workdir)
    assert proc.returncode == 0, proc.stderr  # nothing found: unmeasured is not a finding
    lines = proc.stdout.splitlines()
    assert lines == [
        f"samebits lint: unmeasured: {found.message}",
        "samebits lint: config.yaml: 0 portability warning(s); 4 unmeasured piece(s) in 1 experiment(s), "
        "whose portability is unknown",
    ]
    assert "no portability warning" not in proc.stdout


def test_unmeasured_layers_and_a_user_loss_are_named_and_in_the_json(tmp_path):
    workdir = seq_workdir(tmp_path, {"epochs": 1, "loss": "my_losses.py:smooth", "optimizer": "adam"})
    text = SEQ_BUILDER.replace(
        'keras.layers.LSTM(16, activation="swish", name="lstm")', 'keras.layers.SimpleRNN(16, name="rnn")'
    )
    (workdir / "seq_model.py").write_text(text)
    proc = run_lint("--config", "config.yaml", "--json", cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert found["warnings"] == []
    [seq] = found["unmeasured"]
    assert seq["experiment"] == "seq"
    assert seq["pieces"] == [
        {"kind": "layer", "name": "SimpleRNN", "where": ["rnn"]},
        {"kind": "activation", "name": "tanh", "where": ["rnn"]},
        {"kind": "loss", "name": "my_losses.py:smooth", "where": None},
    ]
    assert (
        "uses layer SimpleRNN (layer 'rnn'), activation 'tanh' (layer 'rnn'), your loss my_losses.py:smooth,"
        in (seq["message"])
    )


def test_a_batchnorm_model_is_named_with_its_layer_and_the_docs_and_only_it(tmp_path):
    # in a copy: the test builder of the emulation config writes a witness file where it runs
    workdir = make_emulation_workdir(tmp_path / "wd")
    proc = run_lint(cwd=workdir)  # its config/config.yaml is tests/configs/emulation.yaml
    assert proc.returncode == 1, proc.stdout + proc.stderr
    warnings = [line for line in proc.stdout.splitlines() if line.startswith("samebits lint: warning:")]
    assert len(warnings) == 1, proc.stdout
    assert "experiment 'bn' uses BatchNormalization (layer 'bn_1')" in warnings[0]
    assert "docs/portability.md" in warnings[0]
    assert proc.stdout.splitlines()[-1] == "samebits lint: config/config.yaml: 1 portability warning(s)"


def test_a_non_portable_profile_and_a_gelu_activation_warn(tmp_path):
    config = tmp_path / "config.yaml"
    text = (CONFIGS / "tiny.yaml").read_text().replace("profile: portable", "profile: native")
    config.write_text(text.replace("hidden: [16]", "hidden: [16], activation: gelu"))
    proc = run_lint("--config", str(config), "--json")
    assert proc.returncode == 1, proc.stderr
    found = json.loads(proc.stdout)
    assert [w["experiment"] for w in found["warnings"]] == [None, "mlp"]
    assert "determinism.profile is 'native'" in found["warnings"][0]["message"]
    assert "uses activation 'gelu' (layer 'dense_1')" in found["warnings"][1]["message"]
    assert found["unmeasured"] == []


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
    proc = subprocess.run(command, cwd=workdir, env=clean_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode in (0, 1) and "experiment 'seq'" in proc.stdout, proc.stdout + proc.stderr
    config["experiments"]["seq"]["model"]["options"] = {"unit": 8}
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    proc = subprocess.run(command, cwd=workdir, env=clean_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "experiments.seq.model.options.unit: build() in" in proc.stderr and "no parameter 'unit'" in proc.stderr
    assert "Traceback" not in proc.stderr
