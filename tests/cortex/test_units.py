"""Physical units in YAML: parsed once at validation, mismatches are SpecErrors naming key and line (no brian2 needed)."""
import pytest

from cortex.errors import SpecError
from cortex.spec import load_spec, spec_from_dict
from cortex.units import UnitError, dimension_of, parse, si

HEAD = "name: u\ninputs:\n  x: {shape: [4]}\nregions:\n"


def region(body: str) -> str:
    return HEAD + f"  P:\n    kind: spiking\n    hypotheses: 2\n    inputs: [x]\n{body}"


@pytest.mark.parametrize("text,value,dim", [
    ("20 ms", 0.02, "time"), ("20ms", 0.02, "time"), ("0.5 s", 0.5, "time"), ("1e-4 s", 1e-4, "time"),
    ("250 us", 250e-6, "time"), ("-70 mV", -0.07, "voltage"), ("+1.5 mV", 1.5e-3, "voltage"),
    ("40 Hz", 40.0, "rate"), ("2 kHz", 2000.0, "rate"), ("3 * mvolt", 3e-3, "voltage"), ("10 msecond", 0.01, "time"),
])
def test_quantities_parse_to_si(text, value, dim):
    assert si(text) == pytest.approx(value)
    assert dimension_of(text) == dim


@pytest.mark.parametrize("text", ["20", "ms", "20 msec", "20 m s", "twenty ms", "", "1e ms", "20 ms ms"])
def test_malformed_quantities_raise(text):
    with pytest.raises(UnitError):
        parse(text)


def test_units_agree_with_brian2():
    """The table's factors are brian2's: '20 ms' here is 20 * brian2.ms there."""
    b2 = pytest.importorskip("brian2", reason="brian2 not installed (extra: spiking)")
    from cortex.units import UNITS

    checked = []
    for unit, (factor, _) in UNITS.items():
        q = getattr(b2, unit, None)          # brian2 spells seconds 'second', not 's'
        if q is not None:
            assert float(q) == pytest.approx(factor), unit
            checked.append(unit)
    assert {"ms", "second", "mV", "volt", "Hz", "kHz", "hertz", "us"} <= set(checked)


def test_spiking_params_keep_what_was_written_and_round_trip():
    spec = load_spec(text=region("    neuron: {tau: 15ms, rest: -65 mV}\n    drive: {rate: 2 kHz}\n    window: 0.02 s\n"))
    p = spec.regions["P"]
    assert (p.neuron.tau, p.neuron.rest, p.drive.rate, p.window) == ("15 ms", "-65 mV", "2 kHz", "0.02 s")
    assert spec_from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize("body,key,words", [
    ("    neuron: {tau: 20 mV}\n", "regions.P.neuron.tau", ["must be a time", "not a voltage", "20 mV"]),
    ("    neuron: {tau: 20}\n", "regions.P.neuron.tau", ["with a unit", "20 ms"]),
    ("    neuron: {threshold: 20 ms}\n", "regions.P.neuron.threshold", ["must be a voltage", "not a time"]),
    ("    drive: {rate: 5 mV}\n", "regions.P.drive.rate", ["must be a rate", "Hz"]),
    ("    drive: {rate: -5 Hz}\n", "regions.P.drive.rate", ["at least 0"]),
    ("    neuron: {tau: 20 msec}\n", "regions.P.neuron.tau", ["unknown unit 'msec'"]),
    ("    neuron: {tau: -1 ms}\n", "regions.P.neuron.tau", ["greater than 0"]),
    ("    neuron: {reset: -45 mV}\n", "regions.P.neuron", ["reset", "below threshold"]),
    ("    window: 0.25 ms\n    dt: 0.1 ms\n", "regions.P", ["whole number of time steps"]),
    ("    stdp: {w_min: 1.0, w_max: 0.5}\n", "regions.P.stdp", ["w_min"]),
    ("    reference_rate: 0 Hz\n", "regions.P.reference_rate", ["greater than 0"]),
    ("    target: gpu\n", "regions.P.target", ["numpy", "cython"]),
    ("    neuron: {tua: 20 ms}\n", "regions.P.neuron.tua", ["did you mean 'tau'"]),
])
def test_unit_mismatch_is_a_spec_error_with_key_and_line(body, key, words):
    with pytest.raises(SpecError) as info:
        load_spec(text=region(body))
    err = info.value
    assert err.key == key, str(err)
    assert err.line is not None and err.line >= 5
    text = str(err)
    for w in words:
        assert w in text, text
    assert "brian2" not in text and "DimensionMismatch" not in text
