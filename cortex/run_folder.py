"""A run's output folder as a transaction: complete new results, or the old ones, never a mix.

A run writes into a hidden temporary folder beside its target (``.NAME.tmp-PID-XXXX``) and, once
everything is written, moves it into place: the old folder is renamed aside (``.NAME.old-PID-XXXX``),
the new one renamed to ``NAME``, and the old one deleted. An interrupted or failed run removes its
temporary folder; a run killed outright (kill -9, power loss) leaves it behind, and the next run into
the same place cleans it up, or puts an old folder back if the kill came between the two renames.

>>> with RunFolder("runs/digits") as folder:       # doctest: +SKIP
...     (folder.path / "results.json").write_text("{}")
...     folder.commit()
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path

from .atomic import pid_alive
from .errors import CortexError
from .interrupts import deferred

#: What a run writes into its folder; a folder holding anything else is not replaced.
RUN_MARKER = "results.json"

_active: set[Path] = set()   # temporary folders of runs in progress in this process


class RunFolder:
    """Write into ``path`` (a temporary folder beside ``target``), then :meth:`commit` it into place."""

    def __init__(self, target: str | os.PathLike):
        self.target = Path(os.path.abspath(target))
        self.path: Path | None = None
        self.committed = False

    def __enter__(self) -> "RunFolder":
        check_replaceable(self.target)
        self.target.parent.mkdir(parents=True, exist_ok=True)
        clean_stale(self.target)
        self.path = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.tmp-{os.getpid()}-", dir=self.target.parent))
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(self.path, 0o777 & ~mask)      # mkdtemp makes 0700; a run folder follows the umask like any folder
        _active.add(self.path)
        return self

    def commit(self) -> None:
        """Move the finished folder into place; the old one, if any, is removed after."""
        _fsync_dir(self.path)
        old = None
        with deferred():
            if self.target.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.old-{os.getpid()}-", dir=self.target.parent))
                os.rename(self.target, old / "run")
            os.rename(self.path, self.target)
            self.committed = True
            _active.discard(self.path)
        _fsync_dir(self.target.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def __exit__(self, *exc) -> None:
        if not self.committed and self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            _active.discard(self.path)


def check_replaceable(target: Path) -> None:
    """Refuse a target that is not a folder a run may own: a file, the working folder, or someone's other files."""
    if not target.exists():
        return
    if not target.is_dir():
        raise CortexError(f"the output folder {target} is a file, not a folder; choose a folder for the run's results")
    cwd = Path.cwd().resolve()
    if target.resolve() == cwd or target.resolve() in cwd.parents:
        raise CortexError(f"the output folder {target} is the working folder (or holds it); a run replaces its folder whole, "
                          "so choose a folder of its own, e.g. runs/NAME")
    entries = sorted(p.name for p in target.iterdir())
    if entries and RUN_MARKER not in entries:
        shown = ", ".join(entries[:5]) + (f" and {len(entries) - 5} more" if len(entries) > 5 else "")
        raise CortexError(f"the output folder {target} holds files that no cortex run wrote ({shown}); a run replaces its folder "
                          "whole, so choose a new or empty folder")


def clean_stale(target: Path) -> list[Path]:
    """Remove what killed runs left beside ``target``; put an old folder back if the target went missing.

    Returns the paths removed or restored. Folders of runs still alive (by process id) are left alone.
    """
    pattern = re.compile(rf"^\.{re.escape(target.name)}\.(tmp|old)-(\d+)-")
    touched = []
    if not target.parent.is_dir():
        return touched
    for entry in sorted(target.parent.iterdir()):
        m = pattern.match(entry.name)
        if not m or not entry.is_dir() or entry in _active or _alive(int(m.group(2))):
            continue
        if m.group(1) == "old" and not target.exists() and (entry / "run").is_dir():
            os.rename(entry / "run", target)       # killed between the two renames: the old results come back
        shutil.rmtree(entry, ignore_errors=True)
        touched.append(entry)
    return touched


def _alive(pid: int) -> bool:
    """This process: only folders in _active are in use; another: whether it still runs."""
    return pid != os.getpid() and pid_alive(pid)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
