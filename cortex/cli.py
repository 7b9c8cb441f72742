"""The ``cortex`` command: validate, run, draw and list region graphs.

Every user mistake ends with a one-paragraph message and exit status 2, never a traceback; a bug ends
with a one-line "internal error" and exit status 1. ``--debug`` (or ``CORTEX_DEBUG=1``) adds the traceback.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from ._version import __version__
from .errors import CortexError
from .memory import check_fits
from .settings import PREFIX, envvar, flag

_debug = False   # set by --debug; main() reads it once the command has ended


def _spec(graph: str):
    from .shipped import graph_path
    from .spec import load_spec

    return load_spec(graph_path(graph))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cortex")
@click.option("--debug", is_flag=True, help="On an error, also print the Python traceback (or set CORTEX_DEBUG=1).")
def cli(debug):
    """cortex-sim: competing generative models, settled and learned online."""
    global _debug
    _debug = debug


class _Threads(click.ParamType):
    """A thread count (a positive integer) or ``default`` (the BLAS library's own choice, usually every core)."""

    name = "N|default"

    def convert(self, value, param, ctx):
        from .threadpool import check

        try:
            n = check(value, f"--{param.name if param else 'threads'}")
        except CortexError as exc:
            self.fail(str(exc), param, ctx)
        return "default" if n is None else n


def _threads_option(what: str):
    return click.option("--threads", type=_Threads(), default=None, envvar=envvar("threads"), show_envvar=True,
                        help=f"BLAS / OpenMP threads for {what}: a count, or 'default' for the libraries' own "
                             "choice [1, or CORTEX_THREADS; see docs/speed.md].")


def _limit(threads):
    """The :func:`cortex.threadpool.threads` block for a ``--threads`` value (not given: cortex's setting)."""
    from .threadpool import threads as limit

    return limit() if threads is None else limit(None if threads == "default" else threads)


@cli.command()
@click.argument("graphs", nargs=-1, required=True)
def validate(graphs):
    """Check region-graph YAML files (or shipped graph names) without building or running anything."""
    failed = 0
    for graph in graphs:
        try:
            spec = _spec(graph)
            check_fits(spec)     # the memory estimate cortex.load refuses with (cortex.memory)
        except CortexError as exc:
            failed += 1
            _traceback()
            click.echo(f"invalid: {graph}\n{exc}", err=True)
            continue
        edges = len(spec.edges())
        click.echo(f"ok: {graph} (graph {spec.name!r}: {len(spec.inputs)} inputs, {len(spec.regions)} regions, "
                   f"{edges} connections{', experiment ' + spec.experiment.kind if spec.experiment else ''})")
    if failed:
        sys.exit(2)


@cli.command()
@click.argument("graph")
@click.option("--out", "out", type=click.Path(file_okay=False), default=None,
              help="Folder for results.json, figures and the checkpoint, replaced whole when the run succeeds "
                   "[default: runs/<graph name>].")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=None, help="Override the graph's seed.")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="Override a key of the graph's experiment block, e.g. --set epochs=1 --set evaluate_on=validation "
                   "(the value is read as YAML). Repeatable.")
@click.option("--data", "data_file", type=click.Path(dir_okay=False), default=None,
              help="Your own examples: an .npz with arrays X, y (and optionally X_test, y_test); same as --set data=FILE.")
@click.option("--backend", type=click.Choice(["numpy", "cupy", "auto"]), default=None, envvar=envvar("backend"),
              show_envvar=True, help="Override the graph's backend.")
@click.option("--quiet", is_flag=True, help="No progress bars or stage lines.")
@_threads_option("the whole run (settling, learning, the baselines)")
def run(graph, out, seed, settings, data_file, backend, quiet, threads):
    """Run the experiment of GRAPH (a shipped name such as 'digits', or a YAML file).

    Progress goes to stderr (bars only on a terminal); the summary to stdout. Ctrl-C or SIGTERM stop
    the run with exit status 130 / 143 and leave the output folder as it was.
    """
    from .experiments import get_experiment_kind
    from .interrupts import RunInterrupted
    from .runner import run as run_experiment, time_line

    overrides = _settings(settings)
    if data_file is not None:
        overrides["data"] = data_file
    try:
        with _limit(threads):
            results = run_experiment(graph, out, seed=seed, backend=backend, progress=not quiet, **overrides)
    except RunInterrupted as exc:
        raise _Stopped(exc) from None
    out = Path(out or Path("runs") / results["graph"])
    summary = get_experiment_kind(results["experiment"]).summary(results)
    click.echo((summary + "\n" if summary else "") + time_line(results["seconds"]))
    click.echo(f"results: {out / 'results.json'}; figures: {', '.join(results.get('figures', []))}")


def _settings(settings) -> dict:
    """``KEY=VALUE`` pairs as a dict, each value read by the project's safe YAML loader (``1`` is a number)."""
    from .errors import SpecError
    from .yaml_source import load_yaml

    out = {}
    for item in settings:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key or not key.replace("_", "").isalnum():
            raise SpecError(f"--set {item!r}: expected KEY=VALUE with KEY a key of the experiment block, "
                            "e.g. --set epochs=1")
        out[key] = load_yaml(text=f"{key}: {value}\n" if value.strip() else f"{key}: ''\n", name=f"--set {item}").data[key]
    return out


@cli.command()
@click.argument("graph")
@click.option("--out", "out", type=click.Path(file_okay=False), required=True,
              help="Folder of the sweep: trials/<trial>/ per trial, summary.json, summary.md, summary.png. "
                   "Rerun into the same folder to resume.")
@click.option("--seeds", default=None, metavar="SEEDS", help="Seeds to run, e.g. 0-4 or 0,2,7 [default: the graph's seed].")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUES",
              help="A dotted graph key and its choices, e.g. --set regions.P.noise=0.5,1,2 (a bare key is an "
                   "experiment key); with --random also uniform(A,B), loguniform(A,B), randint(A,B). Repeatable.")
@click.option("--random", "random", type=click.IntRange(1), default=None, metavar="K",
              help="Random search: K draws from the --set choices and ranges (each at every seed) instead of the grid.")
@click.option("--random-seed", type=click.IntRange(0), default=0, help="Seed of the random draws (same seed, same trials).")
@click.option("--workers", type=click.IntRange(1), default=1, help="Trials at once [1: one after another here].")
@click.option("--executor", type=click.Choice(["auto", "ray", "pool", "serial"]), default="auto",
              help="Where trials run: auto = Ray with --address or --gpus-per-trial, else a local process pool "
                   "(serial with --workers 1); ray = Ray, a local instance without --address.")
@click.option("--address", default=None, help="Address of a running Ray cluster (ray start --head prints it).")
@click.option("--gpus-per-trial", type=click.FloatRange(0), default=0.0, help="GPUs Ray reserves per trial (with --backend auto).")
@click.option("--backend", type=click.Choice(["numpy", "cupy", "auto"]), default=None, help="Override every trial's backend.")
@click.option("--quiet", is_flag=True, help="No progress bar or lines; just the summary.")
def sweep(graph, out, seeds, settings, random, random_seed, workers, executor, address, gpus_per_trial, backend, quiet):
    """Run GRAPH's experiment at every seed and --set choice (or --random draws) and summarise its figures.

    Each trial is one run in its own folder under OUT/trials/, written whole or not at all; a rerun skips
    finished trials. OUT/summary.json holds every numeric figure's mean, std, 95% interval and n.
    Ctrl-C stops with exit status 130, keeping the finished trials.
    """
    from .interrupts import RunInterrupted
    from .sweep import parse_seeds, sweep as run_sweep
    from .sweep.summary import headline, table

    try:
        summary = run_sweep(graph, out, seeds=parse_seeds(seeds), settings=settings, workers=workers, executor=executor,
                            address=address, random=random, random_seed=random_seed, backend=backend,
                            gpus_per_trial=gpus_per_trial, progress=not quiet)
    except RunInterrupted as exc:
        raise _Stopped(exc) from None
    click.echo(table(summary, headline(summary)[:20]), nl=False)
    for f in summary["failed"]:
        click.echo(f"failed: {f['trial']} ({f['group']}, seed {f['seed']}): {f['error']}", err=True)
    click.echo(f"summary: {Path(out) / 'summary.json'} ({summary['trials']} of {summary['planned']} trials); "
               f"table: {Path(out) / 'summary.md'}")
    if summary["failed"]:
        sys.exit(1)


@cli.command()
@click.argument("graph")
@click.option("--figure", required=True, help="The number to optimise, by its dotted name in results.json "
                                              "(e.g. accuracy.clean.model, as summary.json names it).")
@click.option("--minimize", is_flag=True, help="Lower is better [default: higher is better].")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUES", required=True,
              help="The search space, one key each: choices (regions.IT.factors=4,8,16; a region set to null is "
                   "removed) or ranges uniform(A,B), loguniform(A,B), randint(A,B). Repeatable.")
@click.option("--seeds", default="0-2", show_default=True, help="Seeds every configuration is measured at.")
@click.option("--trials", type=click.IntRange(1), default=20, show_default=True, help="Optuna trials.")
@click.option("--random-seed", type=click.IntRange(0), default=0, help="Seed of Optuna's sampler.")
@click.option("--out", "out", type=click.Path(file_okay=False), required=True,
              help="Folder: trials/ (one run per configuration and seed), search.json, best.yaml.")
def search(graph, figure, minimize, settings, seeds, trials, random_seed, out):
    """Optuna search over GRAPH's parameters and structure, on the validation split, pruning poor trials.

    The shipped graph is measured first; the winner, if it beats it on validation, is run once on the test
    split (the only test figure reported) and written as OUT/best.yaml.
    """
    from .interrupts import RunInterrupted
    from .sweep import parse_seeds
    from .sweep.search import search as run_search

    try:
        result = run_search(graph, out, figure=figure, settings=settings, seeds=parse_seeds(seeds), trials=trials,
                            direction="minimize" if minimize else "maximize", random_seed=random_seed)
    except RunInterrupted as exc:
        raise _Stopped(exc) from None
    ship, best = result["shipped_validation"], result["best"]
    click.echo(f"shipped: {figure} on validation {ship['mean']:.4g} (seeds {result['seeds']})")
    click.echo(f"best: {figure} on validation {best['validation']['mean']:.4g} with "
               + ", ".join(f"{k}={v}" for k, v in best["settings"].items()))
    if best["test"] is None:
        click.echo("the best configuration does not beat the shipped graph on validation; no test figure is reported")
    else:
        t = best["test"]
        ci = f" [{t['ci95'][0]:.4g}, {t['ci95'][1]:.4g}]" if t["ci95"] else ""
        click.echo(f"winner on test: {figure} {t['mean']:.4g}{ci} (n={t['n']}); graph: {result['best_graph']}")
    click.echo(f"search: {Path(out) / 'search.json'}")


@cli.command()
@click.argument("graph")
@click.option("--out", "out", type=click.Path(dir_okay=False), default=None,
              help="File to write [default: graph.png, or graph.html with --html].")
@click.option("--html", is_flag=True, help="Write an interactive page (pan, zoom, hover for parameters) instead of a "
                                          "PNG; implied by an --out ending in .html.")
def draw(graph, out, html):
    """Draw GRAPH's regions by level (senses at the bottom) to a PNG sized to the graph, or an HTML page."""
    from .graph import build_graph

    html = html or (out is not None and Path(out).suffix.lower() in (".html", ".htm"))
    out = Path(out or ("graph.html" if html else "graph.png"))
    g = build_graph(_spec(graph))
    count = sum(1 for _, d in g.nodes(data=True) if d["type"] == "region")
    regions = f"{count} region{'s' if count != 1 else ''}"
    if html:
        from .plotting.graph_html import graph_html

        graph_html(g, out)
        click.echo(f"wrote {out} (interactive, {regions})")
        return
    from PIL import Image

    from .plotting import plot_graph, plt

    plt.close(plot_graph(g, path=out))
    with Image.open(out) as img:
        click.echo(f"wrote {out} ({img.width}x{img.height} px, {regions})")


@cli.command()
@click.option("--workload", "-w", "workloads", multiple=True, type=click.Choice(["W1", "W2", "W3"]),
              help="Workload(s) to run [default: all]. W1 digits hierarchy, W2 wide 180-region graph, W3 rivalry stream.")
@click.option("--quick", is_flag=True, help="Tiny sizes and few rounds: checks the benchmark runs (seconds), not speed.")
@click.option("--rounds", type=click.IntRange(1, 100), default=None, help="Timing rounds per figure (medians are reported).")
@click.option("--batch", type=click.IntRange(1), default=None, help="Batch size for the chosen workloads.")
@click.option("--regions", type=click.IntRange(2), default=None, help="W2: number of regions [180].")
@click.option("--hypotheses", type=click.IntRange(1), default=None, help="W2: hypotheses per region [256].")
@click.option("--no-reference", is_flag=True, help="Skip the per-region reference loop (it is slow on W2).")
@click.option("--no-pcx", is_flag=True, help="Skip the PCX comparison even when PCX is installed.")
@click.option("--no-scaling", is_flag=True, help="Skip the scaling figures.")
@_threads_option("the engine and PCX's XLA (the same count on both sides)")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None, help="Also write the figures as JSON.")
@click.option("--gpu-report", is_flag=True, help="Settle W1, W2 and W3 on the GPU (CuPy) instead, each beside the same "
                                                 "matmuls replayed on that GPU: fractions of its own GEMM rate.")
def bench(workloads, quick, rounds, batch, regions, hypotheses, no_reference, no_pcx, no_scaling, threads, json_path,
          gpu_report):
    """Measure settling speed: step time, matmul efficiency, reference ratio, memory, scaling, PCX."""
    import json

    from .bench import run as run_bench

    if gpu_report:
        from .bench.gpu import gpu_report as run_gpu

        with _limit(threads):      # the host's share of the work
            report = run_gpu("cupy", quick=quick, rounds=rounds, echo=lambda line: click.echo(line, err=True))
    else:
        threads = "configured" if threads is None else threads
        report = run_bench(workloads or ("W1", "W2", "W3"), quick=quick, rounds=rounds, batch=batch, regions=regions,
                           hypotheses=hypotheses, reference=not no_reference, pcx=not no_pcx, scaling=not no_scaling,
                           threads=threads, echo=lambda line: click.echo(line, err=True))
    click.echo(report.table())
    if json_path:
        Path(json_path).write_text(json.dumps(report.to_dict(), indent=1))
        click.echo(f"wrote {json_path}")


@cli.command(name="list")
def list_graphs():
    """List the shipped region graphs."""
    from .shipped import graph_path, shipped_graphs

    for name in shipped_graphs():
        click.echo(f"{name:<16}{graph_path(name)}")


def _original_stderr() -> int | None:
    """A duplicate of the process's stderr as the command starts, before any library redirects file descriptor 2
    (brian2 points it at a log file while it compiles, in its own thread, so a message written then would vanish)."""
    try:
        return os.dup(sys.stderr.fileno())
    except (AttributeError, OSError, ValueError):   # no real file behind sys.stderr (e.g. captured in a test)
        return None


def _say(fd: int | None, line: str) -> None:
    if fd is None:
        click.echo(line, err=True)
        return
    sys.stderr.flush()
    os.write(fd, (line + "\n").encode())


class _Stopped(Exception):
    """A run ended by a signal, carried past click (which would turn a KeyboardInterrupt into a bare Abort)."""


def _debugging() -> bool:
    try:
        return _debug or flag("debug")
    except CortexError:   # a bad CORTEX_DEBUG value must not hide the error being reported
        return _debug


def _traceback() -> None:
    if _debugging():
        import traceback
        traceback.print_exc()


def main(argv=None):
    """Entry point: user errors become a message and exit 2; SIGINT / SIGTERM one line and exit 130 / 143; a bug
    one line and exit 1. With --debug or CORTEX_DEBUG=1 each also prints its traceback."""
    global _debug
    _debug = False
    stderr = _original_stderr()
    try:
        cli.main(args=argv, prog_name="cortex", standalone_mode=False, auto_envvar_prefix=PREFIX)
    except _Stopped as exc:
        _say(stderr, str(exc.args[0]))
        if "brian2" in sys.modules:   # its objects, dropped mid-run, would warn at exit that no network used them
            import logging
            logging.getLogger("brian2").setLevel(logging.ERROR)
        sys.exit(exc.args[0].exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2)
    except (CortexError, OSError) as exc:
        _traceback()
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except Exception as exc:   # not the user's doing: say so in one line, keep the traceback for --debug
        _traceback()
        click.echo(f"internal error (a bug in cortex-sim, please report it): {type(exc).__name__}: {exc}"
                   + ("" if _debugging() else "; run with --debug for the traceback"), err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
