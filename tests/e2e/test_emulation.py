"""Bits that travel between CPUs, proven on emulated CPUs (QEMU user mode, installed if missing).

The workflow runs natively (making the lock), then the very same tree reruns trainings and
all that follows them with Snakemake itself under ``qemu-x86_64 -cpu EPYC-Milan`` (the MLP and
the CNN) and, at the same time, under ``-cpu Haswell`` (a CNN with BatchNormalization trained
with RMSprop; the classic recipe's binary model: one sigmoid unit, binary cross-entropy,
RMSprop; and a CNN whose loss of the user's calls the raw Rsqrt op): its jobs are started with
``sys.executable``, the emulated wrapper, so every step computes with the emulated CPU's
instruction set. QEMU computes the approximate instructions exactly, so a match shows a step
runs none of them. The portable profile must give every step bit for bit, but the one
``samebits lint`` warns about, which must not reproduce.

What is rerun emulated is what does arithmetic: train and evaluate (and figures, summary and
verify after them). Split and init are not: a split is seeded index draws, initial weights
are seeded uniform draws scaled by constants, and each emulated TensorFlow process costs
about 20 s; a --forceall rerun under both CPUs found them identical (docs/portability.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from samebits.core import layout
from samebits.core.errors import SamebitsError
from samebits.diagnostics import emulation, portability
from samebits.diagnostics.portable_ops import (
    NOT_PORTABLE,
    NOT_PORTABLE_ACTIVATIONS,
    PORTABLE,
    UNMEASURED_NOTES,
    status,
)
from samebits.diagnostics.probes import CASES
from samebits.provenance.cpu import isa_level
from tests.helpers import REPO, clean_env, copy_run, explain, make_emulation_workdir, run_snakemake, samebits, statuses

pytestmark = pytest.mark.e2e

CPUS = emulation.DEFAULT_CPUS
WITNESS = Path("logs/isa_witness.txt")
STEPS = ("init", "train", "evaluate")
#: The steps rerun under emulation (see the module's text), the experiments each emulated CPU
#: retrains, and the one lint warns about (its user's loss calls tf.raw_ops.Rsqrt).
EMULATED_STEPS = ("train", "evaluate")
RETRAINED = {"Haswell": ("bn", "binary", "raw"), "EPYC-Milan": ("mlp", "cnn")}
WARNED = ("raw",)
#: The experiments whose builder writes the CPU witness (tests/models/).
WITNESSED = ("mlp", "bn")

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


def test_portability_measures_tanh_as_training_runs_it_and_agrees_with_the_tables(qemu):
    # the eager tanh op, then tanh as training runs it (a Dense layer with tanh, fused by
    # oneDNN, fit): that one crashes QEMU 7.2, and the report must say so, by name, and go on
    cases = ["dense", "batchnorm_train", "gelu", "tanh", "fit_tanh", "fit_relu", "fit_batchnorm", "fit_rmsprop"]
    # the repository's own configuration (read only: the probe writes under a temp dir)
    proc = samebits(REPO, "portability", "--cpu", "Haswell", "--cases", ",".join(cases), "--json", timeout=1800)
    assert proc.returncode == 0, proc.stderr
    assert "Haswell: [8/8] fit_rmsprop" in proc.stderr  # progress, case by case, counted over the whole run
    assert "Haswell: [5/8] fit_tanh emulation failed: the process was killed by SIGSEGV" in proc.stderr
    result = json.loads(proc.stdout)
    print("portability timings (s):", {k: v["seconds"] for k, v in result["cpus"].items()})
    assert result["cpus"]["Haswell"]["isa"] == "AVX2" and set(result["cpus"]) == {"native", "Haswell"}
    rows = {r["case"]: r for r in result["cases"]}
    assert list(rows) == cases
    assert rows["dense"]["portable"] and rows["dense"]["cpus"]["Haswell"]["match"]
    # tanh alone is portable; tanh fused in training could not be measured: the emulator died
    assert rows["tanh"]["verdict"] == "portable"
    tanh = rows["fit_tanh"]
    assert tanh["native"] is not None and tanh["verdict"] == "emulation failed" and not tanh["portable"]
    failure = tanh["cpus"]["Haswell"]["failed"]
    assert failure["why"] == "SIGSEGV", failure
    assert failure["message"] == "the process was killed by SIGSEGV (signal 11) while running it"
    assert "qemu: uncaught target signal 11" in failure["stderr"]
    assert result["failed"] == ["fit_tanh"]
    # the cases after the crash ran in a fresh emulated process, and were measured
    assert result["cpus"]["Haswell"]["processes"] == 2
    # RMSprop and BatchNormalization, with the profile's exact kernels: portable
    assert rows["fit_relu"]["verdict"] == rows["fit_rmsprop"]["verdict"] == rows["fit_batchnorm"]["verdict"]
    assert rows["fit_rmsprop"]["verdict"] == "portable" and result["not_portable"] == []
    table = portability.format_table(result)
    assert "fit_tanh: emulation failed on Haswell: the process was killed by SIGSEGV (signal 11)" in table
    assert "emulation failed (SIGSEGV)" in table
    # the tables lint uses are what this measurement says
    assert ("activation", "tanh") in UNMEASURED_NOTES
    for case, row in rows.items():
        if row["verdict"] == "emulation failed":
            continue
        verdicts = {status(kind, name)[0] for kind, names in CASES[case].pieces().items() for name in names}
        known_bad = NOT_PORTABLE in verdicts or case in NOT_PORTABLE_ACTIVATIONS  # op cases are named after the op
        assert row["portable"] is not known_bad, (case, row)
        if row["portable"]:
            assert verdicts <= {PORTABLE}, (case, verdicts)
        else:
            assert row["cpus"]["Haswell"]["max_ulp"] > 0
    assert set(result["not_portable"]) == {c for c, r in rows.items() if r["verdict"] == "not portable"}


def _witness(workdir: Path) -> list[tuple[str, str]]:
    lines = (workdir / WITNESS).read_text().splitlines()
    return [tuple(line.split("\t")[1:]) for line in lines]


@pytest.fixture(scope="module")
def runs(pythons, tmp_path_factory):
    """The native run, then a rerun of its trainings and what follows under each emulated CPU,
    all at once."""
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
        forced = [layout.train.path("weights", experiment=e, seed=0) for e in RETRAINED[cpu]]
        cmd = [str(pythons[cpu]), "-m", "snakemake", "--cores", "1", "--forcerun", *forced]
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
def test_the_portable_profile_reproduces_every_retrained_step_bit_for_bit_on_an_emulated_cpu(runs, pythons, cpu):
    native, done = runs
    workdir, proc = done[cpu]
    st = statuses(workdir)
    assert st["split/digits/seed=0"] == "identical", explain(proc)
    for exp in RETRAINED[cpu]:
        if exp in WARNED:
            continue
        for step in STEPS:
            assert st[f"{step}/{exp}/seed=0"] == "identical", (f"{step}/{exp}", st, explain(proc))
    # The steps really ran emulated: the test builders, imported by train and evaluate in
    # each step's own process (Snakemake's grandchild here), saw the emulated CPU...
    witnesses = sum(exp in WITNESSED for exp in RETRAINED[cpu])
    assert _witness(workdir) == [("AVX2", str(pythons[cpu]))] * len(EMULATED_STEPS) * witnesses
    # ...while the native run's saw this machine's
    assert _witness(native) == [(isa_level(), sys.executable)] * len(STEPS) * len(WITNESSED)


@pytest.mark.parametrize("cpu", [cpu for cpu in CPUS if set(WARNED) & set(RETRAINED[cpu])])
def test_what_lint_warns_about_is_what_does_not_reproduce_on_an_emulated_cpu(runs, cpu, tmp_path):
    lint = samebits(make_emulation_workdir(tmp_path / "lint"), "lint", "--json")
    assert lint.returncode == 1, lint.stderr
    found = json.loads(lint.stdout)
    warned = {w["experiment"] for w in found["warnings"]}
    assert warned == set(WARNED)
    assert "runs op Rsqrt (from your loss tests/models/losses.py:raw_rsqrt" in found["warnings"][0]["message"]
    workdir, proc = runs[1][cpu]
    st = statuses(workdir)
    for exp in RETRAINED[cpu]:
        reproduced = {step: st[f"{step}/{exp}/seed=0"] == "identical" for step in STEPS}
        assert reproduced["init"], (exp, st)  # not rerun: the native record
        if exp in warned:
            assert not reproduced["train"] and not reproduced["evaluate"], (exp, st)
        else:
            assert reproduced["train"] and reproduced["evaluate"], (exp, st)
    out = proc.stdout + proc.stderr
    if isa_level() != "AVX2":
        # Only the CPU differs (context under the AVX2 cap, CPUID's level e.g. AVX512 -> AVX2),
        # so the raw op's steps are drifted, not diverged: train by its own outputs, evaluate
        # because its weights came from that train; verify names them and says why.
        verdict = "drifted"
        assert "an op that is not portable between CPUs" in out, explain(proc)
    else:
        # On an AVX2 host the emulated CPU has the same CPUID level, and QEMU shows the host's
        # /proc/cpuinfo: nothing recorded tells the two CPUs apart, so verify can only say
        # diverged (a real second CPU has its own model and flags, and drifts).
        verdict = "diverged"
        assert "inputs, params, code and environment are the same" in out, explain(proc)
    assert st["train/raw/seed=0"] == verdict and st["evaluate/raw/seed=0"] == verdict, (st, explain(proc))
    assert f"its only changed inputs were written by train/raw/seed=0 ({verdict} above)" in out, explain(proc)
