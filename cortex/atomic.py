"""Atomic file writes: a reader never sees a half-written file, and a failed write keeps the old one."""
from __future__ import annotations

import contextlib
import os
import tempfile
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
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    mask = os.umask(0)
    os.umask(mask)
    try:
        os.chmod(tmp, 0o666 & ~mask)   # mkstemp makes 0600; a saved result should follow the umask like any file
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, directory: bool = False) -> Iterator[Path]:
    """A temporary path beside ``path`` for a library that writes by name (netCDF, zarr); on success it
    replaces ``path`` in one rename, and on failure ``path`` keeps what it held.

    With ``directory`` the temporary path is a folder (a zarr store); an old folder at ``path`` is moved
    aside first and removed once the new one is in place.
    """
    import shutil

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    target = tmp / path.name          # the library creates the file or folder itself, inside the temporary folder
    old = None
    try:
        yield target
        if not directory:
            with open(target, "rb+") as f:
                os.fsync(f.fileno())
        if directory and path.exists():
            old = path.with_name(f".{path.name}.old-{tmp.name}")
            os.replace(path, old)
        os.replace(target, path)
    except BaseException:
        if old is not None and not path.exists():
            os.replace(old, path)
            old = None
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
