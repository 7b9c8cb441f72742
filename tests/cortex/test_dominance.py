"""Dominance periods and duration statistics, on recordings whose answer is known."""
import numpy as np
import pytest

from cortex.dominance import (DominanceError, alternation_rate, dominance_periods, duration_stats, find_periods,
                              predominance)


def alternating(durations, first=0, level=1.0):
    """A (T, 2) recording: side ``first`` leads for durations[0] samples, the other for durations[1], ..."""
    rows, side = [], first
    for d in durations:
        block = np.zeros((d, 2))
        block[:, side] = level
        rows.append(block)
        side = 1 - side
    return np.concatenate(rows)


def test_complete_periods_only_first_and_last_dropped():
    a = alternating([7, 3, 5, 2, 9])
    assert dominance_periods(a) == [(1, 3.0), (0, 5.0), (1, 2.0)]
    assert dominance_periods(a, dt=0.5) == [(1, 1.5), (0, 2.5), (1, 1.0)]


def test_batch_of_trials_is_read_trial_by_trial():
    a, b = alternating([4, 2, 6, 3]), alternating([3, 5, 1, 6], first=1)
    p = find_periods(np.stack([a, b], axis=1))
    assert p.trial.tolist() == [0, 0, 1, 1]
    assert p.side.tolist() == [1, 0, 0, 1]
    assert p.duration.tolist() == [2, 6, 5, 1]
    assert p.start.tolist() == [4, 6, 3, 8]
    assert p.switches.tolist() == [3, 3]
    np.testing.assert_array_equal(p.dominant_time, [[10, 5], [11, 4]])
    assert p.trial_time == 15


def test_flicker_inside_the_margin_is_not_a_switch():
    a = alternating([6, 6, 6, 6])
    a[8, :] = [0.55, 0.45]          # side 1 leads, side 0 pokes up by less than the margin
    a[14, :] = [0.5, 0.5]           # an exact tie inside side 0's period
    assert dominance_periods(a, margin=0.2) == [(1, 6.0), (0, 6.0)]
    assert len(dominance_periods(a, margin=0.0)) == 4                  # without a margin the poke is a period


def test_mixed_stretch_between_sides_belongs_to_neither():
    a = alternating([5, 5, 5, 5])
    a[8:12, :] = 0.5                 # mixed from step 8 to 11: side 1's period ends early, side 0's starts late
    assert dominance_periods(a, margin=0.1) == [(1, 3.0), (0, 3.0)]
    assert find_periods(a, margin=0.1).switches.tolist() == [3]


def test_return_to_the_same_side_after_mixing_is_one_period():
    a = alternating([5, 9, 5])
    a[8:10, :] = 0.5                 # side 1 -> mixed -> side 1
    assert dominance_periods(a, margin=0.1) == [(1, 9.0)]


def test_predominance_and_alternation_rate():
    a = alternating([10, 30, 10, 30, 10, 10])
    np.testing.assert_allclose(predominance(a), [30 / 100, 70 / 100])
    assert alternation_rate(a, dt=2.0) == pytest.approx(5 / 200)
    assert dominance_periods(np.ones((50, 2))) == []                    # a tie throughout: never dominant
    with pytest.raises(DominanceError, match="neither side"):
        predominance(np.ones((50, 2)))


@pytest.mark.parametrize("bad,match", [
    (np.zeros((10, 3)), "shape"), (np.zeros(10), "shape"), (np.zeros((1, 2)), "2 time points"),
    (np.array([[0.0, np.nan], [1, 0]]), "finite"),
])
def test_bad_activity_is_refused(bad, match):
    with pytest.raises(DominanceError, match=match):
        dominance_periods(bad)


@pytest.mark.parametrize("kw", [{"dt": 0}, {"dt": -1.0}, {"margin": -0.1}, {"margin": float("nan")}, {"dt": True}])
def test_bad_dt_or_margin_is_refused(kw):
    with pytest.raises(DominanceError):
        dominance_periods(alternating([3, 3, 3]), **kw)


def test_gamma_samples_are_fitted_by_a_gamma():
    d = np.random.default_rng(0).gamma(shape=4.0, scale=30.0, size=4000)
    st = duration_stats(d)
    assert st["n"] == 4000
    assert st["mean"] == pytest.approx(120, rel=0.03)
    assert st["cv"] == pytest.approx(0.5, rel=0.05)
    assert st["skewness"] == pytest.approx(1.0, abs=0.2)              # gamma: skewness = 2 CV
    assert st["gamma"]["shape"] == pytest.approx(4.0, rel=0.08)
    assert st["gamma"]["scale"] == pytest.approx(30.0, rel=0.08)
    assert st["better_fit"] == "gamma"
    assert st["gamma"]["loglik"] > st["lognormal"]["loglik"]


def test_lognormal_samples_are_fitted_by_a_lognormal():
    d = np.random.default_rng(1).lognormal(mean=np.log(100), sigma=0.5, size=4000)
    st = duration_stats(d)
    assert st["lognormal"]["sigma"] == pytest.approx(0.5, rel=0.05)
    assert st["lognormal"]["scale"] == pytest.approx(100, rel=0.05)
    assert st["better_fit"] == "lognormal"


@pytest.mark.parametrize("bad,match", [
    ([1.0, 2.0, 3.0], "at least"), ([5.0] * 10, "all 10 durations are equal"),
    ([1.0, 2.0, 0.0, 3.0, 4.0, 5.0], "> 0"), ([1.0, 2.0, np.inf, 3.0, 4.0, 5.0], "finite"),
])
def test_too_few_or_bad_durations_are_refused(bad, match):
    with pytest.raises(DominanceError, match=match):
        duration_stats(bad)
    assert issubclass(DominanceError, ValueError)
