"""Compare two sets of run folders (``results.json`` each) number by number, and print every experiment's headline.

Used to hold a refactoring to "every figure unchanged": run the experiments before and after into two
folders of run folders, then ``python benchmarks/compare_runs.py BEFORE AFTER``. Keys that describe the
run rather than measure something (times, versions, provenance, the split record) are not compared.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

IGNORED = {"seconds", "python", "numpy", "provenance", "split", "figures"}


def differences(a, b, path="") -> list[str]:
    """Every place where two results differ (numbers must be equal to the last bit, NaN equal to NaN)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            if path == "" and key in IGNORED:
                continue
            if key not in a or key not in b:
                out.append(f"{path}.{key}: only in {'after' if key in b else 'before'}")
            else:
                out += differences(a[key], b[key], f"{path}.{key}")
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: length {len(a)} -> {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}[{i}]")]
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return []
    return [] if a == b and type(a) is type(b) else [f"{path}: {a!r} -> {b!r}"]


def headline(res: dict) -> str:
    """The figures the README quotes for this experiment, as one line."""
    kind = res["experiment"]
    if kind == "recognition":
        a = res["accuracy"]
        return ", ".join(f"{c} {a[c]['model']:.3f}" for c in a) + \
            f"; logistic {a['clean'].get('logistic_regression', float('nan')):.3f}, mlp {a['clean'].get('mlp', float('nan')):.3f}"
    if kind == "rivalry":
        if res["sweep"] == "none":
            st = res["durations"] or {}
            return (f"switches/trial {res['switches_per_trial']:.1f}, mean {st.get('mean', float('nan')):.1f}, "
                    f"CV {st.get('cv', float('nan')):.3f}, skew {st.get('skewness', float('nan')):.2f}")
        verdict = res.get("levelt2") or res.get("levelt4")
        first, last = res["table"][0], res["table"][-1]
        return (f"pred_left {first['predominance_left']:.3f} -> {last['predominance_left']:.3f}, rate "
                f"{first['alternation_rate_per_1000_steps']:.2f} -> {last['alternation_rate_per_1000_steps']:.2f}"
                + (f", rho {verdict['spearman_rho']:+.2f}" if "spearman_rho" in verdict else ""))
    if kind == "priming":
        m = res["mean"]
        return (f"P(A|cue A) {m['p_a_cue_a']:.3f}, P(A|none) {m['p_a_no_cue']:.3f}, P(A|cue B) {m['p_a_cue_b']:.3f}, "
                f"effect {m['effect']:.3f}, control {m.get('control_effect', float('nan')):+.3f}")
    if kind == "composition":
        a = res["accuracy"]
        return (f"unseen both {a['factors']['unseen']['both']:.3f}, seen both {a['factors']['seen']['both']:.3f}, "
                f"no factors unseen both {a.get('no factors', {}).get('unseen', {}).get('both', float('nan')):.3f}")
    if kind == "camouflage":
        c = res["accuracy"]["camouflaged"]
        return (f"first guess {res['first_guess']['camouflaged']:.3f}, 1 step {c['1']:.3f}, 10 steps {c['10']:.3f}, "
                f"200 steps {c['200']:.3f}; logistic {res['baselines']['camouflaged']['logistic_regression']:.3f}")
    if kind == "filling_in":
        t = res["patch_mse"]
        return ", ".join(f"{k} {v['model']:.4f} vs mean {v['mean_image']:.4f}" for k, v in t.items())
    return ""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    failed = 0
    names = sorted(p.parent.name for p in args.before.glob("*/results.json"))
    print(f"{'run':<18}{'same':<6}headline before | after")
    for name in names:
        a = json.loads((args.before / name / "results.json").read_text())
        path = args.after / name / "results.json"
        if not path.is_file():
            print(f"{name:<18}{'-':<6}{headline(a)} | (no run)")
            failed += 1
            continue
        b = json.loads(path.read_text())
        diff = differences(a, b)
        failed += bool(diff)
        print(f"{name:<18}{'yes' if not diff else 'NO':<6}{headline(a)} | {headline(b)}")
        for line in diff[:10]:
            print(f"    {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
