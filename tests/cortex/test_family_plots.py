"""The experiment families' figures render to PNG files and show what a reader relies on.

Rivalry (:mod:`cortex.plotting.rivalry`), context/priming and composition (:mod:`cortex.plotting.perception`)
and perception as a search (:mod:`cortex.plotting.search`): each figure is drawn from small synthetic results
in the format the experiments pass, then its panels, lines, bars, images, labels and legends are checked
against those inputs.
"""
import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from matplotlib.container import BarContainer  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from PIL import Image  # noqa: E402
from scipy import stats as sps  # noqa: E402

from cortex.dominance import duration_stats  # noqa: E402
from cortex.plotting import plt  # noqa: E402
from cortex.plotting.perception import (plot_composition_accuracy, plot_context_weights,  # noqa: E402
                                        plot_cue_competition, plot_priming, plot_psychometric, plot_rgb_fields,
                                        plot_shape_examples, plot_two_region_competition)
from cortex.plotting.rivalry import (plot_alternation_sweep, plot_dominance_trace,  # noqa: E402
                                     plot_duration_histogram, plot_strength_sweep)
from cortex.plotting.search import (plot_accuracy_vs_steps, plot_filling_error, plot_filling_in,  # noqa: E402
                                    plot_snapping)

PNG = b"\x89PNG\r\n\x1a\n"
CUES = ("cue A", "no cue", "cue B")          # cortex.experiments.priming.Priming.CUES


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def assert_png(path):
    """A real PNG with something drawn in it (more than one colour)."""
    assert path.exists() and path.read_bytes()[:8] == PNG
    with Image.open(path) as im:
        assert im.width > 100 and im.height > 100
        assert len(im.convert("L").getcolors(maxcolors=1 << 16) or [0, 0]) > 1


def texts(legend):
    assert legend is not None
    return [t.get_text() for t in legend.get_texts()]


def panels(fig):
    return [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]


def bars(ax):
    """Every bar patch of the axes, container by container, in drawing order."""
    return [p for c in ax.containers if isinstance(c, BarContainer) for p in c.patches]


def centre(patch):
    return patch.get_x() + patch.get_width() / 2


def runs(mask):
    """(first, last) index of every run of True."""
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) > 1)
    return list(zip(idx[np.r_[0, breaks + 1]], idx[np.r_[breaks, idx.size - 1]]))


# ----- rivalry ----------------------------------------------------------------------------------------
def _trace():
    """(steps, trials, 2): scripted dominance runs with mixed stretches in between, plus a little jitter."""
    steps = 40
    rng = np.random.default_rng(0)
    tr = np.full((steps, 3, 2), 0.45)
    schedule = [
        [(0, 9, 0), (12, 25, 1), (26, 39, 0)],                    # (first, last, dominant side)
        [(0, 4, 1), (8, 30, 0), (34, 39, 1)],
        [(3, 6, 0), (10, 14, 1), (15, 19, 0), (20, 24, 1), (25, 39, 0)],
    ]
    for trial, segs in enumerate(schedule):
        for first, last, side in segs:
            tr[first:last + 1, trial, side] = 0.9
            tr[first:last + 1, trial, 1 - side] = 0.1
    return tr + rng.uniform(0, 0.01, tr.shape)


def test_dominance_trace_has_a_panel_per_trial_with_both_activities_and_the_dominant_side_shaded(tmp_path):
    tr, margin = _trace(), 0.2
    path = tmp_path / "competition.png"
    fig = plot_dominance_trace(tr, margin=margin, names=("A (left eye)", "B (right eye)"), path=path,
                               title="V1: the two interpretations")
    assert_png(path)
    axes = panels(fig)
    assert len(axes) == tr.shape[1]                                  # one panel per trial
    assert fig.get_suptitle() == "V1: the two interpretations"
    assert axes[-1].get_xlabel() == "settling step (after the warm-up); shading: the dominant interpretation"
    assert texts(axes[0].get_legend()) == ["A (left eye)", "B (right eye)"]
    assert all(ax.get_legend() is None for ax in axes[1:])
    for row, ax in enumerate(axes):
        assert ax.get_ylabel() == f"trial {row}\nactivity"
        assert len(ax.lines) == 2
        for side, line in enumerate(ax.lines):
            np.testing.assert_array_equal(line.get_xdata(), np.arange(tr.shape[0]))
            np.testing.assert_allclose(line.get_ydata(), tr[:, row, side])
            assert to_rgba(line.get_color()) == to_rgba(("tab:blue", "tab:orange")[side])
        top = tr[:, row].max() * 1.05
        assert ax.get_ylim() == pytest.approx((0, top))
        assert ax.get_xlim() == pytest.approx((0, tr.shape[0] - 1))
        # shading: one collection per side, one polygon per dominance run, spanning exactly that run's steps
        assert len(ax.collections) == 2
        diff = tr[:, row, 0] - tr[:, row, 1]
        for side, (sign, shade) in enumerate(zip((1, -1), ax.collections)):
            expected = runs(sign * diff > margin)
            assert expected                                          # every side dominates somewhere in each trial
            got = sorted((p.vertices[:, 0].min(), p.vertices[:, 0].max()) for p in shade.get_paths())
            assert len(got) == len(expected)
            for (lo, hi), (first, last) in zip(got, expected):          # covers the run, reaches no other step
                assert first - 0.5 <= lo <= first and last <= hi <= last + 0.5
            assert all(p.vertices[:, 1].min() == pytest.approx(0) and p.vertices[:, 1].max() == pytest.approx(top)
                       for p in shade.get_paths())
            colour = to_rgba(("tab:blue", "tab:orange")[side])
            assert tuple(shade.get_facecolor()[0][:3]) == pytest.approx(colour[:3])


def test_dominance_trace_leaves_mixed_time_unshaded():
    tr = np.zeros((30, 1, 2))
    tr[:, 0, 0] = 0.5
    tr[:, 0, 1] = 0.5
    tr[10:20, 0, 0] = 0.8                                              # A leads by 0.3, B by nothing anywhere
    fig = plot_dominance_trace(tr, margin=0.1)
    a, b = fig.axes[0].collections
    assert [(p.vertices[:, 0].min(), p.vertices[:, 0].max()) for p in a.get_paths()] == [(9.5, 19.5)]
    assert sum(len(p.vertices) for p in b.get_paths()) == 0            # B never dominant: nothing shaded for it
    assert texts(fig.axes[0].get_legend()) == ["A", "B"]               # default names


def test_dominance_trace_shades_every_dominant_step_over_its_full_width():
    tr = np.full((12, 1, 2), 0.5)
    tr[4, 0, 0] = 0.9                                                    # A dominant for a single step
    tr[7:10, 0, 1] = 0.9                                                 # B dominant for three steps
    fig = plot_dominance_trace(tr)
    widths = [[np.ptp(p.vertices[:, 0]) for p in shade.get_paths()] for shade in fig.axes[0].collections]
    assert widths == [[pytest.approx(1.0)], [pytest.approx(3.0)]]


@pytest.fixture(scope="module")
def gamma_durations():
    return np.random.default_rng(1).gamma(4.0, 10.0, 2000)


def test_duration_histogram_is_a_density_with_the_fitted_gamma_and_lognormal(tmp_path, gamma_durations):
    d = gamma_durations
    st = duration_stats(d)
    path = tmp_path / "durations.png"
    fig = plot_duration_histogram(d, st, path=path, title=f"dominance durations ({st['n']} periods)")
    assert_png(path)
    (ax,) = fig.axes
    assert ax.get_title() == "dominance durations (2000 periods)"
    assert ax.get_xlabel() == "dominance duration (settling steps)"
    assert ax.get_ylabel() == "probability density"
    # the histogram: density of the given durations (integrates to 1), 60 bins for 2000 periods
    hist = ax.patches
    assert len(hist) == 60
    heights = np.array([p.get_height() for p in hist])
    widths = np.array([p.get_width() for p in hist])
    assert np.sum(heights * widths) == pytest.approx(1.0)
    expected, edges = np.histogram(d, bins=60, density=True)
    np.testing.assert_allclose(heights, expected)
    np.testing.assert_allclose([p.get_x() for p in hist], edges[:-1])
    # the fitted densities, drawn on x from 0 to 1.1 x the 99.5th percentile
    gamma, lognormal = ax.lines
    x = gamma.get_xdata()
    assert x[0] > 0 and x[-1] == pytest.approx(np.percentile(d, 99.5) * 1.1)
    assert ax.get_xlim() == pytest.approx((0, x[-1]))
    g, ln = st["gamma"], st["lognormal"]
    np.testing.assert_allclose(gamma.get_ydata(), sps.gamma.pdf(x, g["shape"], 0, g["scale"]))
    np.testing.assert_allclose(lognormal.get_ydata(), sps.lognorm.pdf(x, ln["sigma"], 0, ln["scale"]))
    step = x[1] - x[0]
    assert x[np.argmax(gamma.get_ydata())] == pytest.approx((g["shape"] - 1) * g["scale"], abs=step)   # gamma mode
    assert x[np.argmax(lognormal.get_ydata())] == pytest.approx(ln["scale"] * np.exp(-ln["sigma"] ** 2), abs=step)
    assert (g["shape"] - 1) * g["scale"] == pytest.approx(30, rel=0.15)   # the fit found the sampled gamma(4, 10)
    assert gamma.get_linestyle() == "-" and lognormal.get_linestyle() == "--"
    # the legend names the model's statistics and both fits' parameters
    assert sorted(texts(ax.get_legend())) == [
        f"gamma: shape {g['shape']:.2f}, log-lik {g['loglik']:.0f}",
        f"lognormal: sigma {ln['sigma']:.2f}, log-lik {ln['loglik']:.0f}",
        f"model: mean {st['mean']:.0f}, CV {st['cv']:.2f}, skew {st['skewness']:.2f}",
    ]


def test_duration_histogram_of_few_periods_keeps_ten_bins():
    d = np.random.default_rng(2).gamma(3.0, 5.0, 40)
    fig = plot_duration_histogram(d, duration_stats(d), unit="ms")
    (ax,) = fig.axes
    assert len(ax.patches) == 10
    assert sum(p.get_height() * p.get_width() for p in ax.patches) == pytest.approx(1.0)
    assert ax.get_xlabel() == "dominance duration (ms)"


def _row(c_left, c_right, rate, pred, mean_l, mean_r, mixed, durations):
    return {"contrast_left": c_left, "contrast_right": c_right, "alternation_rate_per_1000_steps": rate,
            "predominance_left": pred, "mean_duration_left": mean_l, "mean_duration_right": mean_r,
            "mixed_fraction": mixed, "durations": durations}


def test_strength_sweep_plots_predominance_and_both_sides_durations_on_log_axes(tmp_path):
    c = [0.05, 0.1, 0.2, 0.4, 0.8]
    pred = [None, 0.31, 0.5, 0.68, 0.83]                              # None: no dominant time at that contrast
    mean_l = [None, 40.0, 60.0, 75.0, 90.0]
    mean_r = [300.0, 150.0, 60.0, 45.0, 38.0]
    table = [_row(ci, 0.2, 5.0, p, ml, mr, 0.1, None) for ci, p, ml, mr in zip(c, pred, mean_l, mean_r)]
    path = tmp_path / "strength.png"
    fig = plot_strength_sweep(table, 0.2, path=path, title="left eye's contrast swept, right eye's fixed at 0.2")
    assert_png(path)
    ax1, ax2 = fig.axes
    assert fig.get_suptitle() == "left eye's contrast swept, right eye's fixed at 0.2"
    nan = lambda v: np.array([np.nan if x is None else x for x in v], dtype=float)  # noqa: E731
    # left: predominance of A against A's contrast, with the 50% line and the fixed contrast marked
    data = [ln for ln in ax1.lines if len(ln.get_xdata()) == len(c)]
    assert len(data) == 1
    np.testing.assert_array_equal(data[0].get_xdata(), c)
    np.testing.assert_array_equal(data[0].get_ydata(), nan(pred))
    refs = [ln for ln in ax1.lines if ln not in data]
    assert sorted(tuple(map(float, ln.get_ydata())) for ln in refs if ln.get_ydata()[0] == ln.get_ydata()[1]) \
        == [(0.5, 0.5)]
    assert any(tuple(map(float, ln.get_xdata())) == (0.2, 0.2) for ln in refs)
    assert ax1.get_ylim() == (0, 1)
    assert ax1.get_ylabel() == "predominance of A (fraction of dominant time)"
    assert "Levelt I:" in ax1.get_title()
    # right: each side's mean duration, log y, legend naming the fixed contrast
    a, b = [ln for ln in ax2.lines if len(ln.get_xdata()) == len(c)]
    np.testing.assert_array_equal(a.get_ydata(), nan(mean_l))
    np.testing.assert_array_equal(b.get_ydata(), nan(mean_r))
    assert a.get_marker() == "o" and b.get_marker() == "s"
    assert texts(ax2.get_legend()) == ["A (left eye, contrast varied)", "B (right eye, contrast 0.2)"]
    assert ax2.get_yscale() == "log"
    assert ax2.get_ylabel() == "mean dominance duration (settling steps)"
    assert "Levelt II" in ax2.get_title()
    fmt = ax2.yaxis.get_major_formatter()
    assert [fmt(v, 0) for v in (50, 100, 200, 300, 500)] == ["50", "100", "200", "", "500"]   # plain, not 5x10^1
    for ax in (ax1, ax2):
        assert ax.get_xscale() == "log"
        assert ax.get_xlabel() == "contrast of A (left eye)"
        np.testing.assert_allclose(ax.get_xticks(), c)
        assert [t.get_text() for t in ax.get_xticklabels()] == ["0.05", "0.1", "0.2", "0.4", "0.8"]


def test_alternation_sweep_plots_rate_cv_band_and_mixed_time(tmp_path):
    rng = np.random.default_rng(3)
    c = [0.1, 0.3, 1.0]
    stats = [None, duration_stats(rng.gamma(4.0, 10.0, 300)), duration_stats(rng.gamma(0.5, 10.0, 300))]
    assert stats[2]["cv"] > 1                                         # pushes the y range above 1
    rates = [2.5, 6.0, 11.0]
    mixed = [0.4, 0.2, 0.05]
    table = [_row(ci, ci, r, 0.5, 50.0, 50.0, m, s) for ci, r, m, s in zip(c, rates, mixed, stats)]
    path = tmp_path / "alternation.png"
    fig = plot_alternation_sweep(table, path=path, title="both eyes' contrast swept together")
    assert_png(path)
    ax1, ax2 = fig.axes
    assert fig.get_suptitle() == "both eyes' contrast swept together"
    (rate,) = ax1.lines
    np.testing.assert_array_equal(rate.get_xdata(), c)
    np.testing.assert_array_equal(rate.get_ydata(), rates)
    assert ax1.get_ylabel() == "alternations per 1000 settling steps"
    assert "Levelt IV" in ax1.get_title()
    cv, mix = ax2.lines
    np.testing.assert_array_equal(cv.get_ydata(), [np.nan, stats[1]["cv"], stats[2]["cv"]])
    np.testing.assert_array_equal(mix.get_ydata(), mixed)
    assert mix.get_linestyle() == "--"
    (band,) = [p for p in ax2.patches if isinstance(p, Rectangle)]
    assert (band.get_y(), band.get_y() + band.get_height()) == pytest.approx((0.4, 0.7))
    assert sorted(texts(ax2.get_legend())) == ["CV of dominance durations", "human CV band (0.4-0.7)",
                                               "mixed fraction of time"]
    assert ax2.get_ylim() == pytest.approx((0, stats[2]["cv"] * 1.1))
    assert ax2.get_ylabel() == "CV / fraction"
    for ax in (ax1, ax2):
        assert ax.get_xscale() == "log"
        assert ax.get_xlabel() == "contrast of both eyes"
        np.testing.assert_allclose(ax.get_xticks(), c)


def test_alternation_sweep_without_any_fitted_durations_keeps_a_unit_y_range():
    table = [_row(ci, ci, 3.0, 0.5, None, None, 0.3, None) for ci in (0.1, 0.5)]
    fig = plot_alternation_sweep(table)
    assert fig.axes[1].get_ylim() == (0, 1.0)
    assert np.isnan(fig.axes[1].lines[0].get_ydata()).all()


# ----- priming ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def psychometric_curves():
    w = np.linspace(0, 1, 7)
    curves = {}
    for (a, b), pse, shift in (((3, 8), 0.43, 0.15), ((1, 7), 0.58, 0.1)):
        base = 1 / (1 + np.exp(-(w - pse) * 12))
        p_a = np.stack([np.clip(base + shift, 0, 1), base, np.clip(base - shift, 0, 1)])    # (cues, points)
        curves[f"{a}/{b}"] = {"weights": w, "p_a": p_a, "pse": pse}
    return curves


def test_psychometric_has_a_panel_per_pair_and_a_line_per_cue_with_the_pse(tmp_path, psychometric_curves):
    curves = psychometric_curves
    path = tmp_path / "psychometric.png"
    fig = plot_psychometric(curves, CUES, path)
    assert_png(path)
    axes = fig.axes
    assert len(axes) == len(curves)
    assert fig.get_suptitle() == "reading of A/B morphs under each cue"
    assert axes[0].get_ylabel() == "P(read A)"
    for ax, (pair, c) in zip(axes, curves.items()):
        a, b = pair.split("/")
        assert ax.get_title() == f"{a} vs {b}"
        assert ax.get_xlabel() == f"morph weight of {a} (1 - weight of {b})"
        assert ax.get_ylim() == pytest.approx((-0.02, 1.02))
        cue_lines = [ln for ln in ax.lines if ln.get_label() in CUES]
        assert [ln.get_label() for ln in cue_lines] == list(CUES)
        for j, ln in enumerate(cue_lines):
            np.testing.assert_array_equal(ln.get_xdata(), c["weights"])
            np.testing.assert_array_equal(ln.get_ydata(), c["p_a"][j])
            assert to_rgba(ln.get_color()) == to_rgba(("tab:blue", "tab:gray", "tab:orange")[j])
        (pse,) = [ln for ln in ax.lines if ln.get_label().startswith("PSE")]
        assert tuple(pse.get_xdata()) == pytest.approx((c["pse"], c["pse"]))
        assert texts(ax.get_legend()) == [*CUES, f"PSE {c['pse']:.2f}"]
        assert len(ax.lines) == len(CUES) + 2                         # the cues, the PSE, the 50% line


def _priming_pairs(control):
    pairs = []
    for a, b, pse, p, trials in ((3, 8, 0.4312, (0.8, 0.5, 0.2), 200), (1, 7, 0.5821, (0.7, 0.45, 0.3), 100)):
        row = {"a": a, "b": b, "pse": pse, "trials": trials,
               "p_a_cue_a": p[0], "p_a_no_cue": p[1], "p_a_cue_b": p[2], "effect": p[0] - p[2]}
        if control:
            row["control"] = {"p_a_cue_a": 0.52, "p_a_no_cue": 0.5, "p_a_cue_b": 0.49, "effect": 0.03}
        pairs.append(row)
    return pairs


@pytest.mark.parametrize("control", [False, True], ids=["model only", "with control"])
def test_priming_has_a_bar_per_cue_and_pair_with_binomial_errors_and_hatched_controls(tmp_path, control):
    pairs = _priming_pairs(control)
    path = tmp_path / "priming.png"
    fig = plot_priming(pairs, CUES, path)
    assert_png(path)
    (ax,) = fig.axes
    keys = ("p_a_cue_a", "p_a_no_cue", "p_a_cue_b")
    containers = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert len(containers) == (6 if control else 3)
    model_bars = [c for c in containers if c.errorbar is not None]
    control_bars = [c for c in containers if c.errorbar is None]
    assert len(model_bars) == 3 and len(control_bars) == (3 if control else 0)
    width = 0.8 / (6 if control else 3)
    for j, (key, bc) in enumerate(zip(keys, model_bars)):
        vals = np.array([r[key] for r in pairs])
        assert [p.get_height() for p in bc.patches] == pytest.approx(vals)
        offset = (j - 2.5 if control else j - 1) * width
        assert [centre(p) for p in bc.patches] == pytest.approx(np.arange(len(pairs)) + offset)
        assert all(p.get_width() == pytest.approx(width) and not p.get_hatch() for p in bc.patches)
        colour = to_rgba(("tab:blue", "tab:gray", "tab:orange")[j])
        assert all(p.get_facecolor()[:3] == pytest.approx(colour[:3]) for p in bc.patches)
        # error bars: +- the binomial standard error sqrt(p (1 - p) / trials), centred on the bar tops
        se = np.sqrt(vals * (1 - vals) / np.array([r["trials"] for r in pairs]))
        (segments,) = [lc.get_segments() for lc in bc.errorbar.lines[2]]
        for seg, v, e, p in zip(segments, vals, se, bc.patches):
            assert seg[:, 0] == pytest.approx([centre(p)] * 2)
            assert sorted(seg[:, 1]) == pytest.approx([v - e, v + e])
    for j, (key, bc) in enumerate(zip(keys, control_bars)):
        assert [p.get_height() for p in bc.patches] == pytest.approx([r["control"][key] for r in pairs])
        assert [centre(p) for p in bc.patches] == pytest.approx(np.arange(len(pairs)) + (j + 0.5) * width)
        assert all(p.get_hatch() == "//" for p in bc.patches)
    # no two bars overlap within a pair group
    cs = sorted(centre(p) for p in bars(ax))
    assert np.all(np.diff(cs) > width * 0.99)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["3 vs 8\nPSE 0.43", "1 vs 7\nPSE 0.58"]
    assert ax.get_ylabel() == "P(read A)" and ax.get_ylim() == (0, 1)
    assert ax.get_title() == "priming at the point of subjective equality"
    labels = texts(ax.get_legend())
    expected = list(CUES) + ([f"{name} (control: uninformative cues)" for name in CUES] if control else [])
    assert sorted(labels) == sorted(expected)


def test_cue_competition_shows_each_morph_and_a_panel_per_cue_with_a_and_b_highlighted(tmp_path):
    rng = np.random.default_rng(4)
    steps, H = 12, 10
    curves = {}
    for (a, b) in ((3, 8), (1, 7)):
        tr = rng.uniform(0, 0.1, (steps + 1, 3, H))
        ramp = np.linspace(0.05, 1.0, steps + 1)
        tr[:, :, 0] = ramp[::-1, None] * 0.6                              # the first guess, abandoned by the end
        tr[:, 0, a] = ramp                                                # cue A: A wins
        tr[:, 1, 5] = ramp                                                # no cue: some other digit wins
        tr[:, 2, b] = ramp                                                # cue B: B wins
        curves[f"{a}/{b}"] = {"trace": tr, "image": rng.uniform(0, 1, 64), "a": a, "b": b}
    path = tmp_path / "competition.png"
    fig = plot_cue_competition(curves, CUES, (8, 8), path)
    assert_png(path)
    axes = np.array(fig.axes).reshape(len(curves), len(CUES) + 1)
    assert fig.get_suptitle().endswith("under each cue (grey: other hypotheses)")
    for r, (pair, c) in enumerate(curves.items()):
        img = axes[r, 0]
        assert img.get_title() == f"morph {pair}"
        assert len(img.images) == 1
        np.testing.assert_array_equal(img.images[0].get_array(), c["image"].reshape(8, 8))
        for j, name in enumerate(CUES):
            ax = axes[r, j + 1]
            tr = c["trace"]
            assert len(ax.lines) == H                                     # every hypothesis drawn
            a_line, b_line = ax.lines[-2:]
            np.testing.assert_array_equal(a_line.get_xdata(), np.arange(steps + 1))
            np.testing.assert_array_equal(a_line.get_ydata(), tr[:, j, c["a"]])
            np.testing.assert_array_equal(b_line.get_ydata(), tr[:, j, c["b"]])
            assert a_line.get_linestyle() == "-" and b_line.get_linestyle() == "--"
            grey = ax.lines[:-2]
            others = [i for i in range(H) if i not in (c["a"], c["b"])]
            for i, ln in zip(others, grey):
                np.testing.assert_array_equal(ln.get_ydata(), tr[:, j, i])
                assert to_rgba(ln.get_color()) == to_rgba("0.8")
            winner = (c["a"], 5, c["b"])[j]
            assert ax.get_title() == f"{name}: reads {winner}"
            assert ax.get_xlabel() == ("settling step (0 = first guess)" if r == len(curves) - 1 else "")
            assert ax.get_ylabel() == ("activity" if j == 0 else "")
            if j == len(CUES) - 1:
                assert texts(ax.get_legend()) == [f"hypothesis {c['a']} (A)", f"hypothesis {c['b']} (B)"]
            else:
                assert ax.get_legend() is None


def test_context_weights_heat_map_shows_v_on_a_symmetric_scale(tmp_path):
    V = np.random.default_rng(5).normal(0, 1, (10, 10))
    V[2, 7] = -4.0                                                         # the largest magnitude is negative
    path = tmp_path / "context_weights.png"
    fig = plot_context_weights(V, path, title="IT: learned context weights (cue -> prior logits)")
    assert_png(path)
    (ax,) = panels(fig)
    (cbar,) = [a for a in fig.axes if a.get_label() == "<colorbar>"]
    (im,) = ax.images
    np.testing.assert_array_equal(im.get_array(), V)
    assert im.get_clim() == (-4.0, 4.0)
    assert im.get_cmap().name == "RdBu_r"
    assert cbar.get_ylabel() == "prior logit per unit cue"
    assert ax.get_xlabel() == "hypothesis (digit)" and ax.get_ylabel() == "cue"
    np.testing.assert_array_equal(ax.get_xticks(), range(10))
    np.testing.assert_array_equal(ax.get_yticks(), range(10))
    assert ax.get_title() == "IT: learned context weights (cue -> prior logits)"


def test_context_weights_of_all_zeros_still_has_a_scale():
    fig = plot_context_weights(np.zeros((3, 4)))
    assert panels(fig)[0].images[0].get_clim() == (-1.0, 1.0)


# ----- composition ------------------------------------------------------------------------------------
def test_shape_examples_show_one_image_per_colour_and_shape_with_held_out_cells_framed(tmp_path):
    colours, shapes = ["red", "green", "blue"], ["square", "plus", "cross", "tee"]
    rng = np.random.default_rng(6)
    images = rng.uniform(-0.2, 1.2, (3, 4, 6, 6, 3))                       # out of [0, 1] on purpose: clipped
    held_out = np.zeros((3, 4), bool)
    held_out[0, 1] = held_out[1, 3] = held_out[2, 0] = True
    path = tmp_path / "stimuli.png"
    fig = plot_shape_examples(images, colours, shapes, held_out, path)
    assert_png(path)
    assert len(fig.axes) == 12
    axes = np.array(fig.axes).reshape(3, 4)
    assert fig.get_suptitle() == "colour x shape stimuli (red frame: never seen in training)"
    for i in range(3):
        for j in range(4):
            ax = axes[i, j]
            (im,) = ax.images
            np.testing.assert_array_equal(im.get_array(), np.clip(images[i, j], 0, 1))
            spines = list(ax.spines.values())
            red = [s.get_edgecolor()[:3] == (1, 0, 0) and s.get_linewidth() == 3 for s in spines]
            assert all(red) if held_out[i, j] else not any(red)
            assert ax.get_title() == (shapes[j] if i == 0 else "")
            assert ax.get_ylabel() == (colours[i] if j == 0 else "")


def test_composition_accuracy_has_a_bar_per_attribute_model_and_subset_with_chance_marked(tmp_path):
    chance = {"colour": 1 / 6, "shape": 1 / 6, "both": 1 / 36}
    accuracy = {"factors": {"seen": {"colour": 0.99, "shape": 0.97, "both": 0.96},
                            "unseen": {"colour": 0.95, "shape": 0.88, "both": 0.84}},
                "no factors": {"seen": {"colour": 0.98, "shape": 0.93, "both": 0.91},
                               "unseen": {"colour": 0.41, "shape": 0.22, "both": 0.09}}}
    path = tmp_path / "accuracy.png"
    fig = plot_composition_accuracy(accuracy, chance, path, title="colour and shape read by separate regions")
    assert_png(path)
    (ax,) = fig.axes
    containers = [c for c in ax.containers if isinstance(c, BarContainer)]
    groups = [(m, s) for m in accuracy for s in ("seen", "unseen")]
    assert len(containers) == 4 and len(bars(ax)) == 4 * 3                # (model, subset) x attribute
    width = 0.8 / 4
    for g, ((model, subset), bc) in enumerate(zip(groups, containers)):
        vals = [accuracy[model][subset][a] for a in chance]
        assert [p.get_height() for p in bc.patches] == pytest.approx(vals)
        assert [centre(p) for p in bc.patches] == pytest.approx(np.arange(3) + (g - 1.5) * width)
        colour = {"seen": "tab:green", "unseen": "tab:purple"}[subset]
        assert all(p.get_facecolor()[:3] == pytest.approx(to_rgba(colour)[:3]) for p in bc.patches)
        ablation = model == "no factors"
        assert all((p.get_hatch() == "//") == ablation for p in bc.patches)
        assert bc.get_label() == f"{subset} combinations ({model})"
    # every bar labelled with its value
    labels = sorted(float(t.get_text()) for t in ax.texts)
    assert labels == sorted(round(accuracy[m][s][a], 2) for m, s in groups for a in chance)
    # one dotted chance segment per attribute, at its chance level, over that attribute's group of bars
    chance_lines = [ln for ln in ax.lines if ln.get_linestyle() == ":"]
    assert len(chance_lines) == 3
    for i, (attr, ln) in enumerate(zip(chance, chance_lines)):
        assert tuple(ln.get_ydata()) == pytest.approx((chance[attr],) * 2)
        assert tuple(ln.get_xdata()) == pytest.approx((i - 0.45, i + 0.45))
    assert [t.get_text() for t in ax.get_xticklabels()] == ["colour", "shape", "both"]
    assert ax.get_ylabel() == "accuracy" and ax.get_ylim() == (0, 1.1)
    assert ax.get_title() == "colour and shape read by separate regions"
    assert sorted(texts(ax.get_legend())) == sorted(["chance"] + [f"{s} combinations ({m})" for m, s in groups])


def test_two_region_competition_has_a_row_per_stimulus_and_a_line_per_hypothesis(tmp_path):
    rng = np.random.default_rng(7)
    names = {"colour": ["red", "green", "blue", "yellow"], "shape": ["square", "plus", "cross", "diamond", "tee"]}
    steps, count = 8, 3
    traces = {r: rng.uniform(0, 0.3, (steps + 1, count, len(n))) for r, n in names.items()}
    winners = {"colour": [0, 2, 3], "shape": [4, 1, 0]}
    for r in names:
        for s, w in enumerate(winners[r]):
            traces[r][:, s, w] = np.linspace(0.3, 1.0, steps + 1)
    images = rng.uniform(0, 1, (count, 6, 6, 3))
    labels = ["red tee\n(unseen)", "blue plus\n(unseen, first guess wrong)", "yellow square\n(seen)"]
    line_colours = {"colour": [(0.8, 0, 0), (0, 0.8, 0), (0, 0, 0.8), (0.8, 0.8, 0)]}
    path = tmp_path / "competition.png"
    fig = plot_two_region_competition(traces, names, images, labels, (6, 6, 3), path, line_colours=line_colours)
    assert_png(path)
    axes = np.array(fig.axes).reshape(count, 3)
    assert fig.get_suptitle() == "colour and shape hypotheses over settling"
    tab10 = plt.get_cmap("tab10")
    for r in range(count):
        np.testing.assert_array_equal(axes[r, 0].images[0].get_array(), images[r])
        assert axes[r, 0].get_title() == labels[r]
        for j, region in enumerate(names):
            ax = axes[r, j + 1]
            assert len(ax.lines) == len(names[region])
            for i, ln in enumerate(ax.lines):
                assert ln.get_label() == names[region][i]
                np.testing.assert_array_equal(ln.get_xdata(), np.arange(steps + 1))
                np.testing.assert_array_equal(ln.get_ydata(), traces[region][:, r, i])
                want = line_colours[region][i] if region in line_colours else tab10(i)
                assert to_rgba(ln.get_color()) == pytest.approx(to_rgba(want))
            assert ax.get_title() == f"{region}: reads {names[region][winners[region][r]]}"
            assert ax.get_xlabel() == ("settling step (0 = first guess)" if r == count - 1 else "")
            assert ax.get_ylabel() == ("activity" if j == 0 else "")
            if r == 0:
                leg = ax.get_legend()
                assert texts(leg) == names[region] and leg.get_title().get_text() == f"{region} hypotheses"
            else:
                assert ax.get_legend() is None


def test_rgb_fields_show_each_regions_fields_rescaled_with_spare_cells_hidden(tmp_path):
    rng = np.random.default_rng(8)
    shape = (5, 5, 3)
    fields = {"colour": (rng.normal(0, 1, (4, 75)), ["red", "green", "blue", "cyan"]),
              "shape": (rng.normal(0.5, 1, (6, 75)) * 3, ["square", "plus", "cross", "diamond", "tee", "ell"])}
    path = tmp_path / "fields.png"
    fig = plot_rgb_fields(fields, shape, path)
    assert_png(path)
    axes = np.array(fig.axes).reshape(2, 6)
    assert fig.get_suptitle() == "mean generative field of each hypothesis"
    for r, (region, (F, names)) in enumerate(fields.items()):
        assert axes[r, 0].get_ylabel() == region
        for j in range(6):
            ax = axes[r, j]
            if j >= len(F):
                assert not ax.axison and not ax.images                     # spare cell: nothing shown
                continue
            (im,) = ax.images
            f = np.clip(F[j].reshape(shape), 0, None)
            want = f / f.max()
            np.testing.assert_allclose(im.get_array(), want)
            assert im.get_array().max() == pytest.approx(1.0) and im.get_array().min() >= 0
            assert ax.get_title() == names[j]


# ----- perception as a search -------------------------------------------------------------------------
def test_accuracy_vs_steps_has_a_line_per_condition_with_first_guess_and_baselines(tmp_path):
    steps = [1, 2, 5, 10, 20, 50]
    curves = {"camouflaged": (steps, [0.31, 0.42, 0.55, 0.63, 0.66, 0.67]),
              "clean": (steps, [0.80, 0.86, 0.90, 0.92, 0.93, 0.93])}
    first = {"camouflaged": 0.28, "clean": 0.78}
    baselines = {"camouflaged": {"logistic_regression": 0.5}, "clean": {"logistic_regression": 0.9}}
    path = tmp_path / "accuracy.png"
    fig = plot_accuracy_vs_steps(curves, first, baselines, path, title="IT: accuracy against settling steps")
    assert_png(path)
    (ax,) = fig.axes
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel() == "settling steps" and ax.get_ylabel() == "test accuracy"
    assert ax.get_title() == "IT: accuracy against settling steps"
    assert len(ax.lines) == 6
    by_label = {ln.get_label(): ln for ln in ax.lines}
    tab10 = plt.get_cmap("tab10")
    for i, (cond, (s, acc)) in enumerate(curves.items()):
        settled = by_label[f"{cond}: settled"]
        np.testing.assert_array_equal(settled.get_xdata(), s)
        np.testing.assert_array_equal(settled.get_ydata(), acc)
        fg = by_label[f"{cond}: feed-forward first guess"]
        assert tuple(fg.get_ydata()) == (first[cond],) * 2 and fg.get_linestyle() == "--"
        bl = by_label[f"{cond}: logistic regression"]
        assert tuple(bl.get_ydata()) == (baselines[cond]["logistic_regression"],) * 2 and bl.get_linestyle() == ":"
        for ln in (settled, fg, bl):                                      # a condition keeps one colour
            assert to_rgba(ln.get_color()) == pytest.approx(tab10(i))
    assert sorted(texts(ax.get_legend())) == sorted(by_label)


def test_accuracy_vs_steps_without_references_draws_only_the_settled_curves():
    fig = plot_accuracy_vs_steps({"clean": ([1, 10, 100], [0.5, 0.8, 0.9])})
    (ax,) = fig.axes
    assert [ln.get_label() for ln in ax.lines] == ["clean: settled"]
    assert texts(ax.get_legend()) == ["clean: settled"]


@pytest.mark.parametrize("annotated", [True, False], ids=["labels and winners", "bare"])
def test_snapping_shows_the_input_then_the_prediction_after_each_number_of_steps(tmp_path, annotated):
    rng = np.random.default_rng(9)
    steps = [0, 5, 50]
    images, predictions = rng.uniform(0, 1, (2, 64)), rng.uniform(0, 1, (2, 3, 64))
    winners, labels = np.array([[7, 3, 3], [1, 1, 4]]), np.array([3, 4])
    path = tmp_path / "snapping.png"
    fig = plot_snapping(images, predictions, steps, (8, 8), winners=winners if annotated else None,
                        labels=labels if annotated else None, path=path if annotated else None,
                        title="camouflaged digits snapping")
    if annotated:
        assert_png(path)
    axes = np.array(fig.axes).reshape(2, len(steps) + 1)
    assert fig.get_suptitle() == "camouflaged digits snapping"
    for r in range(2):
        shown = [images[r]] + list(predictions[r])
        for c, ax in enumerate(axes[r]):
            (im,) = ax.images
            np.testing.assert_array_equal(im.get_array(), shown[c].reshape(8, 8))
            assert im.get_clim() == (0, 1)
        titles = [ax.get_title() for ax in axes[r]]
        if annotated:
            assert titles == [f"input (true {labels[r]})", f"first guess: {winners[r, 0]}", f"step 5: {winners[r, 1]}",
                              f"step 50: {winners[r, 2]}"]
        else:
            assert titles == ["input", "first guess", "step 5", "step 50"]


def test_filling_in_shows_occluded_prediction_and_truth_with_the_patch_outlined(tmp_path):
    rng = np.random.default_rng(10)
    occluded, prediction, truth = (rng.uniform(0, 1, (3, 64)) for _ in range(3))
    mask = np.zeros((3, 8, 8), bool)
    mask[0, 2:5, 3:7] = True                                           # rows 2-4, columns 3-6
    mask[1, 0:2, 0:2] = True
    # stimulus 2: nothing occluded, nothing outlined
    path = tmp_path / "filling_in.png"
    fig = plot_filling_in(occluded, prediction, truth, mask.reshape(3, 64), (8, 8), labels=[3, 5, 9],
                          winners=[3, 6, 9], path=path, title="IT fills in a 3x4 block")
    assert_png(path)
    axes = np.array(fig.axes).reshape(3, 3)
    assert fig.get_suptitle() == "IT fills in a 3x4 block"
    boxes = {0: (2.5, 1.5, 4, 3), 1: (-0.5, -0.5, 2, 2)}               # (x, y, width, height) around the patch
    for r in range(3):
        assert [ax.get_title() for ax in axes[r]] == ["occluded input", f"prediction ({[3, 6, 9][r]})",
                                                      f"truth ({[3, 5, 9][r]})"]
        for ax, img in zip(axes[r], (occluded[r], prediction[r], truth[r])):
            (im,) = ax.images
            np.testing.assert_array_equal(im.get_array(), img.reshape(8, 8))
            assert im.get_clim() == (0, 1)
            outlines = [p for p in ax.patches if isinstance(p, Rectangle)]
            if r in boxes:
                (box,) = outlines
                assert (*box.get_xy(), box.get_width(), box.get_height()) == pytest.approx(boxes[r])
                assert not box.get_fill() and box.get_edgecolor() == pytest.approx(to_rgba("tab:red"))
            else:
                assert outlines == []


def test_filling_in_without_labels_uses_plain_titles():
    x = np.zeros((1, 16))
    fig = plot_filling_in(x, x, x, np.ones((1, 16), bool), (4, 4))
    assert [ax.get_title() for ax in fig.axes] == ["occluded input", "prediction", "truth"]


def test_filling_error_compares_methods_per_patch_size_and_follows_the_error_over_steps(tmp_path):
    sizes = [4, 6, 8]
    errors = {"model": [0.02, 0.04, 0.07], "first_guess": [0.05, 0.07, 0.1],
              "mean_image": [0.09, 0.1, 0.11], "true_class_mean": [0.03, 0.05, 0.06]}
    curve_steps = [0, 1, 5, 20, 100]
    curves = {s: (curve_steps, list(np.linspace(0.1, 0.02, 5) * s / 4)) for s in sizes}
    path = tmp_path / "filling_error.png"
    fig = plot_filling_error(sizes, errors, curves, path=path, title="filling in an occluded block")
    assert_png(path)
    left, right = fig.axes
    assert fig.get_suptitle() == "filling in an occluded block"
    assert [ln.get_label() for ln in left.lines] == ["model", "first guess", "mean image", "true class mean"]
    for ln, (method, values) in zip(left.lines, errors.items()):
        np.testing.assert_array_equal(ln.get_xdata(), sizes)
        np.testing.assert_array_equal(ln.get_ydata(), values)
    assert [(ln.get_marker(), ln.get_linestyle()) for ln in left.lines] == [("o", "-"), ("s", "--"), ("^", ":"),
                                                                            ("^", ":")]
    np.testing.assert_array_equal(left.get_xticks(), sizes)
    assert [t.get_text() for t in left.get_xticklabels()] == ["4x4", "6x6", "8x8"]
    assert left.get_xlabel() == "occluded patch"
    assert left.get_ylabel() == right.get_ylabel() == "mean squared error inside the patch"
    assert texts(left.get_legend()) == ["model", "first guess", "mean image", "true class mean"]
    # right: one line per patch size over log steps, the first guess (step 0) drawn at 0.5
    assert right.get_xscale() == "log"
    assert right.get_xlabel() == "settling steps (leftmost: first guess)"
    assert len(right.lines) == len(sizes)
    for ln, (size, (s, err)) in zip(right.lines, curves.items()):
        np.testing.assert_array_equal(ln.get_xdata(), [0.5, 1, 5, 20, 100])
        np.testing.assert_array_equal(ln.get_ydata(), err)
    leg = right.get_legend()
    assert texts(leg) == ["4x4", "6x6", "8x8"] and leg.get_title().get_text() == "patch"


def test_filling_error_without_curves_has_one_panel():
    fig = plot_filling_error([2, 4], {"model": [0.1, 0.2]})
    (ax,) = fig.axes
    assert ax.get_title() == "against baselines"
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), [0.1, 0.2])
