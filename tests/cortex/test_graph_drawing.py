"""Drawing a region graph at any size: levels along input edges, no overlaps, a canvas that grows, cycles, HTML."""
import json
import re

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402
from matplotlib.patches import FancyArrowPatch  # noqa: E402
from PIL import Image  # noqa: E402

from cortex.bench.workloads import hierarchy_data, w2_data  # noqa: E402
from cortex.cli import main  # noqa: E402
from cortex.graph import build_graph  # noqa: E402
from cortex.plotting import graph_layout, plot_graph, plt  # noqa: E402
from cortex.plotting.graph import CONTEXT_STYLE, DELAYED_STYLE, INPUT_STYLE  # noqa: E402
from cortex.plotting.graph_html import graph_html  # noqa: E402
from cortex.spec import load_spec, spec_from_dict  # noqa: E402

CYCLE = """
name: loop
inputs:
  x: {shape: [4]}
regions:
  A: {hypotheses: 3, inputs: [x, B]}
  B: {hypotheses: 2, inputs: [A]}
  C: {hypotheses: 2, inputs: [B]}
connections:
  - {from: C, to: A, role: context, delay: 2}
"""


def graph_of(data):
    return build_graph(spec_from_dict(data))


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module", params=["hierarchy", "w2"])
def big(request):
    make = hierarchy_data if request.param == "hierarchy" else w2_data
    return graph_of(make(regions=60, hypotheses=4, sensor_size=8))


def test_levels_rise_along_every_input_edge(big):
    layout = graph_layout(big)
    assert not layout.back_edges
    for u, v, d in big.edges(data=True):
        if d["role"] == "input":
            assert layout.level[v] > layout.level[u], (u, v)
            assert layout.pos[v][1] > layout.pos[u][1]
    sensors = [n for n, d in big.nodes(data=True) if d["type"] == "input"]
    assert {layout.level[s] for s in sensors} == {0}
    assert all(layout.pos[n][1] > max(layout.pos[s][1] for s in sensors) for n in big if n not in sensors)


def test_no_two_nodes_overlap_and_everything_is_on_the_canvas(big):
    layout = graph_layout(big)
    nodes = list(big)
    xy = np.array([layout.pos[n] for n in nodes])
    half = np.array([layout.half[n] for n in nodes])
    apart_x = np.abs(xy[:, None, 0] - xy[None, :, 0]) >= half[:, None, 0] + half[None, :, 0]
    apart_y = np.abs(xy[:, None, 1] - xy[None, :, 1]) >= half[:, None, 1] + half[None, :, 1]
    clash = ~(apart_x | apart_y)
    np.fill_diagonal(clash, False)
    assert not clash.any(), [(nodes[i], nodes[j]) for i, j in zip(*np.nonzero(clash))][:5]
    assert (xy - half >= 0).all() and (xy[:, 0] + half[:, 0] <= layout.width).all()
    assert (xy[:, 1] + half[:, 1] <= layout.height).all()


def test_a_180_region_graph_stays_apart_too():
    g = graph_of(hierarchy_data(regions=180, hypotheses=4, sensor_size=8))
    layout = graph_layout(g)
    xy = np.array([layout.pos[n] for n in g])
    r = np.array([layout.half[n][0] for n in g])
    d = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    np.fill_diagonal(d, np.inf)
    assert (d >= (r[:, None] + r[None, :]) * 0.99).all()
    assert layout.width < 3 * layout.height + 1600      # levels too wide are staggered, not a strip


def test_cortex_draw_of_60_regions_is_at_least_1200_px_wide(tmp_path, capsys):
    path = tmp_path / "g60.yaml"
    path.write_text(yaml.safe_dump(hierarchy_data(regions=60, hypotheses=4, sensor_size=8)))
    main(["draw", str(path), "--out", str(tmp_path / "g60.png")])
    assert re.search(r"wrote .*g60.png \(\d+x\d+ px, 60 regions\)", capsys.readouterr().out)
    with Image.open(tmp_path / "g60.png") as img:
        assert img.width >= 1200
    main(["draw", "digits", "--out", str(tmp_path / "small.png")])
    with Image.open(tmp_path / "small.png") as img:
        assert img.width < 1200                           # and a small graph gets a small canvas


def test_roles_are_styled_apart_and_delays_are_labelled():
    g = build_graph(load_spec(text=CYCLE))
    fig = plot_graph(g)
    ax = fig.axes[0]
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    assert len(arrows) == g.number_of_edges()
    colours = {matplotlib.colors.to_hex(p.get_edgecolor()) for p in arrows}
    assert colours == {INPUT_STYLE["color"], DELAYED_STYLE["color"]}
    solid = [p for p in arrows if matplotlib.colors.to_hex(p.get_edgecolor()) == INPUT_STYLE["color"]]
    dashed = [p for p in arrows if p not in solid]
    assert all(p.get_linestyle() == "-" for p in solid) and all(p.get_linestyle() != "-" for p in dashed)
    assert "delay 2" in [t.get_text() for t in ax.texts]
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[:2] == ["input (explained by the region above)", "delayed context (frames)"]
    assert CONTEXT_STYLE["color"] != INPUT_STYLE["color"]


def test_an_input_cycle_is_drawn_not_a_crash(tmp_path):
    g = build_graph(load_spec(text=CYCLE))
    layout = graph_layout(g)
    assert len(layout.back_edges) == 1 and set(layout.pos) == set(g)
    (u, v), = layout.back_edges
    assert {u, v} == {"A", "B"} and layout.level["C"] > layout.level["B"] > layout.level["A"] > layout.level["x"]
    plot_graph(g, path=tmp_path / "loop.png")
    assert (tmp_path / "loop.png").stat().st_size > 1000


def test_html_view_holds_every_node_with_its_parameters(tmp_path, capsys):
    path = tmp_path / "g.yaml"
    path.write_text(yaml.safe_dump(hierarchy_data(regions=30, hypotheses=5, sensor_size=8)))
    main(["draw", str(path), "--html", "--out", str(tmp_path / "g.html")])
    assert "interactive, 30 regions" in capsys.readouterr().out
    text = (tmp_path / "g.html").read_text()
    assert "plotly" in text.lower() and '"scrollZoom": true' in text and '"dragmode":"pan"' in text
    spec = spec_from_dict(yaml.safe_load(path.read_text()))
    figure = json.loads(re.search(r"Plotly\.newPlot\(\s*\"[^\"]+\",\s*(\[.*?\]),\s*\{", text, re.S).group(1))
    shown = {name for trace in figure if trace.get("mode") == "markers+text" for name in trace["text"]}
    assert shown == set(spec.regions) | set(spec.inputs)
    hover = " ".join(h for trace in figure if trace.get("mode") == "markers+text" for h in trace["hovertext"])
    assert "hypotheses: 5" in hover and "competition: lateral" in hover and "explains: retina" in hover


def test_html_is_written_atomically_next_to_nothing_else(tmp_path):
    g = build_graph(load_spec(text=CYCLE))
    out = graph_html(g, tmp_path / "loop.html")
    assert [p.name for p in tmp_path.iterdir()] == ["loop.html"] and out.stat().st_size > 10_000


SHEET = """
name: sheet
inputs:
  retina: {shape: [8, 8]}
  left: {of: retina, rows: [0, 8], cols: [0, 4]}
  right: {of: retina, rows: [0, 8], cols: [4, 8]}
regions:
  L: {hypotheses: 3, inputs: [left]}
  R: {hypotheses: 3, inputs: [right]}
  V2: {hypotheses: 2, inputs: [L, R]}
"""


def test_windows_are_drawn_above_their_sensor_with_a_link_each(tmp_path):
    g = build_graph(load_spec(text=SHEET))
    layout = graph_layout(g)
    assert layout.level["retina"] == 0 and layout.level["left"] == layout.level["right"] == 1
    assert layout.level["L"] == 2 and layout.level["V2"] == 3
    fig = plot_graph(g)
    links = [p for p in fig.axes[0].patches if isinstance(p, FancyArrowPatch) and p.get_gid() == "window"]
    assert len(links) == 2 and g.number_of_edges() == 4            # the links are drawn, not edges of the graph
    assert "window (cut from the sensor)" in [t.get_text() for t in fig.legends[0].get_texts()]
    text = graph_html(g, tmp_path / "g.html").read_text()
    assert "window (cut from the sensor)" in text
