"""What every region kind declares: its parameters (validated once) and the small interface settling uses.

A region explains its input X (the concatenation of its input sources) with its hypotheses, takes a
prior from its context Y, and exposes the derivatives other regions need: how its energy changes
with each input source (the top-down prediction error) and with each context source.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    """Validated, frozen, no unknown keys, no NaN or infinity."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, populate_by_name=True)


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


Competition = Literal["none", "lateral", "softmax"]
ErrorKind = Literal["gaussian", "cauchy"]
