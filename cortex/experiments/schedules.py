"""Learning schedules of a deep graph: ``joint`` or ``layerwise``, and unsupervised pretraining level by level.

``joint`` (the old way): every region learns from every settled batch, the read-out clamped to the label.
``layerwise``: the levels below the read-out first learn without labels, bottom-up, one level at a time on a
graph cut above that level (so nothing higher, random as it still is, pulls on it), each level frozen once
learned; then only the read-out learns, with its label. A level learned on its own gives the level above a
code of the stimulus to explain instead of a code shaped by an untrained read-out. Cut graphs keep the
precisions the whole graph resolves (``precision: auto`` inherits them from above, see :mod:`cortex.balance`).
"""
from __future__ import annotations

from cortex.balance import levels, resolve_precisions
from cortex.spec import spec_from_dict

from .trainer import batch_count, epoch_batches


def cut_spec(spec, keep):
    """The graph of the regions in ``keep`` only (with the inputs they read), each at its resolved precision."""
    values, keep = resolve_precisions(spec), set(keep)
    d = spec.to_dict()
    d["regions"] = {n: {**r, "precision": values[n]} if "precision" in r else r
                    for n, r in d["regions"].items() if n in keep}
    d["connections"] = [c for c in d.get("connections", []) if c["from"] in keep | set(spec.inputs) and c["to"] in keep]
    read = {s for r in d["regions"].values() for s in r.get("inputs", [])} | {c["from"] for c in d["connections"]}
    d["inputs"] = {n: i for n, i in d["inputs"].items() if n in read}
    d["experiment"], d["structure"] = None, None
    return spec_from_dict(d, file=f"<{spec.name} cut to {', '.join(sorted(keep))}>")


def copy_weights(dst, src) -> None:
    """Every learned array of ``src``'s regions into the regions of ``dst`` with the same names."""
    for name, region in src.regions.items():
        if name in dst.regions:
            dst.regions[name].weights.update({k: src.backend.copy(v) for k, v in region.weights.items()})
            dst.regions[name].weights_changed()


def pretrain_levels(exp, model, X, epochs: int, rng, below) -> dict[str, list[float]]:
    """Learn the regions in ``below`` without labels, level by level bottom-up; returns each level's energy curve."""
    from cortex.model import Model

    level_of = levels(model.spec)
    curves = {}
    for k in sorted({level_of[n] for n in below}):
        upto = [n for n in below if level_of[n] <= k]
        sub = Model(cut_spec(model.spec, upto), backend=model.backend.name)
        copy_weights(sub, model)
        stim = exp.p.stimulus
        trainer = exp.trainer(sub, desc=f"pretraining level {k}", regions=[n for n in upto if level_of[n] == k],
                              steps=exp.p.train_steps)
        curves[f"level {k}"] = trainer.fit(({stim: X[i]} for i in epoch_batches(len(X), exp.p.batch_size, epochs, rng)),
                                           total=batch_count(len(X), exp.p.batch_size, epochs))
        copy_weights(model, sub)
    return curves
