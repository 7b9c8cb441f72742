"""The settle schedule: the top-down sweep cut into blocks, and the registry of fast paths that kinds attach.

Regions whose energy terms do not touch each other can be updated in either order with the same result, so
the top-down sweep is cut into levels of mutually uncoupled regions (:func:`build_schedule`). Each region is
stepped by a :class:`Block`: by default a :class:`Single`, which calls the region's own
:meth:`~cortex.region.RegionKind.step`. A kind may attach faster blocks for some of its configurations with
:func:`register_fast_path` (as Nengo attaches a build function to an object type with ``@Builder.register``):
a block class, a test of which regions it accepts, and optionally a key under which regions of one level are
stepped together by one block. The core never names a kind: a fast path is found from the region's class.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Hashable


class Block:
    """A unit of the sweep: steps its ``members`` (region indices) once per settling step.

    ``begin`` is called once per settle call, before the wiring is finished (a block may bind input buffers
    and take over its members' context there); ``step`` and ``energy`` run every settling step.
    """

    members: list[int]

    @property
    def G(self) -> int:
        """How many regions this block steps at once."""
        return len(self.members)

    def begin(self, env, states, curv, rate) -> None:
        """Prepare one settle call: buffers, step sizes (``curv[j]``: region j's external curvature)."""

    def step(self, env) -> None:
        """One settling step of every member; bumps ``env.version[j]`` of each member that moved."""
        raise NotImplementedError

    def energy(self, env, out) -> None:
        """Each member's share of each stimulus' energy into row ``j`` of ``out`` (regions, batch)."""
        raise NotImplementedError

    def flops(self, batch: int) -> int:
        """Multiply-add work (2 flops each) of one step, for the benchmark."""
        return 0

    def context_pull(self, env, member: int, start: int, stop: int):
        """A faster way to send member's dE/dY[:, start:stop] to that context source (an object with
        ``add(env, j, out, tmp)``), or None: the engine then calls the region's ``context_gradient``."""
        return None


class Single(Block):
    """A region stepped through its own interface (any kind, any configuration)."""

    def __init__(self, members: list[int], compiled, backend=None):
        self.members = list(members)
        (self.j,) = self.members
        self.region = compiled[self.j].region

    def begin(self, env, states, curv, rate):
        self.curv, self.rate = curv[self.j], rate
        b = env.backend
        self.gbuf, self.tbuf = b.zeros((env.batch, self.region.n)), b.zeros((env.batch, self.region.n))
        self.sigma = self.region.noise_std()

    def step(self, env):
        j, region = self.j, self.region
        X, Y = env.X(j), env.Y(j)
        g = self.gbuf if env.external_gradient(j, self.gbuf, self.tbuf) else None
        sigma = self.sigma
        noise = env.noise_streams[j].normal((env.batch, region.n), sigma) if sigma and env.noise_streams else None
        region.step(env.states[j], X, Y, g, self.curv, self.rate, noise)
        env.version[j] += 1

    def energy(self, env, out):
        out[self.j, ...] = self.region.energy(env.states[self.j], env.X(self.j), env.Y(self.j))

    def flops(self, batch: int) -> int:
        return self.region.step_flops(batch)


@dataclass(frozen=True)
class FastPath:
    """A block class a kind attaches for the regions ``accepts`` says yes to.

    ``block(members, compiled, backend)`` builds it. With ``group_key``, regions of one schedule level whose
    keys are equal share one block (it must then step them exactly as one at a time would); without, each
    accepted region gets a block of its own.
    """

    block: type
    accepts: Callable[[object], bool]
    group_key: Callable[[object], Hashable] | None = None


_FAST_PATHS: dict[type, list[FastPath]] = {}


def register_fast_path(kind: type, *, accepts: Callable[[object], bool],
                       group_key: Callable[[object], Hashable] | None = None):
    """Class decorator: attach the decorated :class:`Block` class to regions of class ``kind`` it ``accepts``."""
    def wrap(block):
        _FAST_PATHS.setdefault(kind, []).append(FastPath(block, accepts, group_key))
        return block
    return wrap


def fast_path(region) -> FastPath | None:
    """The first registered fast path that accepts ``region`` (looked up by its exact class), or None."""
    return next((fp for fp in _FAST_PATHS.get(type(region), ()) if fp.accepts(region)), None)


def coupled_pairs(compiled, index) -> list[set]:
    """For each region, the regions that share an energy term with it (the order of their updates matters).

    r and u are coupled when one is an undelayed input or context source of the other, or both are
    undelayed context sources of the same region (its prior mixes them). Two input sources of one region
    are not coupled: its input term is a sum over input columns.
    """
    near = [set() for _ in compiled]
    for q, c in enumerate(compiled):
        ins = [index[l.source] for l in c.in_links if not l.is_input]
        ctx = [index[l.source] for l in c.ctx_links if not l.is_input and l.delay == 0]
        for u in ins + ctx:
            if u != q:
                near[q].add(u)
                near[u].add(q)
        for u in ctx:
            near[u].update(v for v in ctx if v != u)
    return near


def _block(members, compiled, backend):
    fp = fast_path(compiled[members[0]].region)
    return (fp.block if fp is not None else Single)(members, compiled, backend)


def build_schedule(compiled, index, order_down, backend, group: bool = True) -> list[Block]:
    """The top-down sweep as a list of blocks.

    Each region's level is one more than the highest level of the coupled regions before it in the
    sweep, so coupled regions keep their order and regions of one level are mutually uncoupled. Within a
    level, regions a grouping fast path accepts with equal keys share a block (after the level's other
    blocks). With ``group=False`` every region is its own block, in sweep order (the grouped result must equal it).
    """
    if not group:
        return [_block([j], compiled, backend) for j in order_down]
    near = coupled_pairs(compiled, index)
    level: dict[int, int] = {}
    for j in order_down:
        level[j] = 1 + max((level[u] for u in near[j] if u in level), default=-1)
    blocks = []
    for lv in range(max(level.values(), default=-1) + 1):
        buckets: dict[tuple, list[int]] = {}
        for j in order_down:
            if level[j] != lv:
                continue
            fp = fast_path(compiled[j].region)
            if fp is not None and fp.group_key is not None:
                buckets.setdefault((id(fp), fp.group_key(compiled[j].region)), []).append(j)
            else:
                blocks.append(_block([j], compiled, backend))
        blocks += [_block(members, compiled, backend) for members in buckets.values()]
    return blocks
