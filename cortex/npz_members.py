"""Read the arrays of an ``.npz`` file as a hostile file would be read: headers first, sizes before inflating.

``numpy.load`` trusts the file: it inflates a member whole before anything can look at it, answers a plain
``.npy`` with an array and garbage with advice to allow pickle. Here each member's ``.npy`` header (shape, dtype)
is read from the first bytes of its stream; only plain real numbers are accepted, only stored or deflated
members, and a member is read only up to the bytes its header (and the caller's limit) allows.
"""
from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import CheckpointError

NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK"
METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}


@dataclass(frozen=True)
class Member:
    """One array of the archive, known from its header only."""

    name: str
    shape: tuple
    dtype: np.dtype
    fortran: bool

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


class Archive:
    """An open ``.npz``: :attr:`members` by array name (without ``.npy``), each read on demand with a size limit."""

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            with open(self.path, "rb") as fh:
                head = fh.read(8)
        except OSError as exc:
            raise self._error(f"cannot read the file ({exc.strerror or exc})") from None
        if head.startswith(NPY_MAGIC):
            raise self._error("this is a plain .npy array, not a checkpoint: a checkpoint is the .npz archive that "
                              "Model.save and cortex run write")
        if not head.startswith(ZIP_MAGIC):
            raise self._error("not a cortex checkpoint or corrupt (not a .npz archive)")
        try:
            self.zip = zipfile.ZipFile(self.path)
            infos = self.zip.infolist()
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise self._error(f"not a cortex checkpoint or corrupt ({exc})") from None
        self.infos = {}
        for info in infos:
            if not info.filename.endswith(".npy"):
                raise self._error(f"not a cortex checkpoint or corrupt (member {info.filename!r} is not an array)")
            if info.compress_type not in METHODS or info.flag_bits & 0x1:
                how = "encrypted" if info.flag_bits & 0x1 else f"compression method {info.compress_type}"
                raise self._error(f"member {info.filename!r} uses {how}; a checkpoint's members are stored or "
                                  f"deflated ({', '.join(METHODS.values())})")
            self.infos[info.filename[:-4]] = info
        self.members = {name: self._header(name) for name in self.infos}

    def _error(self, message: str) -> CheckpointError:
        return CheckpointError(f"{self.path}: {message}")

    def _header(self, name: str) -> Member:
        try:
            with self.zip.open(self.infos[name]) as fp:
                version = np.lib.format.read_magic(fp)
                read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                shape, fortran, dtype = read(fp)
        except (ValueError, TypeError, SyntaxError, OSError, EOFError, zipfile.BadZipFile) as exc:
            raise self._error(f"not a cortex checkpoint or corrupt (array {name!r}: {exc})") from None
        if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
            kind = "Python objects (it would need pickle)" if dtype.hasobject else "a structured dtype"
            raise self._error(f"array {name!r} holds {kind}; a checkpoint holds plain numbers only")
        return Member(name, tuple(int(s) for s in shape), dtype, bool(fortran))

    def read(self, name: str, limit: int) -> np.ndarray:
        """The array ``name``, refused before inflating when its header says more than ``limit`` bytes."""
        m = self.members[name]
        if m.nbytes > limit:
            raise self._error(f"array {name!r} would be {m.nbytes} bytes (shape {m.shape}, {m.dtype}), more than "
                              f"the {limit} bytes the spec allows; it is not read")
        try:
            with self.zip.open(self.infos[name]) as fp:
                version = np.lib.format.read_magic(fp)
                (np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0)(fp)
                raw = fp.read(m.nbytes)
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
            raise self._error(f"not a cortex checkpoint or corrupt (array {name!r}: {exc})") from None
        if len(raw) != m.nbytes:
            raise self._error(f"not a cortex checkpoint or corrupt (array {name!r} is truncated)")
        return np.frombuffer(raw, dtype=m.dtype).reshape(m.shape, order="F" if m.fortran else "C").copy()

    def close(self) -> None:
        self.zip.close()

    def __enter__(self) -> "Archive":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
