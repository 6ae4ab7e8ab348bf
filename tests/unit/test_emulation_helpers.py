"""The ISA level by CPUID, and the emulated interpreter's pieces that need no QEMU (no TensorFlow)."""

import pytest

from samebits.core.errors import SamebitsError
from samebits.diagnostics.emulation import check_cpu_name, ensure_qemu
from samebits.provenance.cpu import ISA_LEVELS, ISA_ORDER, cpu_features, isa_level

HASWELL = {"SSE41": True, "AVX": True, "F16C": True, "FMA3": True, "AVX2": True, "AVX512F": False}
SKYLAKE_X = {**HASWELL, "AVX512F": True, "AVX512_SKX": True, "AVX512VNNI": False}


@pytest.mark.parametrize(
    "features, level",
    [
        ({}, "baseline"),
        ({"SSE41": True}, "SSE41"),
        ({"SSE41": True, "AVX": True}, "AVX"),
        ({"SSE41": True, "AVX": True, "AVX2": True, "FMA3": False}, "AVX"),  # AVX2 without FMA: not oneDNN's AVX2
        (HASWELL, "AVX2"),
        ({**HASWELL, "AVX512F": True}, "AVX2"),  # AVX-512 F alone (Knights Landing) is not AVX512_CORE
        (SKYLAKE_X, "AVX512_CORE"),
        ({**SKYLAKE_X, "AVX512VNNI": True}, "AVX512_CORE_VNNI"),
        ({**SKYLAKE_X, "AVX512VNNI": True, "AVX512BF16": True}, "AVX512_CORE_BF16"),
    ],
)
def test_isa_level_names_the_best_complete_level(features, level):
    assert isa_level(features) == level


def test_isa_level_of_this_cpu_agrees_with_its_features():
    features = cpu_features()
    level = isa_level()
    assert level in {name for name, _ in ISA_LEVELS} | {"baseline"}
    needs = dict(ISA_LEVELS).get(level, ())
    assert all(features[f] for f in needs)
    # and the next better level is really missing something
    names = [name for name, _ in ISA_LEVELS]
    if level in names and names.index(level) > 0:
        better = dict(ISA_LEVELS)[names[names.index(level) - 1]]
        assert not all(features.get(f, False) for f in better)


@pytest.mark.parametrize("name", ["Haswell", "EPYC-Milan", "Skylake-Client-v4", "max"])
def test_qemu_cpu_names_are_accepted(name):
    assert check_cpu_name(name) == name


@pytest.mark.parametrize("name", ["", "Haswell; rm -rf /", "Has well", "$(id)", "a'b"])
def test_cpu_names_that_could_break_the_wrapper_script_are_refused(name):
    with pytest.raises(SamebitsError, match="not a QEMU CPU name"):
        check_cpu_name(name)


def test_the_two_tables_of_levels_name_the_same_levels():
    assert sorted(name for name, _ in ISA_LEVELS) == sorted(ISA_ORDER)
    assert [name for name, _ in ISA_LEVELS] == list(reversed(ISA_ORDER))


def test_without_qemu_and_not_allowed_to_install_the_error_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no qemu-x86_64 on it
    with pytest.raises(
        SamebitsError, match=r"qemu-x86_64 is not installed \(not allowed here\).*apt-get install qemu-user"
    ):
        ensure_qemu(install=False)
