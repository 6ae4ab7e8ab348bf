"""samebits.ml.exact against the pinned TensorFlow and Keras: what it replaces is gone from the
graphs training executes, what it computes is correctly rounded, and TensorFlow's own kernels
(the ``native`` profile) still run the approximate ops it is there to avoid.

Each profile runs in a child process (tests/exact_child.py): installing the kernels is for a
whole process, and the determinism environment must be there when the interpreter starts.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from samebits.ml import determinism, exact
from tests.helpers import REPO, clean_env

#: Every piece the child runs, with the approximate op TensorFlow's own kernels give it.
PIECES = {
    "rsqrt": "Rsqrt",
    "reciprocal": "Reciprocal",
    "one_over_x": "Reciprocal",  # Grappler's constant folding: 1 / x -> reciprocal(x)
    "a_over_sqrt_b": "Rsqrt",  # Grappler's arithmetic optimizer: a / sqrt(b) -> a * rsqrt(b)
    "erfc": "Erfc",
    "gelu": "Erfc",
    "batchnorm": "Rsqrt",
    "layernorm": "Rsqrt",
    "groupnorm": "Rsqrt",
    "rmsprop": "Rsqrt",
    "sigmoid_binary_crossentropy": "Reciprocal",  # log1p's gradient
}


def _child(profile: str) -> dict:
    env = {**clean_env(), **determinism.process_env(profile=profile, threads=1, op_determinism=True)}
    proc = subprocess.run(
        [sys.executable, "-m", "tests.exact_child", profile],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def children() -> dict[str, dict]:
    with ThreadPoolExecutor(2) as pool:
        return dict(zip(("portable", "native"), pool.map(_child, ("portable", "native")), strict=True))


def test_the_portable_profile_installs_every_replacement_and_native_none(children):
    assert children["portable"]["exact_kernels"] == list(exact.REPLACED)
    assert children["native"]["exact_kernels"] == []


@pytest.mark.parametrize("piece", PIECES)
def test_tensorflow_runs_an_approximate_op_for_each_piece_and_the_profile_none(children, piece):
    native, portable = children["native"]["ops"][piece], children["portable"]["ops"][piece]
    assert PIECES[piece] in native, (piece, native)  # the pinned TensorFlow still has it...
    assert portable == {}, (piece, portable)  # ...and the portable profile runs none


def test_the_exact_kernels_are_correctly_rounded_and_keep_ieee_special_values(children):
    values = children["portable"]["values"]
    assert values["rsqrt_correctly_rounded"] and values["reciprocal_correctly_rounded"]
    assert values["erfc_correctly_rounded"]
    assert values["gelu_max_abs_error"] < 1e-6
    assert values["rsqrt_special"] == ["inf", "nan", "0.0", "0.5"]  # rsqrt of 0, -1, inf, 4
    assert values["reciprocal_special"] == ["inf", "-1.0", "0.0", "0.25"]
    # inside a graph: 1 / 0, 0 / 0, -2 / 0 by sqrt(0), and 3 / sqrt(9)
    assert values["a_over_sqrt_b_special"] == ["inf", "nan", "-inf", "1.0"]
    assert values["one_over_x_special"] == ["inf", "inf", "inf", "0.11111111"]
    assert values["ragged_rsqrt"] == [[0.5], [0.25, 1.0]]  # a ragged tensor keeps TensorFlow's dispatch
    # TensorFlow's own kernels are not correctly rounded: the reason for all this
    assert not children["native"]["values"]["rsqrt_correctly_rounded"]
    assert not children["native"]["values"]["reciprocal_correctly_rounded"]
