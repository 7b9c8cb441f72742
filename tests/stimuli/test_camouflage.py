"""Camouflage stimuli: digits hidden among fragments of other digits, seeded, checked."""
import numpy as np
import pytest

from cortex.errors import StimulusError
from cortex.stimuli.camouflage import Camouflaged, camouflage
from cortex.stimuli.digits import load_digit_split


@pytest.fixture(scope="module")
def digits():
    return load_digit_split(test_size=0.2, seed=0)


def make(digits, n=60, seed=0, **kw):
    return camouflage(digits.X_test[:n], digits.y_test[:n], digits.X_test, digits.y_test,
                      np.random.default_rng(seed), **kw)


def test_same_seed_same_arrays_other_seed_other_arrays(digits):
    a, b, c = make(digits, seed=3), make(digits, seed=3), make(digits, seed=4)
    assert isinstance(a, Camouflaged)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.images, c.images)


def test_shapes_types_and_the_target_is_untouched(digits):
    X = digits.X_test[:60].copy()
    cam = make(digits, fragments=5, fragment_size=3)
    assert cam.images.shape == cam.clutter.shape == (60, 64) and cam.images.dtype == np.float32
    assert cam.sources.shape == (60, 5)
    np.testing.assert_array_equal(digits.X_test[:60], X)                         # input not modified
    np.testing.assert_array_equal(cam.images, np.maximum(X, cam.clutter))        # clutter laid over, like ink


def test_fragments_come_from_other_digits_and_hold_ink(digits):
    cam = make(digits, n=200, fragments=4, fragment_size=3)
    assert np.all(digits.y_test[cam.sources] != digits.y_test[:200, None])
    covered = (cam.clutter > 0).sum(axis=1)
    assert covered.min() > 0 and covered.max() <= 4 * 9
    assert np.mean(cam.images != digits.X_test[:200]) > 0.15                     # the clutter really hides the digit


def test_pieces_are_cut_where_the_source_has_ink(digits):
    X, y = np.tile(digits.X_test, (2, 1)), np.tile(digits.y_test, 2)
    one = camouflage(X, y, digits.X_test, digits.y_test, np.random.default_rng(0), fragments=1, fragment_size=3)
    windows = np.lib.stride_tricks.sliding_window_view(digits.X_test.reshape(-1, 8, 8), (3, 3), axis=(1, 2))
    uniform = windows.sum(axis=(-1, -2)).mean()           # ink of a window cut anywhere (about 3.5)
    assert one.clutter.sum(axis=1).mean() > 1.15 * uniform   # ink-weighted cutting: about 1.28 times that


def test_intensity_scales_the_clutter(digits):
    full, faint = make(digits, seed=1, intensity=1.0), make(digits, seed=1, intensity=0.25)
    np.testing.assert_allclose(faint.clutter, 0.25 * full.clutter, rtol=1e-6)
    assert faint.clutter.max() <= 0.25 + 1e-6


def test_no_fragments_gives_the_digits_back(digits):
    cam = make(digits, fragments=0)
    np.testing.assert_array_equal(cam.images, digits.X_test[:60])
    assert cam.sources.shape == (60, 0) and not cam.clutter.any()


def test_bigger_fragments_cover_more(digits):
    small, big = make(digits, n=200, fragment_size=2), make(digits, n=200, fragment_size=4)
    assert (big.clutter > 0).sum() > 1.5 * (small.clutter > 0).sum()


@pytest.mark.parametrize("kw, match", [
    ({"fragment_size": 9}, "fragment_size must be at most"),
    ({"fragment_size": 0}, "fragment_size must be >= 1"),
    ({"fragments": -1}, "fragments must be >= 0"),
    ({"fragments": 2.0}, "fragments must be an integer"),
    ({"intensity": 1.5}, r"intensity must be in \[0, 1\]"),
    ({"intensity": float("nan")}, "intensity must be finite"),
    ({"image_shape": (7, 7)}, "rows must have image_shape"),
])
def test_bad_parameters_are_refused_clearly(digits, kw, match):
    with pytest.raises(StimulusError, match=match):
        make(digits, **kw)


def test_bad_inputs_are_refused_clearly(digits):
    X, y = digits.X_test[:10], digits.y_test[:10]
    rng = np.random.default_rng(0)
    with pytest.raises(StimulusError, match="numpy.random.Generator"):
        camouflage(X, y, X, y, 0)
    with pytest.raises(StimulusError, match="same length"):
        camouflage(X, y[:5], X, y, rng)
    same = np.full(10, 3)
    with pytest.raises(StimulusError, match="no image of a class other than"):
        camouflage(X, same, X, same, rng)
    with pytest.raises(StimulusError, match="at least one image"):
        camouflage(X, y, X[:0], y[:0], rng)
