"""The user's own data (CSV, NPZ) and model code, end to end, reproduced bit for bit."""

from __future__ import annotations

import json
import re
import textwrap

import numpy as np
import pytest

from tests.helpers import causes, explain, make_workdir, run_snakemake, statuses, verification

pytestmark = pytest.mark.e2e

BUILDER = textwrap.dedent(
    """
    import keras


    def build(input_shape, n_classes, seeds, units=8):
        glorot = keras.initializers.GlorotUniform
        inputs = keras.Input(shape=input_shape, name="input")
        x = keras.layers.Flatten(name="flatten")(inputs)
        x = keras.layers.Dense(units, activation="tanh", name="hidden", kernel_initializer=glorot(seeds("hidden")))(x)
        x = keras.layers.Dropout(0.2, seed=seeds("dropout"), name="dropout")(x)
        out = glorot(seeds("out"))
        y = keras.layers.Dense(n_classes, activation="softmax", name="output", kernel_initializer=out)(x)
        return keras.Model(inputs, y, name="small")
    """
)


def _csv_rows(rng, n=90):
    rows = ["f1,f2,species,f3"]
    for i in range(n):
        label = "abc"[i % 3]
        centre = {"a": 0.0, "b": 1.5, "c": 3.0}[label]
        f = rng.normal(centre, 1.0, size=3)
        rows.append(f"{f[0]:.4f},{f[1]:.4f},{label},{f[2]:.4f}")
    return rows


def _workdir(tmp_path, name, dataset_yaml, model_yaml):
    workdir = make_workdir(tmp_path / name)
    (workdir / "models").mkdir()
    (workdir / "models" / "small.py").write_text(BUILDER)
    (workdir / "config" / "config.yaml").write_text(
        "seeds: [0, 1]\n"
        f"datasets:\n  mine: {dataset_yaml}\n"
        f"experiments:\n  net:\n    dataset: mine\n    model: {model_yaml}\n"
        "    train: {epochs: 3, batch_size: 16, optimizer: sgd, learning_rate: 0.05}\n"
    )
    return workdir


def test_csv_data_with_a_custom_builder_reproduces_and_a_changed_value_is_named(tmp_path):
    rng = np.random.default_rng(0)
    workdir = _workdir(
        tmp_path,
        "csv",
        "{source: data/flowers.csv, label: species, test_fraction: 0.25}",
        '{type: custom, builder: "models/small.py:build", options: {units: 6}}',
    )
    rows = _csv_rows(rng)
    (workdir / "data" / "flowers.csv").write_text("\n".join(rows) + "\n")
    proc = run_snakemake(workdir)
    assert proc.returncode == 0, explain(proc)
    split = (workdir / "results/splits/mine/seed0/split.npz").read_bytes()
    idx = np.load(workdir / "results/splits/mine/seed0/split.npz")
    assert len(idx["test"]) == 23 and sorted(
        np.bincount(np.load(workdir / "results/experiments/net/seed0/predictions.npz")["y"])
    ) == [7, 8, 8]

    again = run_snakemake(workdir, "--forceall")
    assert again.returncode == 0, explain(again)
    assert set(statuses(workdir).values()) == {"identical"}
    assert (workdir / "results/splits/mine/seed0/split.npz").read_bytes() == split

    fields = rows[10].split(",")
    fields[0] = f"{float(fields[0]) + 0.001:.4f}"  # one value, in one row
    rows[10] = ",".join(fields)
    (workdir / "data" / "flowers.csv").write_text("\n".join(rows) + "\n")
    changed = run_snakemake(workdir)
    assert changed.returncode == 0, explain(changed)
    steps = {s["id"]: s for s in verification(workdir)["steps"]}
    for seed in (0, 1):
        split_step = steps[f"split/mine/seed={seed}"]
        assert split_step["status"] == "changed"
        assert any(c.startswith("inputs.dataset.sha256 ") for c in causes(split_step)), split_step["causes"]
        # the changed row is in the training or the test part: train or evaluate follows
        downstream = {steps[f"{step}/net/seed={seed}"]["status"] for step in ("train", "evaluate")}
        assert "changed" in downstream
    assert re.search(r"changed\s+split/mine/seed=0\n(.*\n)*?\s+inputs\.dataset\.sha256 \w+ → \w+", changed.stdout)


def test_npz_images_keep_their_shape_for_the_cnn_and_seeded_augmentation_reproduces(tmp_path):
    rng = np.random.default_rng(2)
    y = np.repeat(np.arange(3), 24)
    x = rng.normal(size=(72, 6, 6, 1)).astype(np.float32) + y[:, None, None, None]
    workdir = _workdir(
        tmp_path,
        "npz",
        "{source: data/images.npz}",
        "{type: cnn, filters: [4], dense: [8], augment: {flip: horizontal, rotation: 0.05, translation: 0.1}}",
    )
    np.savez(workdir / "data" / "images.npz", X=x, y=y)
    proc = run_snakemake(workdir)
    assert proc.returncode == 0, explain(proc)
    weights = np.load(workdir / "results/experiments/net/seed0/weights.npz")
    assert weights["conv_1/kernel"].shape == (3, 3, 1, 4)  # the images reached the CNN as 6x6x1
    layers = {
        layer["class_name"]: layer["config"]
        for layer in json.loads((workdir / "results/experiments/net/seed0/model.json").read_text())["config"]["layers"]
    }
    for kind in ("RandomFlip", "RandomRotation", "RandomTranslation"):
        assert isinstance(layers[kind]["seed"], int), kind  # augmentation is explicitly seeded
    lock = (workdir / "samebits.lock").read_bytes()
    again = run_snakemake(workdir, "--forceall")
    assert again.returncode == 0, explain(again)
    assert set(statuses(workdir).values()) == {"identical"}
    assert (workdir / "samebits.lock").read_bytes() == lock
