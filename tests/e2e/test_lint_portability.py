"""samebits lint: it builds every configured model and warns about what will not travel."""

from __future__ import annotations

import json

import pytest

from tests.helpers import CONFIGS, REPO, make_emulation_workdir, samebits

pytestmark = pytest.mark.e2e


def lint(*args: str, cwd=REPO):
    """samebits lint (it only reads: the repository's own configuration is safe to lint in place)."""
    return samebits(cwd, "lint", *args)


def test_the_default_config_has_no_warnings():
    proc = lint()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "samebits lint: config/config.yaml: no portability warning(s)"


def test_a_batchnorm_model_is_named_with_its_layer_and_the_docs_and_only_it(tmp_path):
    # in a copy: the test builder of the emulation config writes a witness file where it runs
    workdir = make_emulation_workdir(tmp_path / "wd")
    proc = lint(cwd=workdir)  # its config/config.yaml is tests/configs/emulation.yaml
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
    proc = lint("--config", str(config), "--json")
    assert proc.returncode == 1, proc.stderr
    found = json.loads(proc.stdout)
    assert [w["experiment"] for w in found] == [None, "mlp"]
    assert "determinism.profile is 'native'" in found[0]["message"]
    assert "uses activation 'gelu' (layer 'dense_1')" in found[1]["message"]


def test_a_config_error_is_an_error_not_a_warning(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text((CONFIGS / "tiny.yaml").read_text().replace("type: cnn", "type: rnn"))
    proc = lint("--config", str(config))
    assert proc.returncode == 2
    assert "experiments.cnn.model.type 'rnn' is unknown" in proc.stderr
