"""The bundled data sets are read without importing scikit-learn, and must be its arrays."""

import numpy as np
import pytest
from sklearn import datasets

from samebits import data


@pytest.mark.parametrize("name", data.BUNDLED)
def test_bundled_sets_are_scikit_learns_arrays(name):
    raw, target = data._read_bundled(name)
    ref = getattr(datasets, f"load_{name}")()
    expected = ref.images if name == "digits" else ref.data
    assert raw.dtype == expected.dtype and raw.shape == expected.shape
    assert np.array_equal(raw, expected)
    assert target.dtype == ref.target.dtype and np.array_equal(target, ref.target)


def test_bundled_load_keeps_its_checksum_and_scaling():
    ds = data.load("digits", "digits")
    assert ds.x.shape == (1797, 8, 8, 1) and ds.x.dtype == np.float32
    assert ds.n_classes == 10
    assert float(ds.x.max()) == 1.0
