"""`cortex sweep`: the --seeds / --set plan and its located errors, grid and random trials, the summary's
numbers against the trials' own results, resume that reruns nothing, the process pool used when Ray is
missing, Ctrl-C during a sweep (exit 130, no half-written trial, the rerun finishes the rest), and (slow)
the --address path against a `ray start --head` this test starts and stops.
"""
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from cortex.cli import main
from cortex.sweep import SweepError, parse_seeds, sweep
from cortex.sweep.executors import choose
from cortex.sweep.plan import make_trials
from cortex.sweep.summary import flatten, stats
from cortex.spec import load_spec
from cortex.shipped import graph_path

# Rivalry made tiny: a trial is a couple of seconds, most of it drawing its figures.
TINY = ["--set", "trials=2", "--set", "steps=2000", "--set", "warmup=100", "--set", "train_batches=3"]
TINY_KW = ["trials=2", "steps=2000", "warmup=100", "train_batches=3"]


def finished(out: Path) -> list[Path]:
    """The trials' committed results (pathlib's * also matches the hidden temporary folders of running trials)."""
    return [p for p in out.glob("trials/*/results.json") if not p.parent.name.startswith(".")]


def base():
    return load_spec(graph_path("rivalry")).to_dict()


def cli(*args):
    """Run the command in this process; returns its exit status (0 when it did not exit)."""
    try:
        main(list(args))
    except SystemExit as exc:
        return exc.code
    return 0


def test_seeds_ranges_and_lists():
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert parse_seeds("0-2,9,1") == [0, 1, 2, 9]
    assert parse_seeds("7") == [7]
    for bad in ("4-2", "a", "0-", "1,,2"):
        with pytest.raises(SweepError, match="--seeds"):
            parse_seeds(bad)


def test_grid_is_every_seed_times_every_combination():
    trials = make_trials(base(), [0, 1], ["regions.P.noise=0.5,1,2", "regions.P.inhibition=2", "trials=4,8"])
    assert len(trials) == 2 * 3 * 2
    assert {t.seed for t in trials} == {0, 1}
    assert {(t.settings["regions.P.noise"], t.settings["experiment.trials"]) for t in trials} == \
        {(n, k) for n in (0.5, 1, 2) for k in (4, 8)}
    assert len({t.name for t in trials}) == len(trials)
    assert make_trials(base(), [0, 1], ["trials=4,8"])[0].name == make_trials(base(), [0], ["trials=4"])[0].name


def test_random_draws_are_reproducible_and_in_range():
    items = ["regions.P.noise=loguniform(0.1,4)", "regions.P.noise_tau=randint(20,22)", "contrast=0.5,1"]
    a = make_trials(base(), [0], items, random=12, random_seed=3)
    b = make_trials(base(), [0], items, random=12, random_seed=3)
    c = make_trials(base(), [0], items, random=12, random_seed=4)
    assert [t.name for t in a] == [t.name for t in b] != [t.name for t in c]
    noise = np.array([t.settings["regions.P.noise"] for t in a])
    assert len(a) == 12 and noise.min() >= 0.1 and noise.max() <= 4 and len(set(noise)) == 12
    assert {t.settings["regions.P.noise_tau"] for t in a} <= {20, 21, 22}
    assert {t.settings["experiment.contrast"] for t in a} <= {0.5, 1}


@pytest.mark.parametrize("item, message", [
    ("noise", "expected KEY=VALUES"),
    ("regions.P.noise=1,,2", "empty value"),
    ("regions.Q.noise=1", r"no mapping 'regions.Q' \(keys there: P\)"),
    ("regions.P.nosie=1", "did you mean 'noise'"),
    ("regions.P.noise=1,-2", r"regions.P.noise: input should be greater than or equal to 0, got -2 \(--set regions.P.noise=1,-2\)"),
    ("regions.P.noise=uniform(0.5,2)", "add --random K"),
    ("regions.P.noise=normal(0,1)", "unknown range"),
    ("region.P.noise=1", "'region' is not a top-level key"),
])
def test_bad_set_is_a_located_error(item, message):
    with pytest.raises(SweepError, match=message) as err:
        make_trials(base(), [0], [item])
    assert item.split("=")[0] in str(err.value) or "region" in str(err.value)


def test_bad_set_on_the_command_line_exits_2_before_running(tmp_path, capsys):
    assert cli("sweep", "rivalry", "--set", "regions.P.noise=0.5,one)", "--out", str(tmp_path / "s")) == 2
    assert cli("sweep", "rivalry", "--set", "regions.P.sparsty=1", "--out", str(tmp_path / "s")) == 2
    err = capsys.readouterr().err
    assert "got 'one)' (--set regions.P.noise=0.5,one))" in err and "did you mean 'sparsity'" in err
    assert not (tmp_path / "s").exists()


def test_stats_are_the_t_interval():
    s = stats([1.0, 2.0, 3.0])
    assert s["mean"] == 2.0 and s["std"] == 1.0 and s["n"] == 3
    assert s["ci95"] == pytest.approx([2 - 4.302653 / math.sqrt(3), 2 + 4.302653 / math.sqrt(3)], rel=1e-6)
    assert stats([5.0]) == {"mean": 5.0, "std": None, "ci95": None, "n": 1}
    flat = flatten({"a": 1, "b": {"c": [2.0, True]}, "seed": 3, "provenance": {"x": 1}, "d": "text", "e": None,
                    "f": float("nan")})
    assert flat == {"a": 1.0, "b.c[0]": 2.0, "b.c[1]": 1.0}


def test_sweep_summarises_every_trial_and_a_rerun_redoes_nothing(tmp_path, capsys):
    out = tmp_path / "sw"
    assert cli("sweep", "rivalry", "--seeds", "0-2", *TINY, "--out", str(out)) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["trials"] == 3 and summary["seeds"] == [0, 1, 2] and summary["failed"] == []
    results = [json.loads(p.read_text()) for p in sorted(out.glob("trials/*/results.json"))]
    assert sorted(r["seed"] for r in results) == [0, 1, 2]
    for name in ("switches_per_trial", "predominance_left", "durations.cv", "learned_field_cosine[1]"):
        values = [flatten(r)[name] for r in results]
        got = summary["figures"][name]
        assert got["n"] == 3 and got["mean"] == pytest.approx(np.mean(values))
        assert got["std"] == pytest.approx(np.std(values, ddof=1))
        assert got["ci95"][0] <= got["mean"] <= got["ci95"][1]
    assert len(set(r["switches_per_trial"] for r in results)) > 1, "the seeds must give different runs"
    assert (out / "summary.png").stat().st_size > 0 and "| switches_per_trial |" in (out / "summary.md").read_text()
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("trials/*/results.json")}
    capsys.readouterr()
    assert cli("sweep", "rivalry", "--seeds", "0-2", *TINY, "--out", str(out)) == 0
    assert "3 of 3 trials already finished" in capsys.readouterr().err
    assert {p: p.stat().st_mtime_ns for p in out.glob("trials/*/results.json")} == stamps
    assert json.loads((out / "summary.json").read_text())["figures"] == summary["figures"]


def test_without_ray_the_trials_run_in_a_process_pool(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)        # import ray now fails, as on a machine without it
    with pytest.raises(SweepError, match=r'pip install -e "\.\[cluster\]"'):
        choose("ray", 2, None)
    with pytest.raises(SweepError, match=r"--executor ray \(implied by --gpus-per-trial\): Ray is not installed"):
        choose("auto", 2, None, gpus_per_trial=1)
    with pytest.raises(SweepError, match=r"--executor ray: Ray is not installed"):       # asked for, not implied
        choose("ray", 2, None, gpus_per_trial=1)
    assert choose("auto", 2, None) == "pool" and choose("auto", 1, None) == "serial"
    with pytest.raises(SweepError, match=r"--gpus-per-trial 1: only Ray places trials on GPUs"):
        choose("pool", 2, None, gpus_per_trial=1)
    summary = sweep("rivalry", tmp_path / "sw", seeds=[0], settings=[*TINY_KW, "regions.P.noise=0.5,2"], workers=2)
    assert summary["executor"] == "pool" and summary["trials"] == 2
    assert [g["group"] for g in summary["groups"]] == ["regions.P.noise=0.5", "regions.P.noise=2"]
    assert {g["figures"]["switches_per_trial"]["n"] for g in summary["groups"]} == {1}


@pytest.mark.parametrize("workers", ["1", pytest.param("2", marks=pytest.mark.slow)])
def test_ctrl_c_during_a_sweep_exits_130_and_the_rerun_finishes_it(tmp_path, workers):
    out = tmp_path / "sw"
    args = [sys.executable, "-m", "cortex.cli", "sweep", "rivalry", "--seeds", "0-2", *TINY, "--workers", workers,
            "--executor", "pool" if workers != "1" else "serial", "--out", str(out)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        while proc.poll() is None and not finished(out):
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted by SIGINT" in err and "rerun the same command" in err
    time.sleep(0.5)
    done = len(finished(out))
    assert 1 <= done < 3
    assert sorted(p.name for p in (out / "trials").iterdir()) == sorted(p.parent.name for p in finished(out)), \
        "a trial folder without results, or a temporary folder, was left behind"
    assert json.loads((out / "summary.json").read_text())["trials"] == done
    assert "Traceback" not in err
    rerun = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{done} of 3 trials already finished" in rerun.stderr
    assert json.loads((out / "summary.json").read_text())["trials"] == 3


@pytest.mark.slow
def test_address_runs_the_sweep_on_a_running_ray_cluster(tmp_path):
    pytest.importorskip("ray", reason='Ray is not installed (pip install -e ".[cluster]")')
    ray_cli = [sys.executable, "-m", "ray.scripts.scripts"]       # the `ray` command, wherever Ray is installed
    port = 6390 + os.getpid() % 200
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "PYTHONUNBUFFERED": "1"}
    # --block: this one process owns the head; ending it ends only the Ray processes it started (not
    # another user's Ray, which `ray stop` would end too).
    head = subprocess.Popen([*ray_cli, "start", "--head", "--block", f"--port={port}", "--num-cpus=2",
                             "--include-dashboard=false", "--disable-usage-stats"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        for line in head.stdout:
            if "Ray runtime started" in line or "ray start" in line and "--address" in line:
                break
        assert head.poll() is None, "ray start --head ended early"
        out = tmp_path / "sw"
        done = subprocess.run([sys.executable, "-m", "cortex.cli", "sweep", "rivalry", "--seeds", "0-1", *TINY,
                               "--workers", "2", "--address", f"127.0.0.1:{port}", "--out", str(out)],
                              capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, done.stderr
        summary = json.loads((out / "summary.json").read_text())
        assert summary["executor"] == "ray" and summary["trials"] == 2 and summary["address"] == f"127.0.0.1:{port}"
        assert {r["seed"] for r in map(lambda p: json.loads(p.read_text()), out.glob("trials/*/results.json"))} == {0, 1}
    finally:
        head.send_signal(signal.SIGTERM)
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            head.kill()


def test_search_refuses_an_experiment_without_a_validation_split(tmp_path):
    from cortex.sweep.search import search

    with pytest.raises(SweepError, match="no validation split"):
        search("rivalry", tmp_path / "s", figure="durations.cv", settings=["regions.P.noise=0.5,1"], seeds=[0])


@pytest.mark.slow
def test_search_prunes_measures_the_bar_and_tests_only_the_winner(tmp_path):
    """A tiny digits search: IT with 1 factor (the bar) against 1 or 8 factors; 8 wins on validation."""
    from cortex.sweep.search import search

    graph = tmp_path / "digits1.yaml"
    import yaml

    data = load_spec(graph_path("digits")).to_dict()
    data["regions"]["IT"]["factors"] = 1
    graph.write_text(yaml.safe_dump(data))
    result = search(str(graph), tmp_path / "s", figure="accuracy.clean.model", seeds=[0, 1], trials=4,
                    settings=["baselines=false", "epochs=1", "few_shot_epochs=2", "regions.IT.factors=1,8"])
    states = [r["state"] for r in result["trials"]]
    assert len(states) == 4 and set(states) <= {"complete", "pruned"}
    best = result["best"]
    assert best["settings"]["regions.IT.factors"] == 8 and best["beats_shipped_on_validation"]
    assert best["validation"]["mean"] > result["shipped_validation"]["mean"]
    assert best["test"]["n"] == 2
    runs = [json.loads(p.read_text()) for p in (tmp_path / "s").glob("trials/*/results.json")]
    tested = [r for r in runs if r["split"]["evaluated_on"] == "test"]
    assert len(tested) == 2 and all(r["provenance"]["spec"]["regions"]["IT"]["factors"] == 8 for r in tested)
    assert load_spec(tmp_path / "s" / "best.yaml").regions["IT"].factors == 8


def test_a_worker_pins_its_blas_threads_to_its_cpus():
    code = ("from cortex.sweep.trial import pin_threads; import numpy, os; from threadpoolctl import threadpool_info; "
            "pin_threads(2); print(os.environ['OPENBLAS_NUM_THREADS'], "
            "sorted({p['num_threads'] for p in threadpool_info() if p['user_api'] == 'blas'}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "OPENBLAS_NUM_THREADS": "4"})
    assert done.returncode == 0, done.stderr
    env, threads = done.stdout.split(" ", 1)
    assert env == "2" and json.loads(threads) == [2]          # was 4 from the environment


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["auto", "ray"])
def test_two_workers_and_a_rerun_that_starts_nothing(tmp_path, executor):
    """The issue's own check: `cortex sweep rivalry --seeds 0-3 --workers 2 --out DIR` (on one machine the process
    pool), then the same again; and the same on a local Ray instance (`--executor ray`)."""
    if executor == "ray":
        pytest.importorskip("ray", reason='Ray is not installed (pip install -e ".[cluster]")')
    args = [sys.executable, "-m", "cortex.cli", "sweep", "rivalry", "--seeds", "0-3", *TINY, "--workers", "2",
            "--executor", executor, "--out", str(tmp_path / "sw")]
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    first = subprocess.run(args, capture_output=True, text=True, env=env, timeout=400)
    assert first.returncode == 0, first.stderr
    summary = json.loads((tmp_path / "sw" / "summary.json").read_text())
    assert summary["executor"] == {"auto": "pool", "ray": "ray"}[executor] and summary["trials"] == 4
    assert summary["figures"]["durations.cv"]["n"] == 4 and len(summary["figures"]["durations.cv"]["ci95"]) == 2
    again = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    assert again.returncode == 0 and "4 of 4 trials already finished" in again.stderr
    assert "Started a local Ray instance" not in again.stderr      # nothing left to run, so no Ray to start


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers fork only on Linux")
def test_pool_workers_fork_a_lone_driver_and_use_a_server_otherwise():
    """A single-threaded driver forks its workers (they inherit its imports, 0.5-0.7 s sooner than a fork server
    on 20 rivalry trials); another thread or CuPy in the process sends them to the fork server instead."""
    code = ("import sys, threading, types; from cortex.sweep.executors import start_method; alone = start_method(); "
            "sys.modules['cupy'] = types.ModuleType('cupy'); with_cupy = start_method(); del sys.modules['cupy']; "
            "stop = threading.Event(); t = threading.Thread(target=stop.wait); t.start(); "
            "print(alone, with_cupy, start_method()); stop.set()")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["fork", "forkserver", "forkserver"]
