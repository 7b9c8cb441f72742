"""The region graph as one self-contained interactive HTML page: pan, zoom, hover for a region's parameters.

Why plotly: it is actively maintained, writes a single HTML file that works offline (the library is inlined),
pans and zooms with the mouse out of the box, and shows rich hover text. The page uses the same layered
layout as the PNG (:mod:`.layout`), so the two views agree; for a 180-region graph it is the comfortable one.
"""
from __future__ import annotations

import os
from pathlib import Path

import networkx as nx
import numpy as np

from ..atomic import atomic_write
from ..errors import CortexError
from .graph import (CONTEXT_STYLE, DELAYED_STYLE, FILLS, INPUT_STYLE, OTHER_FILL, SENSOR_FILL, TEACHER_STYLE,
                    WINDOW_STYLE, boundary, graph_layout)
from .layout import teacher_links, window_links

_DASH = {id(INPUT_STYLE): "solid", id(CONTEXT_STYLE): "dash", id(DELAYED_STYLE): "dashdot", id(TEACHER_STYLE): "dot",
         id(WINDOW_STYLE): "dot"}


def graph_html(graph: nx.DiGraph, path: str | os.PathLike, title: str | None = None) -> Path:
    """Write an interactive view of ``graph`` to ``path`` (atomically) and return the path.

    Parameters
    ----------
    graph : networkx.DiGraph
        ``model.graph`` or :func:`cortex.graph.build_graph` of a spec.
    path : str or path
        The ``.html`` file to write; it needs no network to open.
    title : str, optional

    Returns
    -------
    pathlib.Path
    """
    try:
        import plotly.graph_objects as go
    except ImportError:
        raise CortexError("the interactive view needs plotly: pip install 'cortex-sim[html]'") from None
    layout = graph_layout(graph)
    traces, links = [], {"teacher": teacher_links, "window": window_links}
    for label, style, keep in (("input (explained by the region above)", INPUT_STYLE, _is_input),
                               ("context (a prior from the source)", CONTEXT_STYLE, _is_context),
                               ("delayed context", DELAYED_STYLE, _is_delayed),
                               ("teacher (clamps the region while training)", TEACHER_STYLE, "teacher"),
                               ("window (cut from the sensor)", WINDOW_STYLE, "window")):
        edges = ([(u, v, {"role": keep}) for u, v in links[keep](graph)] if isinstance(keep, str) else
                 [(u, v, d) for u, v, d in graph.edges(data=True) if keep(d)])
        if not edges:
            continue
        xs, ys, heads, hover = [], [], [], []
        for u, v, d in edges:
            pts = _edge_points(layout, u, v, d)
            xs += list(pts[:, 0]) + [None]
            ys += list(pts[:, 1]) + [None]
            dx, dy = pts[-1] - pts[-2]
            heads.append((*pts[-1], 90 - np.degrees(np.arctan2(dy, dx))))
            mid = pts[len(pts) // 2]
            hover.append((*mid, f"{u} → {v}<br>{d.get('role')}" + ("" if d.get("role") in ("teacher", "window") else
                                f", delay {d.get('delay', 0)}, precision {d.get('precision', 1.0):g}")))
        group = label
        traces.append(go.Scatter(x=xs, y=ys, mode="lines", name=label, legendgroup=group, hoverinfo="skip",
                                 line={"color": style["color"], "width": style["lw"], "dash": _DASH[id(style)]},
                                 opacity=0.75))
        h = np.asarray(heads, dtype=float)
        traces.append(go.Scatter(x=h[:, 0], y=h[:, 1], mode="markers", legendgroup=group, showlegend=False,
                                 hoverinfo="skip", marker={"symbol": "triangle-up", "size": 8, "angle": h[:, 2],
                                                           "color": style["color"]}))
        traces.append(go.Scatter(x=[p[0] for p in hover], y=[p[1] for p in hover], mode="markers",
                                 legendgroup=group, showlegend=False, hovertext=[p[2] for p in hover],
                                 hoverinfo="text", marker={"size": 10, "color": "rgba(0,0,0,0)"}))
    for label, is_input in (("sensor", True), ("region", False)):
        nodes = [n for n, d in graph.nodes(data=True) if (d.get("type") == "input") == is_input]
        if not nodes:
            continue
        traces.append(go.Scatter(
            x=[layout.pos[n][0] for n in nodes], y=[layout.pos[n][1] for n in nodes], mode="markers+text",
            name=label, text=[str(n) for n in nodes], textposition="middle center", textfont={"size": 10},
            hovertext=[_describe(graph, n) for n in nodes], hoverinfo="text",
            marker={"symbol": "square" if is_input else "circle", "line": {"width": 1, "color": "#34495e"},
                    "size": [2 * layout.half[n][0] * 0.9 for n in nodes],
                    "color": [_fill(graph.nodes[n]) for n in nodes]}))
    fig = go.Figure(traces)
    fig.update_layout(   # one pixel of the layout is one pixel on screen at first, so nodes never overlap
        title=title or f"region graph {graph.graph.get('name', '')}: drag to pan, scroll to zoom, hover a region",
        dragmode="pan", hovermode="closest", plot_bgcolor="white", width=int(layout.width) + 20,
        height=int(layout.height) + 90,
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom"}, margin={"l": 10, "r": 10, "t": 80, "b": 10},
        xaxis={"visible": False}, yaxis={"visible": False, "scaleanchor": "x", "scaleratio": 1})
    html = fig.to_html(include_plotlyjs=True, full_html=True, config={"scrollZoom": True, "displaylogo": False})
    path = Path(path)
    with atomic_write(path, "w") as f:
        f.write(html)
    return path


def _is_input(d) -> bool:
    return d.get("role") == "input"


def _is_context(d) -> bool:
    return d.get("role") == "context" and not d.get("delay")


def _is_delayed(d) -> bool:
    return d.get("role") == "context" and bool(d.get("delay"))


def _fill(attrs) -> str:
    if attrs.get("type") == "input":
        return SENSOR_FILL
    if attrs.get("kind", "predictive") != "predictive":
        return OTHER_FILL
    return FILLS.get(attrs.get("competition"), OTHER_FILL)


def _describe(graph: nx.DiGraph, node) -> str:
    """Hover text: the node's parameters and its connections."""
    attrs = graph.nodes[node]
    lines = [f"<b>{node}</b> ({'sensor' if attrs.get('type') == 'input' else 'region'})"]
    for key, value in attrs.items():
        if key != "type" and value is not None:
            lines.append(f"{key}: {value}")
    ins = [u for u, _, d in graph.in_edges(node, data=True) if d.get("role") == "input"]
    ctx = [u for u, _, d in graph.in_edges(node, data=True) if d.get("role") == "context"]
    if ins:
        lines.append(f"explains: {', '.join(map(str, ins))}")
    if ctx:
        lines.append(f"context from: {', '.join(map(str, ctx))}")
    return "<br>".join(lines)


def _edge_points(layout, u, v, d) -> np.ndarray:
    """Polyline of an edge: through its waypoints (input edges) or a sampled arc (context, loops)."""
    a, b = np.asarray(layout.pos[u], float), np.asarray(layout.pos[v], float)
    if u == v:
        r = layout.half[u][0]
        t = np.linspace(np.deg2rad(70), np.deg2rad(-250), 24)
        return np.stack([a[0] + 0.9 * r + 0.9 * r * np.cos(t), a[1] + 0.9 * r + 0.9 * r * np.sin(t)], axis=1)
    if d.get("role") in ("input", "teacher", "window") and (u, v) not in layout.back_edges:
        pts = np.asarray([a, *layout.routes.get((u, v), []), b], float)
    else:
        rad = 0.25 if d.get("role") == "context" else -0.35
        control = (a + b) / 2 + rad * np.array([b[1] - a[1], a[0] - b[0]])
        t = np.linspace(0, 1, 16)[:, None]
        pts = (1 - t) ** 2 * a + 2 * (1 - t) * t * control + t ** 2 * b
    pts[0], pts[-1] = boundary(layout, u, pts[1]), boundary(layout, v, pts[-2])   # arrowheads stay visible
    return pts
