"""Tests for cortex.spec: validation of region-graph YAML into typed, frozen spec objects.

One test per class of bad input. Every test runs twice (``source`` fixture): once on YAML text via
``load_spec(text=...)`` and once on a file in ``tmp_path``, checking the error's ``file`` each time.
Line numbers refer to the YAML texts below; BASE has 7 lines, so anything appended starts at line 8.
"""
import math
import re

import pydantic
import pytest

from cortex.errors import CortexError, ResourceError, SpecError, SpecErrors
from cortex.spec import ConnectionSpec, InputSpec, NetworkSpec, SettleSpec, load_spec, spec_from_dict

BASE = """\
name: t
inputs:
  retina: {shape: [8, 8]}
regions:
  V1:
    hypotheses: 4
    inputs: [retina]
"""
TWO = BASE + "  V2: {hypotheses: 3, inputs: [V1]}\n"   # V2 on line 8; `connections:` then goes on line 9


def short_ids(value):
    """Readable test ids: YAML texts become 'yaml', the key and line that follow them name the case."""
    return "yaml" if isinstance(value, str) and "\n" in value else None


@pytest.fixture(params=["text", "file"])
def errors_of(request, tmp_path):
    """Validate YAML from text or from a file; return the list of SpecErrors, each checked for its file."""

    def run(yaml_text: str) -> list[SpecError]:
        if request.param == "text":
            where, call = "<string>", lambda: load_spec(text=yaml_text)
        else:
            path = tmp_path / "graph.yaml"
            path.write_text(yaml_text, encoding="utf-8")
            where, call = str(path), lambda: load_spec(path)
        with pytest.raises(SpecError) as info:
            call()
        errs = info.value.errors if isinstance(info.value, SpecErrors) else [info.value]
        assert errs, "a SpecErrors must hold at least one error"
        for e in errs:
            assert isinstance(e, ValueError) and isinstance(e, CortexError)
            assert e.file == where, (e.file, where)
            if e.line is not None:
                assert f"{where}:{e.line}" in str(e)
        return errs

    return run


def only(errs, key, line, *fragments):
    """Exactly one error, at ``key`` and ``line``, whose message contains every fragment."""
    assert len(errs) == 1, [str(e) for e in errs]
    e = errs[0]
    assert (e.key, e.line) == (key, line), str(e)
    for frag in fragments:
        assert frag in e.message, (frag, e.message)
    assert str(e).startswith(f"{key}: ")
    return e


# ----- field-level errors (pydantic) -------------------------------------------------------------

@pytest.mark.parametrize("text, key, line, fragments", ids=short_ids, argvalues=[
    (BASE.replace("hypotheses: 4", "hypotheses: many"), "regions.V1.hypotheses", 6,
     ["valid integer", "'many'"]),
    (BASE.replace("hypotheses: 4", "hypotheses: 4.5"), "regions.V1.hypotheses", 6,
     ["valid integer", "fractional", "4.5"]),
    (BASE.replace("{shape: [8, 8]}", "{shape: 8}"), "inputs.retina.shape", 3, ["valid tuple", "got 8"]),
    (BASE.replace("[retina]", "retina"), "regions.V1.inputs", 7, ["valid list", "'retina'"]),
    (BASE + "seed: abc\n", "seed", 8, ["valid integer", "'abc'"]),
    (BASE + "backend: torch\n", "backend", 8, ["'numpy'", "'cupy'", "'torch'"]),
    (BASE + "    competition: winner\n", "regions.V1.competition", 8, ["'softmax'", "'lateral'", "'winner'"]),
    (BASE + "settle: 5\n", "settle", 8, ["valid dictionary", "got 5"]),
    (BASE.replace("  V1:\n    hypotheses: 4\n    inputs: [retina]\n", "  V1: 3\n"), "regions.V1", 5,
     ["must be a mapping of region parameters", "got 3"]),
    (BASE.replace("  V1:\n    hypotheses: 4\n    inputs: [retina]\n", "  - V1\n"), "regions", 4,
     ["valid dictionary"]),
    (BASE.replace("    hypotheses: 4\n", ""), "regions.V1.hypotheses", 5, ["required key is missing"]),
    (BASE.replace("name: t\n", ""), "name", 1, ["required key is missing"]),
    pytest.param(BASE.replace("hypotheses: 4", "hypotheses: yes"), "regions.V1.hypotheses", 6, ["bool"]),
    pytest.param(BASE + "    lr: true\n", "regions.V1.lr", 8, ["bool"]),
])
def test_wrong_types(errors_of, text, key, line, fragments):
    only(errors_of(text), key, line, *fragments)


@pytest.mark.parametrize("text, key, line, fragments", ids=short_ids, argvalues=[
    (BASE.replace("hypotheses: 4", "hypotheses: 0"), "regions.V1.hypotheses", 6,
     ["greater than or equal to 1", "got 0"]),
    (BASE.replace("[8, 8]", "[-8, 8]"), "inputs.retina.shape[0]", 3, ["greater than 0", "got -8"]),
    (BASE.replace("[8, 8]", "[8, 0]"), "inputs.retina.shape[1]", 3, ["greater than 0", "got 0"]),
    (BASE.replace("[8, 8]", "[]"), "inputs.retina.shape", 3, ["at least 1"]),
    (BASE.replace("hypotheses: 4", "hypotheses: 2000000"), "regions.V1.hypotheses", 6,
     ["less than or equal to 1000000", "2000000"]),
    (BASE + "    factors: -1\n    competition: softmax\n", "regions.V1.factors", 8, ["greater than or equal to 0"]),
    (BASE + "settle: {steps: 0}\n", "settle.steps", 8, ["greater than or equal to 1", "got 0"]),
])
def test_non_positive_sizes(errors_of, text, key, line, fragments):
    only(errors_of(text), key, line, *fragments)


@pytest.mark.parametrize("text, key, line, fragments", ids=short_ids, argvalues=[
    (BASE + "settle: {rate: .nan}\n", "settle.rate", 8, ["finite number", "nan"]),
    (BASE + "settle: {rate: 2}\n", "settle.rate", 8, ["less than or equal to 1", "got 2"]),
    (BASE + "settle: {rate: 0}\n", "settle.rate", 8, ["greater than 0", "got 0"]),
    (BASE + "    lr: -1\n", "regions.V1.lr", 8, ["greater than or equal to 0", "got -1"]),
    (BASE + "    precision: 0\n", "regions.V1.precision", 8, ["greater than 0", "got 0"]),
    (BASE + "    temperature: .inf\n", "regions.V1.temperature", 8, ["finite number", "inf"]),
    (BASE + "    noise: -1e-3\n", "regions.V1.noise", 8, ["greater than or equal to 0", "-0.001"]),
    (BASE + "    lr: .NaN\n", "regions.V1.lr", 8, ["finite number"]),
    (TWO + "connections:\n  - {from: V2, to: V1, precision: -1}\n", "connections[0].precision", 10,
     ["greater than or equal to 0", "got -1"]),
])
def test_nan_or_negative_rates(errors_of, text, key, line, fragments):
    only(errors_of(text), key, line, *fragments)


@pytest.mark.parametrize("text, key, line, wrong, meant, known, missing", ids=short_ids, argvalues=[
    (BASE + "    sparsty: 0.1\n", "regions.V1.sparsty", 8, "sparsty", "sparsity", "hypotheses, inhibition", []),
    (BASE + "conections: []\n", "conections", 8, "conections", "connections", "backend, connections, dtype", []),
    (BASE + "settle: {stpes: 3}\n", "settle.stpes", 8, "stpes", "steps", "check_every, rate, start, steps, tol", []),
    (BASE + "    adaptation: {strenght: 1}\n", "regions.V1.adaptation.strenght", 8, "strenght", "strength",
     "strength, tau", []),
    (TWO + "connections:\n  - {from: V2, to: V1, dealy: 1}\n", "connections[0].dealy", 10, "dealy", "delay",
     "delay, from, precision, role, to", []),
    # a misspelt alias: the real key is then missing too, reported first (same line, sorted by key order)
    (TWO + "connections:\n  - {form: V2, to: V1}\n", "connections[0].form", 10, "form", "from",
     "delay, from, precision, role, to", ["connections[0].from"]),
    pytest.param(BASE.replace("{shape: [8, 8]}", "{shape: [8, 8], shap: 3}"), "inputs.retina.shap", 3, "shap",
                 "shape", "shape", []),
])
def test_unknown_keys_did_you_mean(errors_of, text, key, line, wrong, meant, known, missing):
    errs = errors_of(text)
    assert [(e.key, e.line, e.message) for e in errs if e.key in missing] == [
        (m, line, "required key is missing") for m in missing]
    e = only([e for e in errs if e.key not in missing], key, line, f"unknown key {wrong!r}", f"did you mean {meant!r}?")
    assert "(known keys: " in e.message and known in e.message.split("(known keys: ")[1]


@pytest.mark.parametrize("text, key, line", ids=short_ids, argvalues=[
    (BASE + "    kind: predictve\n", "regions.V1.kind", 8),
    (BASE + "    kind: 7\n", "regions.V1.kind", 8),
])
def test_unknown_region_kind_lists_known_kinds(errors_of, text, key, line):
    e = only(errors_of(text), key, line, "unknown region kind", "known kinds: predictive")
    assert re.search(r"unknown region kind '?(predictve|7)'?", e.message)


@pytest.mark.parametrize("text, key, line, fragments", ids=short_ids, argvalues=[
    (BASE + "experiment: {kind: recog}\n", "experiment.kind", 8,
     ["unknown experiment kind 'recog'", "known kinds: ", "recognition"]),
    (BASE + "experiment:\n  epochs: 3\n", "experiment", 8, ["must be a mapping with a 'kind'"]),
    (BASE + "experiment: recognition\n", "experiment", 8, ["must be a mapping with a 'kind'"]),
])
def test_unknown_experiment_kind(errors_of, text, key, line, fragments):
    only(errors_of(text), key, line, *fragments)


@pytest.mark.parametrize("text, key, line, fragments", ids=short_ids, argvalues=[
    (BASE.replace("[retina]", "[retna]"), "regions.V1.inputs[0]", 7,
     ["input 'retna' is not defined", "did you mean 'retina'?", "(defined: V1, retina)"]),
    (TWO + "connections:\n  - {from: IT, to: V1}\n", "connections[0].from", 10,
     ["source 'IT' is not defined (defined: V1, V2, retina)"]),
    (TWO + "connections:\n  - {from: retin, to: V2}\n", "connections[0].from", 10,
     ["source 'retin' is not defined; did you mean 'retina'?"]),
    (TWO + "connections:\n  - from: V2\n    to: V11\n", "connections[0].to", 11,
     ["target 'V11' is not defined", "did you mean 'V1'?"]),
    (TWO + "connections:\n  - {from: zzz, to: V1}\n", "connections[0].from", 10,
     ["source 'zzz' is not defined (defined: V1, V2, retina)"]),
])
def test_references_to_undefined_names(errors_of, text, key, line, fragments):
    e = only(errors_of(text), key, line, *fragments)
    if "zzz" in text or "IT" in text:
        assert "did you mean" not in e.message


@pytest.mark.parametrize("text, key, line, fragments", ids=short_ids, argvalues=[
    # a region as its own input
    (BASE.replace("[retina]", "[retina, V1]"), "regions.V1.inputs[1]", 7,
     ["cannot take itself as input", "delay >= 1"]),
    # a connection into an input
    (BASE + "connections:\n  - {from: V1, to: retina}\n", "connections[0].to", 9,
     ["target 'retina' is an input", "only regions can receive connections (regions: V1)"]),
    # an input-role connection with a delay
    (TWO + "connections:\n  - {from: V2, to: V1, role: input, delay: 1}\n", "connections[0].delay", 10,
     ["input connection from a region must have delay 0", "role: context"]),
    # a context self-connection without delay
    (BASE + "connections:\n  - {from: V1, to: V1}\n", "connections[0].delay", 9,
     ["self-connection needs delay >= 1"]),
    # the same edge twice: once as a region input, once as a connection
    (TWO + "connections:\n  - {from: V1, to: V2, role: input}\n", "connections[0]", 10,
     ["duplicate input connection V1 -> V2"]),
    # the same context edge twice
    (TWO + "connections:\n  - {from: V2, to: V1}\n  - {from: V2, to: V1, precision: 2}\n", "connections[1]", 11,
     ["duplicate context connection V2 -> V1"]),
    # the same input listed twice
    (BASE.replace("[retina]", "[retina, retina]"), "regions.V1.inputs", 7, ["lists the same input twice"]),
    # a name that is both an input and a region
    (BASE + "  retina: {hypotheses: 2, inputs: [V1]}\n", "regions.retina", 8,
     ["'retina' is both an input and a region"]),
    # the same delayed context edge twice
    pytest.param(TWO + "connections:\n  - {from: V2, to: V1, delay: 1}\n  - {from: V2, to: V1, delay: 1}\n",
                 "connections[1]", 11, ["duplicate context connection V2 -> V1"]),
])
def test_impossible_connections(errors_of, text, key, line, fragments):
    only(errors_of(text), key, line, *fragments)


LABELLED = BASE.replace("inputs:\n  retina", "inputs:\n  label: {shape: [10]}\n  retina")   # 8 lines


@pytest.mark.parametrize("text, key, line, fragments", ids=short_ids, argvalues=[
    (BASE + "    teacher: V1\n", "regions.V1.teacher", 8, ["teacher must name an input", "got 'V1'", "(inputs: retina)"]),
    (BASE + "    teacher: labl\n", "regions.V1.teacher", 8, ["teacher must name an input", "'labl'"]),
    (LABELLED + "    teacher: label\n", "regions.V1.teacher", 9,
     ["'label' has 10 values but the region has 4 hypotheses"]),
    (LABELLED.replace("hypotheses: 4", "hypotheses: 10").replace("[retina]", "[retina, label]")
     + "    teacher: label\n", "regions.V1.teacher", 9, ["cannot also be one of the region's inputs"]),
])
def test_teacher_mistakes(errors_of, text, key, line, fragments):
    only(errors_of(text), key, line, *fragments)


@pytest.mark.parametrize("text, fragments", ids=short_ids, argvalues=[
    (BASE + "    factors: 3\n", ["factors need competition: softmax"]),
    (BASE + "    factors: 3\n    competition: lateral\n", ["factors need competition: softmax"]),
    (BASE + "    competition: none\n    inhibition: 0.5\n", ["inhibition applies to competition: lateral", "'none'"]),
])
def test_factors_without_softmax(errors_of, text, fragments):
    only(errors_of(text), "regions.V1", 5, *fragments)
    load_spec(text=BASE + "    factors: 3\n    competition: softmax\n")   # the fix is accepted


@pytest.mark.parametrize("text, key, line, first", ids=short_ids, argvalues=[
    (BASE + "    hypotheses: 5\n", "regions.V1.hypotheses", 8, 6),
    (BASE + "name: u\n", "name", 8, 1),
    (BASE + "  V1: {hypotheses: 2, inputs: [retina]}\n", "regions.V1", 8, 5),
])
def test_duplicate_yaml_keys(errors_of, text, key, line, first):
    e = only(errors_of(text), key, line, "duplicate key")
    assert f"(first at line {first})" in e.message


@pytest.mark.parametrize("tag_line", [
    "seed: !!python/object/apply:os.system ['echo pwned']",
    "seed: !!python/name:os.system",
    "extra: !!python/str t",
    "seed: !!binary aGVsbG8=",
    "extra: !!set {a, b}",
])
def test_python_and_other_tags_are_refused(errors_of, tag_line):
    e = only(errors_of(BASE + tag_line + "\n"), tag_line.split(":")[0], 8, "is not allowed", "only plain strings")
    assert "!!" in e.message


FIELD_ERRORS = (   # found by the first (pydantic) pass, in several sections
    "name: t\n"                      # 1
    "settle: {rate: 2, stpes: 4}\n"  # 2
    "inputs:\n"                      # 3
    "  retina: {shape: [8, -1]}\n"   # 4
    "regions:\n"                     # 5
    "  V2:\n"                        # 6
    "    lr: -1\n"                   # 7
    "    hypotheses: 0\n"            # 8
    "    inputs: [retina]\n"         # 9
    "  V1:\n"                        # 10
    "    kind: nope\n"               # 11
    "    hypotheses: 2\n"            # 12
    "    inputs: [retina]\n"         # 13
    "experiment: {kind: recognition, epochs: 0}\n"  # 14
)
REFERENCE_ERRORS = (   # found by the second pass (check_references), connections written before regions
    "name: t\n"                      # 1
    "connections:\n"                 # 2
    "  - {from: V9, to: V1}\n"       # 3
    "  - {from: V1, to: V1}\n"       # 4
    "inputs:\n"                      # 5
    "  retina: {shape: [8, 8]}\n"    # 6
    "regions:\n"                     # 7
    "  V1:\n"                        # 8
    "    hypotheses: 4\n"            # 9
    "    inputs: [retna]\n"          # 10
    "    teacher: V1\n"              # 11
)


@pytest.mark.parametrize("text, expected", ids=["field-errors", "reference-errors"], argvalues=[
    (FIELD_ERRORS, [("settle.rate", 2), ("settle.stpes", 2), ("inputs.retina.shape[1]", 4), ("regions.V2.lr", 7),
                    ("regions.V2.hypotheses", 8), ("regions.V1.kind", 11), ("experiment.epochs", 14)]),
    pytest.param(REFERENCE_ERRORS, [("connections[0].from", 3), ("connections[1].delay", 4),
                                    ("regions.V1.inputs[0]", 10), ("regions.V1.teacher", 11)]),
])
def test_multiple_errors_reported_together_sorted_by_line(errors_of, text, expected):
    errs = errors_of(text)
    assert sorted((e.key, e.line) for e in errs) == sorted(expected)   # all of them, in one go
    assert [e.line for e in errs] == sorted(e.line for e in errs), [(e.key, e.line) for e in errs]
    assert [(e.key, e.line) for e in errs] == expected
    with pytest.raises(SpecErrors) as info:
        load_spec(text=text)
    assert (info.value.key, info.value.line) == expected[0]   # the aggregate exposes the first error
    assert str(info.value).splitlines() == [str(e) for e in info.value.errors]


# ----- a valid file -------------------------------------------------------------------------------

VALID = """\
name: demo
seed: 7
inputs:
  retina: {shape: [8, 8]}
  label: {shape: [10]}
regions:
  V1:
    hypotheses: 16
    inputs: [retina]
    sparsity: 0.1
  IT:
    hypotheses: 10
    inputs: [V1]
    competition: softmax
    factors: 2
    teacher: label
    adaptation: {strength: 0.2}
connections:
  - {from: IT, to: V1, precision: 0.5}
  - {from: V1, to: V1, delay: 1}
settle: {steps: 20}
experiment:
  kind: recognition
  readout: IT
  epochs: 2
"""


def test_valid_file_gives_typed_objects_with_defaults(tmp_path):
    from cortex.experiments.recognition import Params as RecognitionParams
    from cortex.region import Adaptation
    from cortex.regions.predictive import Params as PredictiveParams

    path = tmp_path / "demo.yaml"
    path.write_text(VALID, encoding="utf-8")
    spec = load_spec(path)
    assert isinstance(spec, NetworkSpec)
    assert (spec.name, spec.seed, spec.backend, spec.dtype) == ("demo", 7, "numpy", "float32")
    assert spec.inputs == {"retina": InputSpec(shape=(8, 8)), "label": InputSpec(shape=(10,))}
    assert spec.inputs["retina"].size == 64 and spec.size_of("retina") == 64 and spec.size_of("IT") == 10

    v1, it = spec.regions["V1"], spec.regions["IT"]
    assert type(v1) is PredictiveParams and type(it) is PredictiveParams
    assert (v1.kind, v1.hypotheses, v1.inputs, v1.sparsity) == ("predictive", 16, ["retina"], 0.1)
    assert (v1.competition, v1.lr, v1.precision, v1.factors, v1.teacher, v1.noise) == ("lateral", 0.05, "auto", 0, None, 0.0)
    assert (it.competition, it.factors, it.teacher) == ("softmax", 2, "label")
    assert it.adaptation == Adaptation(strength=0.2, tau=20.0)
    assert spec.settle == SettleSpec(steps=20, rate=0.5, tol=1e-4, check_every=10)

    exp = spec.experiment
    assert type(exp) is RecognitionParams
    assert (exp.kind, exp.readout, exp.epochs, exp.stimulus, exp.label, exp.batch_size, exp.baselines) == (
        "recognition", "IT", 2, "retina", "label", 32, True)

    edges = [(c.source, c.target, c.role, c.delay, c.precision) for c in spec.edges()]
    assert edges == [("retina", "V1", "input", 0, 1.0), ("V1", "IT", "input", 0, 1.0),
                     ("IT", "V1", "context", 0, 0.5), ("V1", "V1", "context", 1, 1.0)]
    assert all(isinstance(c, ConnectionSpec) for c in spec.edges())
    assert [c.source for c in spec.sources("V1", "context")] == ["IT", "V1"]
    assert [c.source for c in spec.sources("IT", "input")] == ["V1"]

    with pytest.raises(pydantic.ValidationError):   # frozen
        spec.regions["V1"].hypotheses = 3

    data = spec.to_dict()
    assert data["connections"][0] == {"from": "IT", "to": "V1", "role": "context", "delay": 0, "precision": 0.5}
    assert data["inputs"]["retina"] == {"shape": [8, 8]}
    assert data["regions"]["V1"]["lr"] == 0.05 and data["experiment"]["kind"] == "recognition"
    again = spec_from_dict(data)
    assert again == spec and again.to_dict() == data
    assert type(again.regions["IT"]) is PredictiveParams and type(again.experiment) is RecognitionParams


def test_context_edges_with_different_delays_are_not_duplicates():
    ctx = "connections:\n  - {from: V2, to: V1, delay: %d}\n  - {from: V2, to: V1, delay: %d}\n"
    assert [c.delay for c in load_spec(text=TWO + ctx % (0, 1)).connections] == [0, 1]
    assert [c.delay for c in load_spec(text=TWO + ctx % (1, 0)).connections] == [1, 0]


def test_shipped_digits_graph_round_trips():
    from cortex import graph_path

    spec = load_spec(graph_path("digits"))
    assert spec.regions["IT"].factors == 8 and spec.regions["IT"].error == "cauchy"
    assert spec_from_dict(spec.to_dict()) == spec


def test_spec_from_dict_reports_keys_without_lines():
    data = load_spec(text=BASE).to_dict()
    data["regions"]["V1"]["hypotheses"] = -3
    with pytest.raises(SpecError) as info:
        spec_from_dict(data, file="ckpt.npz:spec")
    e = info.value
    assert (e.key, e.line, e.file) == ("regions.V1.hypotheses", None, "ckpt.npz:spec")
    assert "got -3" in e.message


# ----- memory refusal -----------------------------------------------------------------------------

@pytest.mark.parametrize("hypotheses", [1_000_000, 2_000_000])
def test_model_too_big_for_memory_is_refused_before_allocating(hypotheses, monkeypatch):
    import cortex.model as model_mod

    spec = load_spec(text="name: big\ninputs:\n  x: {shape: [100000]}\nregions:\n"
                          "  R: {hypotheses: 1000000, inputs: [x]}\n")
    if hypotheses != 1_000_000:   # beyond the YAML limit (see test_non_positive_sizes): bypass validation
        spec = spec.model_copy(update={"regions": {"R": spec.regions["R"].model_copy(update={"hypotheses": hypotheses})}})

    def must_not_run(*args, **kwargs):
        raise AssertionError("built something before the memory check")

    monkeypatch.setattr(model_mod, "get_backend", must_not_run)
    monkeypatch.setattr(model_mod, "build_graph", must_not_run)
    with pytest.raises(ResourceError) as info:
        model_mod.Model(spec)
    assert isinstance(info.value, ValueError) and isinstance(info.value, CortexError)
    msg = str(info.value)
    need = float(re.search(r"about ([0-9.]+) GiB", msg).group(1))
    assert math.isclose(need, model_mod.estimate_bytes(spec) / 2**30, rel_tol=1e-2)
    assert need > 1000 and "'big'" in msg and "GiB" in msg and "fewer hypotheses" in msg


def test_building_a_model_constructs_each_edge_once(monkeypatch):
    """A graph of R regions and E edges builds in O(R + E): each region-inputs edge is made once, however large
    the graph (asking every region for its sources once rebuilt every edge: R x E constructions)."""
    from cortex.bench.workloads import hierarchy_data
    from cortex.model import Model

    made, real = [0], ConnectionSpec.__init__

    def counting(self, *args, **kwargs):
        made[0] += 1
        real(self, *args, **kwargs)

    monkeypatch.setattr(ConnectionSpec, "__init__", counting)
    for regions in (40, 160):
        spec = spec_from_dict(hierarchy_data(regions=regions, hypotheses=2, sensor_size=4))
        implicit = sum(len(p.inputs) for p in spec.regions.values())
        made[0] = 0
        model = Model(spec)
        assert made[0] == implicit, (regions, made[0], implicit)
        assert len(spec.edges()) == implicit + len(spec.connections) and made[0] == implicit   # cached
        for name in spec.regions:
            assert [c.source for c in spec.sources(name, "input")] == list(spec.regions[name].inputs)
        assert len(model.compiled) == regions


def test_a_changed_copy_of_a_spec_sees_its_own_edges():
    """The edge index belongs to one spec: a copy with other connections, or other regions, lists its own."""
    from cortex.shipped import graph_path

    spec = load_spec(graph_path("digits"))
    name = next(iter(spec.regions))
    before = spec.sources(name, "context")
    extra = ConnectionSpec(source=name, target=name, role="context", delay=1)
    copy = spec.model_copy(update={"connections": list(spec.connections) + [extra]})
    assert copy.sources(name, "context") == before + [extra]
    assert spec.sources(name, "context") == before
    assert copy == spec.model_copy(update={"connections": list(spec.connections) + [extra]})
