"""Balancing the levels of a deep graph: ``precision: auto`` resolved, each region's level, and which graphs a
bottom-up start (:mod:`cortex.bottom_up`) can cut level by level.

Why: in a stack retina -> V1 -> V2 -> IT the energy of a level is its precision times its squared error. A
lower region left at precision 1 under a read-out at precision 30 is outweighed thirty times by the
read-out's pull on it, so at test time it settles to whatever the read-out predicts and carries no trace of
the stimulus (the collapse of issue 11: V2's spread across the batch 0.0015). ``precision: auto`` makes a
region *inherit* the precision of the regions that explain it (the largest of ``reader precision x
connection precision``), resolved from the top down, so every level weighs its own evidence as much as the
level above weighs it; a region nobody reads keeps precision 1, the old default. See ``docs/depth.md``.
"""
from __future__ import annotations

# no import of cortex.spec here: the spec's validation calls check_bottom_up (annotations are never evaluated)

AUTO = "auto"
TOP_PRECISION = 1.0


def resolve_precisions(spec: NetworkSpec) -> dict[str, float]:
    """Region -> the number its ``precision`` stands for (``auto`` inherited top-down; numbers as written)."""
    readers: dict[str, list[tuple[str, float]]] = {r: [] for r in spec.regions}
    for c in spec.edges():
        if c.role == "input" and c.source in spec.regions:
            readers[c.source].append((c.target, c.precision))
    out: dict[str, float] = {}

    def value(name: str, seen: frozenset) -> float:
        if name in out:
            return out[name]
        written = getattr(spec.regions[name], "precision", TOP_PRECISION)
        if written != AUTO:
            return float(written)
        above = [value(t, seen | {name}) * max(p, 1e-12) for t, p in readers[name] if t not in seen | {name}]
        out[name] = max(above) if above else TOP_PRECISION
        return out[name]

    return {name: value(name, frozenset()) for name in spec.regions}


def resolved_params(spec: NetworkSpec) -> dict:
    """Region -> its parameters with ``precision: auto`` replaced by the resolved number (others unchanged)."""
    values = resolve_precisions(spec)
    return {name: (p.model_copy(update={"precision": values[name]}) if getattr(p, "precision", None) == AUTO else p)
            for name, p in spec.regions.items()}


def levels(spec: NetworkSpec) -> dict[str, int]:
    """Region -> its level: 1 + the highest level among the regions it explains (regions over sensors only: 1)."""
    out: dict[str, int] = {}

    def level(name: str, seen: frozenset) -> int:
        if name not in out:
            below = [level(c.source, seen | {name}) for c in spec.sources(name, "input")
                     if c.source in spec.regions and c.source not in seen | {name} and not c.delay]
            out[name] = 1 + max(below, default=0)
        return out[name]

    for name in spec.regions:
        level(name, frozenset())
    return out


def check_bottom_up(spec) -> list[tuple[str, tuple]]:
    """What a bottom-up start cannot cut: an undelayed input from a region not below, or context from above."""
    level, out = levels(spec), []
    for name in spec.regions:
        for role in ("input", "context"):
            for c in spec.sources(name, role):
                if c.source not in spec.regions or c.delay or c.source == name:
                    continue
                if not (level[c.source] < level[name] if role == "input" else level[c.source] <= level[name]):
                    out.append((f"a bottom-up start (bottom_up, levels_first) settles each level before the levels "
                                f"above it join, but region {name!r} (level {level[name]}) reads {c.source!r} "
                                f"(level {level[c.source]}) as undelayed {role}; give that connection a delay, or use "
                                "start: first_guess",
                                ("settle", "start")))
    return out


def auto_start(spec) -> str:
    """What ``start: auto`` (the default) means for ``spec``: ``levels_first`` for a graph of more than one level
    that can be cut level by level, else ``first_guess`` (on one level the two are the same settle). On the
    digits (layerwise, validation, means of seeds 0-2), summed over clean, noisy, occluded, 5-shot and pretrained
    5-shot accuracy, it is the best of the starts at 4, 6 and 8 levels and within 0.01 of first guesses at 3;
    clean at 8 levels it reads 0.950, first guesses 0.599 (docs/depth.md)."""
    deep = len(set(levels(spec).values())) > 1
    return "levels_first" if deep and not check_bottom_up(spec) else "first_guess"
