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


# The probe runner, on probe processes that really crash, exit or hang (no TensorFlow, no QEMU:
# a stand-in probe module with the real protocol, started as a subprocess by the real runner).

FAKE_PROBE = """
import json, os, signal, sys, time
from pathlib import Path

import numpy as np

from samebits.core.hashing import hash_arrays


def emit(event, **fields):
    print(json.dumps({"event": event, **fields}), flush=True)


def main(argv):
    cases = argv[argv.index("--cases") + 1].split(",")
    out = Path(argv[argv.index("--out") + 1])
    out.mkdir(parents=True, exist_ok=True)
    emit("ready", isa="TEST", executable=sys.executable)
    for name in cases:
        emit("start", case=name)
        if name.startswith("segfault"):
            print("about to crash", file=sys.stderr, flush=True)
            os.kill(os.getpid(), signal.SIGSEGV)
        if name.startswith("exit"):
            os._exit(3)
        if name.startswith("hang"):
            time.sleep(600)
        if name.startswith("raise"):
            emit("error", case=name, error="ValueError: no good")
            continue
        arrays = {"x": np.arange(len(name), dtype=np.float32)}
        np.savez(out / f"{name}.npz", **arrays)
        emit("done", case=name, sha256=hash_arrays(arrays)[0], seconds=0.0)


if __name__ == "__main__":
    main(sys.argv[1:])
"""
SETTINGS = {"profile": "portable", "threads": 1, "op_determinism": True}


@pytest.fixture
def fake_probe(tmp_path, monkeypatch):
    (tmp_path / "fake_probe.py").write_text(FAKE_PROBE)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    return "fake_probe"


def run_fake(module, tmp_path, cases, **kwargs):
    import sys

    from samebits.diagnostics.portability import run_probe

    lines = []
    result = run_probe(
        sys.executable,
        cases,
        tmp_path / "out",
        label=kwargs.pop("label", "Haswell"),
        settings=SETTINGS,
        module=module,
        progress=lines.append,
        **kwargs,
    )
    return result, lines


def test_a_case_that_kills_the_probe_with_sigsegv_fails_alone_and_the_others_still_run(fake_probe, tmp_path):
    result, progress = run_fake(fake_probe, tmp_path, ["one", "segfault_here", "three", "four"], timeout=60)
    assert sorted(result["cases"]) == ["four", "one", "three"]  # before and after the crash
    assert list(result["failed"]) == ["segfault_here"]
    failure = result["failed"]["segfault_here"]
    assert failure["why"] == "SIGSEGV"
    assert failure["message"] == "the process was killed by SIGSEGV (signal 11) while running it"
    assert "about to crash" in failure["stderr"]
    assert result["processes"] == 2  # the cases after the crash ran in a fresh process
    assert progress[:3] == [
        "Haswell: [1/4] one 0.0s",
        "Haswell: [2/4] segfault_here emulation failed: the process was killed by SIGSEGV (signal 11) while running "
        "it; the cases after it run in a fresh process",
        "Haswell: [3/4] three 0.0s",
    ]
    assert all((tmp_path / "out" / f"{c}.npz").is_file() for c in ("one", "three", "four"))


def test_an_exit_a_raise_and_a_hang_each_fail_their_case_with_the_reason(fake_probe, tmp_path):
    cases = ["exit_now", "fine", "raise_it", "hang_forever", "last"]
    result, progress = run_fake(fake_probe, tmp_path, cases, timeout=3, label="native")
    assert sorted(result["cases"]) == ["fine", "last"]
    failed = result["failed"]
    assert failed["exit_now"]["why"] == "exit 3"
    assert failed["exit_now"]["message"] == "the process exited with status 3 while running it"
    assert failed["raise_it"] == {"why": "raised ValueError", "message": "the case raised ValueError: no good"}
    assert failed["hang_forever"]["why"] == "timeout"
    assert failed["hang_forever"]["message"] == "no result within 3 s (the timeout); the process was stopped"
    assert result["processes"] == 3
    assert progress[0].startswith("native: [1/5] exit_now failed: the process exited with status 3 while running it")
    assert "native: [3/5] raise_it failed: the case raised ValueError: no good" in progress


def test_a_probe_that_cannot_start_fails_every_case_once(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    (tmp_path / "broken_probe.py").write_text("import sys\nsys.exit('cannot import anything')\n")
    result, _ = run_fake("broken_probe", tmp_path, ["a", "b"], timeout=60)
    assert result["cases"] == {} and result["processes"] == 1
    for case in ("a", "b"):
        assert result["failed"][case]["message"] == (
            "the probe process failed before its first case: the process exited with status 1"
        )
        assert "cannot import anything" in result["failed"][case]["stderr"]


def test_what_portable_ops_calls_measured_is_run_by_a_probe_case_that_names_it():
    from samebits.diagnostics import portable_ops
    from samebits.diagnostics.probes import CASES

    named: dict[tuple[str, str], list[str]] = {}
    for case_name, case in CASES.items():
        for kind, names in case.pieces().items():
            assert kind in portable_ops.KINDS, (case_name, kind)
            for name in names:
                named.setdefault((kind, name), []).append(case_name)
    for kind, (bad, good) in portable_ops.KINDS.items():
        for table in (bad, *good):
            if table is portable_ops.NO_ARITHMETIC_LAYERS:
                continue  # portable without a measurement, by what they do
            for name in table:
                if (kind, name) == ("activation", "linear"):
                    continue  # the identity
                assert (kind, name) in named, f"portable_ops names {kind} {name!r}, but no probe case runs it"
    for kind, name in portable_ops.UNMEASURED_NOTES:
        assert (kind, name) in named, (kind, name)
    # and every piece a case runs has a verdict or a note saying why it has none
    for (kind, name), cases in named.items():
        verdict, why = portable_ops.status(kind, name)
        assert verdict != portable_ops.UNMEASURED or why, f"{kind} {name!r} is run by {cases} but has no verdict"


def test_a_piece_no_case_runs_is_unmeasured_and_an_unknown_kind_is_refused(monkeypatch):
    from samebits.diagnostics import portable_ops

    assert portable_ops.status("layer", "SimpleRNN") == (portable_ops.UNMEASURED, "")
    assert portable_ops.status("loss", "src/losses.py:mine") == (portable_ops.UNMEASURED, "")
    # the normalisation layers run the profile's exact rsqrt: measured portable
    assert portable_ops.status("layer", "BatchNormalization")[0] == portable_ops.PORTABLE
    monkeypatch.setitem(portable_ops.NOT_PORTABLE_LAYERS, "Odd", "rounds oddly")
    assert portable_ops.status("layer", "Odd") == (portable_ops.NOT_PORTABLE, "rounds oddly")
    assert portable_ops.status("layer", "Flatten") == (portable_ops.PORTABLE, "reshapes (values unchanged)")
    with pytest.raises(ValueError, match="unknown kind of piece 'callback'; accepted: layer, activation"):
        portable_ops.status("callback", "EarlyStopping")
