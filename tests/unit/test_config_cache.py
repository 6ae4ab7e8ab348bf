import json
import os

import pytest

from samebits.config import cache as configcache

CONFIG = {"seeds": [0, 1], "datasets": {"d": {"source": "digits"}}, "experiments": {"e": {"dataset": "d"}}}


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.yaml").write_text("seeds: [0, 1]\n")
    return tmp_path


def _key(config=CONFIG):
    return configcache.key(config, ["config.yaml"])


def test_the_key_is_stable_and_covers_config_files(files):
    k = _key()
    assert k == _key() and len(k) == 64
    assert _key({**CONFIG, "seeds": [0, 2]}) != k
    (files / "config.yaml").write_text("seeds: [0, 1]\nseeds: [0, 1]\n")  # same dict, duplicate key
    assert _key() != k


def test_the_key_covers_every_file_of_the_package_the_schema_included(files, monkeypatch):
    stamp = configcache._package_stamp()
    names = [entry[0] for entry in stamp]
    assert "config/schema.yaml" in names and "core/layout.py" in names and "plan.py" in names
    k = _key()
    monkeypatch.setattr(configcache, "_package_stamp", lambda: [*stamp[:-1], [stamp[-1][0], 0, 0]])
    assert _key() != k


def test_the_key_covers_builder_files(files):
    (files / "b.py").write_text("def build(): pass\n")
    config = {**CONFIG, "experiments": {"e": {"dataset": "d", "model": {"type": "custom", "builder": "b.py:build"}}}}
    k = _key(config)
    (files / "b.py").write_text("def other(): pass\n")
    assert k is not None and _key(config) != k


@pytest.mark.parametrize(
    "config",
    [
        # a builder named by module: whether it can be found depends on sys.path
        {**CONFIG, "experiments": {"e": {"model": {"type": "custom", "builder": "pkg.mod:build"}}}},
        {**CONFIG, "grids": {"g": {"base": {"model": {"builder": "pkg.mod:build"}}}}},
        # an integer key would come back from JSON as a string
        {**CONFIG, "datasets": {1: {"source": "digits"}}},
        {**CONFIG, "verify": {"rtol": float("nan")}},
    ],
)
def test_some_configurations_are_never_cached(files, config):
    assert _key(config) is None


def test_a_missing_file_means_no_cache(files):
    assert configcache.key(CONFIG, ["nowhere.yaml"]) is None


def test_store_and_load(files):
    path = files / ".snakemake" / "samebits" / "config-cache.json"
    k = _key()
    assert configcache.load(path, k) is None
    value = {"config": {**CONFIG, "verify": {"rtol": 1e-5}}, "experiments": {"e": {"dataset": "d"}}}
    configcache.store(path, k, value)
    assert configcache.load(path, k) == value
    assert configcache.load(path, "0" * 64) is None  # another configuration
    assert configcache.load(path, None) is None
    path.write_text("{not json")
    assert configcache.load(path, k) is None
    configcache.store(path, None, value)  # nothing is stored without a key
    assert path.read_text() == "{not json"


def test_a_value_that_is_not_plain_json_is_not_stored(files):
    path = files / "cache.json"
    configcache.store(path, _key(), {"config": {1: "x"}})
    assert not path.exists()


def test_store_is_atomic_and_leaves_no_temporary_files(files):
    path = files / "c" / "cache.json"
    configcache.store(path, _key(), {"config": CONFIG})
    assert os.listdir(files / "c") == ["cache.json"]
    assert json.loads(path.read_text())["key"] == _key()
