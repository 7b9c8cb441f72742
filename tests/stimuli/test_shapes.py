"""Tests for cortex.stimuli.shapes: colour x shape images, the Latin-square holdout, argument checks."""
from __future__ import annotations

import numpy as np
import pytest

from cortex.errors import StimulusError
from cortex.stimuli.shapes import COLOURS, GLYPHS, held_out_pairs, latin_holdout, make_shapes


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def test_shapes_dtypes_and_labels():
    s = make_shapes(50, rng(), colours=("red", "blue", "cyan"), shapes=("plus", "ell"))
    assert s.images.shape == (50, 8, 8, 3) and s.images.dtype == np.float32
    assert s.flat.shape == (50, 192)
    assert s.colour.dtype == np.int64 and set(np.unique(s.colour)) <= {0, 1, 2}
    assert set(np.unique(s.shape)) <= {0, 1}
    assert s.colours == ("red", "blue", "cyan") and s.shapes == ("plus", "ell")
    assert s.image_shape == (8, 8, 3)


def test_same_seed_same_images_other_seed_other_images():
    a, b, c = make_shapes(20, rng(3)), make_shapes(20, rng(3)), make_shapes(20, rng(4))
    np.testing.assert_array_equal(a.images, b.images)
    assert not np.array_equal(a.images, c.images)


def test_noise_free_image_is_the_glyph_in_its_colour():
    s = make_shapes(40, rng(1), jitter=2, brightness=0.0, colour_jitter=0.0, noise=0.0)
    for img, c, k in zip(s.images, s.colour, s.shape):
        rgb = np.array(COLOURS[s.colours[c]], dtype=np.float32)
        mask = img.max(axis=2) > 0
        assert mask.sum() == GLYPHS[s.shapes[k]].sum()            # the whole glyph is inside the image
        np.testing.assert_allclose(img[mask], np.broadcast_to(rgb, (mask.sum(), 3)))
        rows, cols = np.nonzero(mask)
        top, left = rows.min() - np.nonzero(GLYPHS[s.shapes[k]])[0].min(), cols.min() - np.nonzero(GLYPHS[s.shapes[k]])[1].min()
        np.testing.assert_array_equal(mask[top:top + 5, left:left + 5], GLYPHS[s.shapes[k]] > 0)


def test_position_jitter_moves_the_glyph_within_bounds():
    s = make_shapes(300, rng(2), jitter=1, noise=0.0, colour_jitter=0.0)
    corners = {(int(np.nonzero(im.max(2).max(1) > 0)[0].min()), int(np.nonzero(im.max(2).max(0) > 0)[0].min()))
               for im in s.images[s.shape == s.shapes.index("square")]}
    assert corners == {(r, c) for r in (0, 1, 2) for c in (0, 1, 2)}   # centred at 1, +-1 pixel
    still = make_shapes(50, rng(2), jitter=0, noise=0.0, colour_jitter=0.0, brightness=0.0)
    sq = still.images[still.shape == 0]
    assert np.all(sq[:, 1, 1:6].max(axis=-1) > 0)


def test_noise_and_brightness_have_the_asked_size():
    clean = make_shapes(400, rng(5), noise=0.0, colour_jitter=0.0, brightness=0.0)
    noisy = make_shapes(400, rng(5), noise=0.2, colour_jitter=0.0, brightness=0.0)
    assert abs(np.std(noisy.images - clean.images) - 0.2) < 0.01
    dim = make_shapes(400, rng(6), noise=0.0, colour_jitter=0.0, brightness=0.5)
    peak = dim.images.reshape(400, -1).max(axis=1)
    assert 0.5 <= peak.min() and peak.max() <= 1.0 and peak.std() > 0.1


def test_pairs_restrict_the_combinations():
    s = make_shapes(200, rng(), pairs=np.array([[0, 1], [2, 3]]))
    got = set(zip(s.colour.tolist(), s.shape.tolist()))
    assert got == {(0, 1), (2, 3)}


def test_latin_holdout_leaves_every_colour_and_shape_seen():
    mask = latin_holdout(6, 6)
    assert mask.sum() == 6
    assert np.all(mask.sum(axis=0) == 1) and np.all(mask.sum(axis=1) == 1)
    mask = latin_holdout(4, 6, per_colour=2, rng=rng(1))
    assert np.all(mask.sum(axis=1) == 2) and not mask.all(axis=0).any() and not mask.all(axis=1).any()
    seen, unseen = held_out_pairs(mask)
    assert len(seen) + len(unseen) == 24 and len(unseen) == 8
    assert all(mask[c, s] for c, s in unseen) and not any(mask[c, s] for c, s in seen)


@pytest.mark.parametrize("kwargs, message", [
    ({"n": 0}, "n must be"),
    ({"n": 2.5}, "n must be"),
    ({"colours": ("red", "mauve")}, "unknown colours"),
    ({"colours": "red"}, "list of names"),
    ({"shapes": ("plus",)}, "at least 2"),
    ({"shapes": ("plus", "plus")}, "twice"),
    ({"size": 4}, "size must be"),
    ({"noise": -0.1}, "noise must be"),
    ({"brightness": 1.5}, "brightness must be"),
    ({"pairs": np.array([[0, 9]])}, "pairs index"),
    ({"pairs": np.zeros((3, 3), int)}, "pairs must be"),
])
def test_bad_arguments_raise_clear_errors(kwargs, message):
    args = {"n": 4, **kwargs}
    with pytest.raises(StimulusError, match=message):
        make_shapes(args.pop("n"), rng(), **args)


def test_bad_generator_and_holdout_raise():
    with pytest.raises(StimulusError, match="Generator"):
        make_shapes(3, 0)
    with pytest.raises(StimulusError, match="per_colour"):
        latin_holdout(3, 3, per_colour=3)
    with pytest.raises(StimulusError, match="mask must be 2-D"):
        held_out_pairs(np.zeros(3))
