"""A plain ``pip install .`` (not editable) installs exactly the packages setup.cfg lists: every package folder
of the source tree must be listed, or the installed cortex-sim lacks it and fails at import."""
from __future__ import annotations

import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _setup_cfg():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg", encoding="utf-8")
    return cfg


def _lines(value: str) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip()]


def test_every_package_folder_is_listed_in_setup_cfg():
    options = _setup_cfg()["options"]
    listed = set(_lines(options["packages"]))
    folders = dict(line.replace(" ", "").split("=") for line in _lines(options["package_dir"]))   # name -> folder
    found = set()
    for name, folder in folders.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            sub = ".".join((name, *rel.parts)) if rel.parts else name
            owner = next((n for n, f in folders.items() if (ROOT / f) == init.parent and n != name), None)
            found.add(owner or sub)
    assert found - listed == set(), "add these to [options] packages in setup.cfg"
    assert listed - found == set(), "setup.cfg lists packages that have no folder"


def test_shipped_graphs_are_package_data():
    data = _setup_cfg()["options.package_data"]
    assert "graphs/*.yaml" in data["cortex.regions"]
    assert list((ROOT / "regions" / "graphs").glob("*.yaml"))
