"""Every parser of the configuration, the lock, the records and the command line is total:
any input gives a result or a samebits error naming what is wrong, never another exception.

Property-based (Hypothesis): each test starts from a valid document and puts an arbitrary
value at an arbitrary place in it, or feeds arbitrary text, and checks what comes out. The
example counts are fixed (``derandomize``: the same cases on every run, so a failure is
reproducible); the whole file takes about a minute.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from samebits import cli
from samebits.core import fileio
from samebits.core.errors import ConfigError, LockError, RecordError
from samebits.plan import Plan
from samebits.provenance import compare, identity, ondisk, records, verify
from samebits.provenance import lock as lockmod
from tests.helpers import SMALL_CONFIG


def fuzz(examples: int) -> settings:
    """Fixed cases (the same on every run), no example database (tests write nothing into the
    repository), no deadline (a machine under load is not a failure)."""
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )


#: Keys the configuration and the records use: a random key is most telling when it is one
#: the code looks up.
KEYS = [
    *("seeds", "datasets", "experiments", "grids", "determinism", "verify", "lock", "output_dir"),
    *("source", "label", "task", "test_fraction", "scale", "image", "stream", "size", "channels"),
    *("dataset", "model", "train", "type", "hidden", "dropout", "builder", "options", "filters", "dense"),
    *("epochs", "batch_size", "optimizer", "learning_rate", "schedule", "loss", "metrics", "callbacks"),
    *("class_weight", "validation_fraction", "trainer", "checkpoint", "base", "vary", "name", "profile"),
    *("threads", "op_determinism", "rtol", "atol", "mlp", "digits", "train.epochs", "model.hidden"),
    *("id", "step", "experiment", "seed", "outputs", "inputs", "params", "code", "environment", "trace"),
    *("run", "files", "path", "sha256", "digest", "schema", "steps", "environments", "seal", "weights"),
]

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", "digits", "mlp", "cnn", "custom", "accuracy", "AUC", "adam", "balanced", "1e-3", "0"]),
    st.sampled_from(["x.py:f", "models/m.py:build", "no_such:f", "data/x.csv", "data/", "../up", "/dev/zero"]),
    st.text(max_size=12),
)
KEYS_OR_TEXT = st.sampled_from(KEYS) | st.text(max_size=6)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS_OR_TEXT, inner, max_size=4),
    max_leaves=12,
)
#: A JSON value (what a lock or a record file can hold): finite numbers, text keys.
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS_OR_TEXT, inner, max_size=4),
    max_leaves=10,
)


def _paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    """Every place in a document: the paths of its mappings' keys and lists' items."""
    found = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            found += _paths(value, (*prefix, i))
    return found


@st.composite
def mutated(draw: Any, base: Any, values: Any = VALUES) -> Any:
    """``base`` with one to three places replaced by, removed, or given a new key."""
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(doc)))
        value = draw(values)
        if not path:
            doc = value
            continue
        node = doc
        for key in path[:-1]:
            node = node[key]
        action = draw(st.sampled_from(["set", "delete", "add"]))
        if action == "delete" and isinstance(node, dict):
            del node[path[-1]]
        elif action == "add" and isinstance(node, dict):
            node[draw(st.sampled_from(KEYS))] = value
        else:
            node[path[-1]] = value
    return doc


#: A configuration that uses every section: the mutations start from here too.
RICH_CONFIG = {
    "seeds": [0, 1],
    "output_dir": "results/x",
    "determinism": {"profile": "portable", "threads": 1, "op_determinism": True},
    "verify": {"rtol": 1.0e-5, "atol": 1.0e-8},
    "datasets": {
        "digits": {"source": "digits", "test_fraction": 0.2, "scale": "standard"},
        "pets": {"source": "data/pets/", "image": {"size": [8, 8], "channels": 1}},
    },
    "experiments": {
        "mlp": {
            "dataset": "digits",
            "model": {"type": "mlp", "hidden": [8], "dropout": 0.1},
            "train": {
                "epochs": 2,
                "optimizer": {"name": "AdamW", "weight_decay": 0.004},
                "schedule": {"name": "CosineDecay", "decay_steps": 10},
                "metrics": ["accuracy"],
                "callbacks": [{"name": "EarlyStopping", "monitor": "loss"}],
                "class_weight": {0: 2.0},
                "validation_fraction": 0.2,
            },
        },
        "own": {
            "dataset": "digits",
            "model": {"type": "custom", "builder": "models/m.py:build", "options": {"units": 4}},
            "train": {"epochs": 1, "loss": "models/m.py:build", "trainer": "models/m.py:build"},
        },
    },
    "grids": {"g": {"base": "mlp", "vary": {"train.epochs": [1, 2], "model.hidden": [[4]]}}},
}


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "m.py").write_text("def build(input_shape, n_classes, seeds, units=8):\n    return None\n")
    for name in ("a", "b"):
        (tmp_path / "data" / "pets" / name).mkdir(parents=True)
    Plan.check(copy.deepcopy(RICH_CONFIG))  # the starting points are valid
    return tmp_path


@fuzz(800)
@given(doc=mutated(SMALL_CONFIG) | mutated(RICH_CONFIG))
def test_any_configuration_is_planned_or_refused_with_a_config_error(workdir, doc):
    try:
        plan = Plan.check(doc, where="config.yaml")
    except ConfigError as exc:
        assert str(exc).startswith("config.yaml: ")
        return
    plan.all_records()  # a plan that was accepted can be used
    assert all(isinstance(s, int) and not isinstance(s, bool) for s in plan.seeds)


@fuzz(300)
@given(text=st.text(max_size=200) | st.sampled_from(["a: &a [*a]", "seeds: !!python/object:os.system x", "- [\n"]))
def test_any_configuration_file_is_read_or_refused_with_a_config_error(workdir, text):
    (workdir / "config.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
    with contextlib.suppress(ConfigError):
        Plan.load("config.yaml")


@fuzz(100)
@given(data=st.binary(max_size=200))
def test_any_configuration_bytes_are_read_or_refused_with_a_config_error(workdir, data):
    (workdir / "config.yaml").write_bytes(data)
    with contextlib.suppress(ConfigError):
        Plan.load("config.yaml")


def _a_record(folder: Path) -> dict[str, Any]:
    out = folder / "w.npz"
    fileio.write_npz(out, {"w": np.arange(4, dtype=np.float32)})
    step = identity.identify(
        step="train",
        experiment="mlp",
        seed=0,
        inputs={"split": "sha256:" + "1" * 64},
        params={"epochs": 2},
        determinism={"intra_op_threads": 1},
    )
    return records.make(step, outputs={"weights": out}, trace={"epoch_weights": ["sha256:a"]})


@pytest.fixture(scope="module")
def valid(tmp_path_factory) -> tuple[Path, dict[str, Any], dict[str, Any]]:
    """A folder with one output file, a valid record of it, and a lock that holds it."""
    folder = tmp_path_factory.mktemp("valid")
    record = _a_record(folder)
    lk = lockmod.empty()
    lk.put(record)
    return folder, record, json.loads(lockmod.dumps(lk))


@fuzz(500)
@given(data=st.data())
def test_any_record_is_read_or_refused_with_a_record_error_and_then_compares(valid, data):
    folder, record, _ = valid
    doc = data.draw(mutated(record, JSON_VALUES))
    if data.draw(st.booleans()) and isinstance(doc, dict):
        doc = records.seal(doc)  # a true digest over malformed fields: the checks after it must hold
    path = folder / "fuzz.record.json"
    path.write_text(json.dumps(doc))
    try:
        found = records.read(path)
    except RecordError as exc:
        assert str(path) in str(exc)
        assert ondisk.find_stale([path]) == {}  # the workflow's start passes it to verify
        return
    ondisk.check(found)
    compare.classify(found, record, rtol=1e-5, atol=1e-8)
    compare.classify(record, found, rtol=1e-5, atol=1e-8)


@fuzz(400)
@given(data=st.data())
def test_any_lock_is_read_or_refused_with_a_lock_error_and_left_as_it_was(valid, data):
    folder, record, lock_doc = valid
    doc = data.draw(mutated(lock_doc, JSON_VALUES))
    path = folder / "fuzz.lock"
    text = json.dumps(doc)
    path.write_text(text)
    record_path = folder / "valid.record.json"
    fileio.write_json(record_path, record)
    try:
        result = verify.verify([record_path], path, rtol=1e-5, atol=1e-8, update_lock=False)
    except LockError as exc:
        assert str(path) in str(exc)
    else:
        assert result.outcomes[0].status in ("identical", "new", "edited", "changed", "drifted", "diverged")
    assert path.read_text() == text


@fuzz(150)
@given(data=st.binary(max_size=120) | st.text(max_size=120).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_any_lock_or_record_bytes_are_refused_with_their_error(valid, data):
    folder, _, _ = valid
    path = folder / "bytes.json"
    path.write_bytes(data)
    with contextlib.suppress(LockError):
        lockmod.read(path)
    with contextlib.suppress(RecordError):
        records.read(path)


WORDS = st.sampled_from(
    [
        *("verify", "accept", "rebuild-lock", "diff", "lint", "init", "--config", "--check", "--json"),
        *("--reason", "--step", "--experiment", "--seed", "--all", "--yes", "--repo", "--tag", "--help"),
        *("config.yaml", "nope.yaml", "train", "mlp", "0", "-1", "x", "", "a/b", "owner/name", "v0.0.0"),
    ]
)


@fuzz(300)
@given(argv=st.lists(WORDS | st.text(max_size=8), max_size=6))
def test_any_command_line_exits_with_a_status_and_no_traceback(workdir, argv):
    (workdir / "config.yaml").write_text(yaml.safe_dump(SMALL_CONFIG))
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = cli.main(argv)
        except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
            status = exc.code
    assert status in (0, 1, 2), (argv, err.getvalue())
    assert "Traceback" not in err.getvalue()
