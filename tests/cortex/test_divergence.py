"""Divergence is never silent: settling and learning stop with a DivergenceError naming region, step and parameter,
a model with non-finite weights is never saved, and bounded learning rates keep large rates finite."""
from __future__ import annotations

import numpy as np
import pytest

from cortex.errors import CortexError, DivergenceError, SpecError
from cortex.model import Model
from cortex.spec import load_spec

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def graph(lr: float = 0.05, bounded: bool = True, tol: float = 1e-4, extra: str = "") -> Model:
    return Model(load_spec(text=f"""
name: watch
inputs: {{x: {{shape: [8]}}}}
regions:
  low: {{kind: predictive, hypotheses: 5, inputs: [x], competition: none, normalize: false, lr: {lr},
        bounded_lr: {str(bounded).lower()}{extra}}}
  top: {{kind: predictive, hypotheses: 3, inputs: [low], competition: softmax}}
settle: {{steps: 30, rate: 0.5, tol: {tol}, check_every: 5}}
"""))


X = np.random.default_rng(0).random((16, 8)).astype(np.float32) * 50


def test_unbounded_learning_rate_stops_with_the_region_and_lr_named():
    m = graph(lr=1e6, bounded=False)
    with pytest.raises(DivergenceError) as info:
        for _ in range(20):
            m.learn(m.settle({"x": X}))
    err = info.value
    assert isinstance(err, CortexError) and err.region == "low" and "lr" in err.parameters
    assert "'low'" in str(err) and "lr=1000000.0" in str(err) and "bounded_lr" in str(err)


def test_the_same_rate_bounded_stays_finite_and_lowers_the_energy():
    m = graph(lr=1e6, bounded=True)
    first = m.settle({"x": X})
    for _ in range(20):
        last = m.settle({"x": X})
        m.learn(last)
    assert all(np.isfinite(a).all() for a in last.activity.values())
    assert last.energy[-1] < first.energy[-1]


@pytest.mark.parametrize("tol", [1e-4, 0.0])
def test_settling_that_overflows_names_region_and_step(tol):
    """Weights near float32's limit overflow during settling; the watch (at the convergence checks with tol, once at
    the end without) names the region, the step, and the parameter most likely to blame."""
    m = graph(tol=tol, extra=", precision: 1.0e+5")
    m.regions["low"].load_weights({"W": np.full((5, 8), 1e17, np.float32)})
    with pytest.raises(DivergenceError) as info:
        m.settle({"x": X})
    err = info.value
    assert err.region in ("low", "top") and err.step is not None and err.step >= 0
    assert "step" in str(err) and err.parameters
    if err.region == "low":
        assert err.parameters[0] == "precision" and "precision=100000.0" in str(err)


def test_non_finite_weights_are_named_at_the_first_guess_and_never_saved(tmp_path):
    m = graph()
    W = m.regions["low"].weights["W"].copy()
    W[0, 0] = np.nan
    m.regions["low"].load_weights({"W": W})
    with pytest.raises(DivergenceError, match=r"'low'.*\['W'\] are already non-finite") as info:
        m.settle({"x": X})
    assert info.value.region == "low"
    with pytest.raises(DivergenceError, match="will not save"):
        m.save(tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()


@pytest.mark.parametrize("key, value", [("init_scale", 1e20), ("precision", 1e7), ("noise", 1e4),
                                        ("error_scale", 1e-9), ("temperature", 0.0)])
def test_parameters_outside_their_documented_range_are_refused_at_build(key, value):
    with pytest.raises(SpecError, match=key):
        load_spec(text=f"name: r\ninputs: {{x: {{shape: [4]}}}}\nregions: {{R: {{kind: predictive, hypotheses: 2, "
                       f"inputs: [x], competition: softmax, {key}: {value}}}}}\n")
