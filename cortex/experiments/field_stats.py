"""Whether learned receptive fields are oriented and localised: the two measures of ``v1_natural``.

Both are fixed definitions, chosen before any run and applied the same way to the model, to sklearn's
dictionary and to random fields:

- **oriented**: the field's 2-D power spectrum (mean removed, zero-padded to ``pad`` x ``pad`` so the angles are
  finely sampled; the DC bin left out) is split by the orientation of each frequency, ``theta = atan2(fy, fx)``
  mod 180 deg. The field's preferred orientation is the energy-weighted circular mean of ``2 theta``; a field is
  oriented when the frequencies within ``+-band/2`` (default 30 deg wide, a sixth of all orientations) of it hold
  more than half of the spectrum's energy. A field of white noise puts about 1/6 there.
- **localised**: the field's energy ``w^2`` (smoothed by a 3 x 3 box, so the phase of a Gabor's carrier does not
  matter) summed over a window of half the field's side in each direction (a quarter of its area) centred on the
  energy's centroid (moved inside the field where needed); localised when that window holds more than half of
  the energy. Spread-out noise puts about a quarter there.
"""
from __future__ import annotations

import numpy as np


def orientation_spectrum(fields: np.ndarray, shape: tuple[int, int], pad: int = 32):
    """(power (n, pad, pad) without DC, theta (pad, pad) in [0, pi)) of each field reshaped to ``shape``."""
    F = np.asarray(fields, np.float64).reshape(-1, *shape)
    F = F - F.mean(axis=(1, 2), keepdims=True)
    P = np.abs(np.fft.fft2(F, s=(pad, pad))) ** 2
    P[:, 0, 0] = 0.0
    fy = np.fft.fftfreq(pad)[:, None]
    fx = np.fft.fftfreq(pad)[None, :]
    theta = np.mod(np.arctan2(fy, fx), np.pi) + 0.0 * fx
    return P, theta


def orientation_share(fields: np.ndarray, shape: tuple[int, int], band_deg: float = 30.0, pad: int = 32):
    """(share (n,), preferred orientation in degrees (n,)): the spectrum's energy within the band round each field's
    preferred orientation, and that orientation (of the frequency vector; the field's stripes lie across it)."""
    P, theta = orientation_spectrum(fields, shape, pad)
    total = P.sum(axis=(1, 2)) + 1e-300
    z = (P * np.exp(2j * theta)[None]).sum(axis=(1, 2))
    pref = np.mod(np.angle(z) / 2.0, np.pi)                                   # (n,)
    diff = np.abs(np.mod(theta[None] - pref[:, None, None] + np.pi / 2, np.pi) - np.pi / 2)
    inside = diff <= np.deg2rad(band_deg) / 2.0
    return (P * inside).sum(axis=(1, 2)) / total, np.rad2deg(pref)


def localisation_share(fields: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(n,) the share of each field's smoothed energy inside a window of half its side round the energy's centroid."""
    h, w = shape
    E = np.asarray(fields, np.float64).reshape(-1, h, w) ** 2
    Ep = np.pad(E, ((0, 0), (1, 1), (1, 1)))
    S = sum(Ep[:, i:i + h, j:j + w] for i in range(3) for j in range(3)) / 9.0
    total = S.sum(axis=(1, 2)) + 1e-300
    ys, xs = np.arange(h), np.arange(w)
    cy = (S.sum(axis=2) @ ys) / total
    cx = (S.sum(axis=1) @ xs) / total
    wh, ww = max(1, h // 2), max(1, w // 2)
    y0 = np.clip(np.rint(cy - (wh - 1) / 2.0).astype(int), 0, h - wh)
    x0 = np.clip(np.rint(cx - (ww - 1) / 2.0).astype(int), 0, w - ww)
    C = np.pad(S.cumsum(axis=1).cumsum(axis=2), ((0, 0), (1, 0), (1, 0)))    # summed-area table
    k = np.arange(len(S))
    inside = C[k, y0 + wh, x0 + ww] - C[k, y0, x0 + ww] - C[k, y0 + wh, x0] + C[k, y0, x0]
    return inside / total


def field_summary(fields: np.ndarray, shape: tuple[int, int], band_deg: float = 30.0) -> dict:
    """The two fractions and the per-field shares behind them (fields with no energy count as neither)."""
    fields = np.asarray(fields, np.float64)
    alive = np.sum(fields * fields, axis=1) > 1e-12
    o, pref = orientation_share(fields, shape, band_deg)
    loc = localisation_share(fields, shape)
    return {"fraction_oriented": float(np.mean((o > 0.5) & alive)),
            "fraction_localised": float(np.mean((loc > 0.5) & alive)),
            "median_orientation_share": float(np.median(o)), "median_localisation_share": float(np.median(loc)),
            "_orientation_share": o, "_preferred_deg": pref, "_localisation_share": loc}
