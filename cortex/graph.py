"""The region graph as a ``networkx.DiGraph``, and the graph questions settling needs (pure functions).

Nodes are inputs and regions (attribute ``type``: ``input`` or ``region``, ``size``, and the region's
parameters); edges are connections with ``role``, ``delay`` and ``precision`` (several connections between one pair, e.g.
delays 1, 2 and 3, are one edge whose ``delays`` lists them all, ``delay`` the shortest). Users may query, draw
and export this graph; the build reads its order from here.
"""
from __future__ import annotations

import networkx as nx

from .spec import NetworkSpec


def build_graph(spec: NetworkSpec) -> nx.DiGraph:
    """Inputs and regions as nodes, every connection (region ``inputs`` included) as an edge source -> target."""
    g = nx.DiGraph(name=spec.name)
    for name, inp in spec.inputs.items():
        window = {"of": inp.of} if inp.of else {}     # a window of sensor ``of`` (drawn above it; no edge)
        g.add_node(name, type="input", size=inp.size, shape=tuple(inp.shape), **window)
    for name, params in spec.regions.items():
        g.add_node(name, type="region", size=params.hypotheses, **params.model_dump(exclude={"inputs"}))
    for c in spec.edges():
        if g.has_edge(c.source, c.target):   # one edge per pair: connections with other delays or roles merge into it
            d = g.edges[c.source, c.target]
            d["delays"] = sorted(set(d.get("delays", [d["delay"]])) | {c.delay})
            d["delay"] = d["delays"][0]
            if c.role == "input":
                d["role"], d["precision"] = "input", c.precision
            continue
        g.add_edge(c.source, c.target, role=c.role, delay=c.delay, precision=c.precision)
    return g


def input_edges(g: nx.DiGraph) -> nx.DiGraph:
    """The subgraph of explanation: u -> r where r predicts u (role input)."""
    return g.edge_subgraph([(u, v) for u, v, d in g.edges(data=True) if d["role"] == "input"]).copy()


def bottom_up_order(g: nx.DiGraph) -> list[str]:
    """Regions from the sensors upward (a feed-forward sweep); loops are broken in a fixed, repeatable way."""
    h = input_edges(g)
    h.add_nodes_from(n for n, d in g.nodes(data=True) if d["type"] == "region")
    cond = nx.condensation(h)
    order = []
    for c in nx.lexicographical_topological_sort(cond, key=lambda c: min(cond.nodes[c]["members"])):
        order += sorted(cond.nodes[c]["members"])
    return [n for n in order if g.nodes[n]["type"] == "region"]


def top_down_order(g: nx.DiGraph) -> list[str]:
    """The order regions are updated in each settling step: predictions first, then what they predict."""
    return bottom_up_order(g)[::-1]


def predictors(g: nx.DiGraph, node: str) -> list[str]:
    """Regions that take ``node`` as input, i.e. that send it top-down predictions."""
    return [v for _, v, d in g.out_edges(node, data=True) if d["role"] == "input"]
