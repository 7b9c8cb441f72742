"""``cortex bench``: it runs on tiny workloads, prints the table, and its figures are sane (never timed)."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
from click.testing import CliRunner

from cortex.backend import cupy_usable
from cortex.bench import run
from cortex.bench import workloads as W
from cortex.cli import cli


@pytest.fixture(scope="module")
def quick_report():
    return run(("W1", "W2", "W3"), quick=True, rounds=1, pcx=False)


def test_quick_report_has_every_figure(quick_report):
    rep = quick_report
    names = {(f.workload, f.name) for f in rep.figures}
    for w in ("W1", "W2", "W3"):
        for figure in ("settle step time (all regions)", "settling steps per second",
                       "speed-up over reference", "peak memory per stimulus (engine)",
                       "bytes allocated by one step (engine)"):
            assert (w, figure) in names, (w, figure)
    for w in ("W1", "W2"):     # W3's rivalry region may step through its own methods (no grouped matmuls)
        assert (w, "fraction of matmul rate") in names
    assert ("W1", "one learning update") in names
    assert ("W2", "grouped / one-region-per-block step time") in names
    assert any(w == "scaling" for w, _ in names)
    assert len(rep.workloads) == 3 and rep.workloads[1].startswith("W2")


def test_report_says_whether_the_cpu_kernels_are_fused(quick_report, monkeypatch):
    from cortex.bench.runner import _fused_state
    pytest.importorskip("numba")
    assert any(n.startswith("fused CPU kernels: on (numba") for n in quick_report.notes)
    monkeypatch.setenv("CORTEX_FUSED", "0")
    assert _fused_state().startswith("off")


def test_quick_figures_are_sane(quick_report):
    rep = quick_report
    for f in rep.figures:
        assert np.isfinite(f.value), f
    for w in ("W1", "W2", "W3"):
        step = rep.value(w, "settle step time (all regions)")
        assert step > 0
        np.testing.assert_allclose(rep.value(w, "settling steps per second"), 1e3 / step, rtol=1e-6)
        assert rep.value(w, "speed-up over reference") > 0
        assert rep.value(w, "peak memory per stimulus (engine)") > 0
    for w in ("W1", "W2"):
        assert rep.value(w, "matmul work per step") > 0
        assert 0 < rep.value(w, "fraction of matmul rate")
    # the W1 matmul work is what its shapes say: V1 (32x64 @ 64x64, twice), V2 and IT likewise; the uniform
    # lateral inhibition of V1 and V2 needs no matmul (c (sum(a) - a))
    B, v1, v2, it = 32, 64, 32, 10
    flops = 2 * B * (2 * v1 * 64) + 2 * B * (2 * v2 * v1) + 2 * B * (2 * it * v2)
    np.testing.assert_allclose(rep.value("W1", "matmul work per step"), flops / 1e9, rtol=1e-9)


def test_cli_bench_prints_the_table(tmp_path):
    out = tmp_path / "bench.json"
    res = CliRunner().invoke(cli, ["bench", "--quick", "-w", "W3", "--rounds", "1", "--no-pcx", "--json", str(out)])
    assert res.exit_code == 0, res.output
    assert "W3: rivalry stream" in res.output
    assert "settle step time (all regions)" in res.output and "speed-up over reference" in res.output
    data = json.loads(out.read_text())
    assert data["quick"] is True and {f["workload"] for f in data["figures"]} == {"W3"}


def test_cli_bench_refuses_bad_options():
    res = CliRunner().invoke(cli, ["bench", "--workload", "W9"])
    assert res.exit_code != 0 and "W9" in res.output
    res = CliRunner().invoke(cli, ["bench", "--rounds", "0"])
    assert res.exit_code != 0


def test_w2_graph_has_the_promised_degrees():
    spec = W.w2(regions=60, hypotheses=4, batch=2).spec
    assert len(spec.regions) == 60
    for name, p in spec.regions.items():
        assert 2 <= len(p.inputs) <= 4 and p.hypotheses == 4
        ctx = [c for c in spec.connections if c.target == name and c.role == "context"]
        assert 2 <= len(ctx) <= 4
        assert not {c.source for c in ctx} & set(p.inputs)


def test_pcx_is_optional():
    from cortex.bench import pcx_w1
    why = pcx_w1.available()
    assert why is None or "cortex-sim[bench]" in why


@pytest.mark.gpu
@pytest.mark.skipif(not cupy_usable(), reason="needs CuPy with a usable CUDA device (cortex.backend.cupy_usable() is False)")
def test_cupy_fused_kernels_match_numpy():
    """On a GPU: the fused elementwise kernels give the NumPy path's numbers, and a whole settle agrees."""
    from cortex.model import Model
    wl = W.w2(regions=16, hypotheses=32, batch=8)
    a = Model(wl.spec).settle(wl.stimuli, steps=10, tol=0)
    b = Model(wl.spec, backend="cupy").settle(wl.stimuli, steps=10, tol=0)
    np.testing.assert_allclose(b.energy, a.energy, rtol=1e-4)
    for name in a.activity:
        np.testing.assert_allclose(b.activity[name], a.activity[name], rtol=1e-4, atol=1e-6)


def test_threads_option_pins_blas_for_the_run():
    pytest.importorskip("threadpoolctl")
    from threadpoolctl import threadpool_info
    before = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
    res = CliRunner().invoke(cli, ["bench", "--quick", "-w", "W3", "--rounds", "1", "--no-pcx", "--threads", "1"])
    assert res.exit_code == 0, res.output
    assert "(--threads 1)" in res.output and "BLAS threads:" in res.output
    assert [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"] == before   # restored


def test_xla_flags_for_threads():
    from cortex.bench.pcx_w1 import xla_flags
    assert xla_flags(None) == ""
    assert "--xla_cpu_multi_thread_eigen=false" in xla_flags(1) and "intra_op_parallelism_threads=1" in xla_flags(1)
    assert xla_flags(2).startswith("--") and "intra_op_parallelism_threads=2" in xla_flags(2)


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs CPU affinity and two or more CPUs")
def test_pcx_worker_is_confined_to_its_thread_count():
    """XLA runs independent operations on a pool of its own whatever its flags say, so a one-thread comparison
    confines the PCX worker to one CPU (it used 1.8 CPU-seconds a second before); the library default is free."""
    from cortex.bench.pcx_w1 import pinned_cpus
    allowed = os.sched_getaffinity(0)
    one = pinned_cpus(1)
    assert len(one) == 1 and one <= allowed
    assert pinned_cpus(None) is None and pinned_cpus(len(allowed)) is None
    from cortex.bench import pcx_w1
    if pcx_w1.available():
        pytest.skip(pcx_w1.available())
    worker = pcx_w1.Worker(8, threads=1)
    try:
        assert os.sched_getaffinity(worker.proc.pid) == one
    finally:
        worker.close()


def test_pcx_same_math_counts_the_engines_matmuls():
    """The same-math PCX network issues the engine's W1 matmuls; PCX's standard one a third fewer (hoisted input
    layer, clamped top): 51.6 against 34.9 MFLOP a step at batch 256."""
    from cortex.bench.pcx_same import flops
    from cortex.bench.runner import matmul_log, prepared, replay
    from cortex.model import Model
    wl = W.w1(batch=16)
    s = prepared(Model(wl.spec), wl.stimuli)
    s.sweep(0)
    _, engine = replay(matmul_log(s))
    same, standard = flops(16)
    assert same == engine
    assert flops(256) == (51_642_368, 34_865_152)


def test_pcx_same_math_has_the_engines_energy():
    """W1's energy written in PCX, from the engine's weights and first guess, is the engine's energy there; PCX's
    settling then lowers it."""
    from cortex.bench import pcx_w1
    if pcx_w1.available():
        pytest.skip(pcx_w1.available())
    from cortex.bench.pcx_same import arrays_of, build
    from cortex.model import Model
    wl = W.w1(batch=8, v1=32, v2=16)
    m = Model(wl.spec)
    settle, energy0 = build(arrays_of(m, wl.stimuli))
    engine = float(np.mean(m.settle(wl.stimuli, steps=0).stimulus_energy))
    np.testing.assert_allclose(energy0(), engine, rtol=1e-5)
    assert settle(20) < energy0()


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs CPU affinity and two CPUs")
def test_engine_side_of_a_comparison_keeps_off_the_workers_cpus_then_gets_them_back():
    from cortex.bench.pcx_w1 import apart, pinned_cpus
    before = os.sched_getaffinity(0)
    worker = pinned_cpus(1)
    assert worker and len(worker) == 1 and worker < before
    with apart(worker):
        assert os.sched_getaffinity(0) == before - worker
    assert os.sched_getaffinity(0) == before
    with apart(None):         # an unpinned worker: nothing to keep off
        assert os.sched_getaffinity(0) == before
