"""Health of every region of a settled batch: what tells a deep graph that learns from one that collapsed.

Per region: ``energy_share`` (its share of the summed absolute energy), ``energy_share_per_column`` (the same
from each region's energy divided by the width of its input, so that a wide sensor and a narrow code compare),
``spread`` (the mean over hypotheses of the activity's standard deviation across the batch),
``relative_spread`` (spread over the mean absolute activity), ``active_fraction`` (the share of hypotheses
whose mean activity reaches 1% of the most active one's) and ``weight_norms`` (the Frobenius norm of each
learned array), ``hypotheses``, ``winner_share`` (the share of the batch its most frequent winner takes),
``exclusive`` (whether its hypotheses exclude each other, so that its most frequent winner is what it reads a
stimulus as: a softmax region, or a kind without a cooperative code; in a lateral region several hypotheses
explain a stimulus together and one may be the largest for every stimulus in a healthy code), ``reads`` (the
regions it reads) and, for a kind that reports them,
``precisions`` (each input connection's precision, learned or as written). :func:`health_warnings` names each
region that looks dead, with the likeliest cause and the knob to turn.
"""
from __future__ import annotations

import numpy as np

CONSTANT = 0.1           # relative spread under which the activity counts as constant across the batch
WINNER = 0.9             # share of the batch one hypothesis may win before the region counts as reading it as one
SHARE_LOW, SHARE_HIGH = 1e-3, 0.99
BOOKKEEPING = ("L", "active", "noise_var", "seeded")   # arrays in a region's weights that are not learned fields


def region_health(model, result) -> dict:
    """Region -> its health record (plain floats) from a settled batch ``result`` of ``model``."""
    b = model.backend
    energies = {n: abs(float(np.mean(e))) for n, e in _final_energy(result).items()}
    width = {c.name: max(1, c.d_x) for c in model.compiled.regions}
    per_col = {n: e / width[n] for n, e in energies.items()}
    total, total_col = sum(energies.values()) or 1.0, sum(per_col.values()) or 1.0
    compiled = {c.name: c for c in model.compiled.regions}
    out = {}
    for n, a in result.activity.items():
        a = np.asarray(a, dtype=np.float64)
        spread = float(np.mean(np.std(a, axis=0))) if len(a) > 1 else 0.0
        mean = np.mean(np.abs(a), axis=0)
        out[n] = {
            "energy_share": energies[n] / total,
            "energy_share_per_column": per_col[n] / total_col,
            "spread": spread,
            "relative_spread": spread / max(float(np.mean(mean)), 1e-12),
            "active_fraction": float(np.mean(mean >= 0.01 * max(float(mean.max()), 1e-12))),
            "weight_norms": {k: float(np.sqrt(np.sum(b.to_numpy(w).astype(np.float64) ** 2)))
                             for k, w in model.regions[n].weights.items() if k not in BOOKKEEPING},
            "hypotheses": int(a.shape[1]),
            "winner_share": float(np.bincount(np.argmax(a, axis=1), minlength=a.shape[1]).max() / max(len(a), 1)),
            "exclusive": bool(getattr(model.regions[n], "softmax", True)),
            "reads": list(dict.fromkeys(l.source for l in compiled[n].in_links if l.source in result.activity)),
        }
        if hasattr(model.regions[n], "link_precisions"):
            names = [f"{l.source}@t-{l.delay}" if l.delay else l.source for l in compiled[n].in_links]
            out[n]["precisions"] = dict(zip(names, model.regions[n].link_precisions()))
    return out


def _final_energy(result) -> dict:
    return {n: (e[-1] if len(e) else 0.0) for n, e in result.region_energy.items()} if result.steps else \
        {n: 0.0 for n in result.region_energy}


def share_ratio(health: dict, key: str = "energy_share_per_column") -> float:
    """The largest over the smallest energy share of the regions (``inf`` when one holds none)."""
    shares = [h[key] for h in health.values()]
    return float(max(shares) / min(shares)) if min(shares) > 0 else float("inf")


def health_warnings(health: dict, clamped: tuple = ()) -> list[str]:
    """One line per region that looks dead, naming it, the likeliest cause and the knob to turn (``clamped``:
    regions a teacher held). Dead: its activity is constant across the batch, or, in a region whose hypotheses
    exclude each other, one hypothesis wins nearly all of it (a read-out that reads every stimulus as the same
    class, while its activity still varies)."""
    lines, alone = [], len(health) == 1      # a lone region holds all the energy: no share to warn about
    flat = {n for n, h in health.items() if h["relative_spread"] < CONSTANT}
    one_winner = {n for n, h in health.items() if h.get("hypotheses", 0) > 1 and h.get("exclusive", True)
                  and h.get("winner_share", 0) >= WINNER}
    dead = flat | one_winner
    for n, h in health.items():
        if n in clamped:
            continue
        if n in flat:
            lines.append(f"region {n!r}: its activity is nearly constant across the batch (relative spread "
                         f"{h['relative_spread']:.3g}); " + _why_dead(n, h, dead))
        elif n in one_winner:
            lines.append(f"region {n!r}: one of its {h['hypotheses']} hypotheses wins {h['winner_share']:.3f} of the "
                         "batch: it reads nearly every stimulus as the same; " + _why_dead(n, h, dead))
        if alone:
            continue
        if h["energy_share"] < SHARE_LOW:
            lines.append(f"region {n!r}: holds {h['energy_share']:.2g} of the energy; its errors do not count: raise "
                         "its precision")
        elif h["energy_share"] > SHARE_HIGH:
            lines.append(f"region {n!r}: holds {h['energy_share']:.3f} of the energy; the other regions do not count:"
                         " lower its precision or raise theirs (precision: auto)")
    return lines


def _why_dead(name: str, h: dict, dead: set) -> str:
    """The likeliest cause of a dead region, and its knob: a dead input, one hypothesis taking every stimulus
    with the others silent (an unsupervised mixture that collapsed), or levels outweighed by the read-out."""
    below = [m for m in h.get("reads", ()) if m in dead and m != name]
    if below:
        return (f"so is {below[0]!r}, which it reads: it has nothing to tell the stimuli apart by "
                f"(see {below[0]!r})")
    n = h.get("hypotheses", 0)
    if n > 1 and round(h["active_fraction"] * n) <= 1:
        return (f"one of its {n} hypotheses takes every stimulus and the others stay silent: its code collapsed "
                "onto one hypothesis (a softmax region learning without a teacher from random means does; on the "
                "digits temperatures of 1-30 did not save it, docs/depth.md); the knob is init: data (its "
                "hypotheses start from its first stimuli), competition: lateral for a level below the read-out, "
                "or a teacher")
    return ("it ignores the stimulus: the knob is the precision of the levels below the read-out relative to the "
            "read-out's (leave them at precision: auto), or learn them first without labels (experiment.schedule: "
            "layerwise)")
