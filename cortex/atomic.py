"""Atomic file writes: a reader never sees a half-written file, and a failed write keeps the old one.

Temporary names carry the writer's process id (``.NAME.PID-XXXX.tmp``): a writer killed outright (kill -9)
leaves its temporary behind, and the next write beside the same name removes the ones of dead processes.
"""
from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
from pathlib import Path
from typing import IO, Iterator


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success it replaces ``path`` in one rename.

    >>> with atomic_write("out.json", "w") as f:   # doctest: +SKIP
    ...     f.write("{}")
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_orphans(path)
    with _temporary_beside(path) as tmp:
        with open(tmp, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, directory: bool = False) -> Iterator[Path]:
    """A temporary path beside ``path`` for a library that writes by name (netCDF, zarr); on success it
    replaces ``path`` in one rename, and on failure ``path`` keeps what it held.

    With ``directory`` the temporary path is a folder (a zarr store); an old folder at ``path`` is moved
    aside first and removed once the new one is in place.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_orphans(path)
    with _temporary_beside(path, directory=True) as tmp:
        target = tmp / path.name      # the library creates the file or folder itself, inside the temporary folder
        old = None
        try:
            yield target
            if not directory:
                with open(target, "rb+") as f:
                    os.fsync(f.fileno())
            if directory and path.exists():
                old = path.with_name(f".{path.name}.old-{tmp.name[len(path.name) + 2:]}")   # .NAME.old-PID-XXXX.tmp
                os.replace(path, old)
            os.replace(target, path)
        except BaseException:
            if old is not None and not path.exists():
                os.replace(old, path)
                old = None
            raise
        finally:
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def _temporary_beside(path: Path, directory: bool = False) -> Iterator[Path]:
    """Create a new temporary file (or folder) ``.NAME.PID-XXXXXXXX.tmp`` beside ``path``; removed on exit if still there.

    The name is chosen before the file exists and the creation happens inside the cleanup, so an interrupt
    landing between the system call and its return (where ``mkstemp`` / ``mkdtemp`` would lose the name) still
    removes it. Created with mode 0o666 / 0o777, so the umask applies as to any file the user saves.
    """
    tmp = path.parent / f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp"
    try:
        try:
            if directory:
                os.mkdir(tmp, 0o777)
            else:
                os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            tmp = None          # the name is another writer's: not ours to remove
            raise
        yield tmp
    finally:
        if tmp is not None:
            if directory:
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)


def clean_orphans(path: str | os.PathLike) -> list[Path]:
    """Remove the temporaries that writers of ``path`` killed outright left beside it; returns what was removed.

    Only names of this module's pattern whose process is gone are touched (a live writer keeps its own); an old
    folder moved aside by a writer killed before the new one was in place is put back.
    """
    path = Path(path)
    pattern = re.compile(rf"^\.{re.escape(path.name)}\.(old-)?(\d+)-[^/]*\.tmp$")
    removed = []
    with contextlib.suppress(OSError):
        for entry in sorted(path.parent.iterdir()):
            m = pattern.match(entry.name)
            if not m or pid_alive(int(m.group(2))):
                continue
            if m.group(1) and not path.exists():   # killed between moving the old one aside and the new one in
                os.replace(entry, path)
            elif entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    entry.unlink()
            removed.append(entry)
    return removed


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (this process counts as alive: its own temporaries are in use)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True
