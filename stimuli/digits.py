"""The 8x8 handwritten digits that ship with scikit-learn, as seeded stimuli.

Why this data set: it is small (1,797 images), needs no download, and is hard enough that a
generative model has something to show against discriminative baselines. Everything here is
plain NumPy and independent of the simulator, so experiments and baselines see exactly the same
arrays. All randomness comes from the ``numpy.random.Generator`` passed in: the same seed gives
identical arrays.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from cortex.errors import StimulusError

from . import checks

__all__ = ["DigitSplit", "load_digit_split", "add_noise", "occlude", "few_shot", "fixations", "batches"]

IMAGE_SHAPE: tuple[int, int] = (8, 8)
N_CLASSES: int = 10
_PIXEL_MAX = 16.0  # load_digits pixels are counts 0..16 of a 4x4 block of a 32x32 bitmap


@dataclass(frozen=True)
class DigitSplit:
    """A stratified train/test split of the sklearn digits.

    Attributes
    ----------
    X_train, X_test : (n, 64) float32 in [0, 1], pixel values / 16, rows are flattened 8x8 images.
    y_train, y_test : (n,) int64 class labels 0..9.
    image_shape : shape to reshape a row into for display or occlusion.
    n_classes : number of classes (10).
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    image_shape: tuple[int, int] = IMAGE_SHAPE
    n_classes: int = N_CLASSES


# --------------------------------------------------------------------------- loading

def load_digit_split(test_size: float = 0.2, seed: int = 0) -> DigitSplit:
    """Load the sklearn digits and split them, stratified by class.

    Stratification keeps each class's share equal in train and test, so accuracy on the small
    test set is not skewed by an unlucky class balance.

    Parameters
    ----------
    test_size : fraction of images held out for testing, in (0, 1).
    seed : ``random_state`` of the split; the same seed gives the same split.

    Returns
    -------
    DigitSplit with float32 pixels in [0, 1] and int64 labels.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    ts = checks.real(test_size, "test_size", 0.0, 1.0, open_low=True, open_high=True)
    seed = checks.integer(seed, "seed", 0)
    X, y = load_digits(return_X_y=True)
    X = (X / _PIXEL_MAX).astype(np.float32)
    y = y.astype(np.int64)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=ts, random_state=seed, stratify=y)
    return DigitSplit(
        X_train=np.ascontiguousarray(X_tr), y_train=np.ascontiguousarray(y_tr),
        X_test=np.ascontiguousarray(X_te), y_test=np.ascontiguousarray(y_te))


# --------------------------------------------------------------------------- corruptions

def add_noise(X, sigma: float, rng: np.random.Generator, clip: bool = False) -> np.ndarray:
    """Add i.i.d. Gaussian pixel noise, to test robustness of inference to sensor noise.

    Parameters
    ----------
    X : (n, p) images with pixels in [0, 1].
    sigma : standard deviation in pixel-range units (1.0 = the whole black-to-white range), >= 0.
    rng : source of the noise.
    clip : clip the result back into [0, 1] (then the std is smaller than ``sigma``).

    Returns
    -------
    (n, p) float32, a new array; ``X`` is not modified.
    """
    arr = checks.examples(X)
    s = checks.real(sigma, "sigma", low=0.0)
    rng = checks.rng(rng)
    out = arr.astype(np.float32) + rng.normal(0.0, s, size=arr.shape).astype(np.float32)
    if clip:
        np.clip(out, 0.0, 1.0, out=out)
    return out


def _block_shape(fraction: float, image_shape: tuple[int, int]) -> tuple[int, int]:
    """Height and width of the square-ish block covering ``fraction`` of the image area."""
    H, W = image_shape
    area = max(1, round(fraction * H * W))
    h = min(H, max(1, round(math.sqrt(area * H / W))))
    w = min(W, max(1, round(area / h)))
    return h, w


def occlude(X, fraction: float, rng: np.random.Generator, image_shape: tuple[int, int] = IMAGE_SHAPE,
            value: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Paste one opaque block onto each image, at a random position per image.

    Models an occluding object in front of the digit: a generative model should fill the hidden
    part in, a discriminative one only sees the corrupted pixels. The block is as square as the
    image allows and covers ``fraction`` of the area (0.25 of 8x8 is a 4x4 block).

    Parameters
    ----------
    X : (n, H*W) flattened images.
    fraction : share of the image area hidden, in (0, 1].
    rng : chooses the block position of each image.
    image_shape : (H, W) of one image.
    value : pixel value inside the block (1.0 = a white object, 0.0 = a hole).

    Returns
    -------
    occluded : (n, H*W) float32, a new array.
    mask : (n, H*W) bool, True where a pixel was occluded.
    """
    arr = checks.examples(X)
    f = checks.real(fraction, "fraction", 0.0, 1.0, open_low=True)
    H, W = checks.image_shape(image_shape, arr)
    v = checks.real(value, "value")
    rng = checks.rng(rng)

    n = arr.shape[0]
    h, w = _block_shape(f, (H, W))
    top = rng.integers(0, H - h + 1, size=n)
    left = rng.integers(0, W - w + 1, size=n)
    rows = np.arange(H)
    cols = np.arange(W)
    in_rows = (rows >= top[:, None]) & (rows < (top + h)[:, None])      # (n, H)
    in_cols = (cols >= left[:, None]) & (cols < (left + w)[:, None])    # (n, W)
    mask = (in_rows[:, :, None] & in_cols[:, None, :]).reshape(n, H * W)
    out = arr.astype(np.float32)  # always a copy
    out[mask] = np.float32(v)
    return out, mask


# --------------------------------------------------------------------------- sampling

def few_shot(X, y, per_class: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``per_class`` random examples of every class, shuffled together.

    For learning-from-few-examples experiments, where a generative prior should help most.

    Parameters
    ----------
    X : (n, p) images.
    y : (n,) labels.
    per_class : examples drawn (without replacement) from each class present in ``y``, >= 1.
    rng : chooses the examples and their order.

    Returns
    -------
    (X_few, y_few) with ``per_class * n_classes`` rows, in random order.

    Raises
    ------
    StimulusError if some class has fewer than ``per_class`` examples.
    """
    arr, labels = checks.labelled(X, y)
    k = checks.integer(per_class, "per_class", 1)
    rng = checks.rng(rng)
    classes, counts = np.unique(labels, return_counts=True)
    short = classes[counts < k]
    if short.size:
        raise StimulusError(
            f"per_class={k} but class(es) {short.tolist()} have only "
            f"{counts[counts < k].tolist()} examples")
    picked = [rng.choice(np.flatnonzero(labels == c), size=k, replace=False) for c in classes]
    idx = np.concatenate(picked) if picked else np.empty(0, dtype=np.intp)
    idx = idx[rng.permutation(idx.size)]
    return arr[idx], labels[idx]


def fixations(X: np.ndarray, shift: int, shape: tuple[int, int] = IMAGE_SHAPE) -> np.ndarray:
    """Each image (rows of ``X``) in place, then shifted by ``shift`` pixels right, left, down and up (what the
    eye's small movements show of it; the uncovered border is background, 0): (5 N, d), or X itself at 0."""
    if not shift:
        return X
    imgs = X.reshape(-1, *shape)
    views = [imgs]
    for axis, s in ((2, shift), (2, -shift), (1, shift), (1, -shift)):
        v = np.roll(imgs, s, axis=axis)
        edge = [slice(None)] * 3
        edge[axis] = slice(0, s) if s > 0 else slice(s, None)
        v[tuple(edge)] = 0.0
        views.append(v)
    return np.concatenate(views).reshape(-1, X.shape[1]).astype(X.dtype)


def batches(X, y, batch_size: int, rng: np.random.Generator,
            epochs: int = 1) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield shuffled mini-batches, every example exactly once per epoch.

    The last, partial batch of an epoch is kept so that no example is silently skipped.
    Arguments are checked when this is called, not when iteration starts.

    Parameters
    ----------
    X : (n, p) images.
    y : (n,) labels.
    batch_size : rows per batch, >= 1.
    rng : shuffles each epoch afresh.
    epochs : passes over the data, >= 1.

    Yields
    ------
    (X_batch, y_batch), copies of the selected rows.
    """
    arr, labels = checks.labelled(X, y)
    bs = checks.integer(batch_size, "batch_size", 1)
    ep = checks.integer(epochs, "epochs", 1)
    rng = checks.rng(rng)
    return _batches(arr, labels, bs, rng, ep)


def _batches(X: np.ndarray, y: np.ndarray, batch_size: int, rng: np.random.Generator,
             epochs: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    n = X.shape[0]
    for _ in range(epochs):
        order = rng.permutation(n)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            yield X[idx], y[idx]
