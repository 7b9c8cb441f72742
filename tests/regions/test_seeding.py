"""``init: data``: hypotheses that start from the first stimuli. Without it a softmax region learning the digits
without a teacher collapses onto two hypotheses; with it the ten learn a mixture. Seeding semantics, checkpoints,
refusals, and NumPy against array_api_strict."""
import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.metrics import normalized_mutual_info_score

from cortex.checkpoint import load_checkpoint
from cortex.errors import SpecError
from cortex.model import Model
from cortex.spec import spec_from_dict


def spec(init="data", competition="softmax", hypotheses=10, d=64, backend="numpy", seed=0, **extra):
    region = {"kind": "predictive", "hypotheses": hypotheses, "inputs": ["x"], "competition": competition,
              "precision": 30.0, "lr": 0.05, "init_scale": 0.05, "init": init} | extra
    if competition == "softmax":
        region |= {"error": "cauchy", "error_scale": 0.5}
    return spec_from_dict({"name": "seeding", "seed": seed, "backend": backend, "inputs": {"x": {"shape": [d]}},
                           "regions": {"IT": region}, "settle": {"steps": 50, "rate": 0.5, "tol": 1e-5}})


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


def cluster(digits, init, seed, epochs=3):
    """Train a teacherless softmax region of 10 hypotheses online; (hypotheses in use, purity, NMI) on all digits."""
    X, y = digits
    model, rng = Model(spec(init=init, seed=seed)), np.random.default_rng(seed)
    for _ in range(epochs):
        order = rng.permutation(len(X))
        for i in range(0, len(X), 32):
            model.learn(model.settle({"x": X[order[i:i + 32]]}))
    w = model.settle({"x": X}, noise=False).winners("IT")
    purity = sum(np.bincount(y[w == k]).max() for k in np.unique(w)) / len(y)
    return len(np.unique(w)), purity, normalized_mutual_info_score(y, w)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_mixture_learned_without_a_teacher_collapses_from_random_means_and_not_from_the_data(digits, seed):
    used, purity, nmi = cluster(digits, "random", seed)
    assert used <= 3 and purity < 0.3, (used, purity)                 # 2 or 3 in use, purity 0.10-0.20
    used, purity, nmi = cluster(digits, "data", seed)
    assert used == 10 and purity > 0.55 and nmi > 0.5, (used, purity, nmi)   # 0.64-0.70, NMI 0.57-0.66


def test_the_first_updates_copy_stimuli_into_the_hypotheses_then_learning_goes_on():
    model = Model(spec(hypotheses=5, d=4))
    X = np.arange(12, dtype=np.float32).reshape(3, 4) / 12
    model.learn(model.settle({"x": X}))                       # a batch of 3 seeds 3 of the 5
    M = np.asarray(model.regions["IT"].weights["M"])
    assert np.allclose(M[:3], X) and not np.allclose(M[3:], X[:2])
    assert model.regions["IT"].weights["seeded"][0] == 3
    Z = X[::-1] + 0.5
    model.learn(model.settle({"x": Z}))                       # 2 more from the next batch, then all are seeded
    M = np.asarray(model.regions["IT"].weights["M"])
    assert np.allclose(M[3:], Z[:2]) and model.regions["IT"].weights["seeded"][0] == 5
    model.learn(model.settle({"x": Z}))                       # an ordinary update now: the means move a step
    after = np.asarray(model.regions["IT"].weights["M"])
    assert not np.allclose(after, M) and not any(np.allclose(after[i], Z[j]) for i in range(5) for j in range(3))


def test_a_lateral_region_starts_from_unit_rows_of_its_stimuli_and_a_checkpoint_does_not_seed_again(tmp_path):
    model = Model(spec(competition="lateral", hypotheses=3, d=4))
    X = np.array([[3, 4, 0, 0], [0, 0, 1, 0], [1, 1, 1, 1]], dtype=np.float32)
    model.learn(model.settle({"x": X}))
    W = np.asarray(model.regions["IT"].weights["W"])
    assert np.allclose(W, X / np.linalg.norm(X, axis=1, keepdims=True))
    model.save(tmp_path / "m.npz")
    again = load_checkpoint(tmp_path / "m.npz")
    assert again.regions["IT"].weights["seeded"][0] == 3
    again.learn(again.settle({"x": X[::-1] * 2}))      # it learns from the batch; it does not copy it in
    unit = X[::-1] / np.linalg.norm(X[::-1], axis=1, keepdims=True)
    assert not np.allclose(np.asarray(again.regions["IT"].weights["W"]), unit)


def test_init_data_runs_the_same_on_array_api_strict():
    X = np.random.default_rng(3).random((8, 6)).astype(np.float32)
    ref, strict = Model(spec(hypotheses=4, d=6)), Model(spec(hypotheses=4, d=6, backend="array_api_strict"))
    for m in (ref, strict):
        m.learn(m.settle({"x": X}))                     # seeds the four
    a, b = (m.backend.to_numpy(m.regions["IT"].weights["M"]) for m in (ref, strict))
    assert np.array_equal(a, X[:4]) and np.array_equal(b, X[:4])
    for m in (ref, strict):
        m.learn(m.settle({"x": X[::-1]}))               # then they learn alike
    a, b = (m.backend.to_numpy(m.regions["IT"].weights["M"]) for m in (ref, strict))
    assert np.allclose(a, b, atol=1e-5) and not np.allclose(a, X[:4])


def test_bad_init_is_refused_with_its_key():
    with pytest.raises(SpecError, match="init"):
        spec(init="zeros")
    with pytest.raises(SpecError, match="init: data and recruit cannot be combined"):
        spec(hypotheses=1, recruit={"threshold": 0.5, "max_hypotheses": 8})
