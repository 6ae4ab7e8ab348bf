"""What a Snakemake run of the workflow does around its jobs: at its start, before Snakemake
builds the job graph (:meth:`RunHooks.start`), at its start proper (:meth:`RunHooks.onstart`)
and at its end (:meth:`RunHooks.onsuccess`, and at the main process's exit).

Only a run of the workflow has these side effects: ``common.smk`` makes one
:class:`RunHooks` and the Snakefile's handlers call it. The ``samebits`` command, audit, lint
and the benchmark use the :class:`samebits.plan.Plan` alone, which registers no exit action
and moves no file.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .config import cache, schema
from .core import fileio, layout
from .core.errors import SamebitsError
from .ml import determinism
from .plan import Plan

__all__ = ["LINT_TIMEOUT", "RunHooks", "other_cpu_message", "portability_findings"]


class RunHooks:
    """The side effects of one run of the workflow, around its :class:`Plan`."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self._set_aside: list[tuple[Path, Path]] = []
        self._started: float | None = None
        self._finished = False

    @classmethod
    def for_workflow(
        cls, config: dict[str, Any], configfiles: Iterable[str | Path], given: dict[str, Any] | None = None
    ) -> RunHooks:
        """The hooks of a run of the configuration Snakemake loaded: its files, and ``given``,
        what ``--config`` set (read as the schema expects it: :func:`schema.with_command_line`).

        The checks are a pure function of the configuration and samebits' code, so a start
        with an unchanged configuration takes their result from a cache
        (:mod:`samebits.config.cache`) without importing them.
        """
        files = [str(p) for p in configfiles]
        schema.check_size(config, ", ".join(files) or "the configuration")  # before it is hashed
        if given:
            config = schema.with_command_line(config, given)
        key = cache.key(config, files)
        found = cache.load(cache.PATH, key)
        if found is not None:
            return cls(Plan(found["config"], found["experiments"]))
        plan = Plan.check(config, files)
        cache.store(cache.PATH, key, {"config": plan.config, "experiments": plan.experiments})
        return cls(plan)

    def start(self, *, main_process: bool) -> list[str]:
        """What must happen while Snakemake parses the workflow, before it builds the job graph.

        1. The determinism variables go into this process's environment: ``PYTHONHASHSEED``
           only works when an interpreter starts, and every job's process (locally, or in a
           SLURM job step, which parses the workflow again) inherits this environment.
        2. A CPU the profile cannot serve is refused before any job
           (:class:`samebits.core.errors.DeterminismError`).
        3. In the main process only: Snakemake reruns by modification time, so a step whose
           input or output content changed while its mtime was put back would not rerun.
           Records hold content checksums (:mod:`samebits.provenance.ondisk`): the record of
           such a step is set aside, so Snakemake reruns it and what follows, and a dry run
           shows those jobs. The verdict of a failed verification is set aside too, so verify
           runs again until it passes. What a run does not replace is put back when it ends.
           Temporary files of writers that were killed are removed (:func:`samebits.core.fileio.sweep`).

        Returns the messages to show (one per file removed and per stale step).
        """
        os.environ.update(self.plan.process_env())
        determinism.check_cpu(self.plan.profile)
        if not main_process:
            return []
        self._started = time.time()
        atexit.register(self._unannounced)
        from .provenance import ondisk

        _drop_leftovers()
        files = self.plan.layout
        lock_dir = os.path.dirname(self.plan.lock) or "."
        swept = fileio.sweep(files.results, layout.CACHE_DIR, flat=tuple(dict.fromkeys([".", lock_dir])))
        stale = ondisk.find_stale(self.plan.all_records(), index=ondisk.INDEX)
        verdict = Path(self.plan.layout.verify.verdict)
        if stale or _verdict(verdict) == "failed":
            self._put_aside([*stale, verdict])
        return [
            *(f"removed {path}: a temporary file of a writer that was killed" for path in swept),
            *(f"stale: {message}; it will be rerun" for message in stale.values()),
        ]

    def onstart(self) -> list[tuple[str, str]]:
        """``(level, message)`` about what differs from the lock's environment, before any job."""
        from .provenance import fingerprint
        from .provenance import lock as lockmod

        lock_path = self.plan.lock
        try:
            lock = lockmod.read(lock_path)
        except SamebitsError as exc:
            return [("warning", f"samebits: {exc}\n(verify will stop at the end of this run)")]
        found = fingerprint.differences_from_lock(lock.environments.values(), ignore_variables=self.plan.process_env())
        lines = "\n".join(f"  {d}" for d in found)
        if any(d.deciding for d in found):
            return [
                (
                    "warning",
                    f"samebits: this environment differs from the one {lock_path} was made in;\n"
                    f"steps whose outputs change will be reported as drifted:\n{lines}",
                )
            ]
        if found:
            return [other_cpu_message(lock_path, lines, *portability_findings(self.plan.config))]
        return []

    def onsuccess(self) -> None:
        """At the end of a successful run: print the verdict verify wrote in this run, and
        end the run with exit status 1 when it says the verification failed.

        The verdict is the one screen a reader needs (locally and on a cluster, where the
        verify job's own output goes to its log); a failed verification is not a failed job,
        so Snakemake's own error report does not bury it.
        """
        self._finished = True
        found = self._verdict_of_this_run()
        if found is None:
            return
        status, text = found
        print(text, end="", flush=True)
        if status != "passed":
            print(
                f"samebits: verification failed; {self.plan.lock} was kept as it was "
                f"(details: {self.plan.layout.verify.markdown}, {self.plan.layout.verify.json})",
                file=sys.stderr,
                flush=True,
            )
            raise SystemExit(1)

    # --- set aside until the run ends --------------------------------------------------

    def _put_aside(self, paths: Iterable[str | Path]) -> None:
        atexit.register(self._put_back)  # first: whatever was set aside goes back, even after an error
        for path in map(Path, paths):
            if not path.exists():
                continue
            kept = Path(layout.SET_ASIDE) / path
            try:
                kept.parent.mkdir(parents=True, exist_ok=True)
                os.replace(path, kept)
            except OSError as exc:
                raise SamebitsError(
                    f"cannot set {path} aside to {kept} ({exc.strerror}), so its step would not rerun; "
                    "make the tree writable, or remove that file"
                ) from None
            self._set_aside.append((path, kept))

    def _put_back(self) -> None:
        """At exit: a file the run did not write again goes back where it was."""
        for path, kept in self._set_aside:
            if path.exists():
                kept.unlink(missing_ok=True)
            elif kept.exists():
                os.replace(kept, path)
        self._set_aside = []
        _drop_leftovers()

    # --- the verdict at the end --------------------------------------------------------

    def _verdict_of_this_run(self) -> tuple[str, str] | None:
        """(first line, the rest) of the verdict verify wrote in this run, or ``None`` when this
        run did not verify (the file is missing or from an earlier run)."""
        verdict = Path(self.plan.layout.verify.verdict)
        try:
            if self._started is not None and verdict.stat().st_mtime < self._started - 1:
                return None
            status, _, text = verdict.read_text(encoding="utf-8").partition("\n")
        except OSError:
            return None
        return status, text

    def _unannounced(self) -> None:
        """At the exit of a run that verified without calling :meth:`onsuccess`: a paper's
        ``workflow/Snakefile`` that uses samebits as a module and does not call its handlers
        (Snakemake runs a module's handlers only then). The exit status can no longer say a
        failed verification, so this says it, and how to wire the handlers."""
        found = None if self._finished else self._verdict_of_this_run()
        if found is None:
            return
        print(
            f"samebits: verification {found[0]} ({self.plan.layout.verify.verdict}), but the run's Snakefile "
            "does not call samebits' handlers, so the verdict was not shown and a failed verification did not "
            "fail the run; "
            "add `onstart: samebits.onstart()` and `onsuccess: samebits.onsuccess()` to workflow/Snakefile "
            "(README 'Use it in your paper's repository')",
            file=sys.stderr,
            flush=True,
        )


def _verdict(path: Path) -> str | None:
    """``passed`` or ``failed``: the first line of a verdict file, if there is one."""
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.readline().strip()
    except OSError:
        return None


#: Seconds ``samebits lint`` may take to judge the configuration at the start of a run on
#: another CPU (it imports TensorFlow and runs one training step per experiment).
LINT_TIMEOUT = 600


def portability_findings(config: dict[str, Any], cwd: str | Path = ".") -> tuple[list[str], str | None]:
    """What ``samebits lint`` warns about in ``config``, run in a child process (TensorFlow
    stays out of Snakemake's), as ``(warnings, None)``; or ``([], why)`` if it could not judge."""
    import json
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory(prefix="samebits-lint-") as tmp:
        path = layout.write_config(tmp, config)
        cmd = [sys.executable, "-m", "samebits.cli", "lint", "--config", str(path), "--json"]
        try:
            proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=LINT_TIMEOUT)
        except subprocess.TimeoutExpired:
            return [], f"it took more than {LINT_TIMEOUT} s"
        except OSError as exc:
            return [], f"it could not start ({exc})"
    try:
        report = json.loads(proc.stdout)
        return [w["message"] for w in report["warnings"]], None
    except (json.JSONDecodeError, KeyError, TypeError):
        tail = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        return [], tail


def other_cpu_message(lock_path: str, lines: str, warnings: list[str], error: str | None) -> tuple[str, str]:
    """``(level, message)`` at the start of a run on another CPU than the lock's (under the
    same ISA cap), saying which steps should reproduce, by what lint found in the models."""
    head = f"samebits: another CPU than the one {lock_path} was made on, under the same ISA cap"
    if error is not None:
        return (
            "info",
            f"{head};\nthe steps should reproduce bit for bit unless they run an op with an approximate kernel, "
            f"and samebits lint could not check that ({error}):\n{lines}",
        )
    if not warnings:
        return (
            "info",
            f"{head};\nsamebits lint found no op with an approximate kernel in any experiment's training, so "
            f"every step should reproduce bit for bit:\n{lines}",
        )
    found = "\n".join(f"  - {w}" for w in warnings)
    return (
        "warning",
        f"{head};\nthe steps should reproduce bit for bit, but for what samebits lint finds not portable "
        f"(those experiments' train and evaluate steps will differ):\n{found}\n{lines}",
    )


def _drop_leftovers() -> None:
    """Files set aside by a run that was killed before it could put them back: their steps
    rerun anyway (their records are missing), so the copies are dropped."""
    if os.path.isdir(layout.SET_ASIDE):
        shutil.rmtree(layout.SET_ASIDE, ignore_errors=True)
