"""The exception hierarchy: every error a user can cause is a ``CortexError``.

Each subclass is also a ``ValueError`` (or ``OSError`` for files), so callers may catch either. A
``SpecError`` carries where the mistake is: the file, the line and the dotted key path.
"""
from __future__ import annotations


class CortexError(Exception):
    """Base of every error cortex-sim raises on purpose."""


class SpecError(CortexError, ValueError):
    """A region-graph specification is invalid.

    Parameters
    ----------
    message : what is wrong and what was expected.
    key : dotted path of the offending key, e.g. ``regions.V1.hypotheses``.
    file, line : where it was written (line is 1-based), when known.
    """

    def __init__(self, message: str, key: str | None = None, file: str | None = None,
                 line: int | None = None):
        self.message, self.key, self.file, self.line = message, key, file, line
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ""
        if self.file is not None or self.line is not None:
            where = f" ({self.file or '<string>'}{':' + str(self.line) if self.line else ''})"
        head = f"{self.key}: " if self.key else ""
        return f"{head}{self.message}{where}"


class SpecErrors(SpecError):
    """Several spec errors found in one pass, reported together: the first :attr:`SHOWN`, then how many more.

    ``errors`` holds them all, for a program to read.
    """

    SHOWN = 50

    def __init__(self, errors: list[SpecError]):
        self.errors = list(errors)
        first = self.errors[0]
        CortexError.__init__(self, self.__str__())
        self.message, self.key, self.file, self.line = first.message, first.key, first.file, first.line

    def __str__(self) -> str:
        shown = "\n".join(str(e) for e in self.errors[:self.SHOWN])
        more = len(self.errors) - self.SHOWN
        return shown + (f"\n... and {more} more error{'s' if more > 1 else ''} (the first {self.SHOWN} are shown)"
                        if more > 0 else "")


def choices(names, limit: int = 20) -> str:
    """``names`` as a comma-separated list for a message, the first ``limit`` of them and how many more."""
    names = list(names)
    text = ", ".join(str(n) for n in names[:limit])
    return text + (f" and {len(names) - limit} more" if len(names) > limit else "")


class BackendError(CortexError, ValueError):
    """The requested array backend cannot be used (e.g. CuPy asked for but absent)."""


class ResourceError(CortexError, ValueError):
    """A model would need more memory than the machine has; raised before allocating."""


class CheckpointError(CortexError, ValueError):
    """A checkpoint is missing, corrupt, or does not match the spec it is loaded with."""


class StimulusError(CortexError, ValueError):
    """Stimuli given to a model do not match its inputs (name, shape, values)."""


class DivergenceError(CortexError, ArithmeticError):
    """Settling or learning produced non-finite values: names the region, the step and the likely parameter.

    ``region``, ``step`` (settling step, 0 the first guess; None for learning) and ``parameters`` (the names most
    likely to blame) are kept as attributes; docs/numerics.md lists each parameter's range.
    """

    def __init__(self, message: str, region: str | None = None, step: int | None = None,
                 parameters: tuple = ()):
        self.region, self.step, self.parameters = region, step, tuple(parameters)
        super().__init__(message)
