"""Ctrl-C and SIGTERM end a run cleanly, even when a library in the middle swallows ``KeyboardInterrupt``.

Inside :func:`interruptible`, SIGINT and SIGTERM raise :class:`RunInterrupted` at once, so a long
settle stops where it is, and the signal is also remembered. Some libraries catch ``KeyboardInterrupt``
and carry on (scikit-learn's MLP stops training, warns and returns a half-trained model); the next
:func:`check` (after every training batch, every baseline fit and every stage of a run) raises the
remembered signal again. Nothing half-done is then saved: the run folder is committed only after a
last check.

>>> with interruptible():       # doctest: +SKIP
...     fit_something_that_swallows_ctrl_c()
...     check()                  # raises RunInterrupted if Ctrl-C came during the fit
"""
from __future__ import annotations

import contextlib
import signal
import sys
import threading
from typing import Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM)

_pending: int | None = None     # the signal that arrived inside interruptible(), until it is handled


class RunInterrupted(KeyboardInterrupt):
    """A run ended by SIGINT or SIGTERM; ``exit_code`` is the shell's 128 + signal (130, 143)."""

    def __init__(self, signum: int, note: str = ""):
        super().__init__(signum)
        self.signum, self.note = signum, note

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    def __str__(self) -> str:
        return f"interrupted by {signal.Signals(self.signum).name}" + (f": {self.note}" if self.note else "")


def _handler(signum, frame):
    global _pending
    _pending = signum
    raise RunInterrupted(signum)


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """SIGINT and SIGTERM raise :class:`RunInterrupted` inside the block; the previous handlers come back after.

    Outside the main thread (where Python cannot take signals) this does nothing.
    """
    global _pending
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in SIGNALS}
    outer, hook = _pending, sys.unraisablehook
    for s in SIGNALS:
        signal.signal(s, _handler)
    sys.unraisablehook = _quiet_unraisable(hook)
    try:
        yield
        check()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        sys.unraisablehook = hook
        _pending = outer


def _quiet_unraisable(hook):
    """A signal that lands inside a callback Python cannot raise from (a weakref callback, a ``__del__``) is
    printed as "Exception ignored in ..." with a traceback; it is already remembered and :func:`check` raises it
    again, so that print is noise. Everything else goes to ``hook``."""
    def quiet(unraisable):
        if isinstance(unraisable.exc_value, RunInterrupted):
            return
        hook(unraisable)
    return quiet


def check() -> None:
    """Raise :class:`RunInterrupted` if a signal arrived and something swallowed its first raise."""
    if _pending is not None:
        raise RunInterrupted(_pending)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back for a few lines that must not be cut in two (moving a folder into place)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
