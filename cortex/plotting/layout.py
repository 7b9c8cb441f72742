"""Layered layout of a region graph: the senses at the bottom, every region above what it explains.

Why hand-written: the layered (Sugiyama) method is what Graphviz ``dot`` does, but Graphviz is a system
binary that a pip install cannot bring; networkx's ``multipartite_layout`` neither orders a layer nor leaves
room for labels. The steps here are the classic ones, kept small:

1. levels from the input edges (u -> r where r explains u): sensors at 0, a region one above the highest of
   its inputs. Input edges that close a loop (validation allows them) are set aside first, found by a
   depth-first search from the sensors, so a cycle never stops the drawing;
2. an edge that spans several levels passes through one small waypoint per level it crosses, so it is routed
   between nodes instead of behind them;
3. each level is ordered by the mean position of its neighbours (barycentre sweeps, down and up), keeping
   the order with the fewest crossings;
4. nodes are pulled towards their neighbours, never closer to each other than their sizes and a gap; a
   level too wide for the canvas is staggered over a few rows, so a 180-region graph is not a strip.

Coordinates are pixels of the drawing (y up); the canvas grows with the graph.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx
import numpy as np

FONT_PX = 12.2          # 8 pt at the 110 dpi figures are written with
CHAR_PX = 0.62 * FONT_PX
NODE_GAP = 26.0         # between two nodes of one level
WAYPOINT = 4.0          # half-width of an edge's waypoint
MARGIN = 40.0
WIDTH_AT_60 = 1200.0    # the canvas grows as the square root of the node count: this wide at 60 nodes
MIN_WIDTH, MIN_LEVEL_GAP = 640.0, 104.0
WRAP_WIDTH = 2400.0     # a level wider than this (or than the canvas the node count asks for) wraps into rows
MAX_STRETCH = 2.5       # how far a narrow graph is spread out to fill its canvas


@dataclass
class Layout:
    """Where everything goes, in pixels of the standalone drawing (x right, y up).

    Attributes
    ----------
    pos : node -> (x, y) centre.
    level : node -> level (sensors 0).
    half : node -> (half width, half height) of its shape (a region's circle: both its radius).
    routes : input edge or teacher link (u, v) -> its waypoints between u and v, bottom to top (empty when
        the levels are adjacent).
    back_edges : input edges that close a loop; they are drawn against the levels.
    width, height : the canvas.
    """

    pos: dict
    level: dict
    half: dict
    routes: dict = field(default_factory=dict)
    back_edges: set = field(default_factory=set)
    width: float = MIN_WIDTH
    height: float = 400.0


def node_label(graph: nx.DiGraph, node) -> str:
    """Name and size, the text drawn in a node."""
    return f"{node}\n{graph.nodes[node].get('size', '')}"


def input_edges(graph: nx.DiGraph) -> list:
    return [(u, v) for u, v, d in graph.edges(data=True) if d.get("role") == "input" and u != v]


def teacher_links(graph: nx.DiGraph) -> list:
    """(teacher input, region) for every region clamped by a teacher while training (a node attribute, no edge)."""
    return [(d["teacher"], n) for n, d in graph.nodes(data=True) if d.get("teacher") in graph and d["teacher"] != n]


def window_links(graph: nx.DiGraph) -> list:
    """(sensor, window) for every input cut from a sensor (a node attribute ``of``, no edge)."""
    return [(d["of"], n) for n, d in graph.nodes(data=True) if d.get("of") in graph]


def levels(graph: nx.DiGraph) -> tuple[dict, set]:
    """Level of every node from the input edges, and the input edges set aside to break loops."""
    feeds = nx.DiGraph()
    feeds.add_nodes_from(graph.nodes)
    feeds.add_edges_from(input_edges(graph) + teacher_links(graph) + window_links(graph))
    sensors = [n for n, d in graph.nodes(data=True) if d.get("type") == "input"]
    back, state = set(), {}
    for root in sensors + [n for n in graph.nodes if n not in sensors]:
        if root in state:
            continue
        stack = [(root, iter(feeds.successors(root)))]
        state[root] = "open"
        while stack:   # iterative depth-first search: an edge into an open node closes a loop
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = "done"
                stack.pop()
            elif state.get(child) == "open":
                back.add((node, child))
            elif child not in state:
                state[child] = "open"
                stack.append((child, iter(feeds.successors(child))))
    dag = feeds.copy()
    dag.remove_edges_from(back)
    level = {}
    for node in nx.topological_sort(dag):
        below = [level[u] for u in dag.predecessors(node)]
        level[node] = 0 if node in sensors and not below else 1 + max(below, default=0)   # a window: above its sensor
    return level, back


def _half(graph, node) -> tuple[float, float]:
    lines = node_label(graph, node).split("\n")
    text_w = max(len(s) for s in lines) * CHAR_PX
    if graph.nodes[node].get("type") == "input":
        return max(26.0, text_w / 2 + 8), 19.0
    r = max(23.0, text_w / 2 + 7)
    return r, r


def _crossings(pairs: np.ndarray) -> int:
    """Crossings among segments between two levels, given their (lower index, upper index) pairs."""
    if len(pairs) < 2:
        return 0
    a, b = pairs[:, 0], pairs[:, 1]
    return int(np.sum(((a[:, None] - a[None, :]) * (b[:, None] - b[None, :])) < 0) // 2)


def layered_layout(graph: nx.DiGraph, sweeps: int = 12, refine: int = 24) -> Layout:
    """Lay ``graph`` out by levels (see the module docstring); deterministic for a given graph."""
    level, back = levels(graph)
    top = max(level.values(), default=0)
    rows = [[] for _ in range(top + 1)]
    for node in graph.nodes:                      # the order the graph lists nodes in: sensors, then regions
        rows[level[node]].append(node)
    half = {n: _half(graph, n) for n in graph.nodes}
    segments, routes = set(), {}
    for u, v in input_edges(graph) + teacher_links(graph) + window_links(graph):   # routed like inputs, from below
        if (u, v) in back or (u, v) in routes:
            continue
        chain = [u] + [("~", u, v, k) for k in range(level[u] + 1, level[v])] + [v]
        for k, w in enumerate(chain[1:-1], start=level[u] + 1):
            rows[k].append(w)
            half[w] = (WAYPOINT, WAYPOINT)
        routes[(u, v)] = chain[1:-1]
        segments.update(zip(chain[:-1], chain[1:]))
    down, up = {}, {}
    for a, b in segments:
        up.setdefault(a, []).append(b)
        down.setdefault(b, []).append(a)

    def total_crossings(order):
        index = {n: i for row in order for i, n in enumerate(row)}
        by_level = {}
        for a, b in segments:
            by_level.setdefault(level_of(a), []).append((index[a], index[b]))
        return sum(_crossings(np.asarray(p)) for p in by_level.values())

    def level_of(n):
        return n[3] if isinstance(n, tuple) else level[n]

    best, best_cross = [list(r) for r in rows], total_crossings(rows)
    order = [list(r) for r in rows]
    for sweep in range(sweeps):
        downward = sweep % 2 == 0
        span = range(1, top + 1) if downward else range(top - 1, -1, -1)
        for k in span:
            ref = {n: i / max(1, len(order[k - 1 if downward else k + 1]) - 1)
                   for i, n in enumerate(order[k - 1 if downward else k + 1])}
            here = {n: i / max(1, len(order[k]) - 1) for i, n in enumerate(order[k])}
            nbrs = down if downward else up
            key = {n: np.mean([ref[m] for m in nbrs[n]]) if nbrs.get(n) else here[n] for n in order[k]}
            order[k].sort(key=lambda n: key[n])
        crossings = total_crossings(order)
        if crossings < best_cross:
            best, best_cross = [list(r) for r in order], crossings
    order = best

    def gap(a, b):
        pad = NODE_GAP if not (isinstance(a, tuple) or isinstance(b, tuple)) else 8.0
        return half[a][0] + half[b][0] + pad

    def pack(r, k, want, forward=True, bound=None):
        """Positions closest to ``want`` that keep the order and the spacing of a level wrapped into ``k`` rows
        (neighbours in one row are ``k`` apart), pushed right (forward) or left from ``bound``."""
        out = list(want)
        idx = range(len(r)) if forward else range(len(r) - 1, -1, -1)
        for i in idx:
            if forward:
                limits = [bound + half[r[i]][0]] if i < k else [out[i - k] + gap(r[i - k], r[i])]
                limits += [out[i - 1] + 2 * WAYPOINT] if i else []
                out[i] = max([out[i]] + limits)
            else:
                limits = [bound - half[r[i]][0]] if i >= len(r) - k else [out[i + k] - gap(r[i], r[i + k])]
                limits += [out[i + 1] - 2 * WAYPOINT] if i < len(r) - 1 else []
                out[i] = min([out[i]] + limits)
        return out

    real = sum(1 for r in order for n in r if not isinstance(n, tuple))
    floor = max(MIN_WIDTH, WIDTH_AT_60 * np.sqrt(real / 60) + 2 * MARGIN)   # a deep graph still spreads out
    wrap_at = max(WRAP_WIDTH, floor) - 2 * MARGIN
    wraps = []
    for r in order:                               # a level wider than the canvas is staggered over several rows
        natural = (pack(r, 1, [-np.inf] * len(r), bound=0.0)[-1] + half[r[-1]][0]) if r else 0.0
        wraps.append(max(1, int(np.ceil(natural / wrap_at))) if r else 1)
    needed = max((pack(r, k, [-np.inf] * len(r), bound=0.0)[-1] + half[r[-1]][0] for r, k in zip(order, wraps) if r),
                 default=0.0)
    width = max(floor, needed + 2 * MARGIN)
    tallest = max((half[n][1] for n in graph.nodes), default=20.0)
    level_gap, row_gap = max(MIN_LEVEL_GAP, 2 * tallest + 56), 2 * tallest + 10
    x = {}
    for r, k in zip(order, wraps):                # start evenly spread over the width
        if r:
            tight = pack(r, k, [-np.inf] * len(r), bound=MARGIN)
            spare = width - MARGIN - (tight[-1] + half[r[-1]][0])
            x.update({n: t + spare * (i + 1) / (len(r) + 1) for i, (n, t) in enumerate(zip(r, tight))})
    neighbours = {n: down.get(n, []) + up.get(n, []) for r in order for n in r}
    for _ in range(refine):                       # pull towards neighbours, keep order and spacing
        for r, k in zip(order, wraps):
            if r:
                want = [0.5 * x[n] + 0.5 * np.mean([x[m] for m in neighbours[n]]) if neighbours[n] else x[n] for n in r]
                want = pack(r, k, pack(r, k, want, bound=MARGIN), forward=False, bound=width - MARGIN)
                x.update({n: float(w) for n, w in zip(r, want)})
    lo = min(x[n] - half[n][0] for r in order for n in r)
    hi = max(x[n] + half[n][0] for r in order for n in r)
    stretch = min(MAX_STRETCH, (width - 2 * MARGIN) / max(hi - lo, 1.0))   # use the canvas: spread, then centre
    shift = (width - (hi - lo) * stretch) / 2
    x = {n: shift + (v - lo) * stretch for n, v in x.items()}
    base, y = MARGIN + tallest, {}
    for r, k in zip(order, wraps):
        y.update({n: base + (i % k) * row_gap for i, n in enumerate(r)})
        base += (k - 1) * row_gap + level_gap
    pos = {n: (x[n], y[n]) for n in graph.nodes}
    routes = {e: [(x[w], y[w]) for w in ws] for e, ws in routes.items()}
    height = base - level_gap + MARGIN + tallest
    return Layout(pos=pos, level=level, half={n: half[n] for n in graph.nodes}, routes=routes, back_edges=back,
                  width=width, height=height)
