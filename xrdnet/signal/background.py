"""The broad and the sharp part of a pattern, and its noise level (pure array code).

A lab scan's sharp peaks are at most about 0.5° wide; humps (amorphous phases, glass holders) and
slopes are several degrees wide. A SNIP background with a half-window between the two
(``BACKGROUND_WINDOW_DEG``) keeps the humps and clips the peaks, so "pattern minus background" is the
sharp part the peak checks count on, and the background itself is what the hump check measures.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.ndimage

BACKGROUND_WINDOW_DEG = 0.75
"""SNIP half-window separating sharp peaks (≤ 0.5° wide in a lab scan) from humps and background."""
SMOOTH_DEG = 0.1
"""The pattern is averaged over this 2θ width before the sharp part is taken (noise averages out)."""


def noise_sigma(values: np.ndarray) -> float:
    """Robust point-to-point noise σ of a signal ``values [N]``: 1.4826·median|Δ²y| / √6 (white noise).

    The second difference cancels smooth signal (peaks wider than a few points, background), and the
    median ignores the few points on steep peak flanks, so σ is the counting noise alone.
    """
    v = np.asarray(values, dtype=np.float64)
    if len(v) < 5:
        return 0.0
    return float(1.4826 * np.median(np.abs(np.diff(v, 2))) / math.sqrt(6.0))


def sharp_and_broad(row: np.ndarray, grid_two_theta_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(sharp [G], broad [G])`` parts of a pattern ``row [G]`` on ``grid_two_theta_deg [G]``.

    ``broad`` is the SNIP background (humps, slopes) of the measured (non-zero) span; ``sharp`` is the
    ``SMOOTH_DEG``-smoothed pattern minus it, clipped at zero. Both are zero outside the measured span.
    """
    from xrdnet.io.grid import estimate_background

    grid = grid_two_theta_deg
    covered = row > 0
    sharp = np.zeros_like(row, dtype=np.float64)
    broad = np.zeros_like(row, dtype=np.float64)
    if np.count_nonzero(covered) < 3:
        return sharp, broad
    idx = np.flatnonzero(covered)
    lo, hi = idx[0], idx[-1] + 1
    seg = row[lo:hi].astype(np.float64)
    step = float(np.median(np.diff(grid)))
    width = 2 * int(round(SMOOTH_DEG / step / 2)) + 1  # odd: no half-sample shift
    smooth = scipy.ndimage.uniform_filter1d(seg, width, mode="nearest")
    broad[lo:hi] = estimate_background(grid[lo:hi], seg, window_deg=BACKGROUND_WINDOW_DEG)
    sharp[lo:hi] = np.clip(smooth - broad[lo:hi], 0, None)
    return sharp, broad
