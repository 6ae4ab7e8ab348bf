"""Run one experiment × seed chain several times and say which step gives the same bits.

In the spirit of reprotest: a *reference* run, then one *harmless* run that varies at once
everything that must not change the bits (working-directory path, order of the environment
variables, umask, time zone and locale, CPU affinity, a busy process beside it), and, with
``hazards``, one run per determinism setting that does change them (TensorFlow's thread
count, op determinism, the instruction-set cap, oneDNN's custom ops), each flipping that
one setting only. Every run
is the real workflow (``python -m snakemake --cores N``, N the configured thread count, 1 by
default) in its own scratch copy; two runs reproduce a step iff every output of the step has
the same canonical checksum.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

from ..core import layout
from ..core.errors import SamebitsError
from ..core.usercode import CodeRef
from ..ml import determinism, sources
from ..plan import Plan
from ..provenance import records
from ..provenance.identity import step_id

__all__ = ["HARMLESS_ASPECTS", "audit", "format_report"]

#: Seconds one run may take before it is stopped and reported as timed out.
TIMEOUT = 1800

#: Lines of a failing run's output kept in the report.
TAIL_LINES = 25

#: Short names of what the harmless run varies, in the order of its ``varied`` strings.
HARMLESS_ASPECTS = ("path", "env order", "umask", "TZ/locale", "CPU affinity", "a busy neighbour")

_HARMLESS_UMASK = 0o077
_HARMLESS_TZ = "Pacific/Kiritimati"  # UTC+14: no date or hour matches the reference's UTC
_HARMLESS_LOCALE = "C.UTF-8"
# Lines of a failing run's output that state a cause: a step's own error, else an exception
# of any kind; Snakemake's wrappers only say that a job failed, which the status says too.
_CAUSES = (
    re.compile(r"^(?:samebits: error: .+|[A-Za-z_.]*(?:Error|Exception): .+)$"),
    re.compile(r"^[A-Za-z_.]*(?:Error|Exception)\b.*$"),
)
_WRAPPERS = ("RuleException", "CalledProcessError", "WorkflowError")


def audit(
    config_path: str | Path,
    *,
    experiment: str | None = None,
    seed: int | None = None,
    hazards: bool = False,
    workflow_root: str | Path = ".",
    keep: bool = False,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run one chain under several variations and compare every step with a reference run.

    Parameters
    ----------
    config_path : str or Path
        The workflow configuration; only ``experiment``, its data set and ``seed`` are run,
        with every other top-level setting (``determinism``, ``verify``, ...) as it is.
    experiment : str, optional
        The experiment to audit (default: the first one in the configuration).
    seed : int, optional
        The master seed to audit (default: the first one in the configuration).
    hazards : bool
        Also run once per determinism setting the bits depend on (threads, op determinism,
        instruction-set cap, oneDNN custom ops), each flipped alone, to show what the results depend on.
    workflow_root : str or Path
        Directory holding ``Snakefile`` or ``workflow/Snakefile`` (a clone of samebits, or a
        paper's repository that uses it as a module), ``config/`` and ``data/``; a relative
        data or builder path in the configuration is relative to it.
    keep : bool
        Keep the scratch directories (their root is returned as ``scratch``) instead of
        removing them.
    progress : callable, optional
        Called with one line of text as each run starts and ends.

    Returns
    -------
    dict
        JSON-serialisable::

            {"experiment": str, "seed": int,
             "steps": [step ids in chain order],
             "reference_seconds": float,
             "variations": [{"name": str, "kind": "harmless" | "hazard",
                             "varied": [str], "ok": bool, "returncode": int | None,
                             "status": "ok" | "exit N" | "timed out after N s",
                             "seconds": float,
                             "cause": str, "tail": str (both only when the run failed),
                             "steps": {step_id: "identical" | "different" | "missing"},
                             "differs": ["<step id>: <output>, <output>"]}],
             "harmless_identical": bool,
             "depends_on": [names of hazards that changed a step],
             "scratch": str (only with keep)}

    Raises
    ------
    SamebitsError
        If the configuration or the workflow cannot be read, or the reference run fails
        (with the end of its output).
    """
    say = progress or (lambda _line: None)
    root = Path(workflow_root).resolve()
    if not any((root / name).is_file() for name in layout.SNAKEFILES):
        raise SamebitsError(
            f"{root}: no {' or '.join(layout.SNAKEFILES)} here; workflow_root must be the workflow's directory"
        )
    config_path = Path(config_path).resolve()
    with contextlib.chdir(root):  # data files and builders are found as the workflow finds them
        plan = Plan.load(config_path)
    reduced, experiment, seed, dataset = _reduce(plan, experiment, seed, root)
    chain = layout.CHAIN_STEPS
    step_ids = [step_id(chain[0], dataset, seed)] + [step_id(s, experiment, seed) for s in chain[1:]]
    where = plan.layout  # the reduced configuration keeps output_dir
    paths = [where.record(chain[0], dataset=dataset, seed=seed)]
    paths += [where.record(step, experiment=experiment, seed=seed) for step in chain[1:]]
    base_env = _reference_env()

    scratch = Path(tempfile.mkdtemp(prefix="samebits-audit-"))
    try:
        say(f"audit {experiment} seed {seed}: scratch runs under {scratch}")
        ref_dir = _prepare(root, scratch / "reference" / "run", reduced)
        ref = _run("reference", ref_dir, base_env, say=say)
        if not ref["ok"]:
            raise SamebitsError(
                f"the reference run of {experiment} seed {seed} failed ({ref['status']}); "
                f"nothing to compare with. End of its output:\n{ref['tail']}"
            )
        reference = _outputs(ref_dir, paths)
        missing = [i for i, out in zip(step_ids, reference, strict=True) if out is None]
        if missing:
            raise SamebitsError(f"the reference run succeeded but wrote no record for {', '.join(missing)}")
        recorded = cast("list[dict[str, str]]", reference)  # a record of every step (checked above)

        variations = [_harmless(root, scratch, reduced, base_env, step_ids, paths, recorded, say)]
        if hazards:
            variations += [
                _hazard(hazard, root, scratch, reduced, base_env, step_ids, paths, recorded, say)
                for hazard in _hazards(reduced["determinism"])
            ]
        harmless = variations[0]
        result = {
            "experiment": experiment,
            "seed": seed,
            "steps": step_ids,
            "reference_seconds": ref["seconds"],
            "variations": variations,
            "harmless_identical": harmless["ok"] and set(harmless["steps"].values()) == {"identical"},
            "depends_on": [
                v["name"] for v in variations if v["kind"] == "hazard" and "different" in v["steps"].values()
            ],
        }
        if keep:
            result["scratch"] = str(scratch)
        return result
    finally:
        if keep:
            say(f"scratch runs kept in {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


def _harmless(
    root: Path,
    scratch: Path,
    reduced: dict[str, Any],
    base_env: dict[str, str],
    step_ids: list[str],
    paths: list[str],
    reference: list[dict[str, str]],
    say: Callable[[str], None],
) -> dict[str, Any]:
    """The one run that varies, all at once, everything that must not change the bits."""
    run_dir = _prepare(root, scratch / "harmless" / "elsewhere" / "nested" / "deeper" / "run", reduced)
    env = dict(base_env, TZ=_HARMLESS_TZ, LC_ALL=_HARMLESS_LOCALE, LANG=_HARMLESS_LOCALE)
    env = dict(reversed(env.items()))  # the child sees its environment block in this order
    varied = [
        f"working directory {run_dir} (deeper, elsewhere)",
        "environment variables in reversed order",
        f"umask {_HARMLESS_UMASK:03o}",
        f"TZ={_HARMLESS_TZ} LC_ALL={_HARMLESS_LOCALE} LANG={_HARMLESS_LOCALE} (reference: TZ=UTC LC_ALL=C LANG=C)",
    ]
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    # One CPU, and not CPU 0, so the run is placed differently from the unpinned reference.
    pin = cpus[-1] if len(cpus) > 1 else None
    if pin is not None:
        varied.append(f"CPU affinity: CPU {pin} only (of {len(cpus)})")

    def preexec() -> None:
        os.umask(_HARMLESS_UMASK)
        if pin is not None:
            os.sched_setaffinity(0, {pin})

    varied.append("a busy-loop process running beside it")
    busy = subprocess.Popen(
        [sys.executable, "-c", "while True: pass"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        run = _run("harmless", run_dir, env, preexec_fn=preexec, say=say)
    finally:
        busy.kill()
        busy.wait()
    aspects = [a for a in HARMLESS_ASPECTS if a != "CPU affinity" or pin is not None]
    return _variation("harmless", "harmless", varied, run, aspects=aspects) | _compare(
        step_ids, reference, _outputs(run_dir, paths)
    )


def _hazard(
    hazard: tuple[str, str, Any, Any],
    root: Path,
    scratch: Path,
    reduced: dict[str, Any],
    base_env: dict[str, str],
    step_ids: list[str],
    paths: list[str],
    reference: list[dict[str, str]],
    say: Callable[[str], None],
) -> dict[str, Any]:
    """The run that flips one determinism setting (one of :func:`_hazards`), and how each step
    compares with the reference."""
    name, key, before, after = hazard
    det = reduced["determinism"]
    cfg = {**reduced, "determinism": {**det, key: after}}
    run_dir = _prepare(root, scratch / name / "run", cfg)
    cores = cfg["determinism"]["threads"]
    run = _run(name, run_dir, base_env, say=say, cores=cores)
    varied = [f"{key} {_text(before)} → {_text(after)}"]
    if key == "profile":
        varied[0] += f" ({', '.join(_profile_change(before, after))})"
    if cores > 1:
        varied.append(f"snakemake --cores {cores}, so a job may have {cores} threads")
    return _variation(name, "hazard", varied, run) | _compare(step_ids, reference, _outputs(run_dir, paths))


def _hazards(det: Mapping[str, Any]) -> list[tuple[str, str, Any, Any]]:
    """(name, determinism key, configured value, flipped value) of each hazard run."""
    threads, op_det, profile = det["threads"], det["op_determinism"], det["profile"]
    portable = determinism.PORTABLE
    return [
        ("threads", "threads", threads, 2 if threads == 1 else 1),
        ("op_determinism", "op_determinism", op_det, not op_det),
        # the instruction-set cap: oneDNN at AVX2 everywhere, or at this CPU's best
        ("isa_cap", "profile", profile, "native" if profile != "native" else portable),
        # oneDNN's custom ops on or off (TensorFlow's own Eigen kernels instead)
        ("onednn", "profile", profile, "onednn-off" if profile != "onednn-off" else portable),
    ]


def _profile_change(before: str, after: str) -> list[str]:
    """The variables a profile flip changes, e.g. ``ONEDNN_MAX_CPU_ISA AVX2 → ALL``."""
    a, b = determinism.PROFILES.get(before, {}), determinism.PROFILES.get(after, {})
    return [f"{k} {a.get(k)} → {b.get(k)}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _reduce(plan: Plan, experiment: str | None, seed: int | None, root: Path) -> tuple[dict[str, Any], str, int, str]:
    """The configuration of one chain: one experiment, its data set, one seed."""
    experiments = plan.experiments
    if experiment is None:
        experiment = next(iter(experiments))
    if experiment not in experiments:
        raise SamebitsError(f"no experiment {experiment!r} in the configuration; there are: {', '.join(experiments)}")
    if seed is None:
        seed = plan.seeds[0]
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SamebitsError(f"seed must be an integer >= 0, got {seed!r}")
    exp = dict(experiments[experiment])
    dataset = exp["dataset"]
    spec = dict(plan.datasets[dataset])
    spec["source"] = _resolvable(str(spec["source"]), root, sources.FILE_SUFFIXES)
    if exp["model"]["type"] == "custom":
        exp["model"] = {**exp["model"], "builder": _code(exp["model"]["builder"], root)}
    train = dict(exp["train"])
    for key in ("trainer", "loss"):  # the user's own training loop and loss, where named
        if CodeRef.is_reference(train[key]):
            train[key] = _code(train[key], root)
    exp["train"] = train
    reduced = {k: v for k, v in plan.config.items() if k not in ("seeds", "datasets", "experiments", "grids")}
    reduced.update(seeds=[seed], datasets={dataset: spec}, experiments={experiment: exp})
    # The verify step writes its lock: it must land in the scratch copy, never in the user's
    # (output_dir is inside the working directory, so the outputs are in the copy already).
    reduced["lock"] = Path(plan.lock).name
    return reduced, experiment, seed, dataset


def _code(ref: str, root: Path) -> str:
    """A ``file.py:function`` reference of the user's code as the scratch copy can open it."""
    code = CodeRef.parse(ref)
    return str(code.relocated(_resolvable(code.module, root, (".py",))))


def _resolvable(path: str, root: Path, suffixes: tuple[str, ...]) -> str:
    """``path`` as the scratch copy can open it.

    Relative paths into the copied folders stay relative (the copy has them too, and the
    records then name the same path as a normal run); any other relative file path is made
    absolute against ``root``, because the scratch copy does not hold it.
    """
    p = Path(path)
    if p.suffix.lower() not in suffixes or p.is_absolute():
        return path
    if p.parts[0] in layout.WORKFLOW_FILES and ".." not in p.parts:
        return path
    return str((root / p).resolve())


def _prepare(root: Path, dest: Path, config: Mapping[str, Any]) -> Path:
    """A fresh copy of the workflow in ``dest`` with ``config`` as its configuration."""
    return layout.copy_workflow(root, dest, config=config)


def _reference_env() -> dict[str, str]:
    # A SNAKEMAKE_* variable inherited from a workflow that runs the audit would steer the
    # scratch runs (profile, output base); each must be a plain top-level run.
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAKEMAKE")}
    env.update(TZ="UTC", LC_ALL="C", LANG="C")
    return env


def _run(
    name: str,
    run_dir: Path,
    env: dict[str, str],
    *,
    say: Callable[[str], None],
    preexec_fn: Callable[[], None] | None = None,
    cores: int = 1,
) -> dict[str, Any]:
    """Run the workflow in ``run_dir``; never raises for a failing or hanging run.

    ``cores`` is the configured TensorFlow thread count, so a job that runs that many threads
    also gets that many cores; one chain is sequential, so this adds no parallel jobs.
    """
    say(f"{name}: running in {run_dir}")
    cmd = [sys.executable, "-m", "snakemake", "--cores", str(max(1, cores))]
    start = time.monotonic()
    # A session of its own, so a timeout can stop snakemake's jobs along with snakemake.
    proc = subprocess.Popen(
        cmd,
        cwd=run_dir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        preexec_fn=preexec_fn,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=TIMEOUT)
        status = "ok" if proc.returncode == 0 else f"exit {proc.returncode}"
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        status = f"timed out after {TIMEOUT} s"
    seconds = round(time.monotonic() - start, 1)
    ok = status == "ok"
    say(f"{name}: {'done' if ok else status} in {seconds} s")
    lines = output.splitlines()
    tail = "\n".join(lines[-TAIL_LINES:])
    return {
        "ok": ok,
        "status": status,
        "returncode": proc.returncode,
        "seconds": seconds,
        "tail": tail,
        "cause": _cause(lines, status),
    }


def _cause(lines: list[str], status: str) -> str:
    """The line of a run's output that says why it failed (with its next line if it ends in ``:``)."""
    for pattern in _CAUSES:
        for i, line in enumerate(lines):
            if pattern.match(line) and not line.startswith(_WRAPPERS):
                following = next((x.strip() for x in lines[i + 1 :] if x.strip()), "")
                return f"{line} {following}" if line.endswith(":") and following else line
    return next((x.strip() for x in reversed(lines) if x.strip()), status)


def _variation(
    name: str, kind: str, varied: list[str], run: dict[str, Any], *, aspects: list[str] | None = None
) -> dict[str, Any]:
    out = {
        "name": name,
        "kind": kind,
        "varied": varied,
        "ok": run["ok"],
        "returncode": run["returncode"],
        "status": run["status"],
        "seconds": run["seconds"],
    }
    if aspects is not None:
        out["aspects"] = aspects
    if not run["ok"]:
        out["cause"] = run["cause"]
        out["tail"] = run["tail"]
    return out


def _outputs(run_dir: Path, paths: list[str]) -> list[dict[str, str] | None]:
    """Per step, ``{output name: sha256}`` of its record, or None where there is no readable record."""
    found: list[dict[str, str] | None] = []
    for rel in paths:
        try:
            rec = records.read(run_dir / rel)
        except SamebitsError:
            found.append(None)
            continue
        found.append({name: desc["sha256"] for name, desc in rec["outputs"].items()})
    return found


def _compare(
    step_ids: list[str], reference: list[dict[str, str]], other: list[dict[str, str] | None]
) -> dict[str, Any]:
    steps, differs = {}, []
    for sid, ref, out in zip(step_ids, reference, other, strict=True):
        if out is None:
            steps[sid] = "missing"
            continue
        names = [n for n in ref if ref[n] != out.get(n)] + [n for n in out if n not in ref]
        steps[sid] = "different" if names else "identical"
        if names:
            differs.append(f"{sid}: {', '.join(names)}")
    return {"steps": steps, "differs": differs}


_CELL = {"identical": "identical", "different": "DIFFERS", "missing": "missing"}


def format_report(result: Mapping[str, Any]) -> str:
    """The audit on one screen: a table of steps × variations, then the verdicts.

    Parameters
    ----------
    result : dict
        What :func:`audit` returned.

    Returns
    -------
    str
        Lines without a trailing newline, e.g.::

            samebits audit: mlp seed 0 (reference run 13.6 s)
            step                 harmless   threads  op_determinism  profile
            split/digits/seed=0  identical  identical ...
            ...
            harmless variations (path, env order, ...): every step identical
            the results depend on: threads, op_determinism
    """
    variations = list(result["variations"])
    lines = [
        f"samebits audit: {result['experiment']} seed {result['seed']} (reference run {result['reference_seconds']} s)"
    ]
    header = ["step"] + [v["name"] for v in variations]
    rows = [[step] + [_CELL[v["steps"].get(step, "missing")] for v in variations] for step in result["steps"]]
    rows.append(["seconds"] + [str(v["seconds"]) for v in variations])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    for v in variations:
        if v["kind"] != "harmless":  # the harmless run's aspects are named in its verdict below
            lines.append(f"  {v['name']}: " + "; ".join(v["varied"]))
        lines += [f"    differs: {d}" for d in v["differs"]]
        if not v["ok"]:
            lines.append(f"    the run FAILED ({v.get('status', 'failed')}): {v.get('cause', '')}")
    harmless = next((v for v in variations if v["kind"] == "harmless"), None)
    if harmless is not None:
        what = f"harmless variations ({', '.join(harmless.get('aspects', HARMLESS_ASPECTS))})"
        if result["harmless_identical"]:
            lines.append(f"{what}: every step identical")
        elif not harmless["ok"]:
            lines.append(f"{what}: the run FAILED, so nothing is shown to be reproducible")
        else:
            first = next(s for s in result["steps"] if harmless["steps"].get(s) != "identical")
            lines.append(f"{what}: NOT reproducible, first at {first}")
    hazards = [v for v in variations if v["kind"] == "hazard"]
    if not hazards:
        lines.append("hazards not audited (only harmless variations were run)")
    elif result["depends_on"]:
        lines.append(f"the results depend on: {', '.join(result['depends_on'])}")
    else:
        lines.append("no hazard changed the bits")
    failed = [v["name"] for v in hazards if not v["ok"]]
    if failed:
        lines.append(f"hazard runs that failed (their missing steps say nothing): {', '.join(failed)}")
    return "\n".join(lines)
