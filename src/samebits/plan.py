"""The plan of a run: the checked configuration, and all that the workflow, the ``samebits``
command, audit and the benchmark read from it.

- the configuration checked and with every default of the schema filled in, and the
  experiments of its grids expanded (:meth:`Plan.check`, :meth:`Plan.load`);
- the inputs and params of every rule, as named functions of the wildcards;
- the records of the run, in order (:meth:`Plan.all_records`), and what verify reads;
- the environment every job's process must start with (the determinism variables);
- what happens at the start of a run, before Snakemake builds its job graph
  (:meth:`Plan.start`), at its start proper (:meth:`Plan.environment_notes`) and at its end
  (:meth:`Plan.finish`).

The workflow's ``common.smk`` makes one plan (:meth:`Plan.for_workflow`) and its rules read
it; the command line makes the same plan from the same file (:meth:`Plan.load`), so the two
cannot disagree on a tolerance, a lock path or a record.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .config import cache
from .core import fileio, layout
from .core.errors import ConfigError, SamebitsError
from .ml import determinism, sources

__all__ = ["Plan"]


def canonical(params: dict[str, Any]) -> dict[str, Any]:
    """Params with keys sorted at every level: Snakemake compares params by their text, so
    reordering keys in the config (or re-saving it) must not rerun anything."""
    return json.loads(json.dumps(params, sort_keys=True))


class Plan:
    """A checked configuration with its defaults, and what a run of it does.

    Make one with :meth:`check` (a configuration in memory), :meth:`load` (a file) or
    :meth:`for_workflow` (inside the workflow, with a cache of the checks).
    """

    def __init__(self, config: dict[str, Any], experiments: dict[str, Any]):
        self.config = config
        self.experiments = experiments
        self.seeds: list[int] = config["seeds"]
        self.datasets: dict[str, Any] = config["datasets"]
        det = config["determinism"]
        self.profile: str = det["profile"]
        self.threads: int = det["threads"]
        self.op_determinism: bool = det["op_determinism"]
        self.lock: str = config["lock"]
        self.rtol: float = config["verify"]["rtol"]
        self.atol: float = config["verify"]["atol"]
        self._shared: dict[tuple[str, str], dict[str, Any]] = {}
        self._set_aside: list[tuple[Path, Path]] = []
        self._started: float | None = None
        self._finished = False

    # --- making a plan ---------------------------------------------------------------

    @classmethod
    def check(cls, config: dict[str, Any], configfiles: Iterable[str | Path] = (), *, where: str = "") -> Plan:
        """Check ``config`` and fill in its defaults.

        First the checks whose messages are clearer than a schema's (duplicate keys in
        ``configfiles``, model types, data sources, references, builders), then the schema,
        then every experiment a grid expands to, each checked like a written one. Raises
        :class:`ConfigError` naming ``where`` (default: the config files), the field, the
        bad value and what is accepted.
        """
        from .config import checks, grids, schema  # not imported when the cache has the result

        configfiles = [str(p) for p in configfiles]
        where = where or ", ".join(configfiles) or "the configuration"
        for path in configfiles:
            checks.check_duplicate_keys(path)  # names the file and line itself
        try:
            checks.check_config(config)
            schema.validate(config, where)
            filled = schema.with_defaults(config)
            experiments = grids.expand(filled["experiments"], filled["grids"])
        except ConfigError as exc:
            message = str(exc)
            raise ConfigError(message if message.startswith(f"{where}: ") else f"{where}: {message}") from None
        if filled["grids"]:
            schema.validate({**filled, "experiments": experiments, "grids": {}}, where)
            experiments = schema.with_defaults({**filled, "experiments": experiments})["experiments"]
        return cls(filled, experiments)

    @classmethod
    def load(cls, path: str | Path = layout.CONFIG_FILE) -> Plan:
        """The plan of the configuration file at ``path`` (relative paths in it are relative
        to the working directory, as in the workflow)."""
        from .config import checks

        if not Path(path).is_file():
            raise ConfigError(
                f"{path}: no such configuration file; run from the workflow's directory or name it with --config"
            )
        config = checks.read_yaml(path)
        if not isinstance(config, dict):
            raise ConfigError(f"{path}: the configuration must be a mapping (seeds, datasets, experiments)")
        return cls.check(config, where=str(path))

    @classmethod
    def for_workflow(cls, config: dict[str, Any], configfiles: Iterable[str | Path]) -> Plan:
        """The plan of the configuration Snakemake loaded (files and ``--config``).

        The checks are a pure function of the configuration and samebits' code, so a start
        with an unchanged configuration takes their result from a cache
        (:mod:`samebits.config.cache`) without importing them.
        """
        configfiles = [str(p) for p in configfiles]
        key = cache.key(config, configfiles)
        found = cache.load(cache.PATH, key)
        if found is not None:
            return cls(found["config"], found["experiments"])
        plan = cls.check(config, configfiles)
        cache.store(cache.PATH, key, {"config": plan.config, "experiments": plan.experiments})
        return plan

    # --- the processes of a run --------------------------------------------------------

    def process_env(self) -> dict[str, str]:
        """The environment every step's process must start with (see samebits.ml.determinism)."""
        return determinism.process_env(profile=self.profile, threads=self.threads, op_determinism=self.op_determinism)

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
        os.environ.update(self.process_env())
        determinism.check_cpu(self.profile)
        if not main_process:
            return []
        self._started = time.time()
        atexit.register(self._unannounced)
        from .provenance import ondisk

        _drop_leftovers()
        swept = fileio.sweep("results", layout.CACHE_DIR, flat=(".",))
        stale = ondisk.find_stale(self.all_records(), index=ondisk.INDEX)
        verdict = Path(layout.verify.verdict)
        if stale or _verdict(verdict) == "failed":
            self._put_aside([*stale, verdict])
        return [
            *(f"removed {path}: a temporary file of a writer that was killed" for path in swept),
            *(f"stale: {message}; it will be rerun" for message in stale.values()),
        ]

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

    def environment_notes(self) -> list[tuple[str, str]]:
        """``(level, message)`` about what differs from the lock's environment, before any job."""
        from .provenance import fingerprint
        from .provenance import lock as lockmod

        try:
            lock = lockmod.read(self.lock)
        except SamebitsError as exc:
            return [("warning", f"samebits: {exc}\n(verify will stop at the end of this run)")]
        found = fingerprint.differences_from_lock(lock, ignore_variables=self.process_env())
        lines = "\n".join(f"  {d}" for d in found)
        if any(d.deciding for d in found):
            return [
                (
                    "warning",
                    f"samebits: this environment differs from the one {self.lock} was made in;\n"
                    f"steps whose outputs change will be reported as drifted:\n{lines}",
                )
            ]
        if found:
            return [
                (
                    "info",
                    f"samebits: another CPU than the one {self.lock} was made on, under the same ISA cap;\n"
                    f"the steps should reproduce bit for bit:\n{lines}",
                )
            ]
        return []

    def _verdict_of_this_run(self) -> tuple[str, str] | None:
        """(first line, the rest) of the verdict verify wrote in this run, or ``None`` when this
        run did not verify (the file is missing or from an earlier run)."""
        verdict = Path(layout.verify.verdict)
        try:
            if self._started is not None and verdict.stat().st_mtime < self._started - 1:
                return None
            status, _, text = verdict.read_text(encoding="utf-8").partition("\n")
        except OSError:
            return None
        return status, text

    def finish(self) -> None:
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
                f"samebits: verification failed; {self.lock} was kept as it was "
                f"(details: {layout.verify.markdown}, {layout.verify.json})",
                file=sys.stderr,
                flush=True,
            )
            raise SystemExit(1)

    def _unannounced(self) -> None:
        """At the exit of a run that verified without calling :meth:`finish`: a paper's
        ``workflow/Snakefile`` that uses samebits as a module and does not call its handlers
        (Snakemake runs a module's handlers only then). The exit status can no longer say a
        failed verification, so this says it, and how to wire the handlers."""
        found = None if self._finished else self._verdict_of_this_run()
        if found is None:
            return
        print(
            f"samebits: verification {found[0]} ({layout.verify.verdict}), but the run's Snakefile does not call "
            "samebits' handlers, so the verdict was not shown and a failed verification did not fail the run; "
            "add `onstart: samebits.onstart()` and `onsuccess: samebits.onsuccess()` to workflow/Snakefile "
            "(README 'Use it in your paper's repository')",
            file=sys.stderr,
            flush=True,
        )

    # --- inputs ----------------------------------------------------------------------

    def dataset_files(self, wildcards) -> list[str]:
        """The data file of a file-based data set (so Snakemake reruns split when it changes)."""
        return sources.data_files(self.datasets[wildcards.dataset]["source"])

    def _split_of(self, experiment: str, seed: Any) -> str:
        return layout.split.path("split", dataset=self.experiments[experiment]["dataset"], seed=seed)

    def init_inputs(self, wildcards) -> dict[str, Any]:
        """Init's inputs: its split, and a custom builder's file."""
        found: dict[str, Any] = {"split": self._split_of(wildcards.experiment, wildcards.seed)}
        code = self._user_code(wildcards.experiment, "builder")
        if code:
            found["code"] = code
        return found

    def _chain_inputs(self, wildcards, **inputs: str) -> dict[str, Any]:
        """A chain step's inputs: its split, the given ones, and the data file of a file-based
        set (Snakemake reruns the step when it changes). Train and evaluate have one input
        function each, unpacked, as Snakemake calls every input function of every job."""
        found: dict[str, Any] = {"split": self._split_of(wildcards.experiment, wildcards.seed), **inputs}
        data = sources.data_files(self.datasets[self.experiments[wildcards.experiment]["dataset"]]["source"])
        if data:
            found["data"] = data
        return found

    def train_inputs(self, wildcards) -> dict[str, Any]:
        w = {"experiment": wildcards.experiment, "seed": wildcards.seed}
        found = self._chain_inputs(wildcards, init=layout.init.path("init", **w), model=layout.init.path("model", **w))
        code = self._user_code(wildcards.experiment, "trainer", "loss")
        if code:
            found["code"] = code
        return found

    def evaluate_inputs(self, wildcards) -> dict[str, Any]:
        w = {"experiment": wildcards.experiment, "seed": wildcards.seed}
        return self._chain_inputs(
            wildcards, weights=layout.train.path("weights", **w), model=layout.init.path("model", **w)
        )

    def experiment_histories(self, wildcards) -> list[str]:
        return [layout.train.path("history", experiment=wildcards.experiment, seed=s) for s in self.seeds]

    def experiment_metrics(self, wildcards) -> list[str]:
        return [layout.evaluate.path("metrics", experiment=wildcards.experiment, seed=s) for s in self.seeds]

    def experiment_predictions(self, wildcards) -> list[str]:
        return [layout.evaluate.path("predictions", experiment=wildcards.experiment, seed=s) for s in self.seeds]

    def evaluate_records(self, wildcards=None) -> list[str]:
        return [layout.record("evaluate", experiment=e, seed=s) for e in self.experiments for s in self.seeds]

    def all_records(self, wildcards=None) -> list[str]:
        """Every step record of the run: the splits, each experiment x seed chain, then the
        figures' and the summary's."""
        used = sorted({exp["dataset"] for exp in self.experiments.values()})
        paths = [layout.record("split", dataset=d, seed=s) for d in used for s in self.seeds]
        for name in self.experiments:
            for seed in self.seeds:
                paths += [layout.record(step, experiment=name, seed=seed) for step in layout.CHAIN_STEPS[1:]]
        paths += [layout.record("figures", experiment=name) for name in self.experiments]
        paths.append(layout.record("summarize"))
        return paths

    # --- params ----------------------------------------------------------------------

    def _with_seed(self, step: str, name: str, wildcards, build) -> dict[str, Any]:
        """A chain step's params: the part every seed shares is built (and made canonical)
        once per data set or experiment, then the job's seed is put in its sorted place.
        Snakemake keeps every job's params; sharing the nested parts keeps the start of a
        1,000-job sweep light."""
        shared = self._shared.get((step, name))
        if shared is None:
            shared = self._shared[(step, name)] = canonical(build(name))
        return dict(sorted({**shared, "seed": int(wildcards.seed)}.items()))

    def _determinism(self) -> dict[str, Any]:
        return {"profile": self.profile, "threads": self.threads, "op_determinism": self.op_determinism}

    def _data(self, name: str) -> dict[str, Any]:
        """The experiment's data set, and its custom model builder if it has one (train and
        evaluate import it so the model's custom layers can be deserialised)."""
        experiment = self.experiments[name]
        spec = self.datasets[experiment["dataset"]]
        model = experiment["model"]
        return {
            "dataset": experiment["dataset"],
            "source": spec["source"],
            "label": spec["label"],
            "image": spec["image"],
            "stream": spec["stream"],
            "builder": model["builder"] if model["type"] == "custom" else None,
        }

    def _user_code(self, name: str, *keys: str) -> list[str]:
        """The source files of the user's code an experiment's step runs (``model.builder``,
        ``train.trainer``, a ``train.loss`` of theirs), so Snakemake reruns the step when one
        changes. An importable module is not listed: it is not a file of the workflow."""
        experiment = self.experiments[name]
        refs = {
            "builder": experiment["model"].get("builder"),
            "trainer": experiment["train"]["trainer"],
            "loss": experiment["train"]["loss"],
        }
        found = []
        for key in keys:
            ref = refs[key]
            if isinstance(ref, str) and ":" in ref:
                module = ref.rpartition(":")[0]
                if module.endswith(".py"):
                    found.append(module)
        return found

    def split_params(self, wildcards) -> dict[str, Any]:
        def build(dataset: str) -> dict[str, Any]:
            spec = self.datasets[dataset]
            return {
                "dataset": dataset,
                "source": spec["source"],
                "label": spec["label"],
                "task": spec["task"],
                "test_fraction": spec["test_fraction"],
                "scale": spec["scale"],
                "image": spec["image"],
            }

        return self._with_seed("split", wildcards.dataset, wildcards, build)

    def init_params(self, wildcards) -> dict[str, Any]:
        def build(name: str) -> dict[str, Any]:
            experiment = self.experiments[name]
            return {
                "experiment": name,
                "dataset": experiment["dataset"],
                "model": experiment["model"],
                **self._determinism(),
            }

        return self._with_seed("init", wildcards.experiment, wildcards, build)

    def train_params(self, wildcards) -> dict[str, Any]:
        def build(name: str) -> dict[str, Any]:
            return {"experiment": name, **self.experiments[name]["train"], **self._data(name), **self._determinism()}

        return self._with_seed("train", wildcards.experiment, wildcards, build)

    def evaluate_params(self, wildcards) -> dict[str, Any]:
        def build(name: str) -> dict[str, Any]:
            return {"experiment": name, **self._data(name), **self._determinism()}

        return self._with_seed("evaluate", wildcards.experiment, wildcards, build)

    def figures_params(self, wildcards) -> dict[str, Any]:
        return {"experiment": wildcards.experiment, "seeds": list(self.seeds)}

    def verify_params(self, wildcards=None) -> dict[str, Any]:
        return {"lock": self.lock, "rtol": self.rtol, "atol": self.atol}


def _verdict(path: Path) -> str | None:
    """``passed`` or ``failed``: the first line of a verdict file, if there is one."""
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.readline().strip()
    except OSError:
        return None


def _drop_leftovers() -> None:
    """Files set aside by a run that was killed before it could put them back: their steps
    rerun anyway (their records are missing), so the copies are dropped."""
    if os.path.isdir(layout.SET_ASIDE):
        shutil.rmtree(layout.SET_ASIDE, ignore_errors=True)
