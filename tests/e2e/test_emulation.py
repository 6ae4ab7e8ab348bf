"""Bits that travel between CPUs, proven on emulated CPUs (QEMU user mode, installed if missing).

The workflow runs natively (making the lock), then the very same tree reruns ``--forceall``
with Snakemake itself under ``qemu-x86_64 -cpu Haswell`` and, at the same time, under
``-cpu EPYC-Milan``: its jobs are started with ``sys.executable``, the emulated wrapper, so
every step computes with the emulated CPU's instruction set. The portable profile must give
every step of the MLP and the CNN bit for bit; the BatchNormalization model, which
``samebits lint`` warns about, must not reproduce.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from samebits.core.errors import SamebitsError
from samebits.diagnostics import emulation
from samebits.diagnostics.portable_ops import NOT_PORTABLE_ACTIVATIONS, NOT_PORTABLE_LAYERS
from samebits.diagnostics.probes import CASES
from samebits.provenance.cpu import isa_level
from tests.helpers import REPO, clean_env, copy_run, explain, make_emulation_workdir, run_snakemake, samebits, statuses

pytestmark = pytest.mark.e2e

CPUS = emulation.DEFAULT_CPUS
WITNESS = Path("logs/isa_witness.txt")
STEPS = ("init", "train", "evaluate")

GRANDCHILD = (
    "import json, sys\n"
    "from samebits.provenance.cpu import cpu_features, isa_level\n"
    "f = cpu_features()\n"
    "seen = {'executable': sys.executable, 'isa': isa_level(), 'AVX2': f['AVX2'], 'AVX512F': f['AVX512F']}\n"
    "print(json.dumps(seen))\n"
)
CHILD = (
    "import subprocess, sys\n"
    f"out = subprocess.run([sys.executable, '-c', {GRANDCHILD!r}], capture_output=True, text=True, check=True)\n"
    "print(out.stdout, end='')\n"
)


@pytest.fixture(scope="module")
def qemu() -> str:
    # The project installs qemu itself (Debian's qemu-user); if it cannot, the proof is
    # missing and that is a failure, not a skip.
    try:
        return emulation.ensure_qemu()
    except SamebitsError as exc:
        pytest.fail(f"the emulated-CPU proof cannot run: {exc}")


@pytest.fixture(scope="module")
def pythons(qemu, tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("emulated")
    return {cpu: emulation.emulated_python(cpu, base / cpu, qemu=qemu) for cpu in CPUS}


@pytest.mark.parametrize("cpu", CPUS)
def test_a_grandchild_of_the_emulated_python_sees_the_emulated_cpu(pythons, cpu):
    proc = subprocess.run([pythons[cpu], "-c", CHILD], capture_output=True, text=True, timeout=300, env=clean_env())
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)
    # AVX2 without AVX-512, whatever the host has: CPUID comes from QEMU's model
    assert seen == {"executable": str(pythons[cpu]), "isa": "AVX2", "AVX2": True, "AVX512F": False}
    assert "warning" not in proc.stderr  # the wrapper names the features TCG lacks, so QEMU stays quiet


def test_portability_command_reports_dense_portable_and_agrees_with_the_known_tables(qemu):
    cases = ["dense", "conv2d", "batchnorm_train", "batchnorm_infer", "layernorm", "groupnorm", "gelu"]
    # the repository's own configuration (read only: the probe writes under a temp dir)
    proc = samebits(REPO, "portability", "--cpu", "Haswell", "--cases", ",".join(cases), "--json", timeout=900)
    assert proc.returncode == 0, proc.stderr
    assert "Haswell: [7/7] gelu" in proc.stderr  # progress, case by case
    result = json.loads(proc.stdout)
    assert result["cpus"]["Haswell"]["isa"] == "AVX2" and set(result["cpus"]) == {"native", "Haswell"}
    rows = {r["case"]: r for r in result["cases"]}
    assert list(rows) == cases
    assert rows["dense"]["portable"] and rows["dense"]["cpus"]["Haswell"]["match"]
    # the tables lint uses are what this measurement says
    for case, row in rows.items():
        layers = CASES[case].layers
        known_bad = any(layer in NOT_PORTABLE_LAYERS for layer in layers) or case in NOT_PORTABLE_ACTIVATIONS
        assert row["portable"] is not known_bad, (case, row)
        if not row["portable"]:
            assert row["cpus"]["Haswell"]["max_ulp"] > 0
    assert set(result["not_portable"]) == {c for c, r in rows.items() if not r["portable"]}


def _witness(workdir: Path) -> list[tuple[str, str]]:
    lines = (workdir / WITNESS).read_text().splitlines()
    return [tuple(line.split("\t")[1:]) for line in lines]


@pytest.fixture(scope="module")
def runs(pythons, tmp_path_factory):
    """The native run, then a --forceall rerun of it under each emulated CPU, all at once."""
    base = tmp_path_factory.mktemp("emulation")
    native = make_emulation_workdir(base / "native")
    t0 = time.monotonic()
    proc = run_snakemake(native)
    assert proc.returncode == 0, explain(proc)
    timings = {"native": time.monotonic() - t0}
    started = {}
    for cpu in CPUS:
        copy = copy_run(native, base / cpu)
        (copy / WITNESS).unlink()
        cmd = [str(pythons[cpu]), "-m", "snakemake", "--cores", "1", "--forceall"]
        popen = subprocess.Popen(
            cmd, cwd=copy, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        started[cpu] = (copy, popen, time.monotonic())
    done = {}
    for cpu, (copy, popen, t0) in started.items():
        out, err = popen.communicate(timeout=1800)
        timings[cpu] = time.monotonic() - t0
        done[cpu] = (copy, subprocess.CompletedProcess(popen.args, popen.returncode, out, err))
    print("emulation test timings (s):", {k: round(v) for k, v in timings.items()})
    return native, done


@pytest.mark.parametrize("cpu", CPUS)
def test_the_portable_profile_reproduces_mlp_and_cnn_bit_for_bit_on_an_emulated_cpu(runs, pythons, cpu):
    native, done = runs
    workdir, proc = done[cpu]
    st = statuses(workdir)
    assert st["split/digits/seed=0"] == "identical", explain(proc)
    for exp in ("mlp", "cnn"):
        for step in STEPS:
            assert st[f"{step}/{exp}/seed=0"] == "identical", (f"{step}/{exp}", st, explain(proc))
    # The steps really ran emulated: the MLP's builder, imported by init, train and evaluate
    # in each step's own process (Snakemake's grandchild here), saw the emulated CPU...
    assert _witness(workdir) == [("AVX2", str(pythons[cpu]))] * len(STEPS)
    # ...while the native run's saw this machine's
    assert _witness(native) == [(isa_level(), sys.executable)] * len(STEPS)


@pytest.mark.parametrize("cpu", CPUS)
def test_what_lint_warns_about_is_what_does_not_reproduce_on_an_emulated_cpu(runs, cpu, tmp_path):
    lint = samebits(make_emulation_workdir(tmp_path / "lint"), "lint", "--json")
    assert lint.returncode == 1, lint.stderr
    warned = {w["experiment"] for w in json.loads(lint.stdout)}
    assert warned == {"bn"}
    workdir, proc = runs[1][cpu]
    st = statuses(workdir)
    for exp in ("mlp", "cnn", "bn"):
        reproduced = {step: st[f"{step}/{exp}/seed=0"] == "identical" for step in STEPS}
        assert reproduced["init"], (exp, st)  # initial weights carry no arithmetic
        if exp in warned:
            assert not reproduced["train"] and not reproduced["evaluate"], (exp, st)
        else:
            assert reproduced["train"] and reproduced["evaluate"], (exp, st)
    # Only the CPU differs (context under the AVX2 cap, CPUID's level AVX512 -> AVX2), so the
    # BatchNormalization steps are drifted, not diverged: train by its own outputs, evaluate
    # because its weights came from that train; verify names them and says why.
    assert st["train/bn/seed=0"] == "drifted" and st["evaluate/bn/seed=0"] == "drifted", (st, explain(proc))
    out = proc.stdout + proc.stderr
    assert "train/bn/seed=0" in out and "an op that is not portable between CPUs" in out, explain(proc)
    assert "its only changed inputs were written by train/bn/seed=0 (drifted above)" in out, explain(proc)
