"""Feature scaling: fitted on the training rows only, per channel for images, the same
values in memory and a batch at a time, and ``none`` keeping the stored dtype."""

import numpy as np
import pytest

from samebits.core.errors import DataError
from samebits.ml import scaling


def test_fitted_on_the_training_rows_only():
    x = np.array([[1.0, -2.0], [2.0, 4.0], [100.0, -50.0]])  # row 2 is a test sample
    train = np.array([0, 1])
    assert scaling.fit("maxabs", x, train, where="d").factor.tolist() == [2.0, 4.0]
    minmax = scaling.fit("minmax", x, train, where="d")
    assert minmax.offset.tolist() == [1.0, -2.0] and minmax.factor.tolist() == [1.0, 6.0]
    standard = scaling.fit("standard", x, train, where="d")
    assert standard.offset.tolist() == [1.5, 1.0] and standard.factor.tolist() == [0.5, 3.0]
    scaled = standard.apply(x[train])
    assert scaled.dtype == np.float32 and scaled.tolist() == [[-1.0, -1.0], [1.0, 1.0]]


def test_a_constant_feature_keeps_its_values():
    x = np.array([[3.0, 0.0], [3.0, 0.0], [3.0, 1.0]])
    for kind in ("maxabs", "minmax", "standard"):
        scaler = scaling.fit(kind, x, np.arange(3), where="d")
        assert np.all(np.isfinite(scaler.apply(x))), kind


def test_images_are_scaled_per_channel():
    x = np.zeros((4, 2, 2, 3), dtype=np.uint8)
    x[..., 0], x[..., 1], x[0, 0, 0, 2] = 255, 7, 9
    scaler = scaling.fit("maxabs", x, np.arange(4), where="d")
    assert scaler.factor.tolist() == [255.0, 7.0, 9.0]


def test_none_keeps_the_stored_dtype():
    ids = np.array([[3, 17, 0], [5, 2, 9]], dtype=np.int32)
    scaler = scaling.fit("none", ids, np.arange(2), where="d")
    out = scaling.Samples(ids, np.arange(2), scaler)
    assert out.dtype == np.int32 and np.array_equal(out.array(), ids) and out.array().dtype == np.int32


def test_in_memory_and_a_batch_at_a_time_give_the_same_bits():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(9000, 5)) * rng.uniform(0.1, 1e4, size=5)
    positions = rng.permutation(9000)[:7000]
    scaler = scaling.fit("standard", x, np.sort(positions), where="d")
    samples = scaling.Samples(x, positions, scaler)
    whole = samples.array()
    order = rng.permutation(len(samples))
    batches = np.concatenate([samples[order[i : i + 32]] for i in range(0, len(order), 32)])
    assert np.ascontiguousarray(whole[order]).tobytes() == batches.tobytes()


def test_an_unknown_scale_names_the_choices():
    with pytest.raises(DataError, match="scale 'robust' is unknown; accepted: maxabs, minmax, standard, none"):
        scaling.fit("robust", np.zeros((2, 1)), np.arange(2), where="datasets.d")


@pytest.mark.parametrize("kind", ["maxabs", "minmax", "standard"])
@pytest.mark.parametrize("shape", [(40, 6, 5, 3), (40, 4, 4, 1), (40, 7)])
def test_uint8_features_are_looked_up_with_the_formula_s_bits(kind, shape):
    """Pixels (and uint8 features) are scaled through a table of every value: the bits of
    (x - offset) / factor in float64 rounded to float32, for every value and channel."""
    x = np.random.default_rng(3).integers(0, 256, shape, dtype=np.uint8)
    x[0] = 0
    x[1] = 255  # every extreme is looked up too
    scaler = scaling.fit(kind, x, np.arange(30), where="datasets.d")
    looked_up = scaler.apply(x)
    assert looked_up.dtype == np.float32 and looked_up.shape == x.shape
    assert looked_up.tobytes() == scaler.formula(x).tobytes()
    every = np.repeat(np.arange(256, dtype=np.uint8)[:, None], shape[-1], axis=1)
    assert scaler.apply(every).tobytes() == scaler.formula(every).tobytes()
