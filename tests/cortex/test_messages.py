"""Messages a user can read: located errors for bad YAML, a cap on how many, schema and cross-reference errors in one
pass, quoted numbers refused, bounded ranges, and --debug / CORTEX_DEBUG as the only way to a traceback."""
import os
import subprocess
import sys

import numpy as np
import pytest

import cortex
from cortex.cli import main
from cortex.errors import SpecError, SpecErrors
from cortex.spec import load_spec

GRAPH = """\
name: t
inputs:
  x: {shape: [4]}
regions:
  A:
    kind: predictive
    hypotheses: 3
    inputs: [x]
"""


def errors_of(text: str) -> list[SpecError]:
    with pytest.raises(SpecError) as info:
        load_spec(text=text)
    return getattr(info.value, "errors", [info.value])


@pytest.mark.parametrize("kind, got", [("[predictive]", "a list"), ("{a: 1}", "a mapping"),
                                       ("[]", "a list"), ("{}", "a mapping")])
def test_a_kind_given_as_a_list_or_mapping_is_located(kind, got):
    (err,) = errors_of(GRAPH.replace("kind: predictive", f"kind: {kind}"))
    assert (err.key, err.line) == ("regions.A.kind", 6)
    assert got in err.message and "predictive, spiking" in err.message


def test_an_experiment_kind_given_as_a_list_is_located():
    (err,) = errors_of(GRAPH + "experiment: {kind: [recognition]}\n")
    assert err.key == "experiment.kind" and err.line == 9 and "a list" in err.message
    assert "recognition" in err.message and "rivalry" in err.message     # the kinds that exist


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "cortex.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120)


def test_the_cli_never_shows_a_traceback_without_debug(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(GRAPH.replace("kind: predictive", "kind: {a: 1}"))
    plain = run_cli("validate", str(bad))
    assert plain.returncode == 2 and "Traceback" not in plain.stderr
    assert f"regions.A.kind: region kind must be one name written as text, got a mapping" in plain.stderr
    for debug in (run_cli("--debug", "validate", str(bad)), run_cli("validate", str(bad), env={"CORTEX_DEBUG": "1"})):
        assert debug.returncode == 2 and "Traceback" in debug.stderr and "regions.A.kind" in debug.stderr


def test_a_bad_cortex_debug_value_is_a_message(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CORTEX_DEBUG", "maybe")
    with pytest.raises(SystemExit) as info:
        main(["validate", str(tmp_path / "missing.yaml")])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "'maybe' is not a valid boolean" in err and "Traceback" not in err


@pytest.mark.parametrize("line, key, text", [
    ("    hypotheses: '3'", "regions.A.hypotheses", "'3'"),
    ('    hypotheses: "16"', "regions.A.hypotheses", "'16'"),
    ("    lr: '1e-4'", "regions.A.lr", "'1e-4'"),
])
def test_quoted_numbers_are_refused_not_coerced(line, key, text):
    src = GRAPH.replace("    hypotheses: 3", line) if "hypotheses" in line else GRAPH + line + "\n"
    (err,) = errors_of(src)
    assert err.key == key and "quoted number" in err.message and text in err.message


def test_a_quoted_number_inside_a_list_is_refused():
    (err,) = errors_of(GRAPH.replace("shape: [4]", "shape: [2, '2']"))
    assert (err.key, err.line) == ("inputs.x.shape", 3) and "'2'" in err.message


def test_a_word_where_a_number_belongs_keeps_the_type_message():
    (err,) = errors_of(GRAPH.replace("hypotheses: 3", "hypotheses: many"))
    assert "valid integer" in err.message and "'many'" in err.message and "quoted" not in err.message


def test_errors_are_capped_at_fifty_then_a_count():
    text = GRAPH + "".join(f"    junk{i}: 1\n" for i in range(3000))
    with pytest.raises(SpecErrors) as info:
        load_spec(text=text)
    assert len(info.value.errors) == 3000          # all of them, for a program
    shown = str(info.value).splitlines()
    assert len(shown) == SpecErrors.SHOWN + 1
    assert shown[-1] == "... and 2950 more errors (the first 50 are shown)"
    assert shown[0].startswith("regions.A.junk0: unknown key 'junk0'")


def test_listed_choices_are_capped():
    regions = "".join(f"  R{i}: {{hypotheses: 2, inputs: [x]}}\n" for i in range(100))
    text = GRAPH + regions + "connections:\n  - {from: nowhere, to: A}\n"
    (err,) = errors_of(text)
    assert "(defined: " in err.message and "and 82 more)" in err.message   # 102 names, 20 listed


def test_schema_and_cross_reference_errors_come_in_one_pass():
    text = GRAPH.replace("    hypotheses: 3\n", "    hypotheses: 3\n    lrr: 0.1\n") + (
        "  B: {hypotheses: 2, inputs: [A], teacher: nope}\n"
        "connections:\n  - {from: A, to: C}\n  - {from: A, to: B, delay: -1}\n")
    errs = errors_of(text)
    found = {(e.key, e.line) for e in errs}
    assert ("regions.A.lrr", 8) in found                    # schema: an unknown key
    assert ("connections[1].delay", 13) in found            # schema: out of range
    assert ("regions.B.teacher", 10) in found               # cross-reference: no such input
    assert ("connections[0].to", 12) in found               # cross-reference: no such region
    assert len(errs) == 4                                   # and nothing invented about A, which exists
    assert [e.line for e in errs] == sorted(e.line for e in errs)


def test_init_scale_is_bounded_and_its_top_settles_finite():
    (err,) = errors_of(GRAPH + "    init_scale: 1.0e+20\n")
    assert err.key == "regions.A.init_scale" and "less than or equal to 10" in err.message
    model = cortex.Model(load_spec(text=GRAPH + "    init_scale: 10\n"))
    result = model.settle({"x": np.ones((2, 4), np.float32)})
    assert all(np.isfinite(np.asarray(a)).all() for a in result.activity.values())


def test_a_large_valid_graph_validates_in_full():
    """3,000 regions (about 1 MiB of YAML is 30x this): every one validates, and its work is each region once."""
    regions = "".join(f"  R{i}: {{hypotheses: 2, inputs: [{'x' if i == 0 else f'R{i - 1}'}]}}\n" for i in range(3000))
    spec = load_spec(text=GRAPH + regions)
    assert len(spec.regions) == 3001 and spec.regions["R2999"].inputs == ["R2998"]


def test_a_number_too_big_for_a_float_is_located_not_an_overflow():
    (err,) = errors_of(GRAPH + "    noise_tau: " + "9" * 400 + "\n")
    assert err.key == "regions.A.noise_tau" and "finite number of settling steps" in err.message
    (err,) = errors_of(GRAPH + "    noise_tau: -" + "9" * 400 + "\n")
    assert err.key == "regions.A.noise_tau" and "must be at least 0 settling steps" in err.message


@pytest.mark.parametrize("graph", ["oddball", "high_order", "concepts", "continual"])
def test_a_label_that_names_no_input_lists_the_inputs(graph):
    from cortex import graph_path
    from cortex.spec import spec_from_dict
    from cortex.yaml_source import load_yaml

    data = load_yaml(graph_path(graph)).data
    data["experiment"]["label"] = "nope"
    with pytest.raises(SpecError) as info:
        spec_from_dict(data)
    (err,) = [e for e in info.value.errors if e.key == "experiment.label"]
    listed = ", ".join(f"{n} {list(i['shape'])}" for n, i in data["inputs"].items())
    assert "got 'nope'" in err.message and f"(inputs: {listed})" in err.message


def test_error_scale_is_bounded_so_the_build_cannot_overflow():
    (err,) = errors_of(GRAPH + "    error: cauchy\n    error_scale: 1.0e+308\n")
    assert err.key == "regions.A.error_scale" and "less than or equal to 1000000" in err.message
    cortex.Model(load_spec(text=GRAPH + "    error: cauchy\n    error_scale: 1.0e+6\n"))


def test_a_bug_is_one_line_and_exit_1_and_debug_shows_its_traceback(capsys, monkeypatch):
    import cortex.cli as cli

    def broken(graph):
        raise RuntimeError("a bug, not the user's doing")

    monkeypatch.setattr(cli, "_spec", broken)
    for args, traceback in ((["validate", "digits"], False), (["--debug", "validate", "digits"], True)):
        with pytest.raises(SystemExit) as info:
            main(args)
        err = capsys.readouterr().err
        assert info.value.code == 1
        assert "internal error (a bug in cortex-sim, please report it): RuntimeError: a bug" in err
        assert ("Traceback" in err) == traceback and ("run with --debug" in err) != traceback


def test_a_quoted_number_as_a_mapping_value_is_refused():
    from cortex import graph_path
    from cortex.spec import spec_from_dict
    from cortex.yaml_source import load_yaml

    data = load_yaml(graph_path("high_order")).data
    data["experiment"]["controls"] = {"first_order": "1"}
    with pytest.raises(SpecError) as info:
        spec_from_dict(data)
    (err,) = info.value.errors
    assert err.key == "experiment.controls" and "'1' (a quoted number)" in err.message
