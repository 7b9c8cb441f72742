"""Fused CPU kernels against plain NumPy, in one process, the paths taking turns (one BLAS thread).

For each chosen workload of ``cortex bench`` it prepares the same model three ways: fused (``CORTEX_FUSED`` on),
plain NumPy (``CORTEX_FUSED=0``), and every fast-path region through its own ``step`` (what W3's stream region ran
before it had a fast path), then times their settling steps in interleaved rounds beside the same-shape GEMM
replay and the reference loop, and prints the medians and each one's fraction of the GEMM rate and speed-up over
the reference. A busy machine slows every side alike only on average: run it more than once.

    python benchmarks/fused_cpu.py                 # W1 and W3
    python benchmarks/fused_cpu.py W2 --rounds 3   # the wide graph (about a minute a round)
"""
from __future__ import annotations

import argparse
import os
import statistics

from threadpoolctl import threadpool_limits

from cortex.bench import workloads as W
from cortex.bench.runner import interleaved, matmul_log, median_ratio, prepared, prepared_reference, replay
from cortex.model import Model
from cortex.regions.predictive.grouped import LinearGroup
from cortex.regions.predictive.softmax_block import SoftmaxBlock
from cortex.schedule import Single

INNER = {"W1": 5, "W2": 1, "W3": 50}


def own_steps(model):
    """The model with its stream fast paths (linear groups, softmax blocks with context) replaced by own steps."""
    blocks = []
    for blk in model.compiled.schedule:
        if isinstance(blk, LinearGroup) or (isinstance(blk, SoftmaxBlock) and blk.region.d_y):
            blocks += [Single([j], model.compiled.regions) for j in blk.members]
        else:
            blocks.append(blk)
    model.compiled.schedule = blocks
    return model


def measure(key: str, rounds: int) -> None:
    wl = {"W1": W.w1, "W2": W.w2, "W3": W.w3}[key]()
    sweeps = {}
    os.environ["CORTEX_FUSED"] = "0"
    sweeps["numpy"] = prepared(Model(wl.spec), wl.stimuli).sweep
    if key == "W3":
        sweeps["own-step"] = prepared(own_steps(Model(wl.spec)), wl.stimuli).sweep
    os.environ["CORTEX_FUSED"] = "1"
    model = Model(wl.spec)
    fused = prepared(model, wl.stimuli)
    sweeps["fused"] = fused.sweep
    for sweep in sweeps.values():
        sweep(0)
    sweeps["gemm"], flops = replay(matmul_log(fused))
    if key != "W2":
        ref, rate = prepared_reference(model, wl.stimuli), model.spec.settle.rate
        sweeps["reference"] = lambda: ref.sweep(rate)
    t = interleaved(sweeps, rounds, INNER[key])
    print(key + ": " + "; ".join(f"{name} {statistics.median(v) * 1e3:.3f} ms" for name, v in t.items()))
    paths = [p for p in ("numpy", "own-step", "fused") if p in t]
    print(f"{key} fraction of the GEMM rate: "
          + ", ".join(f"{p} {median_ratio(t['gemm'], t[p]):.3f}" for p in paths))
    if "reference" in t:
        print(f"{key} speed-up over the reference loop: "
              + ", ".join(f"{p} {median_ratio(t['reference'], t[p]):.2f}x" for p in paths))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workloads", nargs="*", help="W1, W2 and/or W3 (default: W1 W3)")
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    with threadpool_limits(1, "blas"):
        for key in args.workloads or ["W1", "W3"]:
            if key not in INNER:
                ap.error(f"unknown workload {key!r}; choose from W1, W2, W3")
            measure(key, args.rounds)


if __name__ == "__main__":
    main()
