"""The array backend seam: choosing NumPy / array_api_strict / CuPy, dtypes, moving data, seeded randomness."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from cortex.backend import BACKENDS, DTYPES, Backend, cupy_usable, get_backend
from cortex.errors import BackendError, CortexError
from cortex.model import Model
from cortex.spec import load_spec

GPU = cupy_usable()
needs_gpu = pytest.mark.skipif(not GPU, reason="needs CuPy with a usable CUDA device (cortex.backend.cupy_usable() is False)")

SPEC = """
name: backend-check
seed: 5
inputs: {retina: {shape: [8, 8]}}
regions:
  V1: {kind: predictive, hypotheses: 16, inputs: [retina], competition: lateral, inhibition: 0.2, sparsity: 0.02}
  IT: {kind: predictive, hypotheses: 6, inputs: [V1], competition: softmax, factors: 3, error: cauchy}
connections:
  - {from: IT, to: V1, role: context, precision: 0.5}
settle: {steps: 30, rate: 0.5, tol: 0}
"""


def test_default_is_numpy_float32():
    b = get_backend()
    assert isinstance(b, Backend)
    assert b.name == "numpy" and b.xp is np and b.dtype == np.float32 and b.dtype_name == "float32" and b.seed == 0
    assert b.zeros((2, 3)).dtype == np.float32 and b.zeros((2, 3)).shape == (2, 3)
    b64 = get_backend("numpy", "float64", seed=7)
    assert b64.dtype == np.float64 and b64.dtype_name == "float64" and b64.seed == 7


@pytest.mark.parametrize("name", ["jax", "torch", "NumPy", ""])
def test_unknown_backend_lists_choices(name):
    with pytest.raises(BackendError) as info:
        get_backend(name)
    msg = str(info.value)
    assert repr(name) in msg
    assert all(choice in msg for choice in BACKENDS)
    assert isinstance(info.value, CortexError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize("dtype", ["float16", "int32", "f4"])
def test_unknown_dtype_lists_choices(dtype):
    with pytest.raises(BackendError) as info:
        get_backend("numpy", dtype)
    assert repr(dtype) in str(info.value) and all(d in str(info.value) for d in DTYPES)


def test_cupy_without_a_gpu_is_a_clear_error():
    if GPU:
        pytest.skip("CuPy is usable here; the no-GPU error cannot be seen")
    with pytest.raises(BackendError) as info:
        get_backend("cupy")
    msg = str(info.value)
    assert "cupy" in msg.lower()
    # it says why (not installed, or no CUDA device) and what to use instead
    assert ("not installed" in msg) or ("no CUDA device" in msg)
    assert "numpy" in msg
    if importlib.util.find_spec("cupy") is None:
        assert "pip install" in msg
    # a spec asking for cupy fails the same way at build time, before any allocation
    spec = load_spec(text=SPEC.replace("seed: 5", "seed: 5\nbackend: cupy"))
    with pytest.raises(BackendError):
        Model(spec)


def test_auto_falls_back_to_numpy_without_a_gpu():
    b = get_backend("auto", "float32", seed=3)
    if GPU:
        assert b.name == "cupy"
    else:
        assert b.name == "numpy" and b.xp is np and b.seed == 3
        m = Model(load_spec(text=SPEC.replace("seed: 5", "seed: 5\nbackend: auto")))
        assert m.backend.name == "numpy"


@pytest.mark.parametrize("name", ["numpy", "array_api_strict"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_asarray_to_numpy_round_trip(name, dtype):
    b = get_backend(name, dtype)
    host = np.arange(12, dtype=np.float64).reshape(3, 4) / 7
    dev = b.asarray(host)
    assert dev.dtype == b.dtype
    if name == "array_api_strict":
        assert type(dev).__module__.startswith("array_api_strict")
    back = b.to_numpy(dev)
    assert type(back) is np.ndarray and back.dtype == np.dtype(dtype) and back.shape == (3, 4)
    np.testing.assert_array_equal(back, host.astype(dtype))
    # lists and integer arrays are converted to the model's dtype
    assert b.to_numpy(b.asarray([[1, 2], [3, 4]])).dtype == np.dtype(dtype)
    # both directions copy: neither side can change the other's data
    host[0, 0] = 99.0
    assert b.to_numpy(dev)[0, 0] == 0.0
    back[1, 1] = -5.0
    assert b.to_numpy(dev)[1, 1] != -5.0
    c = b.copy(dev)
    np.testing.assert_array_equal(b.to_numpy(c), b.to_numpy(dev))
    z = b.zeros((2, 2))
    assert z.dtype == b.dtype and float(b.to_numpy(z).sum()) == 0.0


def _normal(name, seed, *stream):
    b = get_backend(name, "float32", seed=seed)
    return b.to_numpy(b.rng(*stream).normal((500,), 2.0))


@pytest.mark.parametrize("name", ["numpy", "array_api_strict"])
def test_random_streams_are_seeded_and_independent(name):
    x1, x2 = _normal(name, 11, 0, 1), _normal(name, 11, 0, 1)
    np.testing.assert_array_equal(x1, x2)
    assert not np.array_equal(x1, _normal(name, 11, 0, 2))       # another stream
    assert not np.array_equal(x1, _normal(name, 12, 0, 1))       # another seed
    assert x1.dtype == np.float32
    assert abs(x1.std() - 2.0) < 0.3 and abs(x1.mean()) < 0.3
    b = get_backend(name, "float32", seed=11)
    u = b.to_numpy(b.rng(3).uniform((1000,), -1.0, 3.0))
    assert u.dtype == np.float32 and u.min() >= -1.0 and u.max() < 3.0 and abs(u.mean() - 1.0) < 0.15
    # host backends share the streams, so a model gives the same numbers on NumPy and array_api_strict
    np.testing.assert_array_equal(x1, _normal("numpy", 11, 0, 1))


def test_settle_runs_through_backend_xp_only():
    """A model built on array_api_strict keeps its state and weights as array_api_strict arrays."""
    m = Model(load_spec(text=SPEC), backend="array_api_strict")
    for region in m.regions.values():
        for w in region.weights.values():
            assert type(w).__module__.startswith("array_api_strict")
    r = m.settle({"retina": np.random.default_rng(0).random((4, 64))}, steps=3)
    assert all(type(st.a).__module__.startswith("array_api_strict") for st in r._device.states)
    assert all(type(a) is np.ndarray for a in r.activity.values())


def _array_code_modules():
    """The engine's array code and every module of every region kind (their fast paths included)."""
    import importlib
    import pkgutil

    import cortex.regions as kinds

    core = ["cortex.settle", "cortex.wiring", "cortex.schedule", "cortex.compiled", "cortex.ops"]
    kinds.known_kinds()   # imports every kind module
    names = core + sorted(info.name for info in pkgutil.walk_packages(kinds.__path__, "cortex.regions."))
    return [importlib.import_module(n) for n in names]


@pytest.mark.parametrize("module", _array_code_modules(), ids=lambda m: m.__name__)
def test_array_code_stays_portable(module):
    """Settling and region kinds use only ``backend.xp``: no direct NumPy/CuPy import (a kind that simulates on
    the host, such as brian2's, declares ``HOST_ARRAYS`` and may use NumPy), and no ``.mT``
    (CuPy 13, which the ``gpu`` extra allows, has no ``ndarray.mT``; ``xp.moveaxis`` works everywhere)."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(module))
    banned = {"cupy"} if getattr(module, "HOST_ARRAYS", None) else {"numpy", "cupy"}   # host-only kinds say why
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert not {a.name.split(".")[0] for a in node.names} & banned, (module.__name__, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            assert (node.module or "").split(".")[0] not in banned, (module.__name__, node.lineno)
        elif isinstance(node, ast.Attribute):
            assert node.attr != "mT", f"{module.__name__}:{node.lineno} uses .mT"


@pytest.mark.gpu
@needs_gpu
def test_cupy_settle_and_learn_match_numpy():
    import cupy

    spec = load_spec(text=SPEC)
    X = np.random.default_rng(1).random((32, 64)).astype(np.float32)
    models = {b: Model(spec, backend=b) for b in ("numpy", "cupy")}
    assert models["cupy"].backend.xp is cupy
    # CuPy draws its random numbers on the device: start both from the NumPy model's weights
    for name, region in models["numpy"].regions.items():
        models["cupy"].regions[name].load_weights(dict(region.weights))
    for m in models.values():
        m.learn(m.settle({"retina": X}, noise=False))
    res = {b: m.settle({"retina": X}, noise=False, record=True) for b, m in models.items()}
    n, c = res["numpy"], res["cupy"]
    assert type(c.activity["V1"]) is np.ndarray
    scale = np.abs(np.r_[n.start_energy, n.energy]).max()
    np.testing.assert_allclose(c.energy, n.energy, rtol=1e-4, atol=1e-5 * scale)
    for name in n.activity:
        np.testing.assert_allclose(c.activity[name], n.activity[name], rtol=1e-3, atol=1e-4)
        assert c.trace[name].shape == n.trace[name].shape
    e = np.r_[c.start_energy, c.energy]
    assert np.all(np.diff(e) <= 1e-5 * np.abs(e).max())
    for name, region in models["numpy"].regions.items():
        for key, w in region.weights.items():
            np.testing.assert_allclose(cupy.asnumpy(models["cupy"].regions[name].weights[key]), w,
                                       rtol=1e-3, atol=1e-4, err_msg=f"{name}.{key}")
