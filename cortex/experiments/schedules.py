"""Learning schedules of a deep graph: ``joint`` or ``layerwise``, and unsupervised pretraining level by level.

``joint`` (the old way): every region learns from every settled batch, the read-out clamped to the label.
``layerwise``: the levels below the read-out first learn without labels, bottom-up, one level at a time on a
graph cut above that level (so nothing higher, random as it still is, pulls on it), each level frozen once
learned; then only the read-out learns, with its label. A level learned on its own gives the level above a
code of the stimulus to explain instead of a code shaped by an untrained read-out. A read-out trained over
that code on a few labelled images can go on learning from the unlabelled ones (:func:`refine_readout`).

Balance by scale (``balance: scale``, an ablation, off by default: it lowers accuracy, docs/depth.md): activity
shrinks from level to level (each level's code is a fraction of the one below it), so errors, and with them
energies and pulls, fall exponentially with depth. Once a level is frozen its output's scale is fixed, so before
a level learns, its precision is multiplied by
``var(sensor) / var(its input)`` (variances across the training images, averaged over columns): every level
then weighs its errors as a level over the sensor does. The trained model carries these precisions in its
spec (``model.spec``), so a saved checkpoint settles as it was trained.
"""
from __future__ import annotations

import numpy as np

from cortex.balance import levels, resolve_precisions
from cortex.spec import spec_from_dict
from cortex.windows import cut

from .trainer import batch_count, epoch_batches

SAMPLE = 256      # training images settled to measure a level's output scale


def with_precisions(spec, precisions: dict, keep=None):
    """``spec`` with every region's precision written as a number (``keep``: only those regions, the inputs they
    read, no experiment: a graph cut above a level)."""
    d = spec.to_dict()
    d["regions"] = {n: {**r, "precision": float(precisions[n])} if "precision" in r else r
                    for n, r in d["regions"].items() if keep is None or n in keep}
    if keep is not None:
        names = set(d["regions"]) | set(spec.inputs)
        d["connections"] = [c for c in d.get("connections", []) if c["from"] in names and c["to"] in d["regions"]]
        read = {s for r in d["regions"].values() for s in r.get("inputs", [])} | {c["from"] for c in d["connections"]}
        read |= {spec.inputs[n].of for n in read if n in spec.inputs and spec.inputs[n].of}   # a window's sensor
        d["inputs"] = {n: i for n, i in d["inputs"].items() if n in read}
        d["experiment"], d["structure"] = None, None
    return spec_from_dict(d, file=f"<{spec.name}{' cut to ' + ', '.join(sorted(keep)) if keep else ''}>")


def copy_weights(dst, src) -> None:
    """Every learned array of ``src``'s regions into the regions of ``dst`` with the same names (none onto itself)."""
    if dst is src:
        return
    for name, region in src.regions.items():
        if name in dst.regions:
            dst.regions[name].weights.update({k: src.backend.copy(v) for k, v in region.weights.items()})
            dst.regions[name].weights_changed()


def _input_scale(model, spec, name, X, stim) -> float:
    """Mean over columns of the variance across images of what region ``name`` explains (settled by ``model``)."""
    srcs = [c.source for c in spec.sources(name, "input")]
    if all(s in spec.inputs for s in srcs):
        return float(np.mean(np.var(X, axis=0)))
    r = model.settle({stim: X}, noise=False)
    cols = [np.asarray(X) if s in spec.inputs else r.activity[s] for s in srcs]
    return float(np.mean(np.var(np.concatenate(cols, axis=1), axis=0)))


def pretrain_levels(exp, spec, X, epochs: int, rng, below, balance: str = "none"):
    """Learn the regions in ``below`` without labels, level by level bottom-up (each balanced by its input's
    scale when ``balance`` is ``scale``); returns a fresh model of the whole graph holding what they learned, at
    the precisions they learned with, and each level's energy curve."""
    from cortex.model import Model

    level_of, prec, stim = levels(spec), resolve_precisions(spec), exp.p.stimulus
    sample = X[:SAMPLE]
    sensor = float(np.mean(np.var(sample, axis=0)))
    curves, done = {}, None

    def scaled(names):
        for n in names:
            if balance == "scale" and "precision" in type(spec.regions[n]).model_fields:
                var = _input_scale(done, spec, n, sample, stim) if done is not None else sensor
                prec[n] = prec[n] * sensor / max(var, 1e-12)

    for k in sorted({level_of[n] for n in below}):
        upto, now = [n for n in below if level_of[n] <= k], [n for n in below if level_of[n] == k]
        scaled(now)
        sub = Model(with_precisions(spec, prec, keep=upto))
        if done is not None:
            copy_weights(sub, done)
        trainer = exp.trainer(sub, desc=f"pretraining level {k}", regions=now, steps=exp.p.train_steps)
        curves[f"level {k}"] = trainer.fit(({stim: X[i]} for i in epoch_batches(len(X), exp.p.batch_size, epochs, rng)),
                                           total=batch_count(len(X), exp.p.batch_size, epochs))
        done = sub
    scaled([n for n in spec.regions if n not in below])
    model = Model(with_precisions(spec, prec))
    copy_weights(model, done)
    return model, curves


def _readout_alone(exp, model):
    """The frozen levels below the read-out (the read-out cut away), the read-out alone over their code, and a
    function from stimuli to that code; both models hold ``model``'s weights. Each input of the read-out stays an
    input of its own, read through the same edges at the same precisions as in the whole graph."""
    from cortex.model import Model

    spec, readout, stim = model.spec, exp.p.readout, exp.p.stimulus
    below = [n for n in spec.regions if n != readout]
    if not below:                  # one region: it reads the sensor itself (and cuts its windows), nothing to freeze
        return model, (lambda X: {stim: np.asarray(X)})
    lower = Model(with_precisions(spec, resolve_precisions(spec), keep=below))
    copy_weights(lower, model)
    srcs = list(dict.fromkeys(c.source for c in spec.sources(readout, "input")))    # in the order the region reads them

    def code(X):
        r = lower.settle({stim: X}, steps=exp.p.train_steps, noise=False)
        sensed = {stim: np.asarray(X)}
        sensed.update(cut(spec, sensed))      # the windows of the sensor, where the read-out reads one
        return {s: sensed[s] if s in spec.inputs else r.activity[s] for s in srcs}

    d = spec.to_dict()
    teacher = d["regions"][readout]["teacher"]
    d["inputs"] = {s: {"shape": [spec.size_of(s)]} for s in srcs} | {teacher: d["inputs"][teacher]}
    d["regions"] = {readout: d["regions"][readout]}
    d["connections"] = [c for c in d.get("connections", []) if c["to"] == readout and c.get("role") == "input"]
    d["experiment"], d["structure"] = None, None
    top = Model(spec_from_dict(d, file=f"<{spec.name}: {readout} over its input's code>"))
    copy_weights(top, model)
    return top, code


def fit_readout(exp, model, X, y, rng, *, epochs=None, desc="training the read-out") -> list[float]:
    """Layerwise read-out training: settle ``X`` by the frozen levels below the read-out alone (the read-out cut
    away), then train the read-out by itself, over that code, with its label; its weights go back into ``model``.
    It so learns the code the stimulus gives, not one its own clamped label pulls into shape."""
    top, code = _readout_alone(exp, model)
    curve = exp.train_digits(top, code(X), y, rng, epochs=epochs, desc=desc)
    copy_weights(model, top)
    return curve


def refine_readout(exp, model, X_unlabelled, X, y, rng, *, epochs: int, desc="read-out on unlabelled images"):
    """Semi-supervised learning of a read-out trained on a few labelled examples (``X``, ``y``): over the frozen
    code, each shuffled batch of ``X_unlabelled`` is settled with no label and learned from, so every hypothesis
    moves towards the stimuli its own settled posterior gives it (EM's step, done online), and after each such
    batch a batch of the labelled few, drawn with replacement, is settled with its label clamped and learned from,
    which keeps each hypothesis on its class. Weights go back into ``model``; returns the energy curve."""
    top, code = _readout_alone(exp, model)
    unlabelled, labelled = code(X_unlabelled), code(X)
    label, size = exp.p.label, exp.p.batch_size       # the read-out's teacher (checked with the graph)
    eye = np.eye(exp.spec.inputs[label].size, dtype=np.float32)

    def batches():
        for i in epoch_batches(len(X_unlabelled), size, epochs, rng):
            yield {s: v[i] for s, v in unlabelled.items()}
            j = rng.choice(len(y), size)
            yield {**{s: v[j] for s, v in labelled.items()}, label: eye[y[j]]}

    curve = exp.trainer(top, desc, steps=exp.p.train_steps).fit(batches(), total=2 * batch_count(len(X_unlabelled),
                                                                                                  size, epochs))
    copy_weights(model, top)
    return curve
