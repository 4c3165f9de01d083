"""What the peak checks decide on: the sharp peaks of a pattern and the height of its broad hump.

One function, :func:`peak_measurements`, so that the checks (``xrdnet.checks``), the threshold sweep
(``scripts/calibrate_checks.py``) and the indexing bench all count the very same peaks.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from xrdnet.signal.background import noise_sigma, sharp_and_broad

SHARP_PEAK_MIN_HEIGHT = 0.02
"""A sharp peak rises at least 2 % of the pattern maximum above the broad background."""
PEAK_SIGMAS = 5.0
"""A sharp peak stands this many noise σ above the background and its neighbours."""
EDGE_EXCLUSION_DEG = 0.2
"""A maximum within this 2θ distance of either end of the measured span is not a sharp peak: it has no
measured flank on one side to tell it from the end of a slope (the genuine TiO2 + ZnO scan's first point,
10.01°, and the LaB6 tutorial scan's were counted as lines and spoilt their indexing). Twice the
smoothing width ``SMOOTH_DEG`` of ``xrdnet.signal.background``."""


class SharpPeaks(NamedTuple):
    """The measurements of one pattern (a tuple, so ``peaks, heights, hump = peak_measurements(...)`` works)."""

    two_theta_deg: np.ndarray
    """``[n]`` positions of the sharp peaks on the model grid (2θ °, at the model's wavelength)."""
    heights: np.ndarray
    """``[n]`` their heights above the broad background, on the pattern's scale (max = 1)."""
    hump_ratio: float
    """Top of the broad background above the flat floor (5th percentile) over the pattern's top above it."""


def peak_measurements(row: np.ndarray, grid_two_theta_deg: np.ndarray, noise: float | None = None) -> SharpPeaks:
    """The sharp peaks and the hump ratio of a pattern ``row [G]`` (max = 1) on ``grid_two_theta_deg [G]``.

    Sharp peaks are found on the sharp part (``background.sharp_and_broad``) with the shared peak
    finder, and kept when at least ``SHARP_PEAK_MIN_HEIGHT`` of the maximum high and ``PEAK_SIGMAS``
    noise σ high and prominent. ``noise``: σ of the measured points on the row's scale; estimated from
    the row's non-zero points when None.
    """
    from xrdnet.peak_finder import PeakFinderConfig, find_peaks

    grid = grid_two_theta_deg
    sigma = noise_sigma(row[row > 0]) if noise is None else float(noise)
    sharp, broad = sharp_and_broad(row, grid)
    covered = row > 0
    floor = float(np.percentile(row[covered], 5)) if np.any(covered) else 0.0
    top = float(np.max(row) - floor)
    hump_ratio = float(np.max(broad[covered] - floor) / top) if top > 0 and np.any(covered) else 0.0
    peaks_two_theta = np.zeros(0)
    heights = np.zeros(0)
    if sharp.max() > 0:
        pk = find_peaks(sharp, grid, PeakFinderConfig(smooth_points=3, noise_sigmas=0.0))
        scale = float(sharp.max()) / max(float(row.max()), 1e-12)
        absolute, prominence = pk.height * scale, pk.prominence * scale
        keep = (absolute >= max(SHARP_PEAK_MIN_HEIGHT, PEAK_SIGMAS * sigma)) & (prominence >= PEAK_SIGMAS * sigma)
        span = grid[np.flatnonzero(covered)[[0, -1]]]  # first and last measured 2θ
        keep &= (pk.two_theta_deg >= span[0] + EDGE_EXCLUSION_DEG) & (pk.two_theta_deg <= span[1] - EDGE_EXCLUSION_DEG)
        peaks_two_theta, heights = pk.two_theta_deg[keep], absolute[keep]
    return SharpPeaks(peaks_two_theta, heights, hump_ratio)


def shown_peaks(row: np.ndarray, grid_two_theta_deg: np.ndarray) -> list[float]:
    """The peaks a result lists (2θ °, rounded to 0.001°): the shared finder as features and rules use it."""
    from xrdnet.peak_finder import PeakFinderConfig, find_peaks

    found = find_peaks(row, grid_two_theta_deg, PeakFinderConfig())
    return [round(float(t), 3) for t in found.two_theta_deg]
