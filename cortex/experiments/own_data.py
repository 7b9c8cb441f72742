"""A user's own labelled examples from an ``.npz`` file: ``X``, ``y`` and optionally ``X_test``, ``y_test``.

Read without pickles (an ``.npz`` that needs one is refused: unpickling can run code), with every array
checked before use, so a wrong file ends in one message that names the file and the array, never in a
NumPy traceback. Labels are integers or names (strings); the classes are the distinct labels.

>>> import numpy as np, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "mine.npz")
>>> np.savez(path, X=np.zeros((4, 2, 3)), y=np.array(["a", "b", "a", "b"]))
>>> arrays = read_labelled_npz(path)
>>> arrays["X"].shape, classes_of(arrays)
((4, 2, 3), ('a', 'b'))
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from cortex.errors import StimulusError

ARRAYS = ("X", "y", "X_test", "y_test")
MAX_BYTES = 8 << 30      # 8 GiB uncompressed: beyond this the file is almost surely not what was meant


def read_labelled_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The checked arrays of ``path``: ``X`` (n, ...) float32, ``y`` (n,), and ``X_test``, ``y_test`` if present."""
    path = Path(path)
    if not path.is_file():
        raise StimulusError(f"{path}: data file not found")
    _check_container(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            found = list(npz.files)
            _check_names(path, found)
            arrays = {name: _read(npz, name, path) for name in ARRAYS if name in found}
    except StimulusError:
        raise
    except Exception as exc:   # a torn or foreign zip: numpy and zipfile raise many kinds
        raise StimulusError(f"{path}: cannot be read as an .npz archive ({type(exc).__name__}: {exc})") from None
    _check_examples(path, arrays, "X", "y")
    if "X_test" in arrays:
        _check_examples(path, arrays, "X_test", "y_test")
        if arrays["X_test"].shape[1:] != arrays["X"].shape[1:]:
            raise StimulusError(f"{path}: array 'X_test' holds examples of shape {arrays['X_test'].shape[1:]}, "
                                f"but 'X' holds {arrays['X'].shape[1:]}; they must match")
        if (arrays["y_test"].dtype.kind in "US") != (arrays["y"].dtype.kind in "US"):
            raise StimulusError(f"{path}: 'y' and 'y_test' must both hold numbers or both names, got dtypes "
                                f"{arrays['y'].dtype} and {arrays['y_test'].dtype}")
    return arrays


def classes_of(arrays: dict) -> tuple[str, ...]:
    """The distinct labels of ``y`` (and ``y_test``) as names, in sorted order; each index is a class."""
    labels = np.unique(arrays["y"])
    return tuple(str(c) for c in labels)


def class_indices(path, arrays: dict, name: str) -> np.ndarray:
    """``arrays[name]`` as class indices 0..k-1 into :func:`classes_of` (the test labels must occur in ``y``)."""
    classes = np.unique(arrays["y"])
    labels = arrays[name]
    unseen = np.setdiff1d(np.unique(labels), classes)
    if unseen.size:
        raise StimulusError(f"{path}: array {name!r} has labels that 'y' never shows ({_few(unseen)}); "
                            "the model cannot learn a class it never sees")
    return np.searchsorted(classes, labels).astype(np.int64)


def _check_container(path: Path) -> None:
    if not zipfile.is_zipfile(path):
        head = path.read_bytes()[:8] if path.stat().st_size else b""
        if head.startswith(b"\x93NUMPY"):
            raise StimulusError(f"{path}: holds one array (.npy), not an .npz archive; save the arrays with "
                                "np.savez(path, X=X, y=y)")
        if head[:1] == b"\x80":
            raise StimulusError(f"{path}: is a Python pickle, not an .npz archive; pickles are never loaded "
                                "(unpickling can run code), save the arrays with np.savez(path, X=X, y=y)")
        raise StimulusError(f"{path}: is not an .npz archive (np.savez(path, X=X, y=y) writes one)")
    try:
        with zipfile.ZipFile(path) as z:
            size = sum(info.file_size for info in z.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise StimulusError(f"{path}: is a damaged .npz archive ({exc})") from None
    if size > MAX_BYTES:
        raise StimulusError(f"{path}: its arrays take {size / 2**30:.1f} GiB uncompressed, more than the limit of "
                            f"{MAX_BYTES / 2**30:.0f} GiB")


def _check_names(path: Path, found: list[str]) -> None:
    listed = ", ".join(found) if found else "none"
    unknown = [n for n in found if n not in ARRAYS]
    if unknown:
        raise StimulusError(f"{path}: unexpected array {unknown[0]!r}; a data file holds X and y, and optionally "
                            f"X_test and y_test (arrays found: {listed})")
    for name in ("X", "y"):
        if name not in found:
            raise StimulusError(f"{path}: array {name!r} is missing; a data file holds X and y, and optionally "
                                f"X_test and y_test (arrays found: {listed})")
    if ("X_test" in found) != ("y_test" in found):
        have, lack = ("X_test", "y_test") if "X_test" in found else ("y_test", "X_test")
        raise StimulusError(f"{path}: has {have!r} but not {lack!r}; give both or neither (arrays found: {listed})")


def _read(npz, name: str, path: Path) -> np.ndarray:
    try:
        arr = npz[name]
    except ValueError as exc:
        if "pickle" in str(exc):
            raise StimulusError(f"{path}: array {name!r} holds Python objects, which are never unpickled; save "
                                "numbers (X) and integer or text labels (y)") from None
        raise StimulusError(f"{path}: array {name!r} cannot be read ({exc})") from None
    if name.startswith("X"):
        if arr.dtype.kind not in "biuf":
            raise StimulusError(f"{path}: array {name!r} must hold real numbers, got dtype {arr.dtype}")
        with np.errstate(over="ignore", invalid="ignore"):
            out = arr.astype(np.float32)
        if not np.all(np.isfinite(out)):
            bad = "NaN or infinite values" if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)) else \
                "values beyond the float32 range"
            raise StimulusError(f"{path}: array {name!r} holds {bad}")
        return out
    if arr.dtype.kind not in "iuUS":
        hint = " (cast it: y.astype(int))" if arr.dtype.kind in "fb" else ""
        raise StimulusError(f"{path}: array {name!r} must hold integer class labels or class names, got dtype "
                            f"{arr.dtype}{hint}")
    return arr


def _check_examples(path: Path, arrays: dict, x: str, y: str) -> None:
    X, labels = arrays[x], arrays[y]
    if X.ndim < 2 or X.shape[0] == 0 or 0 in X.shape[1:]:
        raise StimulusError(f"{path}: array {x!r} must hold at least one example, as (n_examples, ...), "
                            f"got shape {X.shape}")
    if labels.ndim != 1 or labels.shape[0] != X.shape[0]:
        raise StimulusError(f"{path}: array {y!r} must hold one label per example of {x!r} ({X.shape[0]}), "
                            f"got shape {labels.shape}")
    if x == "X" and np.unique(labels).size < 2:
        raise StimulusError(f"{path}: array 'y' must hold at least 2 classes, got {_few(np.unique(labels))}")


def _few(values) -> str:
    shown = [str(v) for v in values[:8]]
    return ", ".join(shown) + (f" and {len(values) - 8} more" if len(values) > 8 else "")
