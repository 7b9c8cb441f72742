"""Region-graph specifications: YAML text -> validated, typed, frozen spec objects.

Validation happens once, before anything is built. Parameters are declared with pydantic (per region
kind and per experiment kind); cross-references are checked here. Every error names the file, the
line and the dotted key, and says what was expected.
"""
from __future__ import annotations

import difflib
import math
import os
import weakref
from typing import Any, Literal

from pydantic import Field, NonNegativeInt, PositiveInt, ValidationError, model_validator

from .errors import SpecError, SpecErrors, choices
from .region import Strict, region_kinds
from .units import Time, si
from .yaml_source import YamlDocument, dotted, load_yaml


class InputSpec(Strict):
    """A sensor array fed by the user, flattened to ``prod(shape)`` values per stimulus; or a window of a 2-D
    sensor (``of``, ``rows: [start, stop]``, ``cols: [start, stop]``), which the model cuts from it whenever the
    sensor is given (:mod:`cortex.windows`): a module of a retinotopic sheet sees its own patch."""

    shape: tuple[PositiveInt, ...] | None = Field(None, min_length=1, max_length=4)
    of: str | None = Field(None, min_length=1)
    rows: tuple[NonNegativeInt, NonNegativeInt] | None = None
    cols: tuple[NonNegativeInt, NonNegativeInt] | None = None

    @model_validator(mode="before")
    @classmethod
    def _window_shape(cls, data):
        """A window's shape follows from its rows and cols (written, it must agree)."""
        if isinstance(data, dict) and data.get("of") is not None and data.get("shape") is None:
            spans = [data.get(k) for k in ("rows", "cols")]
            if all(isinstance(s, (list, tuple)) and len(s) == 2 and all(type(v) is int for v in s) and s[1] > s[0]
                   for s in spans):
                data = {**data, "shape": [b - a for a, b in spans]}
        return data

    @model_validator(mode="after")
    def _sensor_or_window(self):
        if self.of is None:
            if self.rows is not None or self.cols is not None:
                raise ValueError("rows and cols cut a window of another input: give of (the input to cut it from)")
            if self.shape is None:
                raise ValueError("give shape (a sensor), or of, rows and cols (a window of a 2-D sensor)")
            return self
        for key in ("rows", "cols"):
            span = getattr(self, key)
            if span is None:
                raise ValueError(f"a window of {self.of!r} needs {key}: [start, stop]")
            if span[1] <= span[0]:
                raise ValueError(f"{key} [{span[0]}, {span[1]}] is empty: stop must be greater than start")
        want = (self.rows[1] - self.rows[0], self.cols[1] - self.cols[0])
        if self.shape != want:
            raise ValueError(f"shape {list(self.shape or ())} disagrees with rows and cols, which cut {list(want)}; "
                             "leave shape out")
        return self

    @property
    def size(self) -> int:
        return math.prod(self.shape)


class ConnectionSpec(Strict):
    """A long-range edge: ``role: input`` means ``to`` explains ``from``; ``context`` means ``from`` is a prior for ``to``."""

    source: str = Field(..., alias="from")
    target: str = Field(..., alias="to")
    role: Literal["input", "context"] = "context"
    delay: int = Field(0, ge=0, le=1000)
    precision: float = Field(1.0, ge=0)


START = ("auto", "first_guess", "bottom_up", "levels_first")   # where settling starts (cortex.bottom_up, cortex.balance)
CUT_STARTS = ("bottom_up", "levels_first")      # the starts that settle the graph cut level by level first


class SettleSpec(Strict):
    """Settling: at most ``steps`` steps, stopping early when the relative energy change per step < ``tol``.

    ``start``: where the activities start. ``first_guess``: every region from its learned feed-forward guess.
    ``bottom_up``: level by level, each level settled with the levels above it cut away, from the state the
    levels below settled to; a softmax top level then settles alone over them; then the whole graph settles from
    there (:mod:`cortex.bottom_up`, docs/depth.md). ``levels_first``: the same without the top's turn alone, so its
    feedback acts while it chooses. ``auto`` (default): ``levels_first`` where the graph has more than one level
    and can be cut, else ``first_guess`` (:func:`cortex.balance.auto_start`).
    """

    steps: int = Field(100, ge=1, le=1_000_000)
    rate: float = Field(0.5, gt=0, le=1)
    tol: float = Field(1e-4, ge=0)
    check_every: int = Field(10, ge=1)
    start: Literal[START] = "auto"


class StructureSpec(Strict):
    """The graph's ``structure:`` block: which context edges may be discovered, how often, within what budget."""

    sources: list[str] | None = None          # regions that may become context sources (default: every region)
    targets: list[str] | None = None          # regions that may receive discovered context (default: every region)
    budget: int = Field(4, ge=0, le=10_000)   # most discovered edges held at once
    min_gain: float = Field(0.05, gt=0)       # held-out energy per stimulus an edge must remove to be added or kept
    every: int = Field(20, ge=1)              # training batches between reviews
    buffer: int = Field(512, ge=16)           # most recent settled stimuli a review scores
    holdout: float = Field(0.5, gt=0, lt=1)   # share of the buffer that scores (the rest fits)
    precision: float = Field(1.0, gt=0)       # precision of an added edge
    prune_declared: bool = False              # may declared context edges be pruned too


def check_structure(spec) -> list[tuple[str, tuple]]:
    """Cross-checks of ``structure:`` against the graph (:mod:`cortex.structure` uses it): (message, key path) pairs."""
    s, out = spec.structure, []
    for key in ("sources", "targets"):
        for i, name in enumerate(getattr(s, key) or []):
            if name not in spec.regions:
                out.append((f"must name a region, got {name!r} (regions: {choices(spec.regions)})",
                            ("structure", key, i)))
    return out


class TimeSpec(Strict):
    """The ``time:`` block: how long one frame of a stream lasts. Time constants written with a unit (``tau: 2 s``)
    then move once per frame by this much; written as plain numbers they count settling steps."""

    frame: Time | None = None

    @property
    def frame_seconds(self) -> float | None:
        return None if self.frame is None else si(self.frame)


class NetworkSpec(Strict):
    """A whole region graph, as the user wrote it (regions and experiment typed by their kinds)."""

    name: str = Field(..., min_length=1)
    seed: int = Field(0, ge=0, le=2**32 - 1)
    backend: Literal["numpy", "cupy", "auto", "array_api_strict"] = "numpy"
    dtype: Literal["float32", "float64"] = "float32"
    inputs: dict[str, InputSpec] = Field(..., min_length=1)
    regions: dict[str, Any] = Field(..., min_length=1)
    connections: list[ConnectionSpec] = []
    settle: SettleSpec = SettleSpec()
    structure: StructureSpec | None = None
    time: TimeSpec = TimeSpec()
    experiment: Any = None

    def sources(self, region: str, role: str) -> list[ConnectionSpec]:
        """The edges into ``region`` with ``role``, region ``inputs`` first, in the order written."""
        return list(_edges(self)[1].get((region, role), ()))

    def edges(self) -> list[ConnectionSpec]:
        """All edges: each region's ``inputs`` list (role input, delay 0) followed by ``connections``."""
        return list(_edges(self)[0])

    def delays(self) -> dict[str, int]:
        """Source -> the longest delay any connection reads it with (sources read with a delay only): how many
        past frames of it a stream keeps."""
        out: dict[str, int] = {}
        for c in self.connections:
            if c.delay:
                out[c.source] = max(out.get(c.source, 0), c.delay)
        return out

    def size_of(self, node: str) -> int:
        return self.inputs[node].size if node in self.inputs else self.regions[node].hypotheses

    def to_dict(self) -> dict:
        """Plain data that :func:`spec_from_dict` turns back into an equal spec (a sensor without window keys)."""
        data = self.model_dump(mode="json", by_alias=True)
        data["inputs"] = {n: {k: v for k, v in i.items() if v is not None} for n, i in data["inputs"].items()}
        return data


_EDGES: dict[int, tuple] = {}   # id(spec) -> (weak ref, regions, connections, edges, index by (target, role))


def _edges(spec: NetworkSpec) -> tuple[list, dict]:
    """A spec's edge list and its index by (target, role), built once per spec: O(regions + edges).

    Why: building a model asks every region for its sources, and rebuilding every edge on each ask cost
    O(R x E) pydantic constructions (640k for 400 regions). A spec is frozen, so the list is kept beside
    it (not on it: pydantic compares private attributes in ``==``), keyed by identity, dropped with it.
    """
    cached = _EDGES.get(id(spec))
    if cached is None or cached[0]() is not spec or cached[1] is not spec.regions \
            or cached[2] is not spec.connections:
        edges = [ConnectionSpec(source=s, target=r, role="input") for r, p in spec.regions.items()
                 for s in p.inputs] + list(spec.connections)
        index: dict = {}
        for c in edges:
            index.setdefault((c.target, c.role), []).append(c)
        if cached is None or cached[0]() is not spec:
            weakref.finalize(spec, _EDGES.pop, id(spec), None)
        cached = _EDGES[id(spec)] = (weakref.ref(spec), spec.regions, spec.connections, edges, index)
    return cached[3], cached[4]


def _describe(err: dict) -> str:
    kind, msg, got = err["type"], err["msg"], err.get("input")
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "value_error" and "error" in err.get("ctx", {}):   # our own validators: their words, no prefix
        text = str(err["ctx"]["error"])
    else:
        text = msg[0].lower() + msg[1:]
    if not isinstance(got, (dict, list)) and not text.startswith("expected a number, got"):
        text += f", got {got!r}"
    return text


def _convert(exc: ValidationError, prefix: tuple, model, doc: YamlDocument) -> list[SpecError]:
    """pydantic errors -> SpecErrors with key path, line, and a did-you-mean for unknown keys (for the first
    :attr:`SpecErrors.SHOWN` of them: only those are printed, and 30,000 hints would take seconds)."""
    out = []
    hints: dict = {}
    for err in exc.errors():
        loc = prefix + tuple(err["loc"])
        message = _describe(err)
        if err["type"] == "extra_forbidden":
            where = loc[len(prefix):-1]
            known = hints[where] if where in hints else hints.setdefault(where, _known_keys(model, where))
            close = difflib.get_close_matches(str(loc[-1]), known, n=1) if len(out) < SpecErrors.SHOWN else []
            message = f"unknown key {loc[-1]!r}" + (f"; did you mean {close[0]!r}?" if close else "")
            message += f" (known keys: {', '.join(known)})" if known else ""
        out.append(SpecError(message, key=dotted(loc), file=doc.file, line=doc.line_of(loc)))
    return out


def _known_keys(model, path: tuple) -> list[str]:
    """Field names (aliases) of the sub-model at ``path`` inside ``model``, for did-you-mean hints."""
    for part in path:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(part)
        if field is None:   # a user-chosen name (an input or region), not a field: the model stays
            continue
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, Strict):
            model = ann
        else:
            args = getattr(ann, "__args__", ())
            model = next((a for a in args if isinstance(a, type) and issubclass(a, Strict)), None)
    if model is None:
        return []
    return sorted(f.alias or n for n, f in model.model_fields.items())


def parse_spec(doc: YamlDocument) -> NetworkSpec:
    """Validate a loaded YAML document into a :class:`NetworkSpec`, or raise all its errors at once."""
    from cortex.experiments import get_experiment_kind

    errors: list[SpecError] = []
    data = doc.data
    raw = None
    try:
        raw = NetworkSpec.model_validate(data)
    except ValidationError as exc:
        errors += _convert(exc, (), NetworkSpec, doc)

    regions = {}
    bodies = data.get("regions") if isinstance(data, dict) else None
    for name, body in (bodies.items() if isinstance(bodies, dict) else ()):
        key = ("regions", name)
        if not isinstance(body, dict):
            errors.append(SpecError(f"must be a mapping of region parameters, got {body!r}", dotted(key), doc.file, doc.line_of(key)))
            continue
        try:
            cls = region_kinds.get(body.get("kind", "predictive"))
        except SpecError as exc:
            errors.append(SpecError(exc.message, dotted(key + ("kind",)), doc.file, doc.line_of(key + ("kind",))))
            continue
        try:
            regions[name] = cls.Params.model_validate(body)
        except ValidationError as exc:
            errors += _convert(exc, key, cls.Params, doc)

    experiment = None
    body = data.get("experiment") if isinstance(data, dict) else None
    if body is not None:
        key = ("experiment",)
        if not isinstance(body, dict) or "kind" not in body:
            errors.append(SpecError("must be a mapping with a 'kind' (e.g. kind: recognition)", "experiment", doc.file, doc.line_of(key)))
        else:
            try:
                cls = get_experiment_kind(body["kind"])
                experiment = cls.Params.model_validate(body)
            except SpecError as exc:
                errors.append(SpecError(exc.message, "experiment.kind", doc.file, doc.line_of(key + ("kind",))))
            except ValidationError as exc:
                errors += _convert(exc, key, cls.Params, doc)
    if errors:   # cross-references too, in the same pass, over the parts that did validate
        errors += check_references(_partial(data, regions), doc, names=_names(data))
        errors.sort(key=lambda e: (e.line or 0))
        raise SpecErrors(errors)

    spec = raw.model_copy(update={"regions": regions, "experiment": experiment})
    errors += check_references(spec, doc)
    if errors:
        errors.sort(key=lambda e: (e.line or 0))
        raise SpecErrors(errors)
    return spec


def _valid(model, body):
    try:
        return model.model_validate(body)
    except ValidationError:
        return None


def _partial(data, regions: dict) -> NetworkSpec:
    """The parts of an invalid graph that validate on their own (a connection that does not is None), so its
    cross-references can be checked in the same pass as its schema. No experiment: its checks need a whole graph."""
    data = data if isinstance(data, dict) else {}
    inputs = data.get("inputs") if isinstance(data.get("inputs"), dict) else {}
    connections = data.get("connections") if isinstance(data.get("connections"), list) else []
    return NetworkSpec.model_construct(
        inputs={n: v for n, v in ((n, _valid(InputSpec, b)) for n, b in inputs.items()) if v is not None},
        regions=regions, connections=[_valid(ConnectionSpec, c) for c in connections],
        structure=_valid(StructureSpec, data["structure"]) if data.get("structure") is not None else None,
        time=_valid(TimeSpec, data.get("time", {})), experiment=None)


def _names(data) -> tuple[set, set]:
    """Input and region names as written (valid or not): a name that exists is never reported as undefined."""
    data = data if isinstance(data, dict) else {}
    return tuple({str(k) for k in data.get(part) or {}} if isinstance(data.get(part), dict) else set()
                 for part in ("inputs", "regions"))


def check_references(spec: NetworkSpec, doc: YamlDocument, names: tuple[set, set] | None = None) -> list[SpecError]:
    """Names that must exist, edges that cannot be, sizes that must agree.

    ``names`` (input names, region names) are those written, when ``spec`` holds only the valid parts of a graph.
    """
    errors = []
    input_names, region_names = names or (set(spec.inputs), set(spec.regions))

    def err(msg, path):
        errors.append(SpecError(msg, dotted(path), doc.file, doc.line_of(path)))

    overlap = input_names & region_names
    for name in sorted(overlap):
        err(f"{name!r} is both an input and a region; names must be unique", ("regions", name))
    nodes = sorted(input_names | region_names)
    regions = sorted(region_names)

    def unknown(name, what):
        close = difflib.get_close_matches(name, nodes, n=1) if len(errors) < SpecErrors.SHOWN else []
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"{what} {name!r} is not defined{hint} (defined: {choices(nodes)})"

    def growing(name):
        return (f"region {name!r} grows its hypotheses (recruit:), so its activity has no fixed width; no region can "
                "read it (make it a top region, or drop its recruit: block)")

    for rname, params in spec.regions.items():
        for i, src in enumerate(params.inputs):
            path = ("regions", rname, "inputs", i)
            if src not in nodes:
                err(unknown(src, "input"), path)
            elif src == rname:
                err("a region cannot take itself as input (it would predict its own activity at the same moment); "
                    "use a context connection with delay >= 1", path)
            elif src in spec.regions and spec.regions[src].grows():
                err(growing(src), path)
        if len(set(params.inputs)) != len(params.inputs):
            err("lists the same input twice", ("regions", rname, "inputs"))
        if params.teacher is not None:
            path = ("regions", rname, "teacher")
            if params.teacher not in input_names:
                err(f"teacher must name an input, got {params.teacher!r} (inputs: {choices(sorted(input_names))})", path)
            elif params.teacher not in spec.inputs:
                pass   # written but invalid: reported already
            elif spec.inputs[params.teacher].size != params.hypotheses and not params.grows():
                err(f"teacher input {params.teacher!r} has {spec.inputs[params.teacher].size} values but the region has "
                    f"{params.hypotheses} hypotheses; they must match", path)
            elif params.teacher in params.inputs:
                err("the teacher input cannot also be one of the region's inputs", path)

        clocked = getattr(params, "clocked", None)
        if clocked is not None and clocked() and spec.time is not None and spec.time.frame is None:
            err("its fatigue or noise time constant is a time (with a unit), which counts frames of a stream: "
                "give the graph a frame length, e.g. time: {frame: 10 ms} (or write the constant in settling steps, "
                "as a plain number)", ("regions", rname))

    seen = {(s, r, "input", 0) for r, p in spec.regions.items() for s in p.inputs}
    for i, c in enumerate(spec.connections):
        path = ("connections", i)
        if c is None:   # invalid on its own: reported already
            continue
        if c.source not in nodes:
            err(unknown(c.source, "source"), path + ("from",))
        elif c.source in spec.regions and spec.regions[c.source].grows():
            err(growing(c.source), path + ("from",))
        if c.target not in nodes:
            err(unknown(c.target, "target"), path + ("to",))
        elif c.target not in region_names:
            err(f"target {c.target!r} is an input; only regions can receive connections (regions: {choices(regions)})",
                path + ("to",))
        if c.role == "input" and c.delay and c.source not in spec.inputs:
            err("an input connection from a region must have delay 0: a region explains another's present activity "
                "(only a sensor input may be explained with a delay, as a window of its recent frames); "
                "use role: context for delayed signals", path + ("delay",))
        if c.source == c.target and c.delay == 0:
            err("a self-connection needs delay >= 1 (a region's prior cannot be its own present activity)", path + ("delay",))
        key = (c.source, c.target, c.role, c.delay)
        if key in seen:
            err(f"duplicate {c.role} connection {c.source} -> {c.target} with delay {c.delay}", path)
        seen.add(key)

    from .windows import check_windows
    for msg, path in check_windows(spec, input_names):
        err(msg, path)
    if spec.settle.start in CUT_STARTS:
        from .balance import check_bottom_up
        for msg, path in check_bottom_up(spec):
            err(msg, path)
    if spec.structure is not None:
        for msg, path in check_structure(spec):
            err(msg, path)
    if spec.experiment is not None and hasattr(spec.experiment, "check"):
        for msg, key in spec.experiment.check(spec):
            err(msg, ("experiment", key))
    return errors


def load_spec(source: str | os.PathLike | None = None, *, text: str | None = None) -> NetworkSpec:
    """Read and validate a region graph from a YAML file path or YAML text."""
    return parse_spec(load_yaml(source, text=text))


def spec_from_dict(data: dict, file: str = "<dict>") -> NetworkSpec:
    """Validate plain data (e.g. from a checkpoint) exactly as if it had been read from YAML."""
    return parse_spec(YamlDocument(data=data, file=file, lines={}))
