"""Rivalry with spiking populations against the rate engine: duration statistics and winner agreement.

1. Dominance durations: the rivalry experiment (``cortex/experiments/rivalry.py``) on the spiking graph
   ``rivalry_spiking`` and on the rate graph ``rivalry``, side by side (CV, skewness, gamma shape, fits).
2. Winner agreement on unambiguous inputs: the rate model is trained as ``cortex run rivalry`` trains it;
   the spiking region gets (a) the rate model's fields copied, (b) its own fields, learned by STDP with
   the same training; both engines see the same unambiguous presentations (both eyes one grating,
   contrast 0.3-1 with pixel noise; and one eye only, the other blank) and the winners are compared.

    python benchmarks/spiking_rivalry.py                       # the shipped settings (several minutes)
    python benchmarks/spiking_rivalry.py --trials 12 --steps 600 --target numpy
"""
from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import yaml


def spiking_spec(target: str, seed: int = 0):
    import cortex
    from cortex.experiments.rivalry import Params
    from cortex.spec import spec_from_dict

    data = yaml.safe_load(cortex.graph_path("rivalry_spiking").read_text())
    experiment = data.pop("experiment")     # validated on its own: works before and after the experiment's check
    data["regions"]["P"]["target"] = target
    data["seed"] = seed
    return spec_from_dict(data), Params.model_validate(experiment)


def durations(trials: int, steps: int | None, rate_steps: int | None, target: str) -> dict:
    import cortex
    from cortex.experiments.rivalry import Rivalry

    out = {}
    spec, params = spiking_spec(target)
    params = params.model_copy(update={"trials": trials, "steps": steps})
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        out["spiking"] = Rivalry(spec, params).run(tmp, progress=False)
    out["spiking"]["wall_s"] = time.perf_counter() - t0
    rate_spec = cortex.load_spec(cortex.graph_path("rivalry"))
    rate_params = rate_spec.experiment.model_copy(update={"steps": rate_steps})
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        out["rate"] = Rivalry(rate_spec, rate_params).run(tmp, progress=False)
    out["rate"]["wall_s"] = time.perf_counter() - t0
    return out


def agreement(n: int, target: str, spiking_steps: int = 30, rate_steps: int = 200) -> dict:
    import cortex
    from cortex.experiments.rivalry import Rivalry
    from cortex.model import Model
    from cortex.stimuli.rivalry import binocular_training

    rate_spec = cortex.load_spec(cortex.graph_path("rivalry"))
    experiment = Rivalry(rate_spec, rate_spec.experiment)
    patterns = experiment.patterns()
    rate = Model(rate_spec)
    W, _ = experiment.train_gratings(rate, patterns, np.random.default_rng([rate_spec.seed, 0]))

    spec, params = spiking_spec(target)
    copied = Model(spec)
    copied.regions["P"].load_weights({"W": W})
    learned = Model(spec)
    _, cosine = Rivalry(spec, params).train_gratings(learned, patterns, np.random.default_rng([spec.seed, 0]))

    rng = np.random.default_rng(12345)
    left, right, label = binocular_training(patterns, n, rng, contrast=(0.3, 1.0), noise=0.05)
    mono_label = rng.integers(0, 2, n)
    contrast = rng.uniform(0.5, 1.0, n).astype(np.float32)[:, None, None]
    eye = rng.integers(0, 2, n)
    img = contrast * patterns[mono_label]
    blank = 0.05 * rng.standard_normal(img.shape).astype(np.float32)
    mono_left = np.where(eye[:, None, None] == 0, img, blank)
    mono_right = np.where(eye[:, None, None] == 1, img, blank)
    sets = {"binocular": ({"left": left, "right": right}, label),
            "monocular": ({"left": mono_left, "right": mono_right}, mono_label)}
    out = {"trials_per_set": n, "stdp_field_cosine": cosine}
    for name, (stimuli, truth) in sets.items():
        r = rate.settle(stimuli, steps=rate_steps, tol=0).winners("P")
        c = copied.settle(stimuli, steps=spiking_steps, tol=0).winners("P")
        s = learned.settle(stimuli, steps=spiking_steps, tol=0).winners("P")
        out[name] = {"rate_correct": float((r == truth).mean()), "agree_copied_fields": float((c == r).mean()),
                     "agree_stdp_fields": float((s == r).mean())}
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=32, help="spiking rivalry trials")
    ap.add_argument("--steps", type=int, default=None, help="spiking settling steps (10 ms each); default the graph's")
    ap.add_argument("--rate-steps", type=int, default=None, help="rate settling steps; default the graph's")
    ap.add_argument("--agreement-trials", type=int, default=256)
    ap.add_argument("--target", default="auto", help="brian2 target for the spiking region (auto, numpy, cython)")
    args = ap.parse_args(argv)

    res = durations(args.trials, args.steps, args.rate_steps, args.target)
    print(f"{'':<9}{'trials':>7}{'steps':>7}{'n':>6}{'mean':>8}{'CV':>7}{'skew':>7}{'gamma k':>8}"
          f"{'better':>11}{'pred A':>8}{'mixed':>7}{'wall s':>8}")
    for name, r in res.items():
        st = r["durations"]
        print(f"{name:<9}{r['trials']:>7}{r['steps']:>7}{st['n']:>6}{st['mean']:>8.1f}{st['cv']:>7.3f}"
              f"{st['skewness']:>7.2f}{st['gamma']['shape']:>8.2f}{st['better_fit']:>11}"
              f"{r['predominance_left']:>8.3f}{r['mixed_fraction']:>7.3f}{r['wall_s']:>8.1f}")
    print("(durations in settling steps: 10 ms windows for spiking, abstract steps for the rate engine; "
          f"fields learned: spiking cosine {res['spiking']['learned_field_cosine']}, rate {res['rate']['learned_field_cosine']})")
    ag = agreement(args.agreement_trials, args.target)
    print(f"winner agreement with the rate engine ({ag['trials_per_set']} unambiguous trials per set; "
          f"STDP fields cosine {np.round(ag['stdp_field_cosine'], 3).tolist()}):")
    for name in ("binocular", "monocular"):
        a = ag[name]
        print(f"  {name:<10} rate correct {a['rate_correct']:.3f}  spiking (rate's fields) agrees {a['agree_copied_fields']:.3f}"
              f"  spiking (STDP fields) agrees {a['agree_stdp_fields']:.3f}")
    return res, ag


if __name__ == "__main__":
    main()
