"""Streams of frames: settling in time, with state, ring buffers and forecasts (see :mod:`.stream`)."""
from .history import History
from .result import StreamResult
from .stream import Stream

__all__ = ["History", "Stream", "StreamResult"]
