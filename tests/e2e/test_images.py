"""Image folders and integer ids, end to end: a generated folder of PNGs and JPEGs read in
memory and streamed from disk gives the same weights, a rerun gives the same lock, a pixel
changed with its mtime put back is named and rerun; integer ids with ``scale: none`` reach an
Embedding unchanged."""

from __future__ import annotations

import importlib.util
import json
import os
import textwrap

import numpy as np
import pytest

from samebits.core import layout
from tests.helpers import CONFIGS, REPO, copy_run, explain, jobs_run, make_workdir, run_snakemake, statuses

pytestmark = pytest.mark.e2e

EMBED = textwrap.dedent(
    """
    import keras


    def build(input_shape, n_classes, seeds):
        inputs = keras.Input(shape=input_shape, dtype="int32", name="ids")
        uniform = keras.initializers.RandomUniform(-0.05, 0.05, seed=seeds("embedding"))
        x = keras.layers.Embedding(50, 8, embeddings_initializer=uniform, name="embedding")(inputs)
        x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
        glorot = keras.initializers.GlorotUniform(seeds("output"))
        y = keras.layers.Dense(1, activation="sigmoid", kernel_initializer=glorot, name="output")(x)
        return keras.Model(inputs, y, name="embed")
    """
)


def _make_images():
    spec = importlib.util.spec_from_file_location("make_images", REPO / "tools" / "make_images.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.make


def _tokens(path):
    rng = np.random.default_rng(3)
    ids = rng.integers(0, 50, size=(240, 12)).astype(np.int32)
    np.savez(path, X=ids, y=(np.sum(ids < 10, axis=1) > 2).astype(np.int64))
    return ids


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    wd = make_workdir(tmp_path_factory.mktemp("images") / "run", CONFIGS / "images.yaml")
    files = _make_images()(wd / "data" / "shapes", per_class=150, size=(28, 28), jpeg_every=10)
    assert len(files) == 300 and sum(f.suffix == ".jpg" for f in files) == 30
    _tokens(wd / "data" / "tokens.npz")
    (wd / "models").mkdir()
    (wd / "models" / "embed.py").write_text(EMBED)
    proc = run_snakemake(wd)
    assert proc.returncode == 0, explain(proc)
    return wd


def _record(wd, step, **w):
    return json.loads((wd / layout.record(step, **w)).read_text())


def test_a_rerun_gives_the_same_lock_and_streaming_the_same_weights(image_run, tmp_path):
    wd = copy_run(image_run, tmp_path / "copy")
    lock = (wd / "samebits.lock").read_bytes()
    proc = run_snakemake(wd, "--forceall")
    assert proc.returncode == 0, explain(proc)
    assert "16/16 steps identical" in proc.stdout + proc.stderr, explain(proc)
    assert (wd / "samebits.lock").read_bytes() == lock

    memory, streamed = (_record(wd, "train", experiment=e, seed=0) for e in ("memory", "streamed"))
    assert memory["outputs"]["weights"]["sha256"] == streamed["outputs"]["weights"]["sha256"]
    assert memory["trace"]["epoch_weights"] == streamed["trace"]["epoch_weights"]
    paths = (wd / layout.train.path("weights", experiment=e, seed=0) for e in ("memory", "streamed"))
    assert len({p.read_bytes() for p in paths}) == 1
    log = (wd / layout.train.log.format(experiment="streamed", seed=0)).read_text()
    assert "samples streamed from data/shapes/" in log
    assert "streamed" not in (wd / layout.train.log.format(experiment="memory", seed=0)).read_text()

    split = _record(wd, "split", dataset="shapes", seed=0)
    assert split["params"]["image"] == {"size": [24, 24], "channels": None, "resize": "bilinear"}
    assert split["params"]["scale"] == "maxabs" and split["trace"]["scale"]["factor"] == [255.0, 255.0, 255.0]
    assert split["inputs"]["data"]["path"] == "data/shapes"
    assert split["environment"]["decoder"]["pillow"], split["environment"]
    assert memory["trace"]["task"] == "binary"
    # the figures name the classes by their folders (the SVG writes each text as a comment)
    metrics = json.loads((wd / layout.evaluate.path("metrics", experiment="memory", seed=0)).read_text())
    assert metrics["classes"] == ["circle", "square"]
    figure = (wd / layout.figures.test_svg.format(experiment="memory")).read_text()
    assert "<!-- circle -->" in figure and "<!-- ROC curves (square positive) -->" in figure


def test_integer_ids_reach_the_embedding_unchanged(image_run, monkeypatch):
    """scale: none keeps the NPZ's int32 ids: the split says so, and the batches the model is
    fed (in memory and streamed) are the ids themselves."""
    from samebits.ml import batches, data, scaling
    from samebits.ml.weights import read_npz

    monkeypatch.chdir(image_run)
    ids = np.load("data/tokens.npz")["X"]
    meta = read_npz(layout.split.path("split", dataset="tokens", seed=0))
    assert str(meta["scale"]) == "none"
    ds = data.load("tokens", "data/tokens.npz", label="label", task=None)
    scaler = scaling.Scaler.from_meta(meta, "split")
    order = np.random.default_rng(0).permutation(len(meta["train"])).astype(np.int32)[None, :]
    y = np.zeros(len(meta["train"]), dtype=np.float32)
    for stream in (False, True):
        x = batches.features(ds, meta["train"], scaler, stream)
        first, _ = next(iter(batches.epoch_batches(x, y, order, 32)))
        assert first.dtype.name == "int32", (stream, first.dtype)
        assert np.array_equal(first.numpy(), ids[meta["train"][order[0][:32]]]), stream
    record = _record(image_run, "train", experiment="embed", seed=0)
    assert record["params"]["dataset"] == "tokens" and len(record["trace"]["epoch_weights"]) == 3


def test_a_pixel_changed_with_its_mtime_put_back_is_named_and_reruns(image_run, tmp_path):
    from PIL import Image

    wd = copy_run(image_run, tmp_path / "copy")
    path = wd / "data" / "shapes" / "square" / "square_00042.png"
    st = os.stat(path)
    pixels = np.asarray(Image.open(path)).copy()
    pixels[5, 6, 1] ^= 1
    Image.fromarray(pixels).save(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))

    proc = run_snakemake(wd)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, explain(proc)
    named = "input data (data/shapes: square/square_00042.png sha256 "
    assert f"stale: split/shapes/seed=0: {named}" in out, explain(proc)
    assert f"stale: split/streamed/seed=0: {named}" in out, explain(proc)
    logs = "".join((wd / layout.split.log.format(dataset=d, seed=0)).read_text() for d in ("shapes", "streamed"))
    assert "1 file(s) differ from when this folder was last read: square/square_00042.png sha256 " in logs
    ran = {(rule, dict(kv.split("=") for kv in w.split(", ")).get("experiment")) for rule, w in jobs_run(proc)}
    for experiment in ("memory", "streamed"):
        assert {("train", experiment), ("evaluate", experiment)} <= ran, ran
    assert ("train", "embed") not in ran
    assert statuses(wd)["split/shapes/seed=0"] == "changed"
