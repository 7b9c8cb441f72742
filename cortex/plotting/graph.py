"""The region graph as a PNG that stays readable at any size: levels, routed edges, styled roles, a legend.

Sensors are squares at the bottom, regions circles above what they explain (see :mod:`.layout`). Input edges
are solid and dark, context edges dashed and orange, delayed context dash-dotted and purple with its delay
written beside it, a teacher (the input that clamps a region while training) dotted and green; precisions
other than 1 are written where there is room. The canvas grows with the graph
(one pixel of the layout is one pixel of the PNG), so a node never shrinks below its label.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Patch
from matplotlib.path import Path

from .core import save_figure
from .layout import Layout, layered_layout, node_label, teacher_links, window_links

DPI = 110
INPUT_STYLE = {"color": "#2c3e50", "linestyle": "-", "lw": 1.3}
CONTEXT_STYLE = {"color": "#e67e22", "linestyle": (0, (5, 3)), "lw": 1.1}
DELAYED_STYLE = {"color": "#8e44ad", "linestyle": (0, (6, 2, 1.5, 2)), "lw": 1.1}
TEACHER_STYLE = {"color": "#27ae60", "linestyle": (0, (1, 2)), "lw": 1.6}
WINDOW_STYLE = {"color": "#7f8c8d", "linestyle": (0, (2, 2)), "lw": 1.2}
FILLS = {"softmax": "#a1d99b", "lateral": "#9ecae1", "none": "#c6dbef"}
SENSOR_FILL, OTHER_FILL = "#e0e0e0", "#fdd0a2"
EDGE_LABELS_UP_TO = 30       # precision labels only while the graph has at most this many edges


def graph_layout(graph: nx.DiGraph) -> Layout:
    """The layout :func:`plot_graph` uses (pass it as ``pos`` to draw many frames of one graph)."""
    return layered_layout(graph)


def plot_graph(graph: nx.DiGraph, path=None, activity: dict | None = None, title=None, ax=None, pos=None,
               vmax: float | None = None):
    """Draw the region graph by levels, sensors at the bottom.

    Parameters
    ----------
    graph : networkx.DiGraph
        ``model.graph`` or :func:`cortex.graph.build_graph` of a spec.
    path : str or path, optional
        Write the PNG there (atomically).
    activity : dict, optional
        Region -> that region's activity for one stimulus; each region is coloured by its strongest
        hypothesis' activity, so a region that settled on one interpretation lights up.
    title : str, optional
    ax : matplotlib Axes, optional
        Draw into it (scaled to fit) instead of a new figure sized to the graph.
    pos : Layout, optional
        A layout from :func:`graph_layout`, to reuse across frames.
    vmax : float, optional
        Top of the activity colour scale.

    Returns
    -------
    matplotlib.figure.Figure
    """
    layout = pos if isinstance(pos, Layout) else graph_layout(graph)
    standalone = ax is None
    if standalone:
        rows = -(-len(_legend(graph, activity)) // max(1, int(layout.width // 250)))
        fig_h = layout.height + 34 + 18 * rows
        fig = plt.figure(figsize=(layout.width / DPI, fig_h / DPI), dpi=DPI)
        ax = fig.add_axes((0, 0, 1, layout.height / fig_h))
        scale = 1.0
        ax.set_xlim(0, layout.width)
        ax.set_ylim(0, layout.height)
    else:            # fit the drawing (not the whole canvas) into the given axes, fonts scaled with it
        fig = ax.figure
        xs = [layout.pos[n][0] + s * layout.half[n][0] for n in graph.nodes for s in (-1, 1)]
        ys = [layout.pos[n][1] + s * layout.half[n][1] for n in graph.nodes for s in (-1, 1)]
        pad = 1.8 * max(h for h, _ in layout.half.values())
        x0, x1, y0, y1 = min(xs) - pad, max(xs) + pad, min(ys) - 0.5 * pad, max(ys) + pad
        box = ax.get_window_extent()
        scale = float(np.clip(min(box.width / (x1 - x0), box.height / (y1 - y0)) * DPI / fig.dpi, 0.3, 1.2))
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
    font = 8 * scale
    ax.set_aspect("equal")
    ax.axis("off")

    n_edges = graph.number_of_edges()
    crowded = n_edges > 150
    edge_labels = n_edges <= EDGE_LABELS_UP_TO
    for u, v, d in graph.edges(data=True):
        _draw_edge(ax, layout, u, v, d, crowded, edge_labels, font)
    for links, style, gid in ((teacher_links(graph), TEACHER_STYLE, "teacher"),
                              (window_links(graph), WINDOW_STYLE, "window")):
        for u, v in links:
            route = layout.routes.get((u, v), [])
            points = [boundary(layout, u, (route or [layout.pos[v]])[0]), *map(np.asarray, route),
                      boundary(layout, v, (route or [layout.pos[u]])[-1])]
            ax.add_patch(FancyArrowPatch(path=_smooth(points), color=style["color"], lw=style["lw"],
                                         linestyle=style["linestyle"], arrowstyle="-|>", mutation_scale=10,
                                         zorder=2, gid=gid))

    colours = _node_colours(graph, activity, vmax)
    for node in graph.nodes:
        x, y = layout.pos[node]
        hw, hh = layout.half[node]
        face, mappable = colours[node]
        if graph.nodes[node].get("type") == "input":
            shape = FancyBboxPatch((x - hw, y - hh), 2 * hw, 2 * hh, boxstyle="round,pad=0,rounding_size=4",
                                   fc=face, ec="#555555", lw=1.0, zorder=3)
        else:
            shape = Circle((x, y), hw, fc=face, ec="#34495e", lw=1.0, zorder=3)
        ax.add_patch(shape)
        ax.text(x, y, node_label(graph, node), ha="center", va="center", fontsize=font, zorder=4,
                linespacing=1.05, color="white" if mappable and _dark(face) else "black")

    if activity and fig.get_axes()[-1] is ax:   # one colour bar per figure, also when an animation redraws
        sm = plt.cm.ScalarMappable(cmap="magma_r", norm=plt.Normalize(0.0, colours["__top__"]))
        fig.colorbar(sm, ax=ax, shrink=0.6, pad=0.02, orientation="horizontal", label="strongest hypothesis' activity")
    title = title or f"region graph {graph.graph.get('name', '')}"
    if standalone:   # title, then the legend under it, in the band above the drawing
        fig.text(8 / layout.width, 1 - 6 / fig_h, title, fontsize=10, ha="left", va="top", weight="bold")
        fig.legend(handles=_legend(graph, activity), loc="upper left", bbox_to_anchor=(0, 1 - 26 / fig_h),
                   ncol=min(5, max(1, int(layout.width // 250))), frameon=False, fontsize=8, handlelength=3.2)
    else:
        ax.set_title(title, fontsize=10 * max(scale, 0.8))
    return save_figure(fig, path)


def _node_colours(graph, activity, vmax) -> dict:
    out = {}
    cmap = plt.get_cmap("magma_r")
    regions = [n for n, d in graph.nodes(data=True) if d.get("type") != "input"]
    top = 1.0
    if activity:
        strength = {n: float(np.max(activity[n])) for n in regions if n in activity}
        top = vmax if vmax is not None else max(max(strength.values(), default=0.0), 1e-12)
    for n, d in graph.nodes(data=True):
        if d.get("type") == "input":
            out[n] = (SENSOR_FILL, False)
        elif activity and n in activity:
            out[n] = (cmap(min(1.0, strength[n] / top) * 0.85 + 0.05), True)
        else:
            out[n] = (FILLS.get(d.get("competition"), OTHER_FILL) if d.get("kind", "predictive") == "predictive"
                      else OTHER_FILL, False)
    out["__top__"] = top
    return out


def _dark(colour) -> bool:
    r, g, b = colour[:3]
    return 0.299 * r + 0.587 * g + 0.114 * b < 0.45


def boundary(layout: Layout, node, towards) -> np.ndarray:
    """Where the segment from ``node``'s centre towards ``towards`` leaves its shape."""
    c = np.asarray(layout.pos[node], float)
    d = np.asarray(towards, float) - c
    norm = np.hypot(*d)
    if norm < 1e-9:
        return c
    hw, hh = layout.half[node]
    if hw == hh:                                 # a circle
        return c + d / norm * hw
    t = min(hw / abs(d[0]) if d[0] else np.inf, hh / abs(d[1]) if d[1] else np.inf)
    return c + d * t


def _draw_edge(ax, layout: Layout, u, v, d, crowded: bool, labels: bool, font: float) -> None:
    role, delay, precision = d.get("role"), int(d.get("delay", 0) or 0), float(d.get("precision", 1.0))
    style = INPUT_STYLE if role == "input" else DELAYED_STYLE if delay else CONTEXT_STYLE
    alpha = (0.55 if role == "input" else 0.3) if crowded else 0.9
    kw = dict(color=style["color"], linestyle=style["linestyle"], lw=style["lw"], alpha=alpha,
              arrowstyle="-|>", mutation_scale=9 + 3 * (not crowded), zorder=2 if role == "input" else 1)
    text = [f"delay {delay}"] if delay else []
    if labels and precision != 1.0:
        text.append(f"π {precision:g}")
    if u == v:                                  # a delayed self-prediction: a loop on the node's upper right
        x, y = layout.pos[u]
        r = layout.half[u][0]
        a0, a1 = np.deg2rad(70), np.deg2rad(10)
        p0 = (x + r * np.cos(a0), y + r * np.sin(a0))
        p3 = (x + r * np.cos(a1), y + r * np.sin(a1))
        reach = 1.4 * r
        verts = [p0, (p0[0] + 0.3 * reach, p0[1] + reach), (p3[0] + reach, p3[1] + 0.3 * reach), p3]
        ax.add_patch(FancyArrowPatch(path=Path(verts, [Path.MOVETO, Path.CURVE4, Path.CURVE4, Path.CURVE4]), **kw))
        where = (x + 1.2 * r, y + 1.95 * r)
    else:
        bends = layout.routes.get((u, v), []) if role == "input" else []
        start = boundary(layout, u, bends[0] if bends else layout.pos[v])
        end = boundary(layout, v, bends[-1] if bends else layout.pos[u])
        if role == "input" and (u, v) not in layout.back_edges:
            points = [start, *map(np.asarray, bends), end]
            ax.add_patch(FancyArrowPatch(path=_smooth(points), **kw))
            where = points[len(points) // 2] if len(points) > 2 else (start + end) / 2
        else:                                   # context edges and loop-closing inputs: an arc, clear of the levels
            rad = 0.25 if role == "context" else -0.35
            ax.add_patch(FancyArrowPatch(start, end, connectionstyle=f"arc3,rad={rad}", shrinkA=0, shrinkB=0, **kw))
            mid, normal = (start + end) / 2, np.array([end[1] - start[1], start[0] - end[0]])
            where = mid + rad * normal / 2
    if text:
        ax.text(*where, "\n".join(text), fontsize=font * 0.85, color=style["color"], ha="center", va="center",
                zorder=5, bbox={"fc": "white", "ec": "none", "alpha": 0.8, "pad": 0.6})


def _smooth(points) -> Path:
    """A curve through the midpoints of the polyline ``points`` (quadratic pieces), ending on its ends."""
    pts = [np.asarray(p, float) for p in points]
    if len(pts) == 2:
        return Path(pts, [Path.MOVETO, Path.LINETO])
    verts, codes = [pts[0], (pts[0] + pts[1]) / 2], [Path.MOVETO, Path.LINETO]
    for i in range(1, len(pts) - 1):
        verts += [pts[i], (pts[i] + pts[i + 1]) / 2 if i < len(pts) - 2 else pts[-1]]
        codes += [Path.CURVE3, Path.CURVE3]
    return Path(verts, codes)


def _legend(graph, activity) -> list:
    """Legend entries for what this graph has: edge roles, sensors, region competitions."""
    roles = {(d.get("role"), bool(d.get("delay"))) for _, _, d in graph.edges(data=True)}
    handles = []
    if ("input", False) in roles:
        handles.append(Line2D([], [], **INPUT_STYLE, label="input (explained by the region above)"))
    if ("context", False) in roles:
        handles.append(Line2D([], [], **CONTEXT_STYLE, label="context (a prior from the source)"))
    if ("context", True) in roles:
        handles.append(Line2D([], [], **DELAYED_STYLE, label="delayed context (frames)"))
    if teacher_links(graph):
        handles.append(Line2D([], [], **TEACHER_STYLE, label="teacher (clamps the region while training)"))
    if window_links(graph):
        handles.append(Line2D([], [], **WINDOW_STYLE, label="window (cut from the sensor)"))
    handles.append(Patch(fc=SENSOR_FILL, ec="#555555", label="sensor"))
    if not activity:
        kinds = {d.get("competition") if d.get("kind", "predictive") == "predictive" else "other"
                 for _, d in graph.nodes(data=True) if d.get("type") != "input"}
        for kind in ("lateral", "none", "softmax"):
            if kind in kinds:
                handles.append(Patch(fc=FILLS[kind], ec="#34495e", label=f"region ({kind} competition)"))
        if "other" in kinds:
            handles.append(Patch(fc=OTHER_FILL, ec="#34495e", label="region (another kind)"))
    return handles


__all__ = ["graph_layout", "plot_graph"]
