"""Runs are transactions: SIGINT, SIGTERM and kill -9 against real `cortex run` processes.

An interrupted run exits 130 (SIGINT) or 143 (SIGTERM) with a one-line message and leaves its output
folder exactly as it was (the old complete results, or nothing); a killed run leaves a temporary folder
that the next run cleans up. Ctrl-C inside a library that swallows ``KeyboardInterrupt`` (scikit-learn's
MLP) still ends the run.
"""
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from cortex.interrupts import RunInterrupted, check, interruptible
from cortex.run_folder import RunFolder, clean_stale

# The digits, one epoch, short settling, baselines on: a run of a few seconds with every phase in it.
GRAPH = """\
name: faults
seed: 0
inputs:
  retina: {shape: [8, 8]}
  label: {shape: [10]}
regions:
  IT: {kind: predictive, hypotheses: 10, inputs: [retina], competition: softmax, factors: 8, teacher: label,
       precision: 30.0, error: cauchy, error_scale: 0.5, lr: 0.05, init_scale: 0.05}
settle: {steps: 10, rate: 0.5, tol: 1.0e-5, check_every: 10}
experiment: {kind: recognition, epochs: 2, few_shot: 2, few_shot_epochs: 2, examples: 1}
"""


def snapshot(folder: Path) -> dict:
    """Every file of a run folder and its SHA-256: equal snapshots mean an untouched folder."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.parent.iterdir() if p.name.startswith(f".{folder.name}."))


def start(graph: Path, out: Path, *args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cortex.cli", "run", str(graph), "--out", str(out), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def wait_for(proc: subprocess.Popen, line: str, timeout: float = 120) -> list[str]:
    """Read the run's stderr until a line containing ``line``; returns the lines read."""
    seen, t0 = [], time.monotonic()
    while time.monotonic() - t0 < timeout:
        text = proc.stderr.readline()
        if not text:
            break
        seen.append(text)
        if line in text:
            return seen
    proc.kill()
    raise AssertionError(f"the run never printed {line!r}: {''.join(seen)}")


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A graph and one complete run of it: the 'old results' every interrupted run must leave alone."""
    root = tmp_path_factory.mktemp("faults")
    graph = root / "faults.yaml"
    graph.write_text(GRAPH)
    out = root / "run"
    proc = start(graph, out, "--quiet")
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    return graph, out, snapshot(out)


@pytest.mark.parametrize("sig, code, name, when", [
    (signal.SIGINT, 130, "SIGINT", "training done"),
    (signal.SIGTERM, 143, "SIGTERM", "training ..."),
    (signal.SIGINT, 130, "SIGINT", "baselines ..."),      # lands in scikit-learn's fits, which catch Ctrl-C
])
def test_a_signal_ends_the_run_and_keeps_the_old_results(finished, sig, code, name, when):
    graph, out, before = finished
    proc = start(graph, out, "--seed", "1")
    wait_for(proc, when)
    if when == "baselines ...":
        time.sleep(0.3)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == code, (proc.returncode, stdout, stderr)
    message = [line for line in stderr.splitlines() if not line.startswith("faults: ")]
    assert message == [f"interrupted by {name}: nothing was written; {out} keeps its previous results"], stderr
    assert snapshot(out) == before                       # the old complete results, byte for byte
    assert leftovers(out) == []                          # no temporary folder left behind


def test_kill_9_leaves_the_old_results_and_the_next_run_cleans_up(finished):
    graph, out, before = finished
    proc = start(graph, out, "--seed", "2")
    wait_for(proc, "testing ...")
    proc.kill()
    proc.wait(timeout=60)
    assert snapshot(out) == before
    orphans = leftovers(out)
    assert len(orphans) == 1 and ".tmp-" in orphans[0]  # what a killed run leaves: its unfinished folder
    proc = start(graph, out, "--seed", "2", "--quiet")
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert leftovers(out) == []
    assert snapshot(out).keys() == before.keys() and snapshot(out) != before     # the new results, complete
    import json
    assert json.loads((out / "results.json").read_text())["seed"] == 2


def test_a_failed_run_leaves_no_folder(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(GRAPH.replace("few_shot: 2", "few_shot: 500"))
    proc = start(bad, tmp_path / "never", "--quiet")
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 2 and "few_shot" in stderr and "Traceback" not in stderr, stderr
    assert not (tmp_path / "never").exists() and leftovers(tmp_path / "never") == []


def test_swallowed_ctrl_c_is_raised_again_at_the_next_check():
    from sklearn.neural_network import MLPClassifier

    X = np.random.default_rng(0).random((400, 64))
    y = np.arange(400) % 10
    mlp = MLPClassifier(hidden_layer_sizes=(256,), max_iter=100_000, tol=0, n_iter_no_change=10**9, random_state=0)
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(RunInterrupted) as err:
        with interruptible():
            timer.start()
            with pytest.warns(UserWarning, match="interrupted"):
                mlp.fit(X, y)                           # scikit-learn catches the Ctrl-C and returns
            assert mlp.n_iter_ < 100_000
            check()
    assert err.value.exit_code == 130 and str(err.value).startswith("interrupted by SIGINT")
    assert signal.getsignal(signal.SIGINT) is before                     # the handler from before is back
    check()                                                                # and nothing is pending


def test_stale_folders_of_dead_runs_are_removed_and_an_old_run_put_back(tmp_path):
    out = tmp_path / "run"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)                                   # a process id that has exited
    (tmp_path / f".run.tmp-{pid}-abc").mkdir()
    (tmp_path / f".run.old-{pid}-def" / "run").mkdir(parents=True)
    (tmp_path / f".run.old-{pid}-def" / "run" / "results.json").write_text("{}")
    (tmp_path / f".run.tmp-{os.getppid()}-live").mkdir()     # a live process's folder stays
    clean_stale(out)
    assert (out / "results.json").read_text() == "{}"        # killed between the renames: the old run returns
    assert leftovers(out) == [f".run.tmp-{os.getppid()}-live"]


def test_a_folder_that_is_not_a_run_is_never_replaced(tmp_path, monkeypatch):
    from cortex.errors import CortexError

    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(CortexError, match="no cortex run wrote"):
        with RunFolder(tmp_path / "mine"):
            pass
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CortexError, match="working folder"):
        with RunFolder(tmp_path):
            pass
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


@pytest.mark.spiking
@pytest.mark.slow
def test_ctrl_c_ends_a_spiking_run_too(tmp_path):
    """brian2 turns Ctrl-C into 'stop this simulation step' by default; a cortex run must end instead."""
    pytest.importorskip("brian2")
    proc = start("rivalry_spiking", tmp_path / "spiking", "--set", "trials=4")
    wait_for(proc, "settling steps ...")                 # the test trials: brian2 simulations for seconds to come
    time.sleep(1)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, (stdout, stderr)
    assert stderr.splitlines() == [f"interrupted by SIGINT: nothing was written; {tmp_path / 'spiking'} was not created"], stderr
    assert not (tmp_path / "spiking").exists() and leftovers(tmp_path / "spiking") == []


def test_the_interrupt_message_survives_a_library_redirecting_stderr():
    """brian2 points file descriptor 2 at a log file while it compiles in its own thread; the one-line message
    must still reach the user's terminal, so it goes to the stderr the command started with."""
    code = ("import os, sys\n"
            "from cortex.cli import _original_stderr, _say\n"
            "fd = _original_stderr()\n"
            "os.dup2(os.open(os.devnull, os.O_WRONLY), 2)\n"
            "print('lost', file=sys.stderr)\n"
            "_say(fd, 'interrupted by SIGINT: kept')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "interrupted by SIGINT: kept\n"


def test_an_interrupt_inside_a_weakref_callback_is_not_printed_and_check_raises_it(monkeypatch):
    """A Ctrl-C that lands in a callback Python cannot raise from would print "Exception ignored ... Traceback";
    it is remembered instead, and the run still ends with it."""
    import gc
    import weakref

    from cortex import interrupts

    seen = []
    record = seen.append
    monkeypatch.setattr(sys, "unraisablehook", record)

    class Thing:
        pass

    with pytest.raises(interrupts.RunInterrupted) as info:
        with interrupts.interruptible():
            thing = Thing()
            ref = weakref.ref(thing, lambda _: interrupts._handler(signal.SIGINT, None))   # as the signal would
            del thing
            gc.collect()
            assert ref() is None
    assert info.value.exit_code == 130
    assert seen == []                                   # nothing reached the printing hook
    assert sys.unraisablehook is record                 # and the hook is restored after the block
