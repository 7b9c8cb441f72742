"""A bottom-up start for settling (``settle: {start: bottom_up}``): each level settles before the levels above join.

Why: a region's feed-forward first guess reads the first guess of the level below, not what that level settles
to. In a deep stack the errors of those guesses compound, and the read-out's pull (at the precision the levels
inherit from it) drags every level towards a blend of its hypotheses before the levels have settled on the
evidence. On the digits, a 6-level stack reads 0.80 of the validation images right when settled from first
guesses and 0.96 from a bottom-up start (docs/depth.md). So level 1 settles on the sensors with every higher
region cut away; levels 1-2 then settle from level 1's state with everything above level 2 cut away; and so
on. When the top level holds a softmax region (a read-out), it then settles alone over the levels below, held
where they settled: until it has chosen, its prediction is a mixture of its hypotheses, and its pull would
blur the code it is choosing from. The whole graph settles last, from there. It is cortex's feed-forward sweep,
done by settling, before the feedback arrives.

``start: levels_first`` (what ``auto`` means on a deep graph) leaves out the read-out's turn alone: the top level
joins the whole-graph settle from its first guess over the settled levels, so its feedback acts while it chooses.
That feedback fills a noisy or occluded code in (from first guesses it does so over levels that have not settled,
which wrecks a deep stack); on clean images at 8 levels it costs a little (docs/depth.md).

The cut graphs share the model's region objects (their weights are the model's, nothing is copied) and noise
streams. They are compiled on first use and again only after a region grew. A result's energies, steps and
trace (``record=True``) are those of the last, whole-graph settle.
"""
from __future__ import annotations

from dataclasses import replace

from .balance import check_bottom_up, levels
from .compiled import CompiledGraph
from .errors import StimulusError
from .settle import SettleOptions, Settler


class BottomUp:
    """The cut graphs of one model, lowest first, and the start they settle to."""

    def __init__(self, model):
        self.model, self._sizes, self._cuts = model, None, {}

    def _build(self, readout_alone: bool) -> list[Settler]:
        m = self.model
        refused = check_bottom_up(m.spec)
        if refused:
            raise StimulusError(refused[0][0])
        level, names = levels(m.spec), m.compiled.names
        regions, noise = m.regions, dict(zip(names, m.noise_streams))
        ks = sorted(set(level.values()))
        plan = [([n for n in names if level[n] <= k], ()) for k in ks[:-1]]     # levels <= k settle together
        if readout_alone and len(ks) > 1 and any(getattr(regions[n].p, "competition", None) == "softmax"
                                                 for n in names if level[n] == ks[-1]):
            plan.append((names, [n for n in names if level[n] < ks[-1]]))        # a softmax top alone over them
        cuts = []
        for keep, frozen in plan:
            graph = m.graph.subgraph(set(keep) | set(m.spec.inputs))
            compiled = CompiledGraph(m.spec, graph, {n: regions[n] for n in keep}, m.backend,
                                     group=m.compiled.group, frozen=frozen)
            cuts.append(Settler(compiled, [noise[n] for n in keep]))
        return cuts

    def start(self, inputs: dict, teachers: dict, past: list, options: SettleOptions,
              readout_alone: bool = True) -> list | None:
        """Each region's settled state in the model's region order (None: a top-level region that starts from its
        first guess over the settled levels below); None when the graph has a single level. ``readout_alone``:
        ``bottom_up`` (a softmax top settles alone over the held levels first) or ``levels_first`` (it does not)."""
        sizes = tuple(c.region.n for c in self.model.compiled.regions)
        if sizes != self._sizes:
            self._cuts, self._sizes = {}, sizes
        if readout_alone not in self._cuts:
            self._cuts[readout_alone] = self._build(readout_alone)
        cuts = self._cuts[readout_alone]
        if not cuts:
            return None
        states, options = {}, replace(options, record=False)
        for settler in cuts:
            names = settler.graph.names
            run = settler.run(inputs, teachers, past, options, carry=[states.get(n) for n in names])
            states.update(zip(names, run.device.states))
        return [states.get(n) for n in self.model.compiled.names]
