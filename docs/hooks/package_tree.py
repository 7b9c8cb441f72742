"""mkdocs hook: let mkdocstrings see the installed package layout, in which ``regions/`` is ``cortex.regions``.

griffe reads the source statically and finds ``cortex`` as the folder ``cortex/``; it does not know that
setup.cfg's ``package_dir`` installs ``regions/`` and ``stimuli/`` as ``cortex.regions`` and
``cortex.stimuli``. This hook builds that layout once per build in a temporary folder out of symbolic
links (read from setup.cfg, so a new mapped package needs no edit here) and puts it first on the Python
handler's search path. It must run before mkdocstrings creates its handler, hence the priority.
"""
from __future__ import annotations

import atexit
import configparser
import shutil
import tempfile
from pathlib import Path

from mkdocs.plugins import event_priority

ROOT = Path(__file__).resolve().parents[2]


def package_dirs(root: Path = ROOT) -> dict[str, Path]:
    """Import name -> source folder, from ``[options] package_dir`` in setup.cfg."""
    cfg = configparser.ConfigParser()
    cfg.read(root / "setup.cfg")
    pairs = (line.split("=", 1) for line in cfg["options"]["package_dir"].strip().splitlines() if "=" in line)
    return {name.strip(): root / folder.strip() for name, folder in pairs}


def stage(into: Path, root: Path = ROOT) -> Path:
    """Lay out the packages under ``into`` as they are installed; returns ``into``."""
    for name, folder in sorted(package_dirs(root).items(), key=lambda kv: kv[0].count(".")):
        target = into.joinpath(*name.split("."))
        if "." not in name:
            target.mkdir(parents=True)
            for entry in folder.iterdir():
                if entry.name != "__pycache__" and not target.joinpath(entry.name).exists():
                    target.joinpath(entry.name).symlink_to(entry)
        else:
            if target.is_symlink() or target.exists():
                raise RuntimeError(f"setup.cfg maps {name} to {folder}, but {target} already exists in the source")
            target.symlink_to(folder)
    return into


@event_priority(100)
def on_config(config):
    tree = Path(tempfile.mkdtemp(prefix="cortex-docs-src-"))
    atexit.register(shutil.rmtree, tree, ignore_errors=True)
    stage(tree)
    python = config.plugins["mkdocstrings"].config.handlers.setdefault("python", {})
    python["paths"] = [str(tree), *python.get("paths", [])]
    return config
