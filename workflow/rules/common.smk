# Helpers and input functions shared by the rules (no rules here: `snakemake --lint`).
import json
import os
import sys
from pathlib import Path

from samebits import configcache, determinism, envinfo, grids, ondisk
from samebits.errors import SamebitsError
from snakemake.logging import logger
from snakemake.utils import validate

SCHEMA = "../schemas/config.schema.yaml"


def check_configuration():
    """The configuration checked, with the schema's defaults, and its experiments (grids
    expanded, each checked like a written one). Checks whose messages are clearer than a
    schema error come first (config.check_config names the field, the bad value and what is
    accepted), then the schema itself: all before any job runs."""
    from samebits.config import check_config

    check_config(config, workflow.configfiles)
    validate(config, schema=SCHEMA)
    experiments = grids.expand(config["experiments"], config.get("grids", {}))
    if config.get("grids"):
        validate({**config, "experiments": experiments, "grids": {}}, schema=SCHEMA)
    return {"config": config, "experiments": experiments}


# The result is a pure function of the configuration, the schema and samebits' code: a
# start with an unchanged configuration takes it from the cache (samebits.configcache).
_cache_key = None
if not workflow.modifier.skip_validation:  # used as a module that skips validation
    _schema = workflow.current_basedir.get_path_or_uri(secret_free=True)
    _cache_key = configcache.key(config, workflow.configfiles, Path(_schema) / SCHEMA)
_checked = configcache.load(configcache.PATH, _cache_key)
if _checked is None:
    _checked = check_configuration()
    configcache.store(configcache.PATH, _cache_key, _checked)
else:
    config.clear()
    config.update(_checked["config"])

DETERMINISM = config.get("determinism", {})
PROFILE = DETERMINISM.get("profile", "portable")
THREADS = DETERMINISM.get("threads", 1)
OP_DETERMINISM = DETERMINISM.get("op_determinism", True)
LOCK = config.get("lock", "samebits.lock")
VERIFY = config.get("verify", {})
VERIFIED = "results/verified.ok"
SEEDS = config["seeds"]
DATASETS = config["datasets"]
EXPERIMENTS = _checked["experiments"]

# PYTHONHASHSEED only works if it is set before an interpreter starts, and TensorFlow reads
# its thread and oneDNN variables at start-up too. Every job's process inherits this
# process's environment (locally and in a SLURM job step, which parses this file again), so
# the determinism variables are set here, once; each step checks them and records them.
PROCESS_ENV = determinism.process_env(PROFILE, THREADS, OP_DETERMINISM)
os.environ.update(PROCESS_ENV)
# The portable profile needs an x86-64 CPU with AVX2: say so before any job.
determinism.check_cpu(PROFILE)


def check_environment():
    """Warn, before any job runs, about what differs from the lock's environment."""
    from samebits import lock as lockmod

    try:
        lock = lockmod.read(LOCK)
    except SamebitsError as exc:
        logger.warning(f"samebits: {exc}\n(verify will stop at the end of this run)")
        return
    lines = envinfo.differences_from_lock(lock, ignore_variables=PROCESS_ENV)
    deciding = [line for line in lines if not envinfo.is_context(line)]
    context = [line for line in lines if envinfo.is_context(line)]
    if deciding:
        logger.warning(
            f"samebits: this environment differs from the one {LOCK} was made in;\n"
            "steps whose outputs change will be reported as drifted:\n"
            + "\n".join(f"  {line}" for line in lines)
        )
    elif context:
        logger.info(
            f"samebits: another CPU than the one {LOCK} was made on, under the same ISA cap;\n"
            "the steps should reproduce bit for bit:\n"
            + "\n".join(f"  {line}" for line in context)
        )


wildcard_constraints:
    seed=r"\d+",
    dataset=r"[A-Za-z0-9][A-Za-z0-9_-]*",
    experiment=r"[A-Za-z0-9][A-Za-z0-9_-]*",


def canonical(params):
    """Params with keys sorted at every level: Snakemake compares params by their text, so
    reordering keys in the config (or re-saving it) must not rerun anything."""
    return json.loads(json.dumps(params, sort_keys=True))


def dataset_spec(name):
    spec = DATASETS[name]
    return {
        "source": spec["source"],
        "label": spec.get("label", "label"),
        "test_fraction": spec.get("test_fraction", 0.2),
    }


def _data_files(dataset):
    source = DATASETS[dataset]["source"]
    return [source] if Path(source).suffix.lower() in (".csv", ".npz") else []


def dataset_files(wildcards):
    """The data file of a file-based data set (so Snakemake reruns split when it changes)."""
    return _data_files(wildcards.dataset)


_SHARED_PARAMS = {}


def _with_seed(step, name, wildcards, build):
    """A chain step's params: the part that every seed shares is built (and made canonical)
    once per data set or experiment, then the job's seed is put in its sorted place.
    Snakemake keeps every job's params; sharing the nested parts keeps the start of a
    1,000-job sweep light."""
    shared = _SHARED_PARAMS.get((step, name))
    if shared is None:
        shared = _SHARED_PARAMS[(step, name)] = canonical(build(name))
    return dict(sorted({**shared, "seed": int(wildcards.seed)}.items()))


def split_params(wildcards):
    return _with_seed(
        "split",
        wildcards.dataset,
        wildcards,
        lambda d: {"dataset": d, **dataset_spec(d)},
    )


def experiment_split(wildcards):
    dataset = EXPERIMENTS[wildcards.experiment]["dataset"]
    return f"results/splits/{dataset}/seed{wildcards.seed}/split.npz"


def _chain_inputs(wildcards, **inputs):
    """A chain step's inputs: the split of its experiment's data set, the given ones, and the
    data file if the set is file-based (Snakemake reruns the step when it changes). Train
    and evaluate have this one input function each, unpacked, as Snakemake inspects every
    input function of every job."""
    dataset = EXPERIMENTS[wildcards.experiment]["dataset"]
    found = {
        "split": f"results/splits/{dataset}/seed{wildcards.seed}/split.npz",
        **inputs,
    }
    data = _data_files(dataset)
    if data:
        found["data"] = data
    return found


def _chain_dir(wildcards):
    return f"results/experiments/{wildcards.experiment}/seed{wildcards.seed}"


def train_inputs(wildcards):
    chain = _chain_dir(wildcards)
    return _chain_inputs(
        wildcards, init=f"{chain}/init.npz", model=f"{chain}/model.json"
    )


def evaluate_inputs(wildcards):
    chain = _chain_dir(wildcards)
    return _chain_inputs(
        wildcards, weights=f"{chain}/weights.npz", model=f"{chain}/model.json"
    )


def _determinism_params():
    params = {"profile": PROFILE, "threads": THREADS}
    if (
        not OP_DETERMINISM
    ):  # only audits turn it off; the default keeps params unchanged
        params["op_determinism"] = False
    return params


def init_params(wildcards):
    return _with_seed(
        "init",
        wildcards.experiment,
        wildcards,
        lambda name: {
            "experiment": name,
            "dataset": EXPERIMENTS[name]["dataset"],
            "model": EXPERIMENTS[name]["model"],
            **_determinism_params(),
        },
    )


def _data_params(name):
    """Data set of the experiment, and its custom model builder if it has one (train and
    evaluate import it so the model's custom layers can be deserialised)."""
    experiment = EXPERIMENTS[name]
    spec = dataset_spec(experiment["dataset"])
    params = {
        "dataset": experiment["dataset"],
        "source": spec["source"],
        "label": spec["label"],
    }
    if experiment["model"]["type"] == "custom":
        params["builder"] = experiment["model"]["builder"]
    return params


def _train_shared(name):
    train = EXPERIMENTS[name]["train"]
    return {
        "experiment": name,
        "epochs": train["epochs"],
        "batch_size": train.get("batch_size", 32),
        "optimizer": train.get("optimizer", "adam"),
        "learning_rate": train.get("learning_rate", 0.001),
        **_data_params(name),
        **_determinism_params(),
    }


def train_params(wildcards):
    return _with_seed("train", wildcards.experiment, wildcards, _train_shared)


def evaluate_params(wildcards):
    return _with_seed(
        "evaluate",
        wildcards.experiment,
        wildcards,
        lambda name: {
            "experiment": name,
            **_data_params(name),
            **_determinism_params(),
        },
    )


def experiment_histories(wildcards):
    return [
        f"results/experiments/{wildcards.experiment}/seed{seed}/history.json"
        for seed in SEEDS
    ]


def experiment_metrics(wildcards):
    return [
        f"results/experiments/{wildcards.experiment}/seed{seed}/metrics.json"
        for seed in SEEDS
    ]


def figures_params(wildcards):
    return {"experiment": wildcards.experiment, "seeds": list(SEEDS)}


def evaluate_records(wildcards):
    return [
        f"results/experiments/{name}/seed{seed}/evaluate.record.json"
        for name in EXPERIMENTS
        for seed in SEEDS
    ]


def all_records(wildcards):
    """Every step record of every experiment x seed, in a fixed order, then the figures'
    and the summary's."""
    used = sorted({exp["dataset"] for exp in EXPERIMENTS.values()})
    paths = [
        f"results/splits/{dataset}/seed{seed}/split.record.json"
        for dataset in used
        for seed in SEEDS
    ]
    for name in EXPERIMENTS:
        for seed in SEEDS:
            for step in ("init", "train", "evaluate"):
                paths.append(
                    f"results/experiments/{name}/seed{seed}/{step}.record.json"
                )
    paths += [f"results/figures/{name}/figures.record.json" for name in EXPERIMENTS]
    paths.append("results/summary.record.json")
    return paths


def verify_params(wildcards):
    return {
        "lock": LOCK,
        "rtol": VERIFY.get("rtol", 1e-5),
        "atol": VERIFY.get("atol", 1e-8),
    }


# Snakemake reruns by modification time, so an input (or output) whose content changed while
# its mtime was put back would not be rerun. Records hold content checksums: the record of
# such a step is removed here, before the DAG is built, so Snakemake reruns it and what
# follows. The records looked at are this run's steps' (all_records); an index under
# .snakemake/ spares parsing those whose files were not touched (samebits.ondisk). Only the
# main process of a real run does this (a cluster job step parses this file too; --dry-run,
# --lint and the like only report).
if workflow.is_main_process:
    for message in ondisk.invalidate_stale(
        all_records(None),
        marker=VERIFIED,
        dry_run=not ondisk.executing(sys.argv),
        index=ondisk.INDEX,
    ):
        logger.warning(f"samebits: stale: {message}")
