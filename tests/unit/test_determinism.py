import os
import subprocess
import sys

import pytest

from samebits.ml.determinism import PORTABLE, PROFILES, process_env

SETTINGS = {"profile": PORTABLE, "threads": 1, "op_determinism": True}


def test_profiles_always_set_the_onednn_variables_explicitly():
    for name in PROFILES:
        env = process_env(**{**SETTINGS, "profile": name})
        assert env["TF_ENABLE_ONEDNN_OPTS"] in ("0", "1") and env["ONEDNN_MAX_CPU_ISA"]
        assert env["PYTHONHASHSEED"] == "0" and env["TF_NUM_INTRAOP_THREADS"] == "1"
    assert process_env(**SETTINGS)["ONEDNN_MAX_CPU_ISA"] == "AVX2"


@pytest.mark.parametrize("profile, threads", [("fast", 1), (PORTABLE, 0), (PORTABLE, True)])
def test_bad_profile_or_threads_are_refused(profile, threads):
    with pytest.raises(ValueError):
        process_env(profile=profile, threads=threads, op_determinism=True)


def _apply_in_subprocess(env):
    code = f"from samebits.ml.determinism import apply; apply(0, profile={PORTABLE!r}, threads=1, op_determinism=True)"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)


def test_apply_refuses_a_process_started_without_the_recipe_env():
    env = {k: v for k, v in os.environ.items() if k not in process_env(**SETTINGS)}
    proc = _apply_in_subprocess(env)
    assert proc.returncode != 0
    assert "DeterminismError" in proc.stderr and "PYTHONHASHSEED" in proc.stderr


def test_setting_pythonhashseed_after_start_is_detected():
    env = {k: v for k, v in os.environ.items() if k != "PYTHONHASHSEED"}
    code = (
        "import os; from samebits.ml.determinism import process_env, check_process_env; "
        f"env = process_env(**{SETTINGS!r}); os.environ.update(env); check_process_env(env)"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode != 0 and "was not set when the interpreter started" in proc.stderr
