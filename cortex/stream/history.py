"""The past frames a stream keeps: one ring buffer per delayed source, as deep as its longest delay.

A connection with ``delay: d`` reads its source as it was d frames ago. Rather than holding whole earlier
results, a stream keeps, for each source that some connection delays (a region's activity or a sensor input),
the last ``depth`` frames of it in one preallocated (depth, batch, size) device array, written in place frame
after frame. :meth:`History.frames` shows them to the settler the way ``settle(past=...)`` does: a list of
frames, oldest first, each a dict source -> (batch, size) view. Before a stream has seen ``d`` frames, what a
delay-d edge reads is zeros, as for a graph settled without ``past``.
"""
from __future__ import annotations


class History:
    """Ring buffers of the delayed sources of one stream.

    Parameters
    ----------
    backend : the model's array backend.
    depths : source name -> how many past frames to keep (its longest delay).
    sizes : source name -> values per frame (hypotheses of a region, size of an input).
    batch : parallel streams.
    """

    def __init__(self, backend, depths: dict[str, int], sizes: dict[str, int], batch: int):
        self.backend, self.depths, self.batch = backend, dict(depths), batch
        self.depth = max(self.depths.values(), default=0)
        self.rings = {name: backend.zeros((d, batch, sizes[name])) for name, d in self.depths.items()}
        self.seen = 0            # frames pushed so far

    def push(self, values: dict) -> None:
        """Record this frame's value of every delayed source (``values``: name -> (batch, size) device array)."""
        for name, ring in self.rings.items():
            ring[self.seen % self.depths[name], ...] = values[name]
        self.seen += 1

    def frames(self) -> list[dict]:
        """The kept past as ``settle(past=...)`` reads it: ``frames()[-d][name]`` is ``name`` d frames ago (copies,
        so what a frame read stays what it read after the rings move on)."""
        out = []
        for d in range(self.depth, 0, -1):
            out.append({name: self.backend.copy(ring[(self.seen - d) % self.depths[name], ...])
                        for name, ring in self.rings.items() if d <= self.depths[name]})
        return out

    def copy(self) -> "History":
        """An independent copy (a forecast rolls forward on one without touching the stream's own)."""
        other = History.__new__(History)
        other.backend, other.depths, other.batch, other.depth = self.backend, dict(self.depths), self.batch, self.depth
        other.rings = {name: self.backend.copy(ring) for name, ring in self.rings.items()}
        other.seen = self.seen
        return other
