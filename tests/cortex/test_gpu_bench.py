"""``cortex bench --gpu-report``: the GPU path runs on ``array_api_strict`` here, on CuPy where a device answers."""
from __future__ import annotations

import numpy as np
import pytest

from cortex.backend import cupy_usable
from cortex.bench.gpu import gpu_report
from tests.cortex.test_cli import assert_user_error, cortex_main


def _check(rep):
    for f in rep.figures:
        assert np.isfinite(f.value) and f.value > 0, f
    for w in ("W1", "W2"):
        assert 0 < rep.value(w, "fraction of the device's matmul rate")
        np.testing.assert_allclose(rep.value(w, "effective rate of the step"),
                                   rep.value(w, "matmul work per step") / rep.value(w, "settle step time (all regions)") * 1e3,
                                   rtol=1e-6)
    # W1 quick (batch 16, 64 -> 32 -> 16 -> 10): V1, V2, IT each predict and send back one matmul's worth
    B = 16
    np.testing.assert_allclose(rep.value("W1", "matmul work per step"),
                               2 * B * (2 * 32 * 64 + 2 * 16 * 32 + 2 * 10 * 16) / 1e9, rtol=1e-9)
    assert {w for w, _ in ((f.workload, f.name) for f in rep.figures)} == {"W1", "W2", "W3"}


def test_gpu_report_runs_through_the_array_api_seam():
    rep = gpu_report(backend="array_api_strict", quick=True, rounds=1, echo=lambda line: None)
    _check(rep)
    assert "array_api_strict (host)" in rep.notes[0]


@pytest.mark.gpu
@pytest.mark.skipif(not cupy_usable(), reason="needs CuPy with a usable CUDA device (cortex.backend.cupy_usable() is False)")
def test_gpu_report_on_cupy():
    rep = gpu_report(backend="cupy", quick=True, rounds=1, echo=lambda line: None)
    _check(rep)
    assert "CuPy" in rep.notes[0]


@pytest.mark.skipif(cupy_usable(), reason="a GPU is here: the report runs")
def test_gpu_report_without_a_device_says_what_to_do(capsys):
    assert_user_error(cortex_main(capsys, "bench", "--gpu-report", "--quick"), "cupy")
