"""The import structure of the package: no import circles, and the core imports no region kind.

Both checks read the source (``ast``), so an import inside a function counts as much as one at the top: a
lazy import hides a circle from Python but not from a reader. ``regions/`` and ``stimuli/`` are installed as
``cortex.regions`` and ``cortex.stimuli`` (setup.cfg's ``package_dir``) and are read under those names.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {"cortex": ROOT / "cortex", "cortex.regions": ROOT / "regions", "cortex.stimuli": ROOT / "stimuli"}


def _modules() -> dict[str, tuple[Path, bool]]:
    """Module name -> (file, is a package's ``__init__``) for every module of the distribution."""
    out = {}
    for prefix, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            rel = path.relative_to(folder).with_suffix("")
            parts = list(rel.parts)
            package = parts[-1] == "__init__"
            if package:
                parts = parts[:-1]
            if prefix == "cortex" and parts and parts[0] in ("regions", "stimuli"):
                continue      # not there in this layout; guards against a stray folder
            out[".".join([prefix, *parts])] = (path, package)
    return out


MODULES = _modules()


def _type_checking_lines(tree) -> set[int]:
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for sub in node.body:
                lines.update(range(sub.lineno, (sub.end_lineno or sub.lineno) + 1))
    return lines


def imports_of(name: str) -> set[str]:
    """The modules of the distribution that module ``name`` imports anywhere in its source."""
    path, package = MODULES[name]
    tree = ast.parse(path.read_text(), filename=str(path))
    skip = _type_checking_lines(tree)
    here = name if package else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = here.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            # ``from pkg import sub`` imports the submodule when there is one, else a name of pkg
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:     # import a.b.c of a name inside module a.b
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> nx.DiGraph:
    g = nx.DiGraph()
    for name in MODULES:
        g.add_node(name)
        g.add_edges_from((name, target) for target in imports_of(name))
    return g


def test_the_import_graph_is_read():
    """Guard: the reader sees the imports it must (so an empty graph cannot pass the next test)."""
    g = import_graph()
    assert len(MODULES) > 40
    assert g.has_edge("cortex", "cortex.model")                       # ``from .model import ...``
    assert g.has_edge("cortex.cli", "cortex.spec")                    # an import inside a function
    assert g.has_edge("cortex.regions.predictive", "cortex.region") or \
        any(g.has_edge(m, "cortex.region") for m in MODULES if m.startswith("cortex.regions.predictive"))


def test_no_import_circles():
    cycles = [sorted(c) for c in nx.strongly_connected_components(import_graph()) if len(c) > 1]
    assert not cycles, "import circles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_the_core_imports_no_region_kind():
    """``cortex/`` finds kinds through the registry at run time; no module of it imports one (or the kinds' package)."""
    g = import_graph()
    core = [m for m, (path, _) in MODULES.items() if PACKAGES["cortex"] in path.parents]
    offenders = sorted(f"{m} -> {t}" for m in core for t in g.successors(m) if t.startswith("cortex.regions"))
    assert not offenders, offenders


def test_importing_the_core_loads_no_region_kind():
    """The same at run time: importing every core module leaves every kind unimported."""
    core = sorted(m for m, (path, _) in MODULES.items() if PACKAGES["cortex"] in path.parents)
    code = ("import importlib, sys\n"
            f"for m in {core!r}:\n"
            "    try:\n"
            "        importlib.import_module(m)\n"
            "    except ImportError as exc:   # an optional extra (pcx, ipywidgets) missing: not the point here\n"
            "        print('skipped', m, exc, file=sys.stderr)\n"
            "print(sorted(m for m in sys.modules if m.startswith('cortex.regions')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/", check=True)
    assert out.stdout.strip() == "[]", out.stdout


@pytest.mark.parametrize("folder", ["cortex", "regions", "stimuli"])
def test_modules_stay_under_450_lines(folder):
    long = {str(p.relative_to(ROOT)): n for p in sorted((ROOT / folder).rglob("*.py"))
            if (n := len(p.read_text().splitlines())) > 450}
    assert not long, long
