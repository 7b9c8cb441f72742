"""The benchmark's workloads: region graphs and stimuli, defined here and printed with the results.

- W1, the digits hierarchy: retina 8x8 (64) -> V1 256 -> V2 128 -> IT 10 (softmax), batch 256.
- W2, a wide graph: 180 regions of 256 hypotheses; each takes input from 2-4 others (the first ones
  from sensors) and context from 2-4 more; batch 64.
- W3, rivalry: one region of two hypotheses in lateral competition with adaptation and noise, settled
  on one ambiguous frame for a long stream of steps (the shipped ``rivalry`` graph when there is one).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cortex.spec import NetworkSpec, spec_from_dict


@dataclass
class Workload:
    """A spec, its stimuli, and what to print about it."""

    key: str
    title: str
    spec: NetworkSpec
    stimuli: dict
    steps: tuple[int, ...]
    batch: int
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        regions = self.spec.regions
        sizes = sorted({p.hypotheses for p in regions.values()})
        inputs = ", ".join(f"{k}[{v.size}]" for k, v in self.spec.inputs.items())
        conns = len(self.spec.edges())
        text = (f"{self.key}: {self.title} -- {len(regions)} regions (hypotheses {', '.join(map(str, sizes))}), "
                f"{conns} connections, inputs {inputs}, batch {self.batch}, steps {'/'.join(map(str, self.steps))}")
        return "\n".join([text] + [f"    {n}" for n in self.notes])


def _digits(batch: int, seed: int = 0) -> np.ndarray:
    from cortex.stimuli.digits import load_digit_split

    X = load_digit_split(test_size=0.2, seed=seed).X_train
    idx = np.random.default_rng(seed).choice(len(X), size=batch, replace=batch > len(X))
    return X[idx].reshape(batch, 8, 8)


def w1(batch: int = 256, v1: int = 256, v2: int = 128, it: int = 10) -> Workload:
    """The digits hierarchy 64 -> 256 -> 128 -> 10."""
    data = {
        "name": "bench-w1", "seed": 0, "backend": "numpy", "dtype": "float32",
        "inputs": {"retina": {"shape": [8, 8]}},
        "regions": {
            "V1": {"kind": "predictive", "hypotheses": v1, "inputs": ["retina"], "competition": "lateral",
                   "inhibition": 0.01, "sparsity": 0.02, "lr": 0.05},
            "V2": {"kind": "predictive", "hypotheses": v2, "inputs": ["V1"], "competition": "lateral",
                   "inhibition": 0.01, "sparsity": 0.02, "lr": 0.05},
            "IT": {"kind": "predictive", "hypotheses": it, "inputs": ["V2"], "competition": "softmax",
                   "precision": 2.0, "lr": 0.05},
        },
        "settle": {"steps": 100, "rate": 0.5, "tol": 0, "start": "first_guess"},   # the reference loop's start
    }
    return Workload("W1", f"digits hierarchy 64 -> {v1} -> {v2} -> {it}", spec_from_dict(data),
                    {"retina": _digits(batch)}, (20, 100), batch,
                    ["V1, V2 lateral competition; IT softmax over hypotheses; then one learning update"])


def w2_data(regions: int = 180, hypotheses: int = 256, sensors: int = 8, sensor_size: int = 256, seed: int = 0,
            window: int = 60) -> dict:
    """A random sparse wide graph: region i takes input from 2-4 sources among the sensors (the first ones)
    or the ``window`` regions before it, and context from 2-4 other regions anywhere in the graph."""
    rng = np.random.default_rng(seed)
    names = [f"R{i:03d}" for i in range(regions)]
    sens = [f"s{i}" for i in range(sensors)]
    first = max(1, regions // 8)
    body, conns = {}, []
    for i, name in enumerate(names):
        pool = sens if i < first else names[max(0, i - window):i]
        k = int(rng.integers(2, 5))
        ins = [str(x) for x in rng.choice(pool, size=min(k, len(pool)), replace=False)]
        body[name] = {"kind": "predictive", "hypotheses": hypotheses, "inputs": ins, "competition": "lateral",
                      "inhibition": 0.01, "sparsity": 0.01, "lr": 0.02, "context_precision": 0.5}
        others = [n for n in names if n != name and n not in ins]
        if others:
            for src in rng.choice(others, size=min(int(rng.integers(2, 5)), len(others)), replace=False):
                conns.append({"from": str(src), "to": name, "role": "context", "precision": 0.5})
    return {"name": "bench-w2", "seed": seed, "backend": "numpy", "dtype": "float32",
            "inputs": {s: {"shape": [sensor_size]} for s in sens}, "regions": body, "connections": conns,
            "settle": {"steps": 20, "rate": 0.5, "tol": 0, "start": "first_guess"}}


def w2(regions: int = 180, hypotheses: int = 256, batch: int = 64, seed: int = 0) -> Workload:
    data = w2_data(regions, hypotheses, seed=seed)
    spec = spec_from_dict(data)
    rng = np.random.default_rng(seed + 1)
    stimuli = {s: rng.random((batch, v.size), dtype=np.float32) for s, v in spec.inputs.items()}
    return Workload("W2", f"wide graph, {regions} regions x {hypotheses} hypotheses", spec, stimuli, (20,), batch,
                    ["each region: input from 2-4 sensors (first eighth) or earlier regions, context from 2-4 others",
                     "lateral competition, context precision 0.5"])


RIVALRY_FALLBACK = {
    "name": "bench-w3", "seed": 0, "backend": "numpy", "dtype": "float32",
    "inputs": {"eye": {"shape": [4]}},
    "regions": {"P": {"kind": "predictive", "hypotheses": 2, "inputs": ["eye"], "competition": "lateral",
                      "inhibition": 2.0, "noise": 0.05, "first_guess": False,
                      "adaptation": {"strength": 0.5, "tau": 20}}},
    "settle": {"steps": 2000, "rate": 0.5, "tol": 0},
}


def w3(batch: int = 64, steps: int = 2000) -> Workload:
    """Rivalry: the shipped graph when present, else two hypotheses with lateral competition, adaptation, noise."""
    from cortex.shipped import shipped_graphs
    from cortex.spec import load_spec

    notes = []
    spec = None
    if "rivalry" in shipped_graphs():
        from cortex.shipped import graph_path
        try:
            spec = load_spec(graph_path("rivalry"))
            notes.append("the shipped rivalry graph")
        except Exception as exc:   # a graph this benchmark cannot use: say so, use the fallback
            notes.append(f"shipped rivalry graph not usable ({exc}); fallback graph")
    if spec is None:
        spec = spec_from_dict(RIVALRY_FALLBACK)
        notes.append("two hypotheses, lateral competition, adaptation 0.5 / tau 20, noise 0.05, one ambiguous frame")
    stimuli = {}
    rng = np.random.default_rng(0)
    for name, inp in spec.inputs.items():
        if name == "eye" and inp.size == 4:
            stimuli[name] = np.tile(np.array([[1, 1, 0, 0]], np.float32), (batch, 1))
        else:
            stimuli[name] = rng.random((batch, inp.size), dtype=np.float32)
    teachers = {p.teacher for p in spec.regions.values() if p.teacher}
    stimuli = {k: v for k, v in stimuli.items() if k not in teachers}
    return Workload("W3", "rivalry stream (adaptation + noise)", spec, stimuli, (steps,), batch, notes)


def hierarchy_data(regions: int = 50, streams: int = 3, hypotheses: int = 16, sensor_size: int = 64,
                   seed: int = 0) -> dict:
    """A synthetic cortex-like graph of ``regions`` regions, for drawings and layout tests (and as a workload).

    Each sensory stream (``V``, ``A``, ``S``, ...) is a hierarchy whose levels halve in width: a region takes
    input from 1-3 neighbouring regions of the level below (the first level from its sensor) and often gets
    a top-down context from a region above that explains it, or a lateral one from its neighbour. About one
    region in twelve is multimodal (``M``), explaining the tops of several streams, and the top regions
    predict themselves one frame ahead (delayed self-context).
    """
    rng = np.random.default_rng(seed)
    streams = max(1, min(streams, 6, regions))
    multimodal = max(1 if streams > 1 and regions >= 4 else 0, regions // 12)
    per_stream = [len(part) for part in np.array_split(np.arange(regions - multimodal), streams)]
    body, conns, tops = {}, [], []
    inputs = {}
    for s, m in enumerate(per_stream):
        prefix = "VASTGO"[s]
        sensor = ["retina", "cochlea", "skin", "tongue", "gut", "nose"][s]
        inputs[sensor] = {"shape": [sensor_size]}
        widths, left = [], m
        while left > 0:
            w = max(1, int(np.ceil(left / 2))) if left > 2 else left if not widths else 1
            widths.append(w)
            left -= w
        below = [sensor]
        for k, w in enumerate(widths, start=1):
            level = [f"{prefix}{k}_{i}" for i in range(w)]
            for i, name in enumerate(level):
                centre = (i + 0.5) * len(below) / w
                count = min(len(below), int(rng.integers(1, 4)))
                start = int(np.clip(round(centre - count / 2), 0, len(below) - count))
                body[name] = {"kind": "predictive", "hypotheses": hypotheses, "inputs": below[start:start + count],
                              "competition": "lateral", "inhibition": 0.05, "sparsity": 0.02, "lr": 0.02}
            for i, name in enumerate(level):
                if i + 1 < len(level) and rng.random() < 0.3:
                    conns.append({"from": level[i + 1], "to": name, "role": "context", "precision": 0.5})
            if k > 1:
                for name in level:
                    for src in body[name]["inputs"]:
                        if rng.random() < 0.5:
                            conns.append({"from": name, "to": src, "role": "context"})
            below = level
        tops.append(below)
    top_level = [f"M{i}" for i in range(multimodal)]
    for i, name in enumerate(top_level):
        picks = [t[int(rng.integers(len(t)))] for t in tops]
        chosen = sorted(set(picks[j] for j in rng.choice(len(picks), size=min(len(picks), 2 + i % 2), replace=False)))
        body[name] = {"kind": "predictive", "hypotheses": hypotheses, "inputs": chosen, "competition": "softmax",
                      "lr": 0.02}
        conns.append({"from": name, "to": name, "role": "context", "delay": 1, "precision": 0.5})
    if not top_level:
        for t in tops[0]:
            conns.append({"from": t, "to": t, "role": "context", "delay": 1, "precision": 0.5})
    return {"name": f"hierarchy-{regions}", "seed": seed, "backend": "numpy", "dtype": "float32", "inputs": inputs,
            "regions": body, "connections": conns,
            "settle": {"steps": 20, "rate": 0.5, "tol": 0, "start": "first_guess"}}
