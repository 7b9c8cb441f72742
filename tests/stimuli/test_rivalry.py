"""Rivalry stimuli: gratings, unambiguous binocular training, the rivalrous pair."""
import numpy as np
import pytest

from cortex.errors import StimulusError
from cortex.stimuli.rivalry import binocular_training, contrast_grid, grating, gratings, rivalrous


def test_gratings_are_zero_mean_unit_rms_and_nearly_orthogonal():
    P = gratings(8)
    assert P.shape == (2, 8, 8) and P.dtype == np.float32
    np.testing.assert_allclose(P.mean(axis=(1, 2)), 0, atol=1e-6)
    np.testing.assert_allclose(np.sqrt((P ** 2).mean(axis=(1, 2))), 1, rtol=1e-5)
    assert abs(float((P[0] * P[1]).mean())) < 0.15          # two different orientations: little overlap
    np.testing.assert_array_equal(grating(8, 45.0, 2.0, 45.0), P[0])
    # the orientation is the direction of constant luminance: vertical bars vary along x only
    v = grating(8, 0.0, cycles=2, phase=30)
    np.testing.assert_allclose(v, np.tile(v[:1], (8, 1)), atol=1e-6)
    assert np.ptp(v[0]) > 1


def test_training_is_seeded_binocular_and_unambiguous():
    P = gratings(8)
    a = binocular_training(P, 200, np.random.default_rng(3), contrast=(0.5, 1.0), noise=0.0)
    b = binocular_training(P, 200, np.random.default_rng(3), contrast=(0.5, 1.0), noise=0.0)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    left, right, label = a
    np.testing.assert_array_equal(left, right)               # both eyes see the same grating
    assert 60 < label.sum() < 140                            # both gratings, about equally often
    c = np.sqrt((left ** 2).mean(axis=(1, 2)))               # RMS = contrast
    assert c.min() >= 0.5 - 1e-5 and c.max() <= 1.0 + 1e-5
    np.testing.assert_allclose(left / c[:, None, None], P[label], atol=1e-5)
    noisy = binocular_training(P, 50, np.random.default_rng(3), noise=0.1)
    assert not np.array_equal(noisy[0], noisy[1])            # each eye its own pixel noise


def test_rivalrous_pair_puts_one_grating_in_each_eye_with_per_trial_contrast():
    P = gratings(8)
    left, right = rivalrous(P, contrast_left=[0.5, 1.0, 2.0], contrast_right=1.0)
    assert left.shape == right.shape == (3, 8, 8)
    np.testing.assert_allclose(left[2], 2 * P[0], rtol=1e-6)
    np.testing.assert_allclose(right, np.broadcast_to(P[1], (3, 8, 8)), rtol=1e-6)
    l2, r2 = rivalrous(P, 0.7, 0.7, trials=4)
    assert l2.shape == (4, 8, 8)
    n1 = rivalrous(P, 1, 1, trials=2, rng=np.random.default_rng(0), noise=0.1)
    n2 = rivalrous(P, 1, 1, trials=2, rng=np.random.default_rng(0), noise=0.1)
    np.testing.assert_array_equal(n1[0], n2[0])
    assert not np.array_equal(n1[0][0], n1[0][1])


def test_contrast_grid():
    np.testing.assert_allclose(contrast_grid(0.25, 4, 5), [0.25, 0.5, 1, 2, 4])


@pytest.mark.parametrize("call,match", [
    (lambda: grating(2, 45), "size"),
    (lambda: grating(8, float("nan")), "orientation"),
    (lambda: grating(8, 0, cycles=0), "cycles"),
    (lambda: grating(8, 0, cycles=4, phase=0), "blank"),
    (lambda: gratings(8, orientations=(0, 45, 90)), "exactly two"),
    (lambda: binocular_training(np.zeros((3, 8, 8)), 4, np.random.default_rng(0)), "shape"),
    (lambda: binocular_training(gratings(8), 0, np.random.default_rng(0)), "n must"),
    (lambda: binocular_training(gratings(8), 4, 0), "Generator"),
    (lambda: binocular_training(gratings(8), 4, np.random.default_rng(0), contrast=(1, 0.5)), "low <= high"),
    (lambda: rivalrous(gratings(8), -1, 1), ">= 0"),
    (lambda: rivalrous(gratings(8), [1, 2], [1, 2, 3]), "different lengths"),
    (lambda: rivalrous(gratings(8), [1, 2], 1, trials=3), "3 trials"),
    (lambda: rivalrous(gratings(8), 1, 1, noise=0.1), "rng"),
    (lambda: contrast_grid(1, 0.5, 3), "low < high"),
])
def test_bad_input_raises_a_stimulus_error(call, match):
    with pytest.raises(StimulusError, match=match):
        call()
