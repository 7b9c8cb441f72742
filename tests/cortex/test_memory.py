"""Memory estimates against what settling and learning really allocate, and the guards built on them.

The estimate (``cortex.memory``) is what ``cortex.load`` refuses a graph with, what ``cortex validate`` reports, and
what ``model.settle`` checks a batch, a step count and ``record`` against: it must be close to the truth (within
2x of the tracemalloc peak, over graph kinds whose memory grows differently), and the three must agree.
"""
from __future__ import annotations

import gc
import re
import tracemalloc

import numpy as np
import pytest
from click.testing import CliRunner

import cortex.memory as memory
from cortex.cli import cli
from cortex.errors import CortexError, ResourceError
from cortex.model import Model
from cortex.spec import load_spec

D, B = 100, 64
KINDS = {
    "softmax": "{R: {kind: predictive, hypotheses: 200, inputs: [x], competition: softmax}}",
    "softmax_factors": "{R: {kind: predictive, hypotheses: 50, inputs: [x], competition: softmax, factors: 4}}",
    "softmax_cauchy": "{R: {kind: predictive, hypotheses: 50, inputs: [x], competition: softmax, error: cauchy}}",
    "lateral": "{R: {kind: predictive, hypotheses: 200, inputs: [x], competition: lateral, inhibition: 0.1}}",
    "hierarchy": "{A: {kind: predictive, hypotheses: 100, inputs: [x]}, "
                 "B: {kind: predictive, hypotheses: 30, inputs: [A], competition: softmax}}\n"
                 "connections: [{from: B, to: A, role: context}]",
}


def spec_of(kind: str, d: int = D):
    return load_spec(text=f"name: {kind}\ninputs: {{x: {{shape: [{d}]}}}}\nregions: {KINDS[kind]}\n"
                          f"settle: {{steps: 20, rate: 0.5}}\n")


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_estimate_within_2x_of_the_measured_peak(kind):
    """Build, settle and learn one batch under tracemalloc (NumPy reports its buffers to it): the estimate used by
    load, validate and settle is between half and twice the peak (the softmax estimate was 6x before)."""
    spec = spec_of(kind)
    X = np.random.default_rng(0).random((B, D)).astype(np.float32)
    gc.collect()
    tracemalloc.start()
    try:
        model = Model(spec)
        model.learn(model.settle({"x": X}))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    estimate = memory.estimate_bytes(spec, B)
    assert 0.5 <= estimate / peak <= 2.0, (kind, estimate, peak)


def test_validate_and_load_refuse_the_same_graph(monkeypatch, tmp_path):
    """A machine too small for a graph: ``cortex validate`` says invalid with the estimate ``cortex.load`` raises."""
    spec = spec_of("softmax_factors")
    need = memory.estimate_bytes(spec)
    monkeypatch.setattr(memory, "available_bytes", lambda: need // 2)
    path = tmp_path / "big.yaml"
    path.write_text(f"name: big\ninputs: {{x: {{shape: [{D}]}}}}\nregions: {KINDS['softmax_factors']}\n")
    with pytest.raises(ResourceError) as info:
        Model(load_spec(path))
    out = CliRunner().invoke(cli, ["validate", str(path)])
    assert out.exit_code == 2 and "invalid" in out.output
    assert str(info.value) in out.output and "batch of 256" in str(info.value)
    monkeypatch.setattr(memory, "available_bytes", lambda: need * 2)
    out = CliRunner().invoke(cli, ["validate", str(path)])
    assert out.exit_code == 0 and out.output.startswith("ok:")


def test_settle_refuses_steps_and_batches_that_do_not_fit(monkeypatch):
    model = Model(spec_of("lateral"))
    X = np.zeros((4, D), dtype=np.float32)
    with pytest.raises(ResourceError) as info:
        model.settle({"x": X}, steps=10**12)
    msg = str(info.value)
    need = float(re.search(r"about ([0-9.]+) GiB", msg).group(1))
    assert "10000" in msg.replace(",", "") and "fewer steps" in msg
    assert need == pytest.approx(memory.settle_bytes(model.spec, 4, 10**12) / 2**30, rel=1e-2)
    # a batch too large for the machine is refused before the batch reaches the backend
    monkeypatch.setattr(memory, "available_bytes", lambda: memory.settle_bytes(model.spec, 1000, 20))
    model.settle({"x": np.zeros((900, D), dtype=np.float32)})
    with pytest.raises(ResourceError, match="a batch of 2000"):
        model.settle({"x": np.zeros((2000, D), dtype=np.float32)})
    with pytest.raises(ResourceError, match="record=True"):
        model.settle({"x": np.zeros((900, D), dtype=np.float32)}, record=True)
    assert isinstance(info.value, CortexError)


def test_a_large_step_budget_that_converges_allocates_little():
    """Energies per step grow with the steps taken, not the budget: steps=10**8 with tol stops early and small."""
    model = Model(spec_of("softmax"))
    X = np.random.default_rng(1).random((8, D)).astype(np.float32)
    tracemalloc.start()
    try:
        result = model.settle({"x": X}, steps=10**8, tol=1e-3)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.converged and result.steps < 10**4
    assert peak < 2**24            # far below the 10**8 x 1 float32 budget (400 MB) a full allocation would take
