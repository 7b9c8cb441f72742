"""What every region kind declares: its parameters (validated once) and the small interface settling uses.

A region explains its input X (the concatenation of its input sources) with its hypotheses, takes a
prior from its context Y, and exposes the derivatives other regions need: how its energy changes
with each input source (the top-down prediction error) and with each context source.
"""
from __future__ import annotations

from typing import Literal

import typing

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator


class Strict(BaseModel):
    """Validated, frozen, no unknown keys, no NaN or infinity, no ``yes``/``true`` where a number belongs."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, populate_by_name=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_numbers(cls, value, info: ValidationInfo):
        if isinstance(value, bool):
            ann = cls.model_fields[info.field_name].annotation
            if ann is not bool and bool not in typing.get_args(ann):
                raise ValueError(f"expected a number or text, got the boolean {value!r} (quote it if you meant text)")
        return value


class Adaptation(Strict):
    """Slow fatigue of active hypotheses: h <- h + (strength * a - h) / tau."""

    strength: float = Field(0.0, ge=0)
    tau: float = Field(20.0, ge=1)


class RegionParams(Strict):
    """Parameters common to every region kind; each kind subclasses this with its own."""

    kind: str = "predictive"
    hypotheses: int = Field(..., ge=1, le=1_000_000)
    inputs: list[str] = Field(..., min_length=1)
    teacher: str | None = None


def context_curvature_bound(backend, V, c, context_precision: float) -> float:
    """Upper bound of d2E/dY2 for a context term ``context_precision/2 |a - f((Y c) V)|^2``: what a region's
    context sources add to their own step-size bound (``|V|_F^2 max(c)^2``, scaled by the precision)."""
    V = backend.to_numpy(V)
    return context_precision * float((V * V).sum()) * float(backend.to_numpy(c).max()) ** 2


Competition = Literal["none", "lateral", "softmax"]
ErrorKind = Literal["gaussian", "cauchy"]
