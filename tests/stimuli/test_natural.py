"""Whitened natural patches: shipped images only, seeded, zero-mean patches of unit variance, a flattened spectrum."""
from pathlib import Path

import numpy as np
import pytest

from cortex.errors import StimulusError
from cortex.stimuli import natural
from cortex.stimuli.natural import IMAGES, bar_canvas, natural_image, natural_patches, whiten


def test_every_image_is_a_file_inside_the_scikit_image_wheel():
    import skimage.data

    folder = Path(skimage.data.__file__).parent
    shipped = {p.stem for p in folder.iterdir()}
    for name in IMAGES:    # scikit-image names the file after the loader, except "camera" -> camera.png etc.
        assert name in shipped, f"{name} would need a download"
        img = natural_image(name)
        assert img.ndim == 2 and 0.0 <= img.min() < img.max() <= 1.0


def test_patches_are_seeded_zero_mean_and_unit_variance():
    a = natural_patches(500, 8, np.random.default_rng(3))
    b = natural_patches(500, 8, np.random.default_rng(3))
    c = natural_patches(500, 8, np.random.default_rng(4))
    assert a.shape == (500, 64) and a.dtype == np.float32
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.abs(a.mean(axis=1)).max() < 1e-5
    assert a.std() == pytest.approx(1.0, abs=1e-4)
    assert natural_patches(10, (4, 6), np.random.default_rng(0)).shape == (10, 24)


def test_whitening_flattens_the_spectrum():
    img = natural_image("camera")

    def band_ratio(x):   # power at mid-high frequencies over power at low frequencies (radially)
        P = np.abs(np.fft.fft2(x - x.mean())) ** 2
        f = np.hypot(*np.meshgrid(np.fft.fftfreq(x.shape[0]), np.fft.fftfreq(x.shape[1]), indexing="ij"))
        return P[(f > 0.15) & (f < 0.25)].mean() / P[(f > 0.01) & (f < 0.03)].mean()

    raw, white = band_ratio(img), band_ratio(whiten(img))
    assert raw < 0.01 and white > 0.1 and white > 50 * raw, (raw, white)   # 1/f^2 raw; ~100x flatter whitened


def test_measured_whitening_flattens_every_image_the_1_over_f_filter_leaves_tilted():
    def band_ratio(x):   # mid-high over low frequencies; 0.88 is the roll-off's own at 0.2 cycles per pixel
        P = np.abs(np.fft.fft2(x - x.mean())) ** 2
        f = np.hypot(*np.meshgrid(np.fft.fftfreq(x.shape[0]), np.fft.fftfreq(x.shape[1]), indexing="ij"))
        return P[(f > 0.15) & (f < 0.25)].mean() / P[(f > 0.01) & (f < 0.03)].mean()

    fixed = {n: band_ratio(whiten(natural_image(n), whitening="1/f")) for n in IMAGES}
    measured = {n: band_ratio(whiten(natural_image(n))) for n in IMAGES}
    assert min(fixed.values()) < 0.2 and max(fixed.values()) > 2.0, fixed       # astronaut, moon red; grass blue
    assert all(0.7 < r < 1.0 for r in measured.values()), measured                # 0.83-0.89 measured
    a = natural_patches(300, 8, np.random.default_rng(3))
    b = natural_patches(300, 8, np.random.default_rng(3), whitening="1/f")
    assert a.shape == b.shape and a.std() == pytest.approx(1.0, abs=1e-4) and not np.allclose(a, b)


def test_bad_arguments_name_themselves():
    with pytest.raises(StimulusError, match="known"):
        natural_image("eagle")                       # in scikit-image, but only by download
    with pytest.raises(StimulusError, match="n must be"):
        natural_patches(0, 8, np.random.default_rng(0))
    with pytest.raises(StimulusError, match="Generator"):
        natural_patches(5, 8, 0)
    with pytest.raises(StimulusError, match="natural images"):
        natural_patches(5, 8, np.random.default_rng(0), images=["camera", "nope"])
    with pytest.raises(StimulusError, match="2-D"):
        whiten(np.zeros(5))
    with pytest.raises(StimulusError, match="whitening must be one of 1/f, measured"):
        whiten(np.zeros((4, 4)), whitening="zca")
    with pytest.raises(StimulusError, match="whitening must be"):
        natural_patches(5, 8, np.random.default_rng(0), whitening="flat")


def test_bar_canvas_draws_the_bar_it_is_asked_for():
    img = bar_canvas((4, 10), 2, 3, 7, -1.0)
    assert img.sum() == -4 and np.array_equal(np.flatnonzero(img[2]), [3, 4, 5, 6]) and not img[[0, 1, 3]].any()
    assert natural.__all__
