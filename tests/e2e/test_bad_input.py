"""Bad input gets a clear error and loses nothing.

Each bad configuration or data file is tried on a fresh copy of the workflow that already
holds a lock: the run must fail with a message naming the field or file, and leave no result
and no changed lock behind. Config errors are caught before any job runs (a dry run is
enough to show it); data errors at split time.
"""

from __future__ import annotations

import json
import re
import textwrap

import numpy as np
import pytest

from conftest import explain, make_workdir, run_snakemake

pytestmark = pytest.mark.e2e

GOOD = {
    "seeds": [0],
    "datasets": {"digits": {"source": "digits"}},
    "experiments": {
        "mlp": {"dataset": "digits", "model": {"type": "mlp", "hidden": [8]}, "train": {"epochs": 1}},
    },
}
LOCK = '{\n "environments": {},\n "schema": 1,\n "steps": {}\n}\n'


def _with(path: str, value):
    cfg = json.loads(json.dumps(GOOD))
    *parents, last = path.split(".")
    node = cfg
    for key in parents:
        node = node[key]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return cfg


_DELETE = object()

BAD_CONFIGS = [
    # (id, config, words the message must contain)
    ("unknown-top-key", {**GOOD, "seed": [0]}, ["seed", "was unexpected"]),
    ("typo-in-train", _with("experiments.mlp.train.epoch", 3), ["epoch", "was unexpected"]),
    ("missing-seeds", _with("seeds", _DELETE), ["seeds", "required"]),
    ("missing-epochs", _with("experiments.mlp.train", {}), ["epochs", "required"]),
    ("duplicate-seeds", _with("seeds", [1, 1]), ["seeds", "non-unique"]),
    ("negative-seed", _with("seeds", [-1]), ["-1", "minimum"]),
    ("seed-not-integer", _with("seeds", [0.5]), ["0.5", "integer"]),
    ("test-fraction-1", _with("datasets.digits.test_fraction", 1.0), ["test_fraction", "1.0"]),
    ("test-fraction-0", _with("datasets.digits.test_fraction", 0), ["test_fraction", "0"]),
    ("zero-epochs", _with("experiments.mlp.train.epochs", 0), ["epochs", "0"]),
    ("zero-batch", _with("experiments.mlp.train.batch_size", 0), ["batch_size", "0"]),
    ("unknown-model", _with("experiments.mlp.model", {"type": "rnn"}), ["model", "rnn", "mlp, cnn, custom"]),
    ("unknown-optimizer", _with("experiments.mlp.train.optimizer", "adamw"), ["optimizer", "adamw", "adam"]),
    ("unknown-dataset", _with("experiments.mlp.dataset", "mnist"), ["experiments.mlp.dataset", "mnist", "digits"]),
    ("unknown-bundled-set", _with("datasets.digits.source", "mnist"), ["datasets.digits.source", "mnist", "digits"]),
    ("bad-extension", _with("datasets.digits.source", "data/x.txt"), ["data/x.txt", ".csv", ".npz"]),
    ("unsafe-name", {**GOOD, "experiments": {"../up": GOOD["experiments"]["mlp"]}}, ["../up", "does not match"]),
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
        assert ("samebits.config" in _imported(proc)) is expect_check, "the second start should use the cache"

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
    (workdir / "config" / "config.yaml").write_text(
        textwrap.dedent(
            """
            seeds: [0]
            datasets: {digits: {source: digits}}
            experiments:
              mlp: {dataset: digits, model: {type: mlp}, train: {epochs: 1}}
              mlp: {dataset: digits, model: {type: cnn}, train: {epochs: 1}}
            """
        )
    )
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
    ("empty-file", "d.csv", lambda p: p.write_text(""), ["data/d.csv", "empty"]),
    ("header-only", "d.csv", lambda p: p.write_text("a,b,label\n"), ["data/d.csv", "no data rows"]),
    (
        "no-label-column",
        "d.csv",
        lambda p: p.write_text(_csv(["a,b,c", "1,2,3", "4,5,6"])),
        ["data/d.csv", "no label column 'label'", "a, b, c"],
    ),
    (
        "non-numeric",
        "d.csv",
        lambda p: p.write_text(_csv(_good_rows() + ["1,abc,x"])),
        ["data/d.csv", "line 42", "'abc' is not a number"],
    ),
    ("nan", "d.csv", lambda p: p.write_text(_csv(_good_rows() + ["nan,1,x"])), ["data/d.csv", "NaN or infinite"]),
    ("infinite", "d.csv", lambda p: p.write_text(_csv(_good_rows() + ["inf,1,x"])), ["data/d.csv", "NaN or infinite"]),
    (
        "ragged-row",
        "d.csv",
        lambda p: p.write_text(_csv(_good_rows() + ["1,2"])),
        ["data/d.csv", "line 42 has 2 fields"],
    ),
    (
        "one-class",
        "d.csv",
        lambda p: p.write_text(_csv(["a,label"] + [f"{i},x" for i in range(20)])),
        ["data/d.csv", "only one class"],
    ),
    (
        "class-too-small",
        "d.csv",
        lambda p: p.write_text(_csv(_good_rows() + ["1,1,lonely"])),
        ["stratified split", "smallest class has 1"],
    ),
    ("npz-without-y", "d.npz", lambda p: np.savez(p, X=np.ones((10, 2))), ["data/d.npz", "missing array(s) y"]),
    (
        "npz-lengths",
        "d.npz",
        lambda p: np.savez(p, X=np.ones((10, 2)), y=np.arange(9) % 2),
        ["data/d.npz", "X has 10 rows but y has 9"],
    ),
    (
        "npz-pickle",
        "d.npz",
        lambda p: np.savez(p, X=np.array([{"a": 1}] * 10, dtype=object), y=np.arange(10) % 2),
        ["data/d.npz", "pickle"],
    ),
    ("npz-not-a-zip", "d.npz", lambda p: p.write_bytes(b"not a zip file at all"), ["data/d.npz"]),
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
