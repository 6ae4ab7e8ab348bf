"""Which ops and Keras layers give the same bits on other x86-64 CPUs (``samebits portability``).

Runs the probe (:mod:`samebits.diagnostics.probes`) in a fresh process with the determinism
profile's environment, natively and under each emulated CPU
(:mod:`samebits.diagnostics.emulation`), and compares the canonical checksum of every case's
arrays. A case is *portable* when every CPU gives the native bits. What was found is kept in
:mod:`samebits.diagnostics.portable_ops`, which ``samebits lint`` uses.

A probe process that dies (a signal, such as QEMU's SIGSEGV; a non-zero exit) or that gives no
word for ``timeout`` seconds costs only the case it was running: that case is reported as
``failed`` (natively) or ``emulation failed`` (under an emulated CPU) with the reason, and the
cases after it run in a fresh process. A case that raises is reported the same way.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import SamebitsError
from ..ml import determinism
from ..provenance.cpu import cpu_info
from . import emulation
from .probes import CASES, EVENTS, check_cases
from .treediff import diff_array

__all__ = ["DEFAULT_TIMEOUT", "PROBE_MODULE", "format_table", "run", "run_probe"]

#: Seconds a probe process may go without a word (starting up, or running one case) before it
#: is stopped and the case counted as failed. An emulated LSTM fit takes about a minute here.
DEFAULT_TIMEOUT = 600.0
#: The module the probe process runs (``python -m``).
PROBE_MODULE = "samebits.diagnostics.probes"
#: Lines of a failed process's stderr kept in the result.
_TAIL = 40


def _describe_exit(returncode: int) -> tuple[str, str]:
    """``(short, sentence)`` for a process's non-zero exit status."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return name, f"the process was killed by {name} (signal {-returncode})"
    return f"exit {returncode}", f"the process exited with status {returncode}"


def _reader(stream: Iterable[str], sink: queue.Queue) -> None:
    for line in stream:
        sink.put(line)
    sink.put(None)


def _one_process(
    cmd: list[str], env: dict[str, str], timeout: float, on_case: Callable[[dict], None]
) -> dict[str, Any]:
    """Run one probe process to its end (or stop it); what it finished and how it ended.

    ``on_case`` gets each ``done`` and ``error`` event as it comes.
    """
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    events: queue.Queue = queue.Queue()
    tail: list[str] = []

    def relay() -> None:
        assert proc.stderr is not None  # stderr=PIPE
        for line in proc.stderr:
            tail.append(line)
            del tail[:-_TAIL]

    threads = [threading.Thread(target=_reader, args=(proc.stdout, events), daemon=True)]
    threads.append(threading.Thread(target=relay, daemon=True))
    for t in threads:
        t.start()
    got: dict[str, Any] = {"isa": None, "done": {}, "errors": {}, "running": None, "ended": None, "why": None}
    got["exact_kernels"] = None
    waited_for = "starting up"
    deadline = time.monotonic() + timeout  # moved on by each event, not by stray output
    while True:
        try:
            line = events.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            got["why"] = "timeout"
            got["ended"] = f"no word for {timeout:g} s while {waited_for} (timeout); the process was stopped"
            break
        if line is None:  # stdout closed: the process is ending
            proc.wait()
            if proc.returncode != 0:
                got["why"], got["ended"] = _describe_exit(proc.returncode)
            break
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue  # a stray print of a library; events are whole JSON lines
        kind = event.get("event") if isinstance(event, dict) else None
        if kind in EVENTS:
            deadline = time.monotonic() + timeout
        if kind == "ready":
            got["isa"] = event["isa"]
            got["exact_kernels"] = event.get("exact_kernels")
        elif kind == "start":
            got["running"] = event["case"]
            waited_for = f"running case {event['case']}"
        elif kind in ("done", "error"):
            on_case(event)
            if kind == "done":
                got["done"][event["case"]] = event["sha256"]
            else:
                got["errors"][event["case"]] = event["error"]
            got["running"] = None
            waited_for = "starting the next case"
    for t in threads:
        t.join(timeout=10)
    got["tail"] = "".join(tail)[-3000:]
    return got


def run_probe(
    python: str,
    cases: list[str],
    out_dir: str | Path,
    *,
    label: str,
    settings: dict[str, Any],
    timeout: float = DEFAULT_TIMEOUT,
    progress: Callable[[str], None] | None = None,
    module: str = PROBE_MODULE,
) -> dict[str, Any]:
    """Run ``cases`` with the probe ``module`` under ``python``, in as many processes as it takes.

    A process that dies or goes ``timeout`` seconds without a word fails the case it was
    running (or, before its first case, every case left); the cases after it run in a fresh
    process. ``settings`` are the determinism settings (``profile``, ``threads``,
    ``op_determinism``), given to the process as its starting environment and arguments.

    Returns ``{"isa", "seconds", "processes", "cases": {case: sha256}, "failed": {case:
    failure}}``; each case's arrays are in ``out_dir/<case>.npz``. A failure has ``why`` (short:
    ``SIGSEGV``, ``exit 3``, ``timeout``, ``raised ValueError``), ``message`` (what happened)
    and, for a process that died, ``stderr`` (its last lines).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAKEMAKE")}
    env.update(determinism.process_env(**settings))
    out_dir = Path(out_dir)
    result: dict[str, Any] = {"isa": None, "seconds": 0.0, "processes": 0, "cases": {}, "failed": {}}
    result["exact_kernels"] = None
    pending = list(cases)
    t0 = time.monotonic()

    counted = 0  # cases finished, over all processes: progress counts over the whole run

    def tell(case: str, said: str) -> None:
        nonlocal counted
        counted += 1
        if progress:
            progress(f"{label}: [{counted}/{len(cases)}] {case} {said}")

    def on_case(event: dict[str, Any]) -> None:
        said = f"{event['seconds']:.1f}s" if event["event"] == "done" else f"failed: the case raised {event['error']}"
        tell(event["case"], said)

    while pending:
        cmd = [python, "-m", module, "--probe", "--cases", ",".join(pending), "--out", str(out_dir)]
        cmd += ["--profile", settings["profile"], "--threads", str(settings["threads"])]
        cmd += ["--op-determinism", "true" if settings["op_determinism"] else "false"]
        result["processes"] += 1
        got = _one_process(cmd, env, timeout, on_case)
        result["isa"] = result["isa"] or got["isa"]
        if got["exact_kernels"] is not None:
            result["exact_kernels"] = got["exact_kernels"]
        result["cases"].update(got["done"])
        for case, error in got["errors"].items():
            result["failed"][case] = {"why": "raised " + error.split(":")[0], "message": f"the case raised {error}"}
        pending = [c for c in pending if c not in got["done"] and c not in got["errors"]]
        if got["ended"] is None:
            for case in pending:  # a clean exit that skipped cases: say so rather than loop
                result["failed"][case] = {"why": "not run", "message": "the probe process ended without running it"}
            break
        failure = {"why": got["why"], "message": got["ended"], "stderr": got["tail"]}
        if got["running"] is None and got["isa"] is None:
            message = f"the probe process failed before its first case: {got['ended']}"
            for case in pending:  # it died starting up: a fresh process would too
                result["failed"][case] = {**failure, "message": message}
                tell(case, f"{_failure_word(label)}: {message}")
            break
        culprit = got["running"] or pending[0]
        if got["why"] == "timeout":
            message = f"no result within {timeout:g} s (the timeout); the process was stopped"
        else:
            message = f"{got['ended']} while running it"
        result["failed"][culprit] = {**failure, "message": message}
        pending.remove(culprit)
        tell(culprit, f"{_failure_word(label)}: {message}; the cases after it run in a fresh process")
    result["seconds"] = round(time.monotonic() - t0, 1)
    if progress:
        n_failed = len(result["failed"])
        extra = f", {n_failed} {_failure_word(label)}" if n_failed else ""
        progress(f"{label}: done in {result['seconds']:.0f}s ({result['isa']}{extra})")
    return result


def _failure_word(label: str) -> str:
    return "failed" if label == "native" else "emulation failed"


def _compare(native: Path, other: Path) -> dict[str, Any]:
    """The largest differences between one case's arrays from two CPUs (the same ULP
    arithmetic as ``samebits diff``)."""
    worst: dict[str, Any] = {"n_arrays_differ": 0, "max_ulp": 0, "max_abs": 0.0}
    with np.load(native) as za, np.load(other) as zb:
        for key in sorted(za.files):
            entry = diff_array(key, za[key], zb[key])
            if entry is None:
                continue
            worst["n_arrays_differ"] += 1
            worst["max_ulp"] = max(worst["max_ulp"], entry["max_ulp"] or 0)
            if isinstance(entry["max_abs"], float):
                worst["max_abs"] = max(worst["max_abs"], entry["max_abs"])
    return worst


def run(
    cpus: Iterable[str] = emulation.DEFAULT_CPUS,
    cases: Iterable[str] | None = None,
    *,
    profile: str,
    threads: int,
    op_determinism: bool,
    jobs: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    workdir: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the probe natively and under each emulated CPU and compare, case by case.

    Returns a JSON-ready dict: ``host``, ``profile``, ``cpus`` (label -> isa, seconds,
    processes), ``cases`` (one entry per case: native checksum, per CPU ``match`` and the
    largest difference or ``failed``, ``verdict`` and ``portable``), ``not_portable`` and
    ``failed`` (the cases whose verdict is ``failed`` or ``emulation failed``: not measured).
    Emulated probes run ``jobs`` at a time (default: one per core); ``timeout`` is
    :func:`run_probe`'s.
    """
    from concurrent.futures import ThreadPoolExecutor

    cases = check_cases(cases)
    cpus = [emulation.check_cpu_name(c) for c in cpus]
    if profile not in determinism.PROFILES:
        raise SamebitsError(f"unknown profile {profile!r}; accepted: {', '.join(determinism.PROFILES)}")
    if not timeout > 0:
        raise SamebitsError(f"the probe timeout must be a number of seconds > 0, got {timeout!r}")
    qemu = emulation.ensure_qemu() if cpus else None
    with tempfile.TemporaryDirectory(prefix="samebits-portability-", dir=workdir) as tmp_name:
        tmp = Path(tmp_name)
        pythons = {"native": sys.executable}
        for cpu in cpus:
            pythons[cpu] = str(emulation.emulated_python(cpu, tmp / f"python-{cpu}", qemu=qemu))

        def one(label: str) -> dict[str, Any]:
            if progress:
                progress(f"{label}: running {len(cases)} case(s)")
            settings = {"profile": profile, "threads": threads, "op_determinism": op_determinism}
            return run_probe(
                pythons[label], cases, tmp / label, label=label, settings=settings, timeout=timeout, progress=progress
            )

        native = one("native")
        with ThreadPoolExecutor(max_workers=max(1, jobs or os.cpu_count() or 1)) as pool:
            emulated = dict(zip(cpus, pool.map(one, cpus), strict=True))
        rows = [_row(case, native, emulated, tmp) for case in cases]
    return {
        "profile": profile,
        "settings": {"profile": profile, "threads": threads, "op_determinism": op_determinism},
        "exact_kernels": native["exact_kernels"],
        "host": {"cpu": cpu_info()["model"] or cpu_info()["machine"], "isa": native["isa"]},
        "cpus": {
            k: {"isa": r["isa"], "seconds": r["seconds"], "processes": r["processes"]}
            for k, r in {"native": native, **emulated}.items()
        },
        "cases": rows,
        "not_portable": [r["case"] for r in rows if r["verdict"] == "not portable"],
        "failed": [r["case"] for r in rows if r["verdict"] in ("failed", "emulation failed")],
    }


def _row(case: str, native: dict[str, Any], emulated: dict[str, dict[str, Any]], tmp: Path) -> dict[str, Any]:
    """One case's line of the result: each CPU against the native bits, and the verdict."""
    row: dict[str, Any] = {"case": case, "what": CASES[case].what, "native": native["cases"].get(case), "cpus": {}}
    if case in native["failed"]:
        row["failed"] = native["failed"][case]
    for cpu, res in emulated.items():
        if case in res["failed"]:
            row["cpus"][cpu] = {"match": None, "sha256": None, "failed": res["failed"][case]}
            continue
        entry: dict[str, Any] = {"sha256": res["cases"][case]}
        entry["match"] = None if row["native"] is None else entry["sha256"] == row["native"]
        if entry["match"] is False:
            entry.update(_compare(tmp / "native" / f"{case}.npz", tmp / cpu / f"{case}.npz"))
        row["cpus"][cpu] = entry
    entries = row["cpus"].values()
    if "failed" in row:
        row["verdict"] = "failed"
    elif any(e["match"] is False for e in entries):
        row["verdict"] = "not portable"  # whatever another CPU did, one gave other bits
    elif any("failed" in e for e in entries):
        row["verdict"] = "emulation failed"
    else:
        row["verdict"] = "portable"
    row["portable"] = row["verdict"] == "portable"
    return row


#: How the table shows a verdict (the rest as they are).
_VERDICTS = {"not portable": "NOT portable"}


def format_table(result: dict[str, Any]) -> str:
    """The human table of :func:`run`'s result."""
    cpus = [c for c in result["cpus"] if c != "native"]
    head = ", ".join(f"{c} ({result['cpus'][c]['isa']})" for c in cpus) or "none"
    lines = [
        f"samebits portability: profile {result['profile']}; host {result['host']['cpu']} "
        f"({result['host']['isa']}); emulated: {head}",
        "",
    ]
    width = max([len("case"), *(len(r["case"]) for r in result["cases"])])

    def cell(entry: dict[str, Any]) -> str:
        if "failed" in entry:
            return f"emulation failed ({entry['failed']['why']})"
        if entry["match"] is None:
            return "-"
        return "match" if entry["match"] else f"differs ({entry['max_ulp']} ULP)"

    cells = {r["case"]: [cell(r["cpus"][c]) for c in cpus] for r in result["cases"]}
    cols = [max([len(c), 18, *(len(cells[r["case"]][i]) for r in result["cases"])]) for i, c in enumerate(cpus)]
    header = f"{'case':<{width}}  {'native':<12}  " + "  ".join(f"{c:<{w}}" for c, w in zip(cpus, cols, strict=True))
    lines.append(header + "  verdict")
    failures = []
    for r in result["cases"]:
        short = r["native"].removeprefix("sha256:")[:12] if r["native"] else "failed"
        shown = "  ".join(f"{t:<{w}}" for t, w in zip(cells[r["case"]], cols, strict=True))
        lines.append(f"{r['case']:<{width}}  {short:<12}  {shown}  {_VERDICTS.get(r['verdict'], r['verdict'])}")
        if "failed" in r:
            failures.append(f"  {r['case']} failed natively: {r['failed']['message']}")
        failures += [
            f"  {r['case']}: emulation failed on {c}: {e['failed']['message']}"
            for c, e in r["cpus"].items()
            if "failed" in e
        ]
    n_ok = sum(r["portable"] for r in result["cases"])
    lines += ["", f"{n_ok}/{len(result['cases'])} cases portable"]
    if result["not_portable"]:
        lines.append("NOT portable: " + ", ".join(result["not_portable"]) + " (see docs/portability.md)")
    if result["failed"]:
        lines.append(
            f"not measured, the probe failed: {', '.join(result['failed'])} (`--json` has each process's last output):"
        )
        lines += failures
    return "\n".join(lines)
