"""A CPU without AVX2 is told, before any job, that portable bits need AVX2.

The CPU is a real one, emulated: QEMU's ``-cpu SandyBridge`` answers CPUID with AVX but no
AVX2, and the whole workflow start (Snakemake parsing the Snakefile) runs under it.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from samebits.diagnostics import emulation
from tests.helpers import CONFIGS, make_workdir

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def sandy_bridge(tmp_path_factory):
    return emulation.emulated_python("SandyBridge", tmp_path_factory.mktemp("sandybridge"))


def test_the_emulated_cpu_really_lacks_avx2(sandy_bridge):
    code = "from samebits.provenance.cpu import isa_level; print(isa_level())"
    out = subprocess.run([sandy_bridge, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "AVX"


def test_portable_profile_on_a_cpu_without_avx2_stops_before_any_job(tmp_path, sandy_bridge):
    wd = make_workdir(tmp_path / "wd", CONFIGS / "tiny.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAKEMAKE")}
    proc = subprocess.run(
        [sandy_bridge, "-m", "snakemake", "--cores", "1"], cwd=wd, env=env, capture_output=True, text=True, timeout=900
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "determinism.profile 'portable' needs an x86-64 CPU with AVX2" in out
    assert "instruction-set level AVX" in out and "profile: native" in out
    assert not (wd / "results").exists() and not (wd / "samebits.lock").exists()
