"""Whitened patches of natural images, from the photographs that ship inside scikit-image (no download).

Natural images have a power spectrum that falls as ``1/f^2``; sparse coding on them raw learns mostly low
frequencies. Following Olshausen & Field (1996/1997), each image is first *whitened*: its spectrum is flattened,
then rolled off by ``exp(-(f / f0)^4)`` (``f0`` = 0.4 cycles per pixel, 0.8 of Nyquist) towards the corners where
the pixel grid aliases. Their filter flattens by ``f``, which assumes a ``1/f^2`` spectrum; the shipped
photographs fall as ``f^-1.5`` (grass) to ``f^-2.9`` (astronaut), so most stay red after it and their low
frequencies teach blob-like fields. ``whitening="measured"`` (the default) divides each image by its own radially
averaged amplitude spectrum instead, which flattens every image; ``"1/f"`` is their filter (docs/vision.md).
Patches are then cut at random places, each patch's mean is removed, and the whole set is scaled to unit
variance per pixel.

Only images that are files inside the scikit-image wheel are used (:data:`IMAGES`); scikit-image fetches others
with pooch from the network, which a run must never need. Plain NumPy; all randomness from the Generator passed in.

>>> import numpy as np
>>> P = natural_patches(10, 8, np.random.default_rng(0))
>>> P.shape, P.dtype
((10, 64), dtype('float32'))
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from cortex.errors import StimulusError

from . import checks

__all__ = ["IMAGES", "WHITENINGS", "natural_image", "whiten", "natural_patches", "whitened_images", "bar_canvas"]

#: Photographs of natural scenes that are files inside the scikit-image wheel (they load without a network).
IMAGES = ("camera", "astronaut", "coffee", "chelsea", "rocket", "grass", "gravel", "moon")

#: The whitening filter's cut-off, in cycles per pixel (Olshausen & Field use 200 cycles/picture on 512 px).
CUTOFF = 0.4

#: How an image's spectrum is flattened: by ``f`` (Olshausen & Field's filter, for a ``1/f^2`` spectrum) or by the
#: image's own measured radial amplitude spectrum.
WHITENINGS = ("1/f", "measured")


def natural_image(name: str) -> np.ndarray:
    """One shipped photograph as a grey float32 image in [0, 1] (colour images: their luminance)."""
    if name not in IMAGES:
        raise StimulusError(f"unknown natural image {name!r}; known (shipped with scikit-image): {', '.join(IMAGES)}")
    return _load(name).copy()


@lru_cache(maxsize=None)
def _load(name: str) -> np.ndarray:
    import skimage.data
    from skimage.color import rgb2gray

    img = getattr(skimage.data, name)()
    img = rgb2gray(img[..., :3]) if img.ndim == 3 else img.astype(np.float64) / 255.0
    img = np.asarray(img, dtype=np.float64)
    img.setflags(write=False)
    return img


def whiten(image: np.ndarray, cutoff: float = CUTOFF, whitening: str = "measured") -> np.ndarray:
    """``image`` filtered by ``R(f) = g(f) exp(-(f/cutoff)^4)`` in the Fourier domain (f in cycles per pixel), with
    ``g(f) = f`` (``"1/f"``) or one over the image's own radially averaged amplitude at f (``"measured"``)."""
    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 2:
        raise StimulusError(f"image must be 2-D (height, width), got shape {img.shape}")
    cutoff = checks.real(cutoff, "cutoff", 0.0, 0.5, open_low=True)
    fy = np.fft.fftfreq(img.shape[0])[:, None]
    fx = np.fft.fftfreq(img.shape[1])[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    spectrum = np.fft.fft2(img - img.mean())
    gain = f if _whitening(whitening) == "1/f" else 1.0 / _radial_amplitude(spectrum, f)
    return np.real(np.fft.ifft2(spectrum * gain * np.exp(-(f / cutoff) ** 4)))


def _whitening(name: str) -> str:
    if name not in WHITENINGS:
        raise StimulusError(f"whitening must be one of {', '.join(WHITENINGS)}, got {name!r}")
    return name


def _radial_amplitude(spectrum: np.ndarray, f: np.ndarray, bins: int = 40) -> np.ndarray:
    """The root of the mean power over rings of log-spaced frequency, interpolated in log-log to every f (DC: the
    lowest ring's), so the filter follows the image's own fall-off rather than an assumed power law."""
    low = f[f > 0].min()
    edges = np.geomspace(low, f.max() * (1 + 1e-9), bins + 1)
    ring = np.clip(np.digitize(np.maximum(f, low), edges) - 1, 0, bins - 1)
    count = np.bincount(ring.ravel(), minlength=bins)
    power = np.bincount(ring.ravel(), (np.abs(spectrum) ** 2).ravel(), minlength=bins)
    full = (count > 0) & (power > 0)
    centres = np.log(np.sqrt(edges[1:] * edges[:-1]))[full]
    log_power = np.interp(np.log(np.maximum(f, low)), centres, np.log(power[full] / count[full]))
    return np.exp(log_power / 2)


@lru_cache(maxsize=None)
def _whitened(names: tuple[str, ...], whitening: str) -> tuple[np.ndarray, ...]:
    out = []
    for n in names:
        w = whiten(_load(n), whitening=whitening)
        w = w / w.std()
        w.setflags(write=False)
        out.append(w)
    return tuple(out)


def whitened_images(names=IMAGES, whitening: str = "measured") -> tuple[np.ndarray, ...]:
    """The named photographs, whitened (:func:`whiten`) and each scaled to unit standard deviation (cached,
    read-only)."""
    return _whitened(checks.names(names, IMAGES, "natural images", minimum=1), _whitening(whitening))


def natural_patches(n: int, size, rng: np.random.Generator, images=IMAGES, scale: float | None = None,
                    whitening: str = "measured") -> np.ndarray:
    """(n, h * w) float32 whitened patches of ``size`` (an int, or (h, w)), cut at random places of random images.

    Each patch's own mean is removed; the set is then divided by ``scale`` (default: its own standard deviation,
    so pixels have unit variance). ``whitening`` as for :func:`whiten`.
    """
    n = checks.integer(n, "n", 1)
    h, w = (checks.integer(size, "size", 2),) * 2 if not isinstance(size, (tuple, list)) else checks.image_shape(size)
    rng = checks.rng(rng)
    imgs = whitened_images(images, whitening)
    which = rng.integers(len(imgs), size=n)
    out = np.empty((n, h, w), np.float64)
    for k, img in enumerate(imgs):
        idx = np.flatnonzero(which == k)
        if not len(idx):
            continue
        if img.shape[0] < h or img.shape[1] < w:
            raise StimulusError(f"patch size {(h, w)} is larger than the image {images[k]!r} {img.shape}")
        ys = rng.integers(img.shape[0] - h + 1, size=len(idx))
        xs = rng.integers(img.shape[1] - w + 1, size=len(idx))
        rows = ys[:, None, None] + np.arange(h)[None, :, None]
        cols = xs[:, None, None] + np.arange(w)[None, None, :]
        out[idx] = img[rows, cols]
    out = out.reshape(n, h * w)
    out -= out.mean(axis=1, keepdims=True)
    out /= out.std() if scale is None else checks.real(scale, "scale", 0.0, open_low=True)
    return out.astype(np.float32)


def bar_canvas(shape, row: int, start: int, stop: int, polarity: float = 1.0, width: int = 1) -> np.ndarray:
    """A (h, w) float64 image, 0 but for a horizontal bar of ``width`` rows from ``row``, columns [start, stop)."""
    h, w = checks.image_shape(shape)
    img = np.zeros((h, w))
    img[row:row + width, max(0, start):min(w, stop)] = polarity
    return img
