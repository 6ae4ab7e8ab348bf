"""The bundled data sets are read without importing scikit-learn, and must be its arrays."""

import numpy as np
import pytest
from sklearn import datasets

from samebits.ml import data
from samebits.ml.sources import BUNDLED


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_sets_are_scikit_learns_arrays(name):
    raw, target = data._read_bundled(name)
    ref = getattr(datasets, f"load_{name}")()
    expected = ref.images if name == "digits" else ref.data
    assert raw.dtype == expected.dtype and raw.shape == expected.shape
    assert np.array_equal(raw, expected)
    assert target.dtype == ref.target.dtype and np.array_equal(target, ref.target)


def test_bundled_load_keeps_its_checksum_and_scaling():
    ds = data.load("digits", "digits", label="label")
    assert ds.x.shape == (1797, 8, 8, 1) and ds.x.dtype == np.float32
    assert ds.n_classes == 10
    assert float(ds.x.max()) == 1.0


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
