"""The plan of a run: the checked configuration, and all that the workflow, the ``samebits``
command, audit, lint and the benchmark read from it.

- the configuration checked and with every default of the schema filled in, and the
  experiments of its grids expanded (:meth:`Plan.check`, :meth:`Plan.load`);
- the inputs and params of every rule, as named functions of the wildcards;
- the records of the run, in order (:meth:`Plan.all_records`), and what verify reads;
- the environment every job's process must start with (the determinism variables).

A plan only computes: it writes, moves and registers nothing. What a run of the workflow
does at its start and end is :mod:`samebits.lifecycle`'s. The workflow's ``common.smk`` makes
one plan (through :meth:`samebits.lifecycle.RunHooks.for_workflow`) and its rules read it;
the command line makes the same plan from the same file (:meth:`Plan.load`), so the two
cannot disagree on a tolerance, a lock path or a record.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .core import layout
from .core.errors import ConfigError
from .core.usercode import CodeRef
from .ml import determinism, sources

__all__ = ["Plan"]

#: The wildcards Snakemake passes to an input or params function (``wildcards.seed``): a
#: ``snakemake.iocontainers.Wildcards``, Any because Snakemake ships no type information.
Wildcards = Any


def canonical(params: dict[str, Any]) -> dict[str, Any]:
    """Params with keys sorted at every level: Snakemake compares params by their text, so
    reordering keys in the config (or re-saving it) must not rerun anything."""
    return json.loads(json.dumps(params, sort_keys=True))


class Plan:
    """A checked configuration with its defaults, and what a run of it does.

    Make one with :meth:`check` (a configuration in memory) or :meth:`load` (a file).
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
        #: Where this configuration's files go (``output_dir``): the rules name their
        #: outputs, logs and benchmarks from it.
        self.layout = layout.Layout.under(config["output_dir"])
        self.lock: str = config.get("lock") or self.layout.lock
        self.rtol: float = config["verify"]["rtol"]
        self.atol: float = config["verify"]["atol"]
        self._shared: dict[tuple[str, str], dict[str, Any]] = {}

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

        files = [str(p) for p in configfiles]
        where = where or ", ".join(files) or "the configuration"
        schema.check_size(config, where)
        for path in files:
            checks.check_duplicate_keys(path)  # names the file and line itself
        try:
            checks.check_config(config)
            schema.validate(config, where)
            filled = schema.with_defaults(config)
            origins: dict[str, str] = {}
            experiments = grids.expand(filled["experiments"], filled["grids"], origins)
        except ConfigError as exc:
            message = str(exc)
            raise ConfigError(message if message.startswith(f"{where}: ") else f"{where}: {message}") from None
        for name, grid in origins.items():  # each made experiment, checked as a written one would be
            made = {**filled, "experiments": {name: experiments[name]}, "grids": {}}
            schema.validate(made, f"{where}: grids.{grid}.vary makes experiments.{name}, and there")
        if filled["grids"]:
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

    def experiment(self, name: str) -> dict[str, Any]:
        """The experiment ``name``; :class:`ConfigError` naming the ones there are (a target
        path can name any experiment: ``results/figures/<exp>/test.png``)."""
        try:
            return self.experiments[name]
        except KeyError:
            raise ConfigError(
                f"no experiment {name!r} in this configuration; its experiments: {', '.join(sorted(self.experiments))}"
            ) from None

    def dataset(self, name: str) -> dict[str, Any]:
        """The data set ``name``; :class:`ConfigError` naming the ones there are."""
        try:
            return self.datasets[name]
        except KeyError:
            raise ConfigError(
                f"no data set {name!r} in this configuration; its data sets: {', '.join(sorted(self.datasets))}"
            ) from None

    # --- the processes of a run --------------------------------------------------------

    def process_env(self) -> dict[str, str]:
        """The environment every step's process must start with (see samebits.ml.determinism)."""
        return determinism.process_env(profile=self.profile, threads=self.threads, op_determinism=self.op_determinism)

    # --- inputs ----------------------------------------------------------------------

    def dataset_files(self, wildcards: Wildcards) -> list[str]:
        """The data file of a file-based data set (so Snakemake reruns split when it changes)."""
        return sources.data_files(self.dataset(wildcards.dataset)["source"])

    def _split_of(self, experiment: str, seed: Any) -> str:
        return self.layout.split.path("split", dataset=self.experiment(experiment)["dataset"], seed=seed)

    def init_inputs(self, wildcards: Wildcards) -> dict[str, Any]:
        """Init's inputs: its split, and a custom builder's file."""
        found: dict[str, Any] = {"split": self._split_of(wildcards.experiment, wildcards.seed)}
        code = self._user_code(wildcards.experiment, "builder")
        if code:
            found["code"] = code
        return found

    def _chain_inputs(self, wildcards: Wildcards, **inputs: str) -> dict[str, Any]:
        """A chain step's inputs: its split, the given ones, and the data file of a file-based
        set (Snakemake reruns the step when it changes). Train and evaluate have one input
        function each, unpacked, as Snakemake calls every input function of every job."""
        found: dict[str, Any] = {"split": self._split_of(wildcards.experiment, wildcards.seed), **inputs}
        data = sources.data_files(self.dataset(self.experiment(wildcards.experiment)["dataset"])["source"])
        if data:
            found["data"] = data
        return found

    def train_inputs(self, wildcards: Wildcards) -> dict[str, Any]:
        w = {"experiment": wildcards.experiment, "seed": wildcards.seed}
        found = self._chain_inputs(
            wildcards, init=self.layout.init.path("init", **w), model=self.layout.init.path("model", **w)
        )
        code = self._user_code(wildcards.experiment, "trainer", "loss")
        if code:
            found["code"] = code
        return found

    def evaluate_inputs(self, wildcards: Wildcards) -> dict[str, Any]:
        w = {"experiment": wildcards.experiment, "seed": wildcards.seed}
        return self._chain_inputs(
            wildcards, weights=self.layout.train.path("weights", **w), model=self.layout.init.path("model", **w)
        )

    def experiment_histories(self, wildcards: Wildcards) -> list[str]:
        self.experiment(wildcards.experiment)  # a figure's target may name any experiment
        return [self.layout.train.path("history", experiment=wildcards.experiment, seed=s) for s in self.seeds]

    def experiment_metrics(self, wildcards: Wildcards) -> list[str]:
        return [self.layout.evaluate.path("metrics", experiment=wildcards.experiment, seed=s) for s in self.seeds]

    def experiment_predictions(self, wildcards: Wildcards) -> list[str]:
        return [self.layout.evaluate.path("predictions", experiment=wildcards.experiment, seed=s) for s in self.seeds]

    def evaluate_records(self, wildcards: Wildcards = None) -> list[str]:
        return [self.layout.record("evaluate", experiment=e, seed=s) for e in self.experiments for s in self.seeds]

    def all_records(self, wildcards: Wildcards = None) -> list[str]:
        """Every step record of the run: the splits, each experiment x seed chain, then the
        figures' and the summary's."""
        used = sorted({exp["dataset"] for exp in self.experiments.values()})
        paths = [self.layout.record("split", dataset=d, seed=s) for d in used for s in self.seeds]
        for name in self.experiments:
            for seed in self.seeds:
                paths += [self.layout.record(step, experiment=name, seed=seed) for step in layout.CHAIN_STEPS[1:]]
        paths += [self.layout.record("figures", experiment=name) for name in self.experiments]
        paths.append(self.layout.record("summarize"))
        return paths

    # --- params ----------------------------------------------------------------------

    def _with_seed(
        self, step: str, name: str, wildcards: Wildcards, build: Callable[[str], dict[str, Any]]
    ) -> dict[str, Any]:
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
        experiment = self.experiment(name)
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
        experiment = self.experiment(name)
        refs = {
            "builder": experiment["model"].get("builder"),
            "trainer": experiment["train"]["trainer"],
            "loss": experiment["train"]["loss"],
        }
        found = [CodeRef.named(refs[key]) for key in keys]
        return [ref.workflow_file for ref in found if ref is not None and ref.workflow_file is not None]

    def split_params(self, wildcards: Wildcards) -> dict[str, Any]:
        def build(dataset: str) -> dict[str, Any]:
            spec = self.dataset(dataset)
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

    def init_params(self, wildcards: Wildcards) -> dict[str, Any]:
        def build(name: str) -> dict[str, Any]:
            experiment = self.experiment(name)
            return {
                "experiment": name,
                "dataset": experiment["dataset"],
                "model": experiment["model"],
                **self._determinism(),
            }

        return self._with_seed("init", wildcards.experiment, wildcards, build)

    def train_params(self, wildcards: Wildcards) -> dict[str, Any]:
        def build(name: str) -> dict[str, Any]:
            return {
                "experiment": name,
                "train": self.experiment(name)["train"],
                **self._data(name),
                **self._determinism(),
            }

        return self._with_seed("train", wildcards.experiment, wildcards, build)

    def evaluate_params(self, wildcards: Wildcards) -> dict[str, Any]:
        def build(name: str) -> dict[str, Any]:
            return {"experiment": name, **self._data(name), **self._determinism()}

        return self._with_seed("evaluate", wildcards.experiment, wildcards, build)

    def figures_params(self, wildcards: Wildcards) -> dict[str, Any]:
        return {"experiment": wildcards.experiment, "seeds": list(self.seeds)}

    def verify_params(self, wildcards: Wildcards = None) -> dict[str, Any]:
        return {"lock": self.lock, "rtol": self.rtol, "atol": self.atol, "root": self.layout.root}
