"""Bad input gets a clear error and loses nothing: the wiring, end to end.

The wording of every configuration error is tested in-process (tests/unit/test_plan.py) and
so is every data error (tests/unit/test_bad_data.py). Here a handful of each go through the
real workflow, on a fresh copy that already holds a lock: the run must fail with the
message, before any job for a config error and at split for a data error, and leave no
result and no changed lock behind.
"""

from __future__ import annotations

import re

import pytest

from tests.helpers import DUPLICATE_KEY_YAML, SMALL_CONFIG, config_with, explain, make_workdir, run_snakemake

pytestmark = pytest.mark.e2e

GOOD = SMALL_CONFIG
LOCK = '{\n "environments": {},\n "schema": 2,\n "steps": {}\n}\n'
_with = config_with


BAD_CONFIGS = [
    # (id, config, words the message must contain): one of the schema, one of the clearer checks
    ("typo-in-train", _with("experiments.mlp.train.epoch", 3), ["experiments.mlp.train", "epoch", "was unexpected"]),
    ("unknown-model", _with("experiments.mlp.model", {"type": "rnn"}), ["model", "rnn", "mlp, cnn, custom"]),
    (
        "builder-without-function",
        _with("experiments.mlp.model", {"type": "custom", "builder": "models/m.py:nope"}),
        ["models/m.py:nope", "no function 'nope'"],
    ),
    (
        "keras-option",
        _with("experiments.mlp.train.optimizer", {"name": "AdamW", "weight_decy": 0.1}),
        ["experiments.mlp.train.optimizer.weight_decy", "not an option of AdamW", "weight_decay"],
    ),
]


@pytest.fixture
def workdir(tmp_path):
    wd = make_workdir(tmp_path / "wd")
    (wd / "models").mkdir()
    (wd / "models" / "m.py").write_text("def build(input_shape, n_classes, seeds):\n    return None\n")
    (wd / "samebits.lock").write_text(LOCK)
    return wd


def _assert_nothing_written(wd):
    assert (wd / "samebits.lock").read_text() == LOCK
    results = [p for p in (wd / "results").rglob("*") if p.is_file() and p.name != "README.md"]
    assert results == [], results


@pytest.mark.parametrize("cfg, words", [c[1:] for c in BAD_CONFIGS], ids=[c[0] for c in BAD_CONFIGS])
def test_bad_config_is_refused_before_any_job_runs(workdir, cfg, words):
    import yaml

    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(cfg))
    proc = run_snakemake(workdir)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, explain(proc)
    for word in words:
        assert word in out, f"{word!r} not in:\n{out[-3000:]}"
    assert "rule split:" not in out and "rule init:" not in out  # no job started
    _assert_nothing_written(workdir)


def test_a_model_output_unfit_for_the_task_stops_init_naming_both(workdir):
    """One sigmoid unit for iris' three classes: init stops before it writes anything."""
    import yaml

    (workdir / "models" / "m.py").write_text(
        "import keras\n\n\n"
        "def build(input_shape, n_classes, seeds):\n"
        "    inputs = keras.Input(shape=input_shape)\n"
        "    return keras.Model(inputs, keras.layers.Dense(1, activation='sigmoid', name='output')(inputs))\n"
    )
    cfg = {
        "seeds": [0],
        "datasets": {"iris": {"source": "iris"}},
        "experiments": {
            "mine": {
                "dataset": "iris",
                "model": {"type": "custom", "builder": "models/m.py:build"},
                "train": {"epochs": 1},
            }
        },
    }
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(cfg))
    proc = run_snakemake(workdir)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, explain(proc)
    assert (
        "experiments.mine.model (iris: multiclass): the model's output has 1 unit(s) with activation 'sigmoid', "
        "but the data set's task is multiclass (3 units, one per class" in out
    ), out[-3000:]
    assert (workdir / "samebits.lock").read_text() == LOCK
    assert not (workdir / "results" / "experiments").exists() or not any(
        (workdir / "results" / "experiments").rglob("*.*")
    )


def _imported(proc) -> set[str]:
    return set(re.findall(r"import time:\s+\d+ \|\s+\d+ \|\s*(\S+)", proc.stderr))


def test_the_cached_config_check_hides_no_bad_input(workdir):
    """A start with an unchanged configuration takes the checked one from .snakemake/ (the
    checks' module is not even imported); a changed config file, builder file or value is
    checked again."""
    import yaml

    config_path = workdir / "config" / "config.yaml"
    builder = workdir / "models" / "m.py"
    good = _with("experiments.mlp.model", {"type": "custom", "builder": "models/m.py:build"})
    config_path.write_text(yaml.safe_dump(good))
    for expect_check in (True, False):
        proc = run_snakemake(workdir, "--dry-run", python_flags=("-X", "importtime"))
        assert proc.returncode == 0, explain(proc)
        assert ("samebits.config.checks" in _imported(proc)) is expect_check, "the second start should use the cache"

    good_builder = builder.read_text()
    builder.write_text("def other(input_shape, n_classes, seeds):\n    return None\n")
    proc = run_snakemake(workdir, "--dry-run")
    assert proc.returncode != 0 and "no function 'build'" in proc.stdout + proc.stderr, explain(proc)
    builder.write_text(good_builder)

    config_path.write_text(yaml.safe_dump(good) + "seeds: [0]\n")  # the same dict, a key twice
    proc = run_snakemake(workdir, "--dry-run")
    assert proc.returncode != 0 and "duplicate key 'seeds'" in proc.stdout + proc.stderr, explain(proc)

    config_path.write_text(yaml.safe_dump({**good, "seed": [0]}))
    proc = run_snakemake(workdir, "--dry-run")
    assert proc.returncode != 0 and "was unexpected" in proc.stdout + proc.stderr, explain(proc)
    _assert_nothing_written(workdir)


def test_duplicate_experiment_names_are_refused(workdir):
    (workdir / "config" / "config.yaml").write_text(DUPLICATE_KEY_YAML)
    proc = run_snakemake(workdir)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "duplicate key 'mlp'" in out and "config/config.yaml" in out
    _assert_nothing_written(workdir)


def _csv(rows):
    return "\n".join(rows) + "\n"


def _good_rows(n=40):
    return ["a,b,label"] + [f"{i % 7}.5,{i % 3},{'xyz'[i % 3]}" for i in range(n)]


BAD_DATA = [
    # (id, file name, writer, words)
    ("missing-file", "absent.csv", None, ["data/absent.csv"]),
    (
        "non-numeric",
        "d.csv",
        lambda p: p.write_text(_csv(_good_rows() + ["1,abc,x"])),
        ["data/d.csv", "line 42", "'abc' is not a number"],
    ),
]


@pytest.mark.parametrize("name, writer, words", [c[1:] for c in BAD_DATA], ids=[c[0] for c in BAD_DATA])
def test_bad_data_is_a_clear_error_at_split_time(workdir, name, writer, words):
    import yaml

    if writer is not None:
        writer(workdir / "data" / name)
    cfg = _with("datasets.digits", {"source": f"data/{name}"})
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(cfg))
    proc = run_snakemake(workdir)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, explain(proc)
    for word in words:
        assert word in out, f"{word!r} not in:\n{out[-3000:]}"
    assert "rule init:" not in out
    _assert_nothing_written(workdir)


def test_a_bad_image_in_a_folder_stops_split_naming_it(workdir):
    """One case of tests/unit/test_bad_data.py's image folders through the real workflow:
    split fails naming the file, nothing is left in results/ (no pixel cache either)."""
    import yaml
    from PIL import Image

    for cls in ("cat", "dog"):
        (workdir / "data" / "pets" / cls).mkdir(parents=True)
        for i in range(4):
            Image.new("RGB", (8, 8), (i, 9, 9)).save(workdir / "data" / "pets" / cls / f"{i}.png")
    Image.new("RGB", (9, 8)).save(workdir / "data" / "pets" / "dog" / "odd.png")
    cfg = _with("datasets.digits", {"source": "data/pets/"})
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(cfg))
    proc = run_snakemake(workdir)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, explain(proc)
    for word in ["data/pets/dog/odd.png: 8x9 pixels", "data/pets/cat/0.png is 8x8", "set image.size"]:
        assert word in out, f"{word!r} not in:\n{out[-3000:]}"
    assert "rule init:" not in out
    _assert_nothing_written(workdir)
    assert not (workdir / "results" / "cache").exists()
