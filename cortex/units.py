"""Physical quantities written in YAML (``"20 ms"``, ``"-70 mV"``, ``"40 Hz"``), checked at validation.

A spiking region's parameters carry units. They are validated here, once, when the spec is read, so a
unit mismatch (``tau: 20 mV``) or a bare number where a unit belongs (``tau: 20``) is a ``SpecError``
naming the key and line, never a brian2 ``DimensionMismatchError`` deep inside a build. This module
does not need brian2 (it is an optional extra): a spiking graph can be validated anywhere; the
values become brian2 quantities only at the boundary (:mod:`cortex.regions.spiking.circuit`).

>>> si("20 ms"), dimension_of("20 ms")
(0.02, 'time')
"""
from __future__ import annotations

import math
import re
from typing import Annotated

from pydantic import BeforeValidator, WithJsonSchema

# unit -> (factor to SI, dimension); the spellings brian2 uses for the same units
UNITS: dict[str, tuple[float, str]] = {
    "s": (1.0, "time"), "second": (1.0, "time"), "ms": (1e-3, "time"), "msecond": (1e-3, "time"),
    "us": (1e-6, "time"), "usecond": (1e-6, "time"),
    "V": (1.0, "voltage"), "volt": (1.0, "voltage"), "mV": (1e-3, "voltage"), "mvolt": (1e-3, "voltage"),
    "uV": (1e-6, "voltage"), "uvolt": (1e-6, "voltage"),
    "Hz": (1.0, "rate"), "hertz": (1.0, "rate"), "kHz": (1e3, "rate"), "khertz": (1e3, "rate"),
}
EXAMPLE = {"time": "20 ms", "voltage": "-70 mV", "rate": "40 Hz"}
SI_UNIT = {"time": "second", "voltage": "volt", "rate": "hertz"}
_TEXT = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*\*?\s*([A-Za-z]+)\s*$")


class UnitError(ValueError):
    """A quantity's text is malformed, has an unknown unit, or the wrong dimension."""


def parse(text) -> tuple[float, str, str]:
    """``"20 ms"`` -> (20.0, "ms", "time"); raises :class:`UnitError` with what was expected."""
    if isinstance(text, bool) or not isinstance(text, str):
        raise UnitError("expected a number with a unit, e.g. '20 ms'")
    m = _TEXT.match(text)
    if not m:
        raise UnitError("expected a number with a unit, e.g. '20 ms' or '-70 mV'")
    value, unit = float(m.group(1)), m.group(2)
    if unit not in UNITS:
        known = "; ".join(f"{d}: {_units_of(d)}" for d in EXAMPLE)
        raise UnitError(f"unknown unit {unit!r} (known units, {known})")
    return value, unit, UNITS[unit][1]


def si(text: str) -> float:
    """The value of a validated quantity in SI units (seconds, volts, hertz)."""
    value, unit, _ = parse(text)
    return value * UNITS[unit][0]


def dimension_of(text: str) -> str:
    return parse(text)[2]


def _units_of(dim: str) -> str:
    """The short spellings, for messages (brian2's long ones, ``msecond``, are accepted too)."""
    return ", ".join(u for u, (_, d) in UNITS.items() if d == dim and len(u) <= 3)


def _checker(dim: str, gt: float | None, ge: float | None):
    def check(value):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            unit = EXAMPLE[dim].split()[1]
            raise UnitError(f"must be a {dim} with a unit, e.g. {EXAMPLE[dim]!r}, not a bare number "
                            f"(write '{value} {unit}' if you meant {unit})")
        number, unit, got = parse(value)
        if got != dim:
            raise UnitError(f"must be a {dim} (units: {_units_of(dim)}), not a {got}")
        if not math.isfinite(number):
            raise UnitError("must be finite")
        x = number * UNITS[unit][0]
        if gt is not None and not x > gt:
            raise UnitError(f"must be greater than {gt:g} {SI_UNIT[dim]}")
        if ge is not None and not x >= ge:
            raise UnitError(f"must be at least {ge:g} {SI_UNIT[dim]}")
        return f"{number:.12g} {unit}"   # one spelling, so a dumped spec validates to an equal one
    return check


def quantity(dim: str, *, gt: float | None = None, ge: float | None = None):
    """A pydantic field type: text with a unit of dimension ``dim`` (time, voltage, rate), bounds in SI."""
    if dim not in EXAMPLE:
        raise ValueError(f"unknown dimension {dim!r}")
    return Annotated[str, BeforeValidator(_checker(dim, gt, ge)),
                     WithJsonSchema({"type": "string", "description": f"a {dim}, e.g. {EXAMPLE[dim]!r}"})]


Time = quantity("time", gt=0)
Duration = quantity("time", ge=0)
Voltage = quantity("voltage")
PositiveVoltage = quantity("voltage", ge=0)
Rate = quantity("rate", ge=0)
PositiveRate = quantity("rate", gt=0)


# ----- two clocks: settling steps (inference inside a frame) and frames (physical time) ----------------------
# A time constant written as a plain number counts settling steps: fatigue and slow noise evolve during inference.
# Written with a unit ("2 s") it counts physical time: held fixed while a frame settles, moved once per frame by
# dt = the graph's ``time.frame``, so a stream's time in seconds does not depend on each frame's settling budget.

_positive_time = _checker("time", gt=0.0, ge=None)


def steps_or_time(minimum: float = 0.0):
    """A pydantic field type: a number of settling steps (at least ``minimum``) or a positive time with a unit."""
    def check(value):
        if isinstance(value, str):
            return _positive_time(value)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise UnitError("expected a number of settling steps (e.g. 200) or a time with a unit (e.g. '2 s')")
        if value < minimum:
            raise UnitError(f"must be at least {minimum:g} settling steps (or a time with a unit, e.g. '2 s'), "
                            f"got {str(value)[:12]}")
        try:
            steps = float(value)
        except OverflowError:   # an int of hundreds of digits
            steps = math.inf
        if not math.isfinite(steps):
            raise UnitError(f"must be a finite number of settling steps, got {str(value)[:12]}")
        return steps
    return Annotated[float | str, BeforeValidator(check),
                     WithJsonSchema({"description": f"settling steps (a number >= {minimum:g}) or a time with a "
                                                    "unit, e.g. '2 s'"})]


StepsOrTime = steps_or_time(0.0)


def is_clocked(value) -> bool:
    """Whether a time constant counts physical time (per frame) rather than settling steps.

    >>> is_clocked("2 s"), is_clocked(200.0)
    (True, False)
    """
    return isinstance(value, str)


def frames_per(value, frame_seconds: float | None) -> float | None:
    """A clocked time constant in frames of ``frame_seconds`` (None for one counted in settling steps).

    >>> frames_per("2 s", 0.01), frames_per(200.0, 0.01)
    (200.0, None)
    """
    if not is_clocked(value):
        return None
    if frame_seconds is None:
        raise UnitError(f"{value!r} is a time, so the graph needs time: {{frame: ...}} to count it in frames")
    return si(value) / frame_seconds
