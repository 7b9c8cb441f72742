"""The documentation builds without a single warning, and its reference tables cover the code.

``mkdocs build --strict`` turns every warning (a broken link or anchor, a docstring griffe cannot read,
an object mkdocstrings cannot find) into a failure. The YAML reference is generated from the pydantic
parameter models; these tests also hold it complete: every key of every model has a meaning, no
meaning names a key that is gone, and every table is placed on some page.
"""
from __future__ import annotations

import html
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
pytestmark = pytest.mark.docs


def _hook(name: str):
    spec = importlib.util.spec_from_file_location(f"docs_hook_{name}", DOCS / "hooks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module          # its dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def reference():
    return _hook("yaml_reference")


def test_every_yaml_key_has_a_meaning(reference):
    rows = reference.rows()
    assert {r.section for r in rows} >= {"graph", "regions", "regions.predictive", "experiment.recognition"}
    assert reference.undocumented(rows) == [], "add these keys to docs/hooks/yaml_keys.yaml"


def test_no_meaning_names_a_key_that_is_gone(reference):
    assert reference.stale() == [], "these entries of docs/hooks/yaml_keys.yaml match no model field"


def test_every_reference_table_is_on_a_page(reference):
    placed = {m for page in DOCS.rglob("*.md") for m in reference.MARKER.findall(page.read_text())}
    if "regions" in placed:   # the regions marker places the table of every kind itself
        placed |= {f"regions.{kind}" for kind in reference.region_kinds()}
    missing = sorted(set(reference.sections()) - placed)
    assert not missing, f"no page shows these YAML reference sections: {missing}"
    assert not reference.MARKER.search(reference.expand("<!-- yaml-reference: regions -->"))


def test_reference_rows_follow_the_models(reference):
    """Defaults and bounds come from the models: a change in the code changes the table."""
    rows = {(r.section, r.key): r for r in reference.rows()}
    assert rows[("graph", "settle.rate")].value == "number > 0, ≤ 1"
    assert rows[("graph", "settle.rate")].default == "`0.5`"
    assert rows[("regions.predictive", "competition")].value == "`none`, `lateral` or `softmax`"
    assert rows[("regions.predictive", "adaptation.tau")].default == "`20`"
    assert rows[("regions.predictive", "lr_context")].value == "number ≥ 0 or null"
    assert rows[("regions", "hypotheses")].default == "required"
    assert rows[("graph", "connections[].from")].value == "string"


def test_a_marker_for_an_unknown_section_is_an_error(reference):
    with pytest.raises(KeyError, match="unknown yaml-reference section 'regions.nope'"):
        reference.expand("<!-- yaml-reference: regions.nope -->")


def _resolves(dotted: str) -> bool:
    """Whether ``cortex.a.b.C`` names a module, or an attribute of one, that exists."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for name in parts[cut:]:
                obj = getattr(obj, name)
        except AttributeError:
            return False
        return True
    return False


def test_every_file_and_name_the_docs_cite_exists():
    """A page that cites ``cortex/settle.py`` or ``cortex.grouped.LinearGroup`` fails here once it moves."""
    texts = [p.read_text() for p in DOCS.rglob("*.md")] + [(DOCS / "hooks" / "yaml_keys.yaml").read_text()]
    spans = {m for text in texts for m in re.findall(r"`([^`\n]+)`", text)}
    paths = {s for s in spans if re.fullmatch(r"[\w.]+(/[\w.]+)+/?", s) and "NAME" not in s
             and not s.startswith("runs/")      # runs/ is where experiments write
             and not re.fullmatch(r"\d+/\w+", s)}  # a ratio such as `1/f` (the whitening) is not a path
    names = {re.sub(r"\(.*", "", s) for s in spans if re.fullmatch(r"cortex(\.\w+)+(\(\))?", s)}
    assert paths and names
    assert sorted(p for p in paths if not (ROOT / p).exists()) == []
    assert sorted(n for n in names if not _resolves(n)) == []


def _mkdocs_missing() -> str | None:
    for module in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python"):
        if importlib.util.find_spec(module.split(".")[0]) is None or importlib.util.find_spec(module) is None:
            return f"building the docs needs {module}: pip install -e '.[docs]'"
    return None


def _text(path: Path) -> str:
    page = path.read_text()
    page = re.sub(r"<(script|style)\b.*?</\1>", "", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


@pytest.mark.skipif(_mkdocs_missing() is not None, reason=_mkdocs_missing() or "")
def test_docs_build_strict_and_show_every_key(tmp_path, reference):
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
                           str(ROOT / "mkdocs.yml"), "--site-dir", str(site)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-4000:]
    assert not re.search(r"^(WARNING|ERROR)\b", log, re.M), log[-4000:]

    yaml_page = _text(site / "yaml" / "index.html")
    experiments_page = _text(site / "experiments" / "index.html")
    for row in reference.rows():
        page = experiments_page if row.section.startswith("experiment.") else yaml_page
        assert row.key in page, f"{row.section}: {row.key} is not on the built page"
    assert "<!-- yaml-reference" not in (site / "yaml" / "index.html").read_text()

    cli_page = _text(site / "cli" / "index.html")
    for command in _hook("cli_reference").commands():
        assert f"cortex {command}" in cli_page and "Usage:" in cli_page

    api = _text(site / "api" / "model" / "index.html")
    for member in ("settle", "learn", "winners", "prediction", "record", "past"):
        assert member in api, f"the API page lacks Model/SettleResult's {member!r}"
