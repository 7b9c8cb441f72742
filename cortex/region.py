"""What a region kind is: its parameters (validated once) and :class:`RegionKind`, the interface settling calls.

A region explains its input X (the concatenation of its input sources) with its hypotheses, takes a
prior from its context Y, and exposes the derivatives other regions need: how its energy changes
with each input source (the top-down prediction error) and with each context source.

To add a kind, write one module (or package) in ``regions/`` that defines a ``Params`` model (a subclass of
:class:`RegionParams`) and a subclass of :class:`RegionKind` decorated with ``cortex.regions.register("name")``;
:func:`cortex.testing.check_region_kind` then says whether it keeps the promises below, alone and beside the
other kinds. See ``docs/`` for the settling equations these members take part in.
"""
from __future__ import annotations

import abc
import typing
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from .registry import Registry
from .units import steps_or_time


def _numbers_only(ann) -> bool:
    """Whether a field's type holds only numbers (or None), however nested in lists and tuples: text never fits."""
    if ann in (int, float, bool, type(None)):
        return True
    origin, args = typing.get_origin(ann), typing.get_args(ann)
    if origin is typing.Annotated:
        return _numbers_only(args[0])
    if origin in (list, tuple, set, typing.Union, getattr(__import__("types"), "UnionType", None)) and args:
        return all(a is Ellipsis or _numbers_only(a) for a in args)
    if origin is dict and len(args) == 2:   # names -> numbers: the values are what must be numbers
        return _numbers_only(args[1])
    return False


def _number_as_text(value):
    """The first text in ``value`` that reads as a number (``"16"``, ``'1e-4'``), else None."""
    if isinstance(value, str):
        try:
            float(value.replace("_", "x"))
        except ValueError:
            return None
        return value
    if isinstance(value, (list, tuple, dict)):
        items = value.values() if isinstance(value, dict) else value
        return next((t for t in map(_number_as_text, items) if t is not None), None)
    return None


class Strict(BaseModel):
    """Validated, frozen, no unknown keys, no NaN or infinity, no ``yes``/``true`` where a number belongs, and no
    quoted numbers (``hypotheses: "16"`` is refused, never read as 16: a quote means text)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, populate_by_name=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_or_text_for_numbers(cls, value, info: ValidationInfo):
        ann = cls.model_fields[info.field_name].annotation
        if isinstance(value, bool):
            if ann is not bool and bool not in typing.get_args(ann):
                raise ValueError(f"expected a number or text, got the boolean {value!r} (quote it if you meant text)")
        elif not isinstance(value, (int, float)) and _numbers_only(ann):
            text = _number_as_text(value)
            if text is not None:   # quoted: YAML reads it as text, and text is never silently made a number
                raise ValueError(f"expected a number, got the text {text!r} (a quoted number); write it without quotes")
        return value


class Adaptation(Strict):
    """Slow fatigue of active hypotheses: h <- h + (strength * a - h) / tau, per settling step when ``tau`` is a
    number of steps, per frame of a stream when it is a time (``tau: 2 s``, with the graph's ``time.frame``)."""

    strength: float = Field(0.0, ge=0)
    tau: steps_or_time(1.0) = 20.0


class RegionParams(Strict):
    """Parameters common to every region kind; each kind subclasses this with its own."""

    kind: str = "predictive"
    hypotheses: int = Field(..., ge=1, le=1_000_000)
    inputs: list[str] = Field(..., min_length=1)
    teacher: str | None = None

    def grows(self) -> bool:
        """Whether the region's number of hypotheses can change while it learns (default False). A growing region's
        teacher is a label of any size, and no region may read its activity (its width is not fixed)."""
        return False


Competition = Literal["none", "lateral", "softmax"]
ErrorKind = Literal["gaussian", "cauchy"]


@dataclass(frozen=True)
class Sources:
    """The sources of a region's X (or of its Y), in order: each one's width and connection precision."""

    sizes: tuple[int, ...] = ()
    precisions: tuple[float, ...] = ()

    @property
    def width(self) -> int:
        """Columns of the concatenation (d_X or d_Y)."""
        return sum(self.sizes)

    def per_column(self) -> list[float]:
        """Each column's precision: a source's connection precision repeated over its columns."""
        return [float(v) for v, s in zip(self.precisions, self.sizes) for _ in range(s)]


@dataclass(frozen=True)
class ResidualForm:
    """dE/dX on some input columns written as ``psi(X - state.pred) * precision`` (see :meth:`RegionKind.residual_form`).

    ``psi`` is the identity (``cauchy_scale2`` None) or the Cauchy shrinkage ``r / (1 + r^2 / cauchy_scale2)``.
    """

    precision: float
    cauchy_scale2: float | None = None


class RegionState(Protocol):
    """A region's settling state for a batch (each kind defines its own class with at least these fields)."""

    a: Any       # (B, n) activity: what other regions read as this region's output
    pred: Any    # (B, d_X) the region's prediction of its input X, or None for a kind that keeps none


class RegionKind(abc.ABC):
    """The interface settling, learning and checkpoints call on a region: exactly these members, nothing else.

    Abstract members must be written by every kind; the others have defaults declared here. Every array is a
    ``backend.xp`` array; ``B`` is the batch, ``n`` the hypotheses, ``d_X``/``d_Y`` the widths of X and Y.
    An instance sets these attributes in ``__init__``:

    ``name`` (str), ``p`` (its validated ``Params``), ``backend``, ``rng`` (its seeded random stream),
    ``n``, ``d_x``, ``d_y`` (ints), and ``weights`` (dict of learned arrays: what checkpoints save).
    """

    Params: ClassVar[type[RegionParams]]
    kind_name: ClassVar[str]          # set by ``cortex.regions.register``
    descends: ClassVar[bool] = True
    """Whether, with noise and fatigue off, :meth:`step` never raises the graph's energy (a stochastic simulation,
    such as spiking populations, says False: the conformance check then skips descent)."""

    name: str
    p: RegionParams
    backend: Any
    rng: Any
    n: int
    d_x: int
    d_y: int
    weights: dict

    @abc.abstractmethod
    def __init__(self, name: str, params: RegionParams, backend, inputs: Sources, context: Sources, rng):
        """Build the region's weights for these input and context sources (no settling state)."""

    # ----- settling ------------------------------------------------------------------------------------
    @abc.abstractmethod
    def start(self, X, Y, teacher=None) -> RegionState:
        """A fresh state for a batch: the first guess from X (B, d_X) and Y (B, d_Y or None); a ``teacher``
        (B, n) clamps the activity, which then never moves."""

    @abc.abstractmethod
    def step(self, state: RegionState, X, Y, g_ext, curv_ext: float, rate: float, noise=None) -> None:
        """One block update of ``state`` in place, everything else held fixed. ``g_ext`` (B, n) or None: dE/da of
        the regions that read this one; ``curv_ext``: a bound on their curvature in a; ``rate`` in (0, 1]: the
        fraction of the curvature-bounded step; ``noise``: (B, n) standard normal draws times :meth:`noise_std`."""

    @abc.abstractmethod
    def energy(self, state: RegionState, X, Y):
        """(B,) this region's share of each stimulus' energy (its input, context, sparsity and competition terms)."""

    @abc.abstractmethod
    def input_gradient(self, state: RegionState, X):
        """(B, d_X) dE/dX: what the region sends down to the sources it explains (its precision-weighted error)."""

    @abc.abstractmethod
    def context_gradient(self, state: RegionState, Y):
        """(B, d_Y) dE/dY: how the region's context term pulls on its undelayed context sources."""

    @abc.abstractmethod
    def input_curvature(self) -> float:
        """An upper bound of d2E/dX2: what the sources it explains add to their own step-size bound."""

    @abc.abstractmethod
    def context_curvature(self) -> float:
        """An upper bound of d2E/dY2 (0 without context): what its context sources add to their step-size bound."""

    def resume(self, state: RegionState, X, Y, teacher=None, *, keep_activity: bool = True) -> RegionState:
        """A state for the next frame of a stream, carried on from ``state`` (the previous frame's, not to be
        changed): its slow variables (fatigue, slow noise) always, its activity too with ``keep_activity`` (else the
        first guess from X). The default carries nothing: a kind without memory starts every frame afresh."""
        return self.start(X, Y, teacher)

    def set_frame(self, seconds: float | None) -> None:
        """The graph's frame length (``time.frame`` in seconds, or None), told once after the build: a kind whose
        time constants may be written in physical time converts them to frames here. Default: nothing to do."""

    def begin_frame(self, state: RegionState, noise) -> None:
        """Before a frame settles: move what evolves per frame and acts during it (slow noise) by one frame.
        ``noise``: (B, n) standard normal draws times :meth:`frame_noise_std`, or None. Default: nothing."""

    def end_frame(self, state: RegionState) -> None:
        """After a frame settled: move what its activity drives per frame (fatigue) by one frame. Default: nothing."""

    def frame_noise_std(self) -> float:
        """Standard deviation of the draws :meth:`begin_frame` takes once per frame (0, the default: none)."""
        return 0.0

    def mask_inputs(self, present) -> None:
        """For the coming settle (and learning from it): ``present`` (d_X,) 1 where X holds evidence, 0 on the
        columns of an absent input (they then add no error term), or None: all present. The default refuses
        absence; a kind that can settle on context alone overrides it."""
        if present is not None:
            from .errors import StimulusError

            raise StimulusError(f"region {self.name!r} (kind {self.kind_name}) cannot settle with one of its inputs "
                                f"absent; give every input it reads")

    def residual_form(self, start: int, stop: int) -> ResidualForm | None:
        """How dE/dX on input columns [start, stop) (one source) is formed, when it is the elementwise residual
        ``psi(X - state.pred) * precision`` of :class:`ResidualForm`: the engine then forms it in place from the
        cached prediction. None (the default): the engine calls :meth:`input_gradient` and slices it."""
        return None

    def noise_std(self) -> float:
        """Standard deviation of the white noise the engine draws for each :meth:`step` (0, the default: none)."""
        return 0.0

    def step_flops(self, batch: int) -> int:
        """Multiply-add work (2 flops each) of one :meth:`step`, for the benchmark (default: X against the fields
        twice, and the context prior)."""
        return 4 * batch * self.n * self.d_x + (2 * batch * self.d_y * self.n if self.d_y else 0)

    @classmethod
    def memory_elements(cls, params: RegionParams, d_x: int, d_y: int, batch: int) -> int:
        """Array elements a region with these parameters needs (weights, three copies; state and temporaries for
        ``batch`` stimuli), before it is built: the model refuses a graph that would not fit."""
        n = params.hypotheses
        weights = n * d_x + d_x * n + d_y * n + n * n
        return 3 * weights + 4 * batch * (6 * n + 3 * d_x + d_y)

    # ----- learning and weights ------------------------------------------------------------------------
    @abc.abstractmethod
    def learn(self, state: RegionState, X, Y) -> None:
        """One local update of ``weights`` from a settled state (Y is None without context)."""

    def context_fit(self, Y_fit, A_fit, Y_eval, A_eval):
        """The region's context term with a prior fitted to these activities: ``(mean energy on the eval set,
        weights)``. ``Y_*`` (N, m) precision-weighted context activities (None: no context), ``A_*`` (N, n) this
        region's settled activities. Structure search (:mod:`cortex.structure`) scores a candidate context edge by
        the energy it removes on held-out stimuli. None (the default): the kind cannot be scored, and structure
        search adds no context to it."""
        return None

    def plastic(self) -> bool:
        """Whether :meth:`learn` can change anything (False: ``model.learn`` skips the region). Default True."""
        return True

    @abc.abstractmethod
    def fields(self):
        """(n, d_X) each hypothesis' generative field: what it predicts its input is when active alone."""

    def load_weights(self, arrays: dict) -> None:
        """Replace weights by name (shapes must match); :meth:`weights_changed` is called after."""
        for key, value in arrays.items():
            if key not in self.weights or tuple(value.shape) != tuple(self.weights[key].shape):
                expected = tuple(self.weights[key].shape) if key in self.weights else None
                raise ValueError(f"{self.name}.{key}: expected shape {expected}, got {tuple(value.shape)}")
            self.weights[key] = self.backend.asarray(value)
        self.weights_changed()

    def weights_changed(self) -> None:
        """Called after ``weights`` were replaced from outside: drop anything cached from them (default: nothing)."""

    # ----- for the conformance check -------------------------------------------------------------------
    @classmethod
    def conformance_params(cls, mode: Literal["calm", "lively", "coloured"]) -> dict:
        """Parameter overrides :func:`cortex.testing.check_region_kind` applies: ``calm`` turns noise and fatigue
        off (settling must then descend when :attr:`descends`), ``lively`` turns them on, ``coloured`` also makes
        the noise slow. Default: no overrides."""
        return {}


def context_curvature_bound(backend, V, c, context_precision: float) -> float:
    """Upper bound of d2E/dY2 for a context term ``context_precision/2 |a - f((Y c) V)|^2``: what a region's
    context sources add to their own step-size bound (``|V|_F^2 max(c)^2``, scaled by the precision)."""
    V = backend.to_numpy(V)
    return context_precision * float((V * V).sum()) * float(backend.to_numpy(c).max()) ** 2


region_kinds = Registry("cortex.regions", "region kind", base=RegionKind)
"""The region kinds by name; every module of ``cortex.regions`` is imported on the first lookup."""
