"""Figures render to files with the content a reader needs: labelled axes, one line per hypothesis, every frame."""
import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from cortex.errors import StimulusError  # noqa: E402
from cortex.model import Model  # noqa: E402
from cortex.plotting import plot_competition, plot_energy, plot_fields, plot_graph, plt  # noqa: E402
from cortex.plotting.settling import (animate_settling, plot_hypothesis_activity, plot_region_energy,  # noqa: E402
                                      settling_explorer)
from cortex.spec import load_spec  # noqa: E402

GRAPH = """
name: two-level
seed: 1
inputs:
  retina: {shape: [4, 4]}
regions:
  V1: {kind: predictive, hypotheses: 6, inputs: [retina], competition: lateral, inhibition: 0.1, sparsity: 0.02}
  IT: {kind: predictive, hypotheses: 3, inputs: [V1], competition: softmax, precision: 2.0}
connections:
  - {from: IT, to: V1, role: context}
settle: {steps: 12, rate: 0.5, tol: 0}
"""
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def model():
    return Model(load_spec(text=GRAPH))


@pytest.fixture(scope="module")
def recorded(model):
    x = np.random.default_rng(0).uniform(0, 1, (3, 16)).astype(np.float32)
    return model.settle({"retina": x}, record=True, noise=False)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_hypothesis_activity_has_a_heat_map_and_a_line_per_hypothesis_for_each_region(recorded, tmp_path):
    path = tmp_path / "activity.png"
    fig = plot_hypothesis_activity(recorded, stimulus=2, names={"IT": ["cat", "dog", "jar"]}, path=path)
    assert path.read_bytes()[:8] == PNG
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(panels) == 4                                           # (heat map, lines) x (V1, IT)
    heat_v1, lines_v1, heat_it, lines_it = panels
    assert heat_v1.get_ylabel() == "V1: hypothesis" and heat_it.get_ylabel() == "IT: hypothesis"
    assert len(heat_v1.images) == 1 and heat_v1.images[0].get_array().shape == (6, 13)   # hypotheses x (steps + 1)
    assert len(lines_v1.lines) == 6 and len(lines_it.lines) == 3
    assert [t.get_text() for t in lines_it.get_legend().get_texts()] != []
    assert {t.get_text() for t in lines_it.get_legend().get_texts()} == {"cat", "dog", "jar"}
    assert lines_it.get_xlabel().startswith("settling step")
    winner = ["cat", "dog", "jar"][int(np.argmax(recorded.trace["IT"][-1, 2]))]
    assert f"winner {winner}" in lines_it.get_title()
    np.testing.assert_allclose(lines_it.lines[0].get_ydata().max(), recorded.trace["IT"][:, 2].max(axis=0).max())


def test_line_view_keeps_only_the_strongest_hypotheses(recorded):
    fig = plot_hypothesis_activity(recorded, regions="V1", lines=2)
    lines = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"][1]
    assert len(lines.lines) == 2
    peaks = recorded.trace["V1"][:, 0].max(axis=0)
    assert sorted(line.get_ydata().max() for line in lines.lines) == pytest.approx(sorted(peaks)[-2:])


def test_region_energy_draws_the_total_and_every_region(recorded, tmp_path):
    fig = plot_region_energy(recorded, path=tmp_path / "energy.png")
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.lines] == ["total (step 0 = first guess)", "V1", "IT"]
    total = ax.lines[0].get_ydata()
    assert total[0] == pytest.approx(recorded.start_energy) and len(total) == recorded.steps + 1
    assert ax.get_xlabel() == "settling step" and ax.get_ylabel() == "energy per stimulus"


def test_graph_colours_regions_by_their_strongest_hypothesis(model, recorded, tmp_path):
    activity = {r: a[0] for r, a in recorded.activity.items()}
    fig = plot_graph(model.graph, path=tmp_path / "graph.png", activity=activity)
    assert len(fig.axes) == 2 and "activity" in fig.axes[1].get_xlabel()     # the colour bar says what colour means
    plain = plot_graph(model.graph)
    assert len(plain.axes) == 1
    assert {t.get_text().split("\n")[0] for t in plain.axes[0].texts} == {"retina", "V1", "IT"}


def test_gif_has_one_frame_per_step_sampled_and_the_last_step(model, recorded, tmp_path):
    path = tmp_path / "settling.gif"
    frames = animate_settling(recorded, model.graph, path, every=5)
    assert frames == 4                                   # steps 0, 5, 10 and the final 12
    with Image.open(path) as gif:
        assert gif.format == "GIF" and gif.n_frames == 4


def test_explorer_falls_back_to_a_static_figure_outside_jupyter(model, recorded):
    fig = settling_explorer(recorded, model.graph, stimulus=1)
    assert isinstance(fig, matplotlib.figure.Figure)
    assert fig.axes[0].get_title() == f"step {recorded.steps}"


def test_clear_errors_for_what_a_figure_cannot_show(model, recorded, tmp_path):
    unrecorded = model.settle({"retina": np.zeros((2, 16), np.float32)}, noise=False)
    with pytest.raises(StimulusError, match="record=True"):
        plot_hypothesis_activity(unrecorded)
    with pytest.raises(StimulusError, match="unknown region"):
        plot_hypothesis_activity(recorded, regions="V9")
    with pytest.raises(StimulusError, match="out of range"):
        animate_settling(recorded, model.graph, tmp_path / "x.gif", stimulus=3)
    with pytest.raises(StimulusError, match="expected 3, got 2"):
        plot_hypothesis_activity(recorded, names={"IT": ["a", "b"]})
    with pytest.raises(StimulusError, match="steps=0"):
        plot_region_energy(model.settle({"retina": np.zeros((2, 16), np.float32)}, steps=0))
    assert not (tmp_path / "x.gif").exists()


def test_generic_figures_have_their_content(tmp_path):
    fields = np.random.default_rng(0).normal(size=(12, 16))
    fig = plot_fields(fields, (4, 4), path=tmp_path / "f.png", labels=list("abcdefghijkl"))
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 12 and shown[3].get_title() == "d"
    fig = plot_energy({"clean": [3, 2, 1], "noisy": [4, 3, 2.5]}, path=tmp_path / "e.png")
    assert [line.get_label() for line in fig.axes[0].lines] == ["clean", "noisy"]
    trace = np.random.default_rng(1).uniform(size=(5, 2, 3))
    fig = plot_competition(trace, hypothesis_names=["x", "y", "z"], labels=[0, 1], path=tmp_path / "c.png")
    assert all(len(ax.lines) == 3 for ax in fig.axes)
    assert (tmp_path / "c.png").read_bytes()[:8] == PNG
