"""What a run of the workflow does around its jobs (samebits.lifecycle): the process
environment at its start, the files it sets aside and puts back, the verdict it prints at its
end, and what it says when the Snakefile does not call its handlers (no TensorFlow, no
Snakemake)."""

from __future__ import annotations

import copy
import os

import pytest

from samebits.core import layout
from samebits.core.errors import SamebitsError
from samebits.lifecycle import RunHooks
from samebits.plan import Plan
from tests.helpers import SMALL_CONFIG

GOOD = SMALL_CONFIG


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_start_sets_the_process_environment(workdir, monkeypatch):
    hooks = RunHooks(Plan.check(copy.deepcopy(GOOD)))
    for key in hooks.plan.process_env():
        monkeypatch.delenv(key, raising=False)
    assert hooks.start(main_process=False) == []
    assert {k: os.environ[k] for k in hooks.plan.process_env()} == hooks.plan.process_env()


def _verdict(status: str) -> None:
    path = layout.verify.verdict
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        fh.write(f"{status}\nsamebits verify: the verdict\n")


def _at_exit(monkeypatch) -> dict[str, list]:
    """What a run's start registers to happen at its exit, by function name."""
    registered: dict[str, list] = {}
    monkeypatch.setattr("atexit.register", lambda f: registered.setdefault(f.__name__, []).append(f))
    return registered


def test_a_failed_verdict_is_set_aside_and_put_back_unless_the_run_replaced_it(workdir, monkeypatch):
    registered = _at_exit(monkeypatch)
    _verdict("failed")
    hooks = RunHooks(Plan.check(copy.deepcopy(GOOD)))
    hooks.start(main_process=True)
    assert not os.path.exists(layout.verify.verdict)  # so Snakemake runs verify again
    (put_back,) = registered["_put_back"]
    put_back()  # the run ended without verifying (a dry run, or a failure before verify)
    assert open(layout.verify.verdict).readline() == "failed\n"
    assert not os.path.exists(layout.SET_ASIDE)

    registered.clear()
    hooks.start(main_process=True)
    _verdict("passed")  # verify ran again
    registered["_put_back"][0]()
    assert open(layout.verify.verdict).readline() == "passed\n" and not os.path.exists(layout.SET_ASIDE)


def test_a_passed_verdict_stays_where_it_is(workdir, monkeypatch):
    registered = _at_exit(monkeypatch)
    _verdict("passed")
    RunHooks(Plan.check(copy.deepcopy(GOOD))).start(main_process=True)
    assert open(layout.verify.verdict).readline() == "passed\n"
    assert "_put_back" not in registered  # nothing to put back


def test_a_run_whose_snakefile_does_not_call_the_handlers_says_so_at_exit(workdir, monkeypatch, capsys):
    registered = _at_exit(monkeypatch)
    hooks = RunHooks(Plan.check(copy.deepcopy(GOOD)))
    hooks.start(main_process=True)
    (unannounced,) = registered["_unannounced"]
    unannounced()  # this run did not verify: nothing to say
    assert capsys.readouterr().err == ""
    _verdict("failed")  # verify ran, and no onsuccess handler printed it
    unannounced()
    assert capsys.readouterr().err == (
        "samebits: verification failed (results/verification.txt), but the run's Snakefile does not call "
        "samebits' handlers, so the verdict was not shown and a failed verification did not fail the run; "
        "add `onstart: samebits.onstart()` and `onsuccess: samebits.onsuccess()` to workflow/Snakefile "
        "(README 'Use it in your paper's repository')\n"
    )
    with pytest.raises(SystemExit):
        hooks.onsuccess()  # the handler ran
    capsys.readouterr()
    unannounced()
    assert capsys.readouterr().err == ""


def test_a_file_that_cannot_be_set_aside_is_a_clear_error(workdir, monkeypatch):
    monkeypatch.setattr("atexit.register", lambda f: None)
    _verdict("failed")
    os.makedirs(os.path.dirname(layout.SET_ASIDE))
    with open(layout.SET_ASIDE, "w") as fh:  # a file where the folder must go
        fh.write("in the way")
    monkeypatch.setattr("samebits.lifecycle._drop_leftovers", lambda: None)
    with pytest.raises(SamebitsError, match="cannot set results/verification.txt aside"):
        RunHooks(Plan.check(copy.deepcopy(GOOD))).start(main_process=True)
    assert open(layout.verify.verdict).readline() == "failed\n"


def test_onsuccess_prints_this_runs_verdict_and_fails_when_it_failed(workdir, capsys, monkeypatch):
    _at_exit(monkeypatch)
    hooks = RunHooks(Plan.check(copy.deepcopy(GOOD)))
    hooks.start(main_process=True)
    _verdict("passed")
    hooks.onsuccess()
    assert capsys.readouterr().out == "samebits verify: the verdict\n"
    _verdict("failed")
    with pytest.raises(SystemExit) as info:
        hooks.onsuccess()
    assert info.value.code == 1
    captured = capsys.readouterr()
    assert captured.out == "samebits verify: the verdict\n"
    assert f"samebits: verification failed; {hooks.plan.lock} was kept as it was" in captured.err


def test_onsuccess_says_nothing_of_an_earlier_runs_verdict(workdir, capsys):
    _verdict("failed")
    os.utime(layout.verify.verdict, (1, 1))
    hooks = RunHooks(Plan.check(copy.deepcopy(GOOD)))
    hooks._started = 1_000_000.0  # this run started long after that verdict was written
    hooks.onsuccess()
    assert capsys.readouterr().out == ""


def test_on_another_cpu_the_start_says_what_lint_found_in_the_models():
    from samebits.lifecycle import other_cpu_message

    lines = "  cpu.model: AMD EPYC -> Intel Xeon"
    level, text = other_cpu_message("samebits.lock", lines, [], None)
    assert level == "info"
    assert text == (
        "samebits: another CPU than the one samebits.lock was made on, under the same ISA cap;\n"
        "samebits lint found no op with an approximate kernel in any experiment's training, so every step "
        f"should reproduce bit for bit:\n{lines}"
    )
    level, text = other_cpu_message("samebits.lock", lines, ["experiment 'raw' runs op Rsqrt (from your loss)"], None)
    assert level == "warning"
    assert "the steps should reproduce bit for bit, but for what samebits lint finds not portable" in text
    assert "\n  - experiment 'raw' runs op Rsqrt (from your loss)\n" + lines in text
    level, text = other_cpu_message("samebits.lock", lines, [], "it took more than 600 s")
    assert level == "info" and "samebits lint could not check that (it took more than 600 s)" in text
