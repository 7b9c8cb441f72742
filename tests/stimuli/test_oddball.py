"""Oddball stimuli: rare events at the asked rates, gaps respected, patterns exchangeable."""
import numpy as np
import pytest

from cortex.errors import CortexError
from cortex.stimuli.oddball import DEVIANT, FIRST_NEW, OMISSION, STANDARD, images, new_standards, oddball_codes


def test_rare_events_come_at_their_rates_and_never_too_close():
    codes = oddball_codes(64, 400, np.random.default_rng(0), p_deviant=0.1, p_omission=0.05, min_gap=2)
    rare = codes != STANDARD
    assert not rare[:2].any()
    t, b = np.nonzero(rare)
    for k in (1, 2):                                # at least two standards between rare frames
        assert not (rare[k:] & rare[:-k]).any()
    share = np.bincount(codes.ravel(), minlength=3) / codes.size
    # a rare frame blocks the next two: the rate per free frame is p, the share per frame p / (1 + 2 p_rare)
    assert share[DEVIANT] == pytest.approx(0.1 / 1.3, rel=0.1)
    assert share[OMISSION] == pytest.approx(0.05 / 1.3, rel=0.15)
    np.testing.assert_array_equal(oddball_codes(64, 400, np.random.default_rng(0), p_deviant=0.1, p_omission=0.05),
                                  codes)


def test_new_standards_repeat_after_a_gap_of_the_old_one():
    codes, rep = new_standards(3, 2, 5, 4)
    assert codes[:, 0].tolist() == [0] * 4 + [FIRST_NEW] * 5 + [0] * 4 + [FIRST_NEW + 1] * 5
    assert rep[:, 0].tolist() == [0] * 4 + [1, 2, 3, 4, 5] + [0] * 4 + [1, 2, 3, 4, 5]


def test_images_follow_the_codes_and_swap_cleanly():
    a, b, new = np.eye(4, dtype=np.float32)[0], np.eye(4, dtype=np.float32)[1], np.eye(4, dtype=np.float32)[2:]
    codes = np.array([[0, 1, 2, 3, 4]]).T
    x = images(codes, a, b, new)
    np.testing.assert_array_equal(x[:, 0], [a, b, np.zeros(4), new[0], new[1]])
    np.testing.assert_array_equal(images(codes[:3], b, a)[:, 0], [b, a, np.zeros(4)])
    with pytest.raises(CortexError, match="codes must be 0 .. 2"):
        images(codes, a, b)
    with pytest.raises(CortexError, match="p_deviant \\+ p_omission must be below 1"):
        oddball_codes(1, 5, np.random.default_rng(0), p_deviant=0.6, p_omission=0.5)
