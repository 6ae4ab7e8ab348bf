"""The bundled data sets are read without importing scikit-learn, and must be its arrays."""

import numpy as np
import pytest
from sklearn import datasets

from samebits.ml import data, scaling
from samebits.ml.sources import BUNDLED


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_sets_are_scikit_learns_arrays(name):
    raw, target = data._read_bundled(name)
    ref = getattr(datasets, f"load_{name}")(**({"scaled": False} if name == "diabetes" else {}))
    expected = ref.images if name == "digits" else ref.data
    assert raw.dtype == expected.dtype and raw.shape == expected.shape
    assert np.array_equal(raw, expected)
    assert target.dtype == ref.target.dtype and np.array_equal(target, ref.target)


def test_bundled_load_keeps_its_values_and_image_shape():
    """Digits come as stored (0..16, float64 as scikit-learn reads them), with a channel
    axis; split's maxabs, per channel on its training samples, makes that x / 16."""
    ds = data.load("digits", "digits", label="label", task=None)
    assert ds.x.shape == (1797, 8, 8, 1) and ds.x.dtype == np.float64
    assert ds.n_classes == 10 and ds.task == "multiclass"
    assert float(ds.x.max()) == 16.0
    scaler = scaling.fit("maxabs", ds.x, np.arange(0, 1797, 2), where="digits")
    assert scaler.factor.tolist() == [16.0]
    assert np.array_equal(scaler.apply(ds.x), (ds.x / 16.0).astype(np.float32))


def test_bundled_sets_have_their_task():
    cancer = data.load("bc", "breast_cancer", label="label", task=None)
    assert (cancer.task, cancer.n_classes, cancer.y.dtype) == ("binary", 2, np.int64)
    diabetes = data.load("d", "diabetes", label="label", task=None)
    assert (diabetes.task, diabetes.n_classes, diabetes.y.dtype, diabetes.y.shape) == (
        "regression",
        1,
        np.float32,
        (442,),
    )


@pytest.mark.parametrize(
    ("y", "task"),
    [
        (np.array([0.5, 1.25, 3.0, 2.0]), "regression"),
        (np.array([0.0, 1.0, 1.0, 0.0]), "binary"),
        (np.array([1, 2, 3, 1]), "multiclass"),
        (np.array(["a", "b", "a", "b"]), "binary"),
        (np.array(["1.5", "2", "3", "4"]), "regression"),
        (np.ones((4, 2)), "regression"),
    ],
)
def test_the_task_is_inferred_from_the_labels(y, task):
    assert data._infer_task(y) == task


def test_a_regression_split_is_seeded_complete_and_unstratified():
    y = np.linspace(0, 1, 50, dtype=np.float32)
    a = data.split_indices(y, test_fraction=0.2, seed=7, where="y", task="regression")
    assert np.array_equal(np.sort(np.concatenate([a["train"], a["test"]])), np.arange(50))
    assert len(a["test"]) == 10
    assert np.array_equal(
        a["test"], data.split_indices(y, test_fraction=0.2, seed=7, where="y", task="regression")["test"]
    )


def test_validation_is_held_out_of_the_training_set_stratified():
    y = np.repeat(np.arange(3), [20, 10, 30])
    held = data.validation_indices(y, fraction=0.25, seed=1, task="multiclass", where="y")
    assert sorted([*held["fit"], *held["validation"]]) == list(range(60))
    assert np.bincount(y[held["validation"]]).tolist() == [5, 3, 7]


def test_split_is_stratified_seeded_and_complete():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(5), [50, 30, 7, 2, 111])
    rng.shuffle(y)
    a = data.split_indices(y, test_fraction=0.2, seed=7, where="y")
    assert np.array_equal(np.sort(np.concatenate([a["train"], a["test"]])), np.arange(len(y)))
    assert len(a["test"]) == int(np.ceil(0.2 * len(y)))
    for label, n in enumerate(np.bincount(y)):
        k = int(np.sum(y[a["test"]] == label))
        assert 1 <= k <= n - 1
        assert abs(k - n * 0.2) <= 1.0
    b = data.split_indices(y, test_fraction=0.2, seed=7, where="y")
    c = data.split_indices(y, test_fraction=0.2, seed=8, where="y")
    assert np.array_equal(a["test"], b["test"]) and not np.array_equal(a["test"], c["test"])


PINNED_TEST = [2, 7, 8, 10, 17]


def test_split_does_not_move_with_library_versions():
    """Pinned: the legacy RandomState stream is frozen, so these indices are forever."""
    y = np.array([0, 1] * 10)
    assert data.split_indices(y, test_fraction=0.25, seed=3, where="y")["test"].tolist() == PINNED_TEST


@pytest.mark.parametrize(
    ("counts", "n_test"), [([2, 2, 2], 3), ([2, 3, 4], 3), ([100, 1_000, 3], 221), ([5, 5], 8), ([3, 97], 2)]
)
def test_quota_sums_and_keeps_every_class_on_both_sides(counts, n_test):
    q = data.test_quota(np.array(counts), n_test)
    assert sum(q) == n_test
    assert all(1 <= k <= c - 1 for k, c in zip(q, counts, strict=True))


def test_several_label_columns_make_a_regression_with_one_target_each(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the table cache goes under results/ here
    path = tmp_path / "two.csv"
    path.write_text("a,t1,b,t2\n" + "".join(f"{i},{i * 0.5},{i % 3},{i * 1.25}\n" for i in range(12)))
    ds = data.load("two", str(path), label=["t1", "t2"], task=None)
    assert (ds.task, ds.n_classes, ds.x.shape, ds.y.shape, ds.y.dtype) == (
        "regression",
        2,
        (12, 2),
        (12, 2),
        np.float32,
    )
    assert ds.y[3].tolist() == [1.5, 3.75]


def test_the_class_names_are_the_data_s_own_and_none_where_labels_name_them(tmp_path, monkeypatch):
    """What evaluate writes into metrics.json for the figures: a CSV's text classes, a NPZ's
    numbers (1.0 written 1), an image folder's subfolders; nothing for labels 0, 1, … or a
    regression, whose metrics.json stays as it was."""
    monkeypatch.chdir(tmp_path)  # the caches go under results/ here
    csv = tmp_path / "d.csv"
    csv.write_text("a,label\n" + "".join(f"{i},{'ab'[i % 2]}\n" for i in range(10)))
    assert data.load("d", str(csv), label="label", task=None).class_names == ["a", "b"]
    npz = tmp_path / "d.npz"
    np.savez(npz, X=np.ones((10, 2)), y=np.arange(10, dtype=np.float64) % 2 + 1)
    assert data.load("d", str(npz), label="label", task="binary").class_names == ["1", "2"]
    np.savez(npz, X=np.ones((10, 2)), y=np.arange(10) % 3)
    assert data.load("d", str(npz), label="label", task=None).class_names is None
    assert data.load("digits", "digits", label="label", task=None).class_names is None
    assert data.load("diabetes", "diabetes", label="label", task=None).class_names is None

    from PIL import Image

    for name in ("square", "circle"):
        (tmp_path / "shapes" / name).mkdir(parents=True)
        for i in range(3):
            Image.new("L", (4, 4), 40 * i).save(tmp_path / "shapes" / name / f"{i}.png")
    assert data.load("shapes", "shapes/", label="label", task=None).class_names == ["circle", "square"]
