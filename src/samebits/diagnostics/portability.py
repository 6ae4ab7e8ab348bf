"""Which ops and Keras layers give the same bits on other x86-64 CPUs (``samebits portability``).

Runs the probe (:mod:`samebits.diagnostics.probes`) in a fresh process with the determinism
profile's environment, natively and under each emulated CPU
(:mod:`samebits.diagnostics.emulation`), and compares the canonical checksum of every case's
arrays. A case is *portable* when every CPU gives the native bits. What was found is kept in
:mod:`samebits.diagnostics.portable_ops`, which ``samebits lint`` uses.
"""

from __future__ import annotations

import json
import os
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
from .probes import CASES, check_cases
from .treediff import diff_array

__all__ = ["format_table", "run"]


def _run_probe(python: str, label: str, cases: list[str], out: Path, settings: dict[str, Any], progress):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAKEMAKE")}
    env.update(determinism.process_env(**settings))
    cmd = [python, "-m", "samebits.diagnostics.probes", "--probe", "--cases", ",".join(cases), "--out", str(out)]
    cmd += ["--profile", settings["profile"], "--threads", str(settings["threads"])]
    cmd += ["--op-determinism", "true" if settings["op_determinism"] else "false"]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    tail: list[str] = []

    def relay():
        for line in proc.stderr:
            tail.append(line)
            del tail[:-40]
            if progress and line.startswith("["):
                progress(f"{label}: {line.rstrip()}")

    reader = threading.Thread(target=relay, daemon=True)
    reader.start()
    stdout = proc.stdout.read()
    proc.wait()
    reader.join()
    if proc.returncode != 0:
        raise SamebitsError(f"the probe on {label} failed (exit {proc.returncode}):\n{''.join(tail)[-3000:]}")
    result = json.loads(stdout.strip().splitlines()[-1])
    result["seconds"] = round(time.monotonic() - t0, 1)
    if progress:
        progress(f"{label}: done in {result['seconds']:.0f}s ({result['isa']})")
    return result


def _compare(native: Path, other: Path, case: str) -> dict[str, Any]:
    # the same ULP arithmetic as `samebits diff`

    worst: dict[str, Any] = {"n_arrays_differ": 0, "max_ulp": 0, "max_abs": 0.0}
    with np.load(native) as za, np.load(other) as zb:
        for key in sorted(k for k in za.files if k.startswith(case + "/")):
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
    workdir: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the probe natively and under each emulated CPU and compare, case by case.

    Returns a JSON-ready dict: ``host``, ``profile``, ``cpus`` (label -> isa, seconds) and
    ``cases`` (one entry per case: native checksum, per CPU ``match`` and the largest
    difference, ``portable``). Emulated probes run ``jobs`` at a time (default: one per core).
    """
    from concurrent.futures import ThreadPoolExecutor

    cases = check_cases(cases)
    cpus = [emulation.check_cpu_name(c) for c in cpus]
    if profile not in determinism.PROFILES:
        raise SamebitsError(f"unknown profile {profile!r}; accepted: {', '.join(determinism.PROFILES)}")
    qemu = emulation.ensure_qemu() if cpus else None
    with tempfile.TemporaryDirectory(prefix="samebits-portability-", dir=workdir) as tmp:
        tmp = Path(tmp)
        pythons = {"native": sys.executable}
        for cpu in cpus:
            pythons[cpu] = str(emulation.emulated_python(cpu, tmp / f"python-{cpu}", qemu=qemu))

        def one(label: str) -> dict[str, Any]:
            if progress:
                progress(f"{label}: running {len(cases)} case(s)")
            settings = {"profile": profile, "threads": threads, "op_determinism": op_determinism}
            return _run_probe(pythons[label], label, cases, tmp / f"{label}.npz", settings, progress)

        native = one("native")
        with ThreadPoolExecutor(max_workers=max(1, jobs or os.cpu_count() or 1)) as pool:
            emulated = dict(zip(cpus, pool.map(one, cpus), strict=True))
        rows = []
        for case in cases:
            row: dict[str, Any] = {"case": case, "what": CASES[case].what, "native": native["cases"][case], "cpus": {}}
            for cpu, res in emulated.items():
                match = res["cases"][case] == native["cases"][case]
                entry: dict[str, Any] = {"match": match, "sha256": res["cases"][case]}
                if not match:
                    entry.update(_compare(tmp / "native.npz", tmp / f"{cpu}.npz", case))
                row["cpus"][cpu] = entry
            row["portable"] = all(e["match"] for e in row["cpus"].values())
            rows.append(row)
    return {
        "profile": profile,
        "host": {"cpu": cpu_info()["model"] or cpu_info()["machine"], "isa": native["isa"]},
        "cpus": {k: {"isa": r["isa"], "seconds": r["seconds"]} for k, r in {"native": native, **emulated}.items()},
        "cases": rows,
        "not_portable": [r["case"] for r in rows if not r["portable"]],
    }


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
    cols = [max(len(c), 18) for c in cpus]
    header = f"{'case':<{width}}  {'native':<12}  " + "  ".join(f"{c:<{w}}" for c, w in zip(cpus, cols, strict=True))
    lines.append(header + "  verdict")
    for r in result["cases"]:
        cells = []
        for c, w in zip(cpus, cols, strict=True):
            e = r["cpus"][c]
            cells.append(f"{'match' if e['match'] else 'differs (' + str(e['max_ulp']) + ' ULP)':<{w}}")
        short = r["native"].removeprefix("sha256:")[:12]
        verdict = "portable" if r["portable"] else "NOT portable"
        lines.append(f"{r['case']:<{width}}  {short:<12}  " + "  ".join(cells) + f"  {verdict}")
    n_bad = len(result["not_portable"])
    lines += ["", f"{len(result['cases']) - n_bad}/{len(result['cases'])} cases portable"]
    if n_bad:
        lines.append("NOT portable: " + ", ".join(result["not_portable"]) + " (see docs/portability.md)")
    return "\n".join(lines)
