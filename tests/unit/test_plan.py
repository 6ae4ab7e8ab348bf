"""The plan of a run: the configuration checked in-process with the messages a user sees, every
default from the schema, the choices the schema and the code share, and the rules' params (no
TensorFlow, no Snakemake). What a run's start and end do is tests/unit/test_lifecycle.py's."""

from __future__ import annotations

import copy
import types

import pytest
import yaml

from samebits.config import schema
from samebits.core import layout
from samebits.core.errors import ConfigError
from samebits.ml import compiling, determinism, images, models, scaling, sources
from samebits.plan import Plan
from tests.helpers import DELETE, DUPLICATE_KEY_YAML, SMALL_CONFIG, config_with, messages_on_the_page, page_row

GOOD = SMALL_CONFIG
_DELETE = DELETE
_with = config_with


BAD_CONFIGS = [
    # (id, config, words the message must contain)
    ("unknown-top-key", {**GOOD, "seed": [0]}, ["config.yaml", "seed", "was unexpected"]),
    ("typo-in-train", _with("experiments.mlp.train.epoch", 3), ["experiments.mlp.train", "epoch", "was unexpected"]),
    ("missing-seeds", _with("seeds", _DELETE), ["seeds", "required"]),
    ("missing-epochs", _with("experiments.mlp.train", {}), ["experiments.mlp.train", "epochs", "required"]),
    ("duplicate-seeds", _with("seeds", [1, 1]), ["seeds", "non-unique"]),
    ("negative-seed", _with("seeds", [-1]), ["seeds.0", "-1", "minimum"]),
    ("seed-not-integer", _with("seeds", [0.5]), ["0.5", "integer"]),
    ("test-fraction-1", _with("datasets.digits.test_fraction", 1.0), ["datasets.digits.test_fraction", "1.0"]),
    ("test-fraction-0", _with("datasets.digits.test_fraction", 0), ["test_fraction", "0"]),
    ("zero-epochs", _with("experiments.mlp.train.epochs", 0), ["experiments.mlp.train.epochs", "0"]),
    ("unknown-scale", _with("datasets.digits.scale", "robust"), ["datasets.digits.scale", "'robust'", "'maxabs'"]),
    (
        "image-of-a-bundled-set",
        _with("datasets.digits.image", {"size": [8, 8]}),
        ["datasets.digits.image.size applies to image folders only", "'digits' is not a folder"],
    ),
    (
        "image-size-one-number",
        _with("datasets.digits", {"source": "data/pets/", "image": {"size": [8]}}),
        ["datasets.digits.image.size", "[8]"],
    ),
    (
        "three-channel-kinds",
        _with("datasets.digits", {"source": "data/pets/", "image": {"channels": 4}}),
        ["datasets.digits.image.channels", "4"],
    ),
    (
        "unknown-resize",
        _with("datasets.digits", {"source": "data/pets/", "image": {"resize": "cubic"}}),
        ["datasets.digits.image.resize", "'cubic'", "'bilinear'"],
    ),
    ("stream-as-text", _with("datasets.digits.stream", "yes"), ["datasets.digits.stream", "'yes'"]),
    ("zero-batch", _with("experiments.mlp.train.batch_size", 0), ["batch_size", "0"]),
    (
        "unknown-model",
        _with("experiments.mlp.model", {"type": "rnn"}),
        ["config.yaml: experiments.mlp.model.type", "rnn", "mlp, cnn, custom"],
    ),
    (
        "key-of-another-model-type",
        _with("experiments.mlp.model", {"type": "mlp", "filters": [4]}),
        ["experiments.mlp.model", "'filters' was unexpected"],
    ),
    (
        "unknown-optimizer",
        _with("experiments.mlp.train.optimizer", "adamx"),
        ["config.yaml: experiments.mlp.train.optimizer", "'adamx'", "not a Keras optimizer", "AdamW", "SGD"],
    ),
    (
        "bad-optimizer-option",
        _with("experiments.mlp.train.optimizer", {"name": "AdamW", "weight_decy": 0.1}),
        ["experiments.mlp.train.optimizer.weight_decy", "not an option of AdamW", "weight_decay", "global_clipnorm"],
    ),
    (
        "learning-rate-as-optimizer-option",
        _with("experiments.mlp.train.optimizer", {"name": "sgd", "learning_rate": 0.1}),
        ["optimizer.learning_rate", "not an option of SGD", "train.learning_rate sets the learning rate"],
    ),
    (
        "unknown-loss",
        _with("experiments.mlp.train.loss", "cross_entropy"),
        ["experiments.mlp.train.loss", "'cross_entropy'", "not a Keras loss", "SparseCategoricalCrossentropy"],
    ),
    (
        "bad-loss-option",
        _with("experiments.mlp.train.loss", {"name": "Huber", "delt": 2}),
        ["train.loss.delt", "not an option of Huber", "delta"],
    ),
    (
        "unknown-schedule",
        _with("experiments.mlp.train.schedule", {"name": "CosineDecayy", "decay_steps": 10}),
        ["experiments.mlp.train.schedule", "'CosineDecayy'", "learning-rate schedule", "CosineDecay, "],
    ),
    (
        "schedule-lacking-an-option",
        _with("experiments.mlp.train.schedule", "ExponentialDecay"),
        ["experiments.mlp.train.schedule", "ExponentialDecay needs option(s) decay_rate, decay_steps"],
    ),
    (
        "unknown-callback",
        _with("experiments.mlp.train.callbacks", ["EarlyStoping"]),
        ["train.callbacks[0]", "'EarlyStoping'", "EarlyStopping, ReduceLROnPlateau, TerminateOnNaN"],
    ),
    (
        "bad-callback-option",
        _with("experiments.mlp.train.callbacks", [{"name": "EarlyStopping", "patiense": 2, "monitor": "loss"}]),
        ["train.callbacks[0].patiense", "not an option of EarlyStopping", "patience"],
    ),
    (
        "early-stopping-without-validation",
        _with("experiments.mlp.train.callbacks", [{"name": "EarlyStopping", "patience": 2}]),
        ["train.callbacks[0]", "monitors 'val_loss'", "validation_fraction is not set", "monitor: loss"],
    ),
    (
        "unknown-metric",
        _with("experiments.mlp.train.metrics", ["accuracy", "auroc"]),
        ["experiments.mlp.train.metrics[1]", "'auroc'", "closest: AUC", "keras_api.yaml"],
    ),
    (
        "validation-fraction-1",
        _with("experiments.mlp.train.validation_fraction", 1),
        ["experiments.mlp.train.validation_fraction", "1"],
    ),
    (
        "validation-fraction-0",
        _with("experiments.mlp.train.validation_fraction", 0.0),
        ["experiments.mlp.train.validation_fraction", "0.0"],
    ),
    (
        "missing-trainer-file",
        _with("experiments.mlp.train.trainer", "models/loop.py:train"),
        ["experiments.mlp.train.trainer", "models/loop.py", "does not exist"],
    ),
    (
        "trainer-without-function",
        _with("experiments.mlp.train.trainer", "models/m.py:train"),
        ["experiments.mlp.train.trainer", "models/m.py:train", "no function 'train'"],
    ),
    ("unknown-task", _with("datasets.digits.task", "ranking"), ["datasets.digits.task", "ranking"]),
    (
        "class-weight-word",
        _with("experiments.mlp.train.class_weight", "balance"),
        ["experiments.mlp.train.class_weight", "balance"],
    ),
    ("unknown-profile", {**GOOD, "determinism": {"profile": "fast"}}, ["determinism.profile", "fast", "portable"]),
    ("unknown-dataset", _with("experiments.mlp.dataset", "mnist"), ["experiments.mlp.dataset", "mnist", "digits"]),
    ("unknown-bundled-set", _with("datasets.digits.source", "mnist"), ["datasets.digits.source", "mnist", "digits"]),
    ("bad-extension", _with("datasets.digits.source", "data/x.txt"), ["data/x.txt", ".csv", ".npz"]),
    (
        "unsafe-name",
        {**GOOD, "experiments": {"../up": GOOD["experiments"]["mlp"]}},
        ["experiments: '../up' is not a name", "letters, digits"],
    ),
    # values a fuzzer found to end in a raw exception or to be taken silently
    (
        "metrics-not-a-list",
        _with("experiments.mlp.train.metrics", "accuracy"),
        ["train.metrics", "'accuracy' is not accepted", "`[accuracy, AUC]`"],
    ),
    (
        "metrics-a-number",
        _with("experiments.mlp.train.metrics", 5),
        ["train.metrics", "5 is not accepted", "Keras metric names"],
    ),
    ("callbacks-a-number", _with("experiments.mlp.train.callbacks", 5), ["train.callbacks", "5", "array"]),
    ("grids-a-list", {**GOOD, "grids": [1]}, ["grids", "[1]", "object"]),
    ("vary-a-list", {**GOOD, "grids": {"g": {"base": "mlp", "vary": [1]}}}, ["grids.g.vary", "[1]", "object"]),
    ("nan-fraction", _with("datasets.digits.test_fraction", float("nan")), ["test_fraction", "nan", "finite"]),
    ("inf-rate", _with("experiments.mlp.train.learning_rate", float("inf")), ["learning_rate", "inf", "finite"]),
    ("inf-rtol", {**GOOD, "verify": {"rtol": float("inf")}}, ["verify.rtol", "inf", "finite"]),
    ("whole-float-seed", _with("seeds", [1.0]), ["seeds.0", "1.0 is not an integer", "write 1"]),
    ("whole-float-threads", {**GOOD, "determinism": {"threads": 2.0}}, ["determinism.threads", "write 2"]),
    ("yaml-1.1-exponent", _with("experiments.mlp.train.learning_rate", "1e-3"), ["'1e-3' is text", "1.0e-3"]),
    ("quoted-number", _with("experiments.mlp.train.epochs", "3"), ["train.epochs", "'3' is text", "without quotes"]),
    ("class-weight-name", _with("experiments.mlp.train.class_weight", {"cat": 2.0}), ["key 'cat'", "class index"]),
    ("class-weight-negative", _with("experiments.mlp.train.class_weight", {-1: 2.0}), ["key -1", "class index"]),
    ("name-with-newline", {**GOOD, "experiments": {"mlp\n": GOOD["experiments"]["mlp"]}}, ["'mlp\\n' is not a name"]),
    (
        "file-writing-callback",
        _with("experiments.mlp.train.callbacks", ["ModelCheckpoint"]),
        ["callbacks[0]", "ModelCheckpoint", "refuses", "writes model files"],
    ),
    (
        "builder-option-typo",
        _with("experiments.mlp.model", {"type": "custom", "builder": "models/m.py:build", "options": {"unit": 8}}),
        ["experiments.mlp.model.options.unit", "build()", "no parameter 'unit'", "its options: none"],
    ),
    (
        "grid-misspelt-key",
        {**GOOD, "grids": {"g": {"base": "mlp", "vary": {"train.epoch": [1]}}}},
        ["grids.g.vary makes experiments.g_epoch-1", "'epoch' was unexpected"],
    ),
    (
        "positive-class-metric-on-multiclass",
        _with("experiments.mlp.train.metrics", ["AUC"]),
        ["experiments.mlp.train.metrics[0]", "AUC scores the probability of one positive class", "multiclass"],
    ),
    ("source-too-long", _with("datasets.digits.source", "x" * 5000 + ".csv"), ["source", "5,004 characters", "255"]),
    (
        "grid-of-too-many",
        {
            **GOOD,
            "grids": {
                "g": {"base": "mlp", "vary": {"train.epochs": [*range(1, 201)], "train.batch_size": [*range(1, 201)]}}
            },
        },
        ["grids.g.vary: makes 40,000 experiments", "at most 10,000"],
    ),
    ("output-dir-up", _with("output_dir", "../elsewhere"), ["output_dir", "'../elsewhere'", "inside the working"]),
    ("output-dir-absolute", _with("output_dir", "/tmp/x"), ["output_dir", "'/tmp/x'", "relative path"]),
    ("lock-empty", _with("lock", ""), ["lock", "''", "relative path"]),
    (
        "missing-builder-file",
        _with("experiments.mlp.model", {"type": "custom", "builder": "models/nope.py:build"}),
        ["models/nope.py", "does not exist"],
    ),
    (
        "builder-without-function",
        _with("experiments.mlp.model", {"type": "custom", "builder": "models/m.py:nope"}),
        ["models/m.py:nope", "no function 'nope'"],
    ),
    (
        "builder-unimportable-module",
        _with("experiments.mlp.model", {"type": "custom", "builder": "no_such_mod:f"}),
        ["no_such_mod", "cannot be imported"],
    ),
    (
        "grid-of-a-key-its-base-lacks",
        {**GOOD, "grids": {"g": {"base": "mlp", "vary": {"model.filters": [[4]]}}}},
        ["experiments.g_filters-4.model", "'filters' was unexpected"],
    ),
    (
        "grid-of-an-unknown-base",
        {**GOOD, "grids": {"g": {"base": "cnn", "vary": {"train.epochs": [1]}}}},
        ["grids.g.base", "'cnn' is not an experiment"],
    ),
]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "m.py").write_text("def build(input_shape, n_classes, seeds):\n    return None\n")
    return tmp_path


@pytest.mark.parametrize("cfg, words", [c[1:] for c in BAD_CONFIGS], ids=[c[0] for c in BAD_CONFIGS])
def test_a_bad_configuration_is_refused_with_a_message_naming_the_field(workdir, cfg, words):
    (workdir / "config.yaml").write_text(yaml.safe_dump(cfg))
    with pytest.raises(ConfigError) as info:
        Plan.load("config.yaml")
    for word in words:
        assert word in str(info.value), f"{word!r} not in: {info.value}"


def test_a_key_given_twice_is_refused_with_its_line(workdir):
    (workdir / "config.yaml").write_text(DUPLICATE_KEY_YAML)
    with pytest.raises(ConfigError, match=r"config.yaml: line 6: duplicate key 'mlp'"):
        Plan.load("config.yaml")


def test_a_missing_or_broken_file_is_named(workdir):
    with pytest.raises(ConfigError, match="nowhere.yaml: no such configuration file"):
        Plan.load("nowhere.yaml")
    (workdir / "config.yaml").write_text("seeds: [0\n")
    with pytest.raises(ConfigError, match="config.yaml: not valid YAML"):
        Plan.load("config.yaml")


def test_every_default_comes_from_the_schema():
    plan = Plan.check(copy.deepcopy(GOOD))
    assert plan.config["determinism"] == {
        "profile": schema.default("determinism", "profile"),
        "threads": schema.default("determinism", "threads"),
        "op_determinism": schema.default("determinism", "op_determinism"),
    }
    assert (plan.rtol, plan.atol) == (schema.default("verify", "rtol"), schema.default("verify", "atol"))
    assert plan.config["output_dir"] == schema.default("output_dir") == layout.OUTPUT_DIR
    assert plan.lock == layout.LOCK_NAME  # in the output folder
    model = plan.experiments["mlp"]["model"]
    assert set(model) == {"type", "hidden", "activation", "dropout", "augment"} and model["hidden"] == [8]
    train = plan.experiments["mlp"]["train"]
    assert set(train) == {
        "epochs",
        "batch_size",
        "optimizer",
        "learning_rate",
        "schedule",
        "loss",
        "metrics",
        "class_weight",
        "validation_fraction",
        "callbacks",
        "trainer",
        "checkpoint",
    }
    declared = schema.schema()["properties"]["experiments"]["additionalProperties"]["properties"]["train"]
    for key in set(train) - {"epochs", "checkpoint"}:
        assert train[key] == declared["properties"][key]["default"], key
    every = declared["properties"]["checkpoint"]["properties"]
    assert train["checkpoint"] == {k: every[k]["default"] for k in ("every_epochs", "every_minutes")}
    digits = plan.datasets["digits"]
    assert set(digits) == {"source", "label", "task", "test_fraction", "scale", "image", "stream"}
    declared = schema.schema()["properties"]["datasets"]["additionalProperties"]["properties"]
    for key in ("scale", "stream"):
        assert digits[key] == declared[key]["default"], key
    image = declared["image"]["properties"]
    assert digits["image"] == {k: image[k]["default"] for k in ("size", "channels", "resize")}


def test_defaults_reach_the_experiments_a_grid_expands_to():
    cfg = {**copy.deepcopy(GOOD), "grids": {"lr": {"base": "mlp", "vary": {"train.learning_rate": [0.1, 0.01]}}}}
    plan = Plan.check(cfg)
    assert list(plan.experiments) == ["mlp", "lr_learning_rate-0p1", "lr_learning_rate-0p01"]
    for exp in plan.experiments.values():
        assert exp["train"]["batch_size"] == plan.experiments["mlp"]["train"]["batch_size"]
        assert set(exp["model"]) == {"type", "hidden", "activation", "dropout", "augment"}
    assert plan.experiments["lr_learning_rate-0p01"]["train"]["learning_rate"] == 0.01


def _enum(*path: str) -> list:
    node = schema.schema()
    for key in path:
        node = schema._resolve(node)[key]
    return schema._resolve(node)["enum"]


def test_the_schema_and_the_code_offer_the_same_choices():
    props = schema.schema()["properties"]
    assert _enum("properties", "determinism", "properties", "profile") == list(determinism.PROFILES)
    assert schema.default("determinism", "profile") == determinism.PORTABLE
    experiment = props["experiments"]["additionalProperties"]["properties"]
    datasets = props["datasets"]["additionalProperties"]["properties"]
    assert datasets["task"]["oneOf"][1]["enum"] == list(sources.TASKS) == list(models.OUTPUTS)
    assert set(sources.BUNDLED.values()) <= set(sources.TASKS)
    assert set(compiling.TASK_LOSSES) == set(compiling.TASK_METRICS) == set(sources.TASKS)
    types_ = [branch["properties"]["type"]["const"] for branch in experiment["model"]["oneOf"]]
    assert tuple(types_) == models.MODEL_TYPES
    assert schema.schema()["$defs"]["name"]["pattern"] == f"^{layout.NAME}$"
    datasets = schema.schema()["properties"]["datasets"]["additionalProperties"]["properties"]
    assert tuple(datasets["scale"]["enum"]) == scaling.SCALES
    assert tuple(datasets["image"]["properties"]["resize"]["enum"]) == images.RESIZE


def test_params_are_complete_canonical_and_shared_between_seeds():
    cfg = {**copy.deepcopy(GOOD), "seeds": [0, 1]}
    plan = Plan.check(cfg)
    w0 = types.SimpleNamespace(dataset="digits", experiment="mlp", seed="0")
    w1 = types.SimpleNamespace(dataset="digits", experiment="mlp", seed="1")
    train = plan.train_params(w0)
    assert list(train) == sorted(train) and train["seed"] == 0 and train["builder"] is None
    assert {k: v for k, v in plan.train_params(w1).items() if k != "seed"} == {
        k: v for k, v in train.items() if k != "seed"
    }
    assert plan.split_params(w0) == {
        "dataset": "digits",
        "label": "label",
        "seed": 0,
        "source": "digits",
        "task": None,
        "test_fraction": plan.datasets["digits"]["test_fraction"],
        "scale": plan.datasets["digits"]["scale"],
        "image": plan.datasets["digits"]["image"],
    }
    assert plan.verify_params() == {"lock": plan.lock, "rtol": plan.rtol, "atol": plan.atol, "root": "."}
    assert plan.all_records() == [
        layout.record("split", dataset="digits", seed=0),
        layout.record("split", dataset="digits", seed=1),
        *(layout.record(s, experiment="mlp", seed=0) for s in layout.CHAIN_STEPS[1:]),
        *(layout.record(s, experiment="mlp", seed=1) for s in layout.CHAIN_STEPS[1:]),
        layout.record("figures", experiment="mlp"),
        layout.record("summarize"),
    ]
    assert plan.dataset_files(w0) == sources.data_files("digits") == []


def test_an_output_dir_holds_every_file_of_the_run_and_its_lock():
    plan = Plan.check({**copy.deepcopy(GOOD), "output_dir": "results/examples/x"})
    w = types.SimpleNamespace(experiment="mlp", seed="0")
    assert plan.lock == "results/examples/x/samebits.lock"
    assert plan.train_inputs(w)["split"] == "results/examples/x/results/splits/digits/seed0/split.npz"
    assert all(p.startswith("results/examples/x/results/") for p in plan.all_records())
    files = plan.layout
    every = [p for f in files.files.values() for p in (*f.outputs.values(), f.log, f.benchmark) if p]
    assert all(p.startswith("results/examples/x/") for p in every)
    # nothing of it is a file of the default's
    assert not set(every) & {p for f in layout.FILES.values() for p in (*f.outputs.values(), f.log, f.benchmark)}
    # a lock named in the configuration is where it says
    assert Plan.check({**copy.deepcopy(GOOD), "output_dir": "o", "lock": "my.lock"}).lock == "my.lock"


def test_a_target_of_an_experiment_or_data_set_the_configuration_lacks_is_named():
    plan = Plan.check(copy.deepcopy(GOOD))
    with pytest.raises(ConfigError, match="no experiment 'recipe' in this configuration; its experiments: mlp"):
        plan.experiment_histories(types.SimpleNamespace(experiment="recipe"))
    with pytest.raises(ConfigError, match="no experiment 'recipe'"):
        plan.init_inputs(types.SimpleNamespace(experiment="recipe", seed="0"))
    with pytest.raises(ConfigError, match="no data set 'iris' in this configuration; its data sets: digits"):
        plan.split_params(types.SimpleNamespace(dataset="iris", seed="0"))


def test_the_users_code_files_are_inputs_of_the_steps_that_run_them(workdir):
    (workdir / "models" / "loop.py").write_text("def train(ctx):\n    pass\n")
    (workdir / "models" / "loss.py").write_text("def loss(y_true, y_pred):\n    return y_pred\n")
    cfg = config_with("experiments.mlp.model", {"type": "custom", "builder": "models/m.py:build"})
    cfg["experiments"]["mlp"]["train"].update(trainer="models/loop.py:train", loss="models/loss.py:loss")
    plan = Plan.check(cfg)
    w = types.SimpleNamespace(experiment="mlp", seed="0")
    assert plan.init_inputs(w)["code"] == ["models/m.py"]
    assert plan.train_inputs(w)["code"] == ["models/loop.py", "models/loss.py"]
    assert "code" not in Plan.check(copy.deepcopy(GOOD)).train_inputs(w)


def _message(workdir, text: str) -> str:
    (workdir / "config").mkdir(exist_ok=True)
    (workdir / layout.CONFIG_FILE).write_text(text)
    with pytest.raises(ConfigError) as info:
        Plan.load(layout.CONFIG_FILE)
    return str(info.value)


def test_the_bad_input_page_shows_every_configuration_message_as_it_is(workdir):
    """docs/bad-input.md's configuration table: each case above with the message it gets,
    word for word, and no message the code no longer gives."""
    given = {
        "a missing configuration file": "nope.yaml: no such configuration file; run from the workflow's "
        "directory or name it with --config",
        "a key given twice": _message(workdir, DUPLICATE_KEY_YAML),
        "not YAML": _message(workdir, "seeds: [0\n"),
    }
    with pytest.raises(ConfigError) as info:
        Plan.load("nope.yaml")
    assert str(info.value) == given["a missing configuration file"]
    for name, cfg, _ in BAD_CONFIGS:
        given[name] = _message(workdir, yaml.safe_dump(cfg))
    given = {name: " ".join(m.split()) for name, m in given.items()}  # a table cell is one line
    shown = messages_on_the_page("Configuration (refused before any job runs)")
    missing = [page_row(name, m) for name, m in given.items() if m not in shown]
    assert not missing, "docs/bad-input.md lacks these rows (or shows other words):\n" + "\n".join(missing)
    stale = {m for m in shown if m.startswith(("config/", "nope.yaml"))} - set(given.values())
    assert not stale, "docs/bad-input.md shows messages no case gets:\n" + "\n".join(sorted(stale))
