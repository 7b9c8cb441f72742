"""Tests for the ``cortex`` command line: validate, run, draw, list, --version.

The key paths run as a real process (``python -m cortex.cli``, and the installed ``cortex`` script) so
that exit statuses, stderr and the absence of tracebacks are what a user sees; the rest call
``cortex.cli.main`` in-process (same code path, no interpreter start-up) to keep the suite fast.
"""
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import cortex
from cortex import graph_path
from cortex.cli import main

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DIGITS = Path(str(graph_path("digits")))

SMALL_DIGITS = """\
name: digits-small
seed: 0
backend: numpy
dtype: float32
inputs:
  retina: {shape: [8, 8]}
  label: {shape: [10]}
regions:
  IT:
    kind: predictive
    hypotheses: 10
    inputs: [retina]
    competition: softmax
    factors: 8
    teacher: label
    precision: 30.0
    error: cauchy
    error_scale: 0.5
    lr: 0.05
    init_scale: 0.05
settle: {steps: 10, rate: 0.5, tol: 1.0e-5, check_every: 10}
experiment:
  kind: recognition
  stimulus: retina
  label: label
  readout: IT
  epochs: 1
  batch_size: 32
  max_train: 300
  few_shot: 2
  few_shot_epochs: 2
  baselines: false
"""

NO_EXPERIMENT = """\
name: bare
inputs:
  x: {shape: [3]}
regions:
  R: {hypotheses: 2, inputs: [x]}
"""


def cortex_cli(*args, cwd=None, timeout=120):
    """Run ``python -m cortex.cli ARGS`` as a process; returns the CompletedProcess (text mode) and its seconds."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "cortex.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout)
    return proc, time.perf_counter() - t0


def cortex_main(capsys, *args):
    """Run ``cortex.cli.main(ARGS)`` in this process (faster); returns (returncode, stdout, stderr) as a process would.

    Any exception other than SystemExit escaping ``main`` fails the test: that is the traceback a user would see.
    """
    capsys.readouterr()
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out, err)


def assert_user_error(proc, *fragments):
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr
    for frag in fragments:
        assert frag in proc.stderr, (frag, proc.stderr)


def test_version():
    proc, _ = cortex_cli("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"cortex, version {cortex.__version__}"


def test_installed_script_and_help():
    exe = shutil.which("cortex") or str(Path(sys.executable).with_name("cortex"))
    if not Path(exe).exists():
        pytest.skip("the console script is not installed next to this Python")
    proc = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Usage: cortex [OPTIONS] COMMAND")
    for command in ("validate", "run", "draw", "list"):
        assert re.search(rf"^\s+{command}\s", proc.stdout, re.M), command


def test_list_names_the_shipped_graphs(capsys):
    proc = cortex_main(capsys, "list")
    assert proc.returncode == 0, proc.stderr
    rows = [line.split() for line in proc.stdout.splitlines() if line.strip()]
    assert ["digits", str(DIGITS)] in rows


def test_validate_digits_by_name_and_by_path():
    proc, _ = cortex_cli("validate", "digits", DIGITS)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "ok: digits (graph 'digits': 2 inputs, 1 regions, 1 connections, experiment recognition)",
        f"ok: {DIGITS} (graph 'digits': 2 inputs, 1 regions, 1 connections, experiment recognition)",
    ]
    assert proc.stderr == ""


def test_validate_invalid_file_exits_2_with_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: t\ninputs:\n  retina: {shape: [8, 8]}\nregions:\n  V1:\n    hypotheses: 0\n"
                   "    inputs: [retna]\n", encoding="utf-8")
    proc, _ = cortex_cli("validate", DIGITS, bad)
    assert_user_error(proc, f"invalid: {bad}", f"({bad}:6)", "regions.V1.hypotheses", "greater than or equal to 1")
    assert proc.stdout.startswith("ok: ")   # the good file is still reported; one bad file fails the run


def test_validate_reports_every_error_with_its_line(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: t\ninputs:\n  retina: {shape: [8, 8]}\nregions:\n  V1:\n    hypotheses: 0\n"
                   "    inputs: [retina]\n    sparsty: 1\nsettle: {rate: .nan}\n", encoding="utf-8")
    proc = cortex_main(capsys, "validate", bad)
    assert_user_error(proc, f"invalid: {bad}")
    lines = proc.stderr.splitlines()[1:]
    assert [ln.split(":")[0] for ln in lines] == ["regions.V1.hypotheses", "regions.V1.sparsty", "settle.rate"]
    assert [ln.endswith(f"({bad}:{n})") for ln, n in zip(lines, (6, 8, 9))] == [True] * 3
    assert "did you mean 'sparsity'?" in lines[1]


def test_validate_missing_file_and_unknown_name_exit_2(capsys, tmp_path):
    proc = cortex_main(capsys, "validate", tmp_path / "nowhere.yaml", "no-such-graph")
    assert_user_error(proc, "file not found", "nowhere.yaml", "no graph named 'no-such-graph'", "shipped graphs (", "digits")


def _alias_bomb() -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


MALICIOUS = {
    "tag": ("name: !!python/object/apply:os.system ['echo pwned > pwned.txt']\n", ["tag.yaml:1", "is not allowed"]),
    "bomb": (_alias_bomb(), ["bomb.yaml:", "more than 100000 values", "billion laughs"]),
    "deep": ("[" * 100_000 + "]" * 100_000 + "\n", ["deep.yaml:1", "nesting is deeper than 64 levels"]),
    "deepmap": ("a: " + "{a: " * 100_000 + "1" + "}" * 100_000 + "\n", ["deepmap.yaml:1", "nesting is deeper"]),
    "deepblock": ("".join(" " * i + "- \n" for i in range(0, 400, 2)), ["deepblock.yaml:", "nesting is deeper"]),
}


@pytest.mark.parametrize("name", list(MALICIOUS))
def test_malicious_yaml_exits_2_fast(capsys, tmp_path, monkeypatch, name):
    text, fragments = MALICIOUS[name]
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    t0 = time.perf_counter()
    proc = cortex_main(capsys, "validate", path)
    assert time.perf_counter() - t0 < 5
    assert_user_error(proc, f"invalid: {path}", *fragments)
    assert not (tmp_path / "pwned.txt").exists()


def test_malicious_yaml_as_a_process_has_no_traceback(tmp_path):
    paths = []
    for name in ("tag", "bomb", "deep"):
        paths.append(tmp_path / f"{name}.yaml")
        paths[-1].write_text(MALICIOUS[name][0], encoding="utf-8")
    proc, seconds = cortex_cli("validate", *paths, cwd=tmp_path, timeout=60)
    assert_user_error(proc, *(f"invalid: {p}" for p in paths))
    assert seconds < 20
    assert not (tmp_path / "pwned.txt").exists()


def test_draw_writes_a_png(capsys, tmp_path):
    import matplotlib.image

    out = tmp_path / "figs" / "digits.png"
    proc = cortex_main(capsys, "draw", "digits", "--out", out)
    assert proc.returncode == 0, proc.stderr
    img = matplotlib.image.imread(out)
    assert proc.stdout.strip() == f"wrote {out} ({img.shape[1]}x{img.shape[0]} px, 1 region)"
    assert out.read_bytes()[:8] == PNG_SIGNATURE
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100 and img.shape[2] in (3, 4)
    assert img[..., :3].std() > 0.01   # something is drawn, not a blank canvas
    assert [p.name for p in out.parent.iterdir()] == ["digits.png"]   # no temporary file left beside it


def test_draw_invalid_graph_exits_2(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: t\ninputs: {}\n", encoding="utf-8")
    proc = cortex_main(capsys, "draw", bad, "--out", tmp_path / "g.png")
    assert_user_error(proc, f"{bad}:", "inputs")
    assert not (tmp_path / "g.png").exists()


@pytest.mark.parametrize("graph, fragment", [
    ("no-such-graph", "no graph named 'no-such-graph'"),
    ("missing.yaml", "file not found (missing.yaml)"),
])
def test_run_nonexistent_graph_exits_2(capsys, tmp_path, monkeypatch, graph, fragment):
    monkeypatch.chdir(tmp_path)
    proc = cortex_main(capsys, "run", graph, "--out", tmp_path / "out", "--quiet")
    assert_user_error(proc, fragment)
    assert proc.stderr.startswith("error: ")
    assert not (tmp_path / "out").exists()


def test_run_graph_without_experiment_exits_2(capsys, tmp_path):
    path = tmp_path / "bare.yaml"
    path.write_text(NO_EXPERIMENT, encoding="utf-8")
    proc = cortex_main(capsys, "run", path, "--out", tmp_path / "out", "--quiet")
    assert_user_error(proc, "no 'experiment' block", "nothing to run", "bare.yaml")
    assert not (tmp_path / "out").exists()


def test_run_graph_too_big_for_memory_exits_2(capsys, tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text(SMALL_DIGITS.replace("regions:\n", "regions:\n  Huge: {hypotheses: 1000000, inputs: [retina]}\n"),
                    encoding="utf-8")
    t0 = time.perf_counter()
    proc = cortex_main(capsys, "run", path, "--out", tmp_path / "out", "--quiet")
    assert time.perf_counter() - t0 < 20
    assert_user_error(proc, "GiB", "'digits-small'")


def test_usage_errors_exit_2(capsys):
    assert_user_error(cortex_main(capsys, "run"), "Missing argument")
    assert_user_error(cortex_main(capsys, "frobnicate"), "No such command 'frobnicate'")
    assert_user_error(cortex_main(capsys, "run", "digits", "--backend", "torch"), "Invalid value for '--backend'")


def test_run_reduced_digits(tmp_path):
    graph = tmp_path / "small.yaml"
    graph.write_text(SMALL_DIGITS, encoding="utf-8")
    proc, _ = cortex_cli("validate", graph)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "run"
    proc, _ = cortex_cli("run", graph, "--out", out, "--quiet", timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr

    results = json.loads((out / "results.json").read_text())
    acc = results["accuracy"]
    assert set(acc) == {"clean", "noise", "occlusion", "few_shot"}
    for cond, row in acc.items():
        assert set(row) == {"model"}, row   # baselines: false
        assert 0.0 <= row["model"] <= 1.0
    assert acc["clean"]["model"] > 0.5, acc        # chance is 0.1
    assert acc["few_shot"]["model"] > 0.2, acc
    assert results["graph"] == "digits-small" and results["backend"] == "numpy"
    assert results["train_examples"] == 300 and results["epochs"] == 1
    assert results["test_examples"] == 360   # 20 % of the 1797 digits
    first, last = results["train_energy_first_last"]
    assert last < first
    assert all(1 <= s <= 10 for s in results["test_settle_steps"].values())
    assert sorted(results["figures"]) == ["competition.png", "energy.png", "fields.png", "training.png"]

    # the printed table: one row per condition with the same numbers as results.json
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["accuracy", "model"]
    table = {row.split()[0]: float(row.split()[1]) for row in lines[1:5]}
    assert table.keys() == acc.keys()
    for cond, value in table.items():
        assert value == pytest.approx(acc[cond]["model"], abs=5e-4)
    assert lines[5].startswith("time: ")
    assert f"results: {out / 'results.json'}" in proc.stdout

    for fig in results["figures"]:
        data = (out / fig).read_bytes()
        assert data[:8] == PNG_SIGNATURE and len(data) > 2000, fig
    assert sorted(p.name for p in out.iterdir()) == [
        "competition.png", "energy.png", "fields.png", "model.npz", "results.json", "training.png"]

    # the checkpoint is the trained model: it reproduces the clean accuracy
    from cortex.checkpoint import load_checkpoint
    from cortex.spec import load_spec
    from cortex.stimuli.digits import load_digit_split

    model = load_checkpoint(out / "model.npz", spec=load_spec(graph))
    split = load_digit_split(test_size=0.2, seed=0)
    result = model.settle({"retina": split.X_test}, noise=False)
    assert float((result.winners("IT") == split.y_test).mean()) == pytest.approx(acc["clean"]["model"])


def test_python_dash_m_cortex_is_the_command_line():
    proc = subprocess.run([sys.executable, "-m", "cortex", "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == f"cortex, version {cortex.__version__}", proc.stderr


def test_cortex_environment_variables_set_defaults(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("CORTEX_DRAW_OUT", str(tmp_path / "from_env.png"))   # any option: CORTEX_<COMMAND>_<OPTION>
    proc = cortex_main(capsys, "draw", "digits")
    assert proc.returncode == 0 and (tmp_path / "from_env.png").exists(), proc.stderr
    monkeypatch.setenv("CORTEX_BACKEND", "array_api_strict")                # a setting every model follows
    assert cortex.load("digits").backend.name == "array_api_strict"
    assert cortex.load("digits", backend="numpy").backend.name == "numpy"   # an explicit choice still wins
    monkeypatch.setenv("CORTEX_BACKEND", "tpu")
    with pytest.raises(cortex.CortexError, match="CORTEX_BACKEND='tpu' is not one of numpy, cupy, auto"):
        cortex.load("digits")
    proc = cortex_main(capsys, "run", "digits", "--out", tmp_path / "r")
    assert_user_error(proc, "CORTEX_BACKEND")


def test_run_takes_a_seed_and_experiment_settings(capsys, tmp_path):
    graph = tmp_path / "small.yaml"
    graph.write_text(SMALL_DIGITS, encoding="utf-8")
    proc = cortex_main(capsys, "run", graph, "--out", tmp_path / "run", "--quiet", "--seed", "5",
                       "--set", "max_train=100", "--set", "examples=1")
    assert proc.returncode == 0, proc.stderr
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["seed"] == 5 and results["train_examples"] == 100
    assert results["provenance"]["overrides"] == {"max_train": 100, "examples": 1, "seed": 5}
    assert_user_error(cortex_main(capsys, "run", graph, "--out", tmp_path / "bad", "--set", "epochz=2"),
                      "experiment.epochz", "did you mean 'epochs'?")
    assert_user_error(cortex_main(capsys, "run", graph, "--out", tmp_path / "bad", "--set", "epochs"), "KEY=VALUE")
    assert_user_error(cortex_main(capsys, "run", graph, "--out", tmp_path / "bad", "--seed", "-3"), "--seed")
    assert not (tmp_path / "bad").exists()


def test_run_digits_into_a_log_file_is_short_and_names_every_phase(tmp_path):
    """`cortex run digits > log.txt 2>&1`: no progress bars in a file, a few stage lines, a time per phase."""
    log = tmp_path / "log.txt"
    with open(log, "w") as f:
        proc = subprocess.run([sys.executable, "-m", "cortex.cli", "run", "digits", "--out", str(tmp_path / "run")],
                              stdout=f, stderr=subprocess.STDOUT, timeout=600)
    text = log.read_text()
    assert proc.returncode == 0, text
    lines = text.splitlines()
    assert len(lines) < 200, len(lines)
    assert "\r" not in text and "batch/s" not in text and "it/s" not in text     # no progress bars in a file
    time_line = next(line for line in lines if line.startswith("time: "))
    for phase in ("training", "testing", "baselines", "figures"):
        assert f"{phase} " in time_line, time_line
    assert "digits: training done (" in text
