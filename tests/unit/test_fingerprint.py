"""What decides the bits in a fingerprint, and what is only context under the ISA cap."""

import copy

import pytest

from samebits.core.errors import DeterminismError
from samebits.ml import determinism
from samebits.provenance import cpu
from samebits.provenance import fingerprint as envinfo


def _env(isa="AVX512_CORE_BF16", model="AMD EPYC", vendor="AuthenticAMD", cap="AVX2"):
    env = envinfo.fingerprint()
    env = copy.deepcopy(env)
    env["cpu"].update(isa=isa, model=model, vendor=vendor, flags=[f"f-{model}"] * 3 + ["x"] * 8)
    env["variables"]["ONEDNN_MAX_CPU_ISA"] = cap
    return env


def test_this_machine_reports_its_isa_level_by_cpuid():
    assert cpu.cpu_info()["isa"] in (*cpu.ISA_ORDER, "baseline")


def test_under_the_cap_another_cpu_model_is_context_not_bits():
    amd, intel = _env(), _env(isa="AVX2", model="Intel Haswell", vendor="GenuineIntel")
    assert envinfo.bit_deciding(amd) == envinfo.bit_deciding(intel)
    found = envinfo.environment_differences(amd, intel)
    assert found and not any(d.deciding for d in found)
    assert "environment.cpu.model AMD EPYC → Intel Haswell (not bit-deciding: oneDNN capped at AVX2 on both)" in map(
        str, found
    )


def test_without_the_cap_the_cpu_decides_the_bits():
    amd, intel = _env(cap="ALL"), _env(isa="AVX2", model="Intel Haswell", vendor="GenuineIntel", cap="ALL")
    found = envinfo.environment_differences(amd, intel)
    assert found and all(d.deciding for d in found)


def test_a_cpu_below_the_cap_decides_the_bits():
    amd, old = _env(), _env(isa="AVX", model="Sandy Bridge")
    found = envinfo.environment_differences(amd, old)
    assert "environment.cpu.isa added (AVX)" in map(str, found)
    assert all(d.deciding for d in found)


def test_versions_always_decide():
    a, b = _env(), _env(isa="AVX2")
    b["packages"]["tensorflow"] = "2.20.0"
    found = envinfo.environment_differences(a, b)
    assert any(d.path == ("environment", "packages", "tensorflow") and d.deciding for d in found)


@pytest.mark.parametrize(("isa", "machine"), [("AVX", "x86_64"), ("SSE41", "x86_64"), ("baseline", "aarch64")])
def test_portable_profile_refuses_a_cpu_without_avx2_and_says_what_to_do(isa, machine):
    with pytest.raises(DeterminismError) as err:
        determinism.check_cpu("portable", isa=isa, machine=machine)
    assert "needs an x86-64 CPU with AVX2" in str(err.value) and "profile: native" in str(err.value)
    determinism.check_cpu("native", isa=isa, machine=machine)  # the opt-out runs anywhere


def test_portable_profile_accepts_avx2_and_better():
    for isa in ("AVX2", "AVX512_CORE", "AVX512_CORE_BF16"):
        determinism.check_cpu("portable", isa=isa, machine="x86_64")
