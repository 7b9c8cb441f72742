"""Thread counts: cortex's computing calls run at the count chosen (default 1), seen by threadpoolctl inside them."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_limits

import cortex
from cortex.baselines import fit_baselines
from cortex.settle import Settler
from cortex.threadpool import DEFAULT, blas_threads, configured, reset_threads
from tests.cortex.test_cli import SMALL_DIGITS, assert_user_error, cortex_main


@pytest.fixture
def seen(monkeypatch):
    """The BLAS thread counts threadpoolctl reports inside every settle (recorded, then the real settle runs)."""
    record, real = [], Settler.run

    def run(self, *args, **kwargs):
        record.append(set(blas_threads()))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Settler, "run", run)
    monkeypatch.delenv("CORTEX_THREADS", raising=False)
    yield record
    reset_threads()


@pytest.fixture(scope="module")
def model():
    return cortex.load("digits")


def _settle(model):
    return model.settle({"retina": np.random.default_rng(0).random((4, 8, 8), dtype=np.float32)}, steps=2, tol=0)


def test_settle_runs_at_one_thread_by_default_and_restores(seen, model):
    assert DEFAULT == 1 and configured() == 1
    with threadpool_limits(limits=2, user_api="blas"):
        _settle(model)
        assert set(blas_threads()) == {2}                # the caller's own setting is back after the call
    assert seen == [{1}]


def test_block_and_process_settings_take_effect(seen, model, monkeypatch):
    with threadpool_limits(limits=1, user_api="blas"):
        with cortex.threads(2) as n:
            assert n == 2 and set(blas_threads()) == {2}
            _settle(model)                                # a nested cortex call keeps the block's count
        cortex.set_threads(2)
        _settle(model)
        cortex.set_threads(None)                          # the libraries' own default: left as the caller has it
        _settle(model)
        reset_threads()
        monkeypatch.setenv("CORTEX_THREADS", "2")
        _settle(model)
        monkeypatch.setenv("CORTEX_THREADS", "default")
        assert configured() is None
    assert seen == [{2}, {2}, {1}, {2}]


def test_baselines_fit_at_the_configured_count(monkeypatch):
    inside, real = [], MLPClassifier.fit

    def fit(self, *args, **kwargs):
        inside.append(set(blas_threads()))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(MLPClassifier, "fit", fit)
    rng = np.random.default_rng(0)
    X, y = rng.random((40, 6)), np.arange(40) % 2
    with threadpool_limits(limits=2, user_api="blas"):
        fit_baselines(X, y)
        with cortex.threads(2):
            fit_baselines(X, y)
    assert inside == [{1}, {2}]


def test_cli_run_takes_threads(seen, capsys, tmp_path):
    graph = tmp_path / "small.yaml"
    graph.write_text(SMALL_DIGITS, encoding="utf-8")
    with threadpool_limits(limits=1, user_api="blas"):
        proc = cortex_main(capsys, "run", graph, "--out", tmp_path / "run", "--quiet", "--threads", "2",
                           "--set", "max_train=100", "--set", "examples=1")
    assert proc.returncode == 0, proc.stderr
    assert seen and all(s == {2} for s in seen)


def test_bad_thread_counts_are_user_errors(capsys, monkeypatch):
    assert_user_error(cortex_main(capsys, "bench", "--quick", "--threads", "0"), "--threads", "'default'")
    assert_user_error(cortex_main(capsys, "run", "digits", "--threads", "two"), "--threads")
    with pytest.raises(cortex.CortexError, match="set_threads"):
        cortex.set_threads(-1)
    monkeypatch.setenv("CORTEX_THREADS", "lots")
    with pytest.raises(cortex.CortexError, match="CORTEX_THREADS"):
        configured()
