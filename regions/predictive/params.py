"""The predictive kind's parameters (YAML keys under ``regions.NAME``) and its settling state."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, WrapValidator, model_validator

from cortex.region import Adaptation, Competition, ErrorKind, RegionParams, Strict
from cortex.units import StepsOrTime, is_clocked

from .recruit import Recruit


def _one_precision_error(value, handler):
    """One message for the number-or-'auto' union, not one per member (pydantic reports each alternative)."""
    try:
        return handler(value)
    except ValidationError:
        raise ValueError("input should be greater than 0 and at most 1e6, or 'auto'") from None


class LearnedPrecision(Strict):
    """``learn_precision:`` each input connection's precision learned online as 1 / its running error variance.

    After every learning update the mean squared prediction error of each input connection (over the batch and the
    connection's columns; a softmax region weighs each hypothesis' error by its activity) enters a running mean at
    ``rate``, and the connection's precision becomes its inverse, clipped to [``min``, ``max``]. It starts at the
    precision the graph gives (``precision`` times the connection's). See docs/depth.md."""

    rate: float = Field(0.05, gt=0, le=1)
    min: float = Field(1e-3, gt=0, le=1e6)
    max: float = Field(1e3, gt=0, le=1e6)

    @model_validator(mode="after")
    def _ordered(self):
        if self.min > self.max:
            raise ValueError(f"min ({self.min:g}) must not exceed max ({self.max:g})")
        return self


class Params(RegionParams):
    """Hyperparameters of a predictive region (YAML keys under ``regions.NAME``). The bounds are the documented
    ranges of docs/numerics.md: inside them settling cannot overflow float32 on inputs within
    :data:`cortex.api_checks.MAX_INPUT`; learning rates are bounded per update instead (``bounded_lr``)."""

    kind: Literal["predictive"] = "predictive"
    competition: Competition = "lateral"
    factors: int = Field(0, ge=0, le=256)
    precision: Annotated[Annotated[float, Field(gt=0, le=1e6)] | Literal["auto"],
                         WrapValidator(_one_precision_error)] = "auto"   # auto: inherited (cortex.balance)
    context_precision: float = Field(1.0, ge=0, le=1e6)
    sparsity: float = Field(0.0, ge=0, le=1e6)
    inhibition: float = Field(0.0, ge=0, le=1e6)
    inhibition_lr: float = Field(0.0, ge=0, le=1e3)
    temperature: float = Field(1.0, ge=1e-4, le=1e6)
    error: ErrorKind = "gaussian"
    error_scale: float = Field(0.5, ge=1e-4, le=1e6)
    lr: float = Field(0.05, ge=0)
    lr_context: float | None = Field(None, ge=0)
    lr_recognition: float | None = Field(None, ge=0)
    bounded_lr: bool = True
    adaptation: Adaptation = Adaptation()
    noise: float = Field(0.0, ge=0, le=1e3)
    noise_tau: StepsOrTime = 0.0
    first_guess: bool = True
    normalize: bool = True
    init_scale: float = Field(0.1, gt=0, le=10)   # std of the first weights (docs/robustness.md)
    init: Literal["random", "data"] = "random"   # data: the hypotheses start from the first stimuli (seeding.py)
    recruit: Recruit | None = None
    learn_precision: LearnedPrecision | None = None     # true: the default settings; false, null: off

    def grows(self) -> bool:
        return self.recruit is not None

    def clocked(self) -> bool:
        """Whether fatigue or slow noise count physical time (move per frame) rather than settling steps."""
        return is_clocked(self.adaptation.tau) or is_clocked(self.noise_tau)

    @model_validator(mode="before")
    @classmethod
    def _precision_switch(cls, data):
        """``learn_precision: true`` means the default settings, ``false`` off."""
        if isinstance(data, dict) and isinstance(data.get("learn_precision"), bool):
            data = {**data, "learn_precision": {} if data["learn_precision"] else None}
        return data

    @model_validator(mode="after")
    def _consistent(self):
        if self.recruit is not None:
            if self.hypotheses > self.recruit.max_hypotheses:
                raise ValueError(f"hypotheses ({self.hypotheses}) are the ones a recruiting region starts with; they "
                                 f"cannot exceed recruit.max_hypotheses ({self.recruit.max_hypotheses})")
            if self.teacher is not None and self.competition != "softmax":
                raise ValueError("a recruiting region with a teacher needs competition: softmax (the label chooses "
                                 "among the hypotheses it owns)")
        if self.factors and self.competition != "softmax":
            raise ValueError("factors need competition: softmax (each hypothesis then settles its own parameters)")
        if self.learn_precision is not None and self.recruit is not None:
            raise ValueError("learn_precision and recruit cannot be combined: recruit's novelty threshold is an "
                             "energy, which a learned precision rescales as it learns")
        if self.init == "data" and self.recruit is not None:
            raise ValueError("init: data and recruit cannot be combined: a recruiting region already starts each new "
                             "hypothesis from a stimulus")
        if self.inhibition and self.competition != "lateral":
            raise ValueError(f"inhibition applies to competition: lateral, not {self.competition!r}")
        return self


# The parameters the fast paths (grouped.py, softmax_block.py) implement, listed by hand on purpose: a region whose
# parameter model has any other field falls back to the region's own ``step``, so a new option of the kind is never
# silently ignored by a fast path (add it here once both fast paths handle it).
KNOWN_FIELDS = frozenset({
    "kind", "hypotheses", "inputs", "teacher", "competition", "factors", "precision", "context_precision",
    "sparsity", "inhibition", "inhibition_lr", "temperature", "error", "error_scale", "lr", "lr_context",
    "lr_recognition", "bounded_lr", "adaptation", "noise", "noise_tau", "first_guess", "normalize", "init_scale",
    "init", "recruit", "learn_precision"})


def fast_path_knows(params) -> bool:
    """Whether the fast paths implement every parameter of ``params`` (not the per-frame clock: a region whose
    fatigue or slow noise count physical time steps through its own methods; and ``recruit`` only when it is off:
    a recruiting region steps through its own methods, which mask its inactive hypotheses)."""
    return (set(type(params).model_fields) <= KNOWN_FIELDS and not params.clocked()
            and getattr(params, "recruit", None) is None)


@dataclass
class State:
    """Settling state of one region for a batch: activity, fatigue, hypothesis parameters, predictions."""

    a: Any                 # (B, n) activity (softmax: a distribution over hypotheses)
    h: Any                 # (B, n) adaptation
    xi: Any = None         # (B, n) coloured noise (noise_tau > 0)
    z: Any = None          # (B, n, k) hypothesis parameters (softmax with factors)
    pred: Any = None       # (B, d_X) expected prediction of the input
    mu: Any = None         # (B, n, d_X) each hypothesis' own prediction (softmax)
    clamped: bool = False  # activity fixed by a teacher
    mask: Any = None       # (n,) or (B, n) energy penalty of hypotheses that may not win (a recruiting region)
    labels: Any = None     # (B,) host ints: the teacher's labels of a recruiting region
