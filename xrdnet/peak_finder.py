"""The one peak finder of xrdnet, and the 2θ / d / Q conversions its peaks are read in.

There is ONE peak finder in xrdnet, ``find_peaks``, so the forest baseline, the surrogate rules and
anything a user runs on a measured pattern count peaks the same way. It works on a pattern scaled
to max = 1, so its thresholds are fractions of the strongest peak whatever the intensity units.

Sections of this module:

- unit conversions between 2θ (degrees), d (Å) and Q = 4π sinθ / λ (1/Å), from ``xrdnet.units``;
- the peak finder (``PeakFinderConfig``, ``Peaks``, ``find_peaks``, ``find_peaks_batch``).

The feature sets computed from the peaks are in ``xrdnet.features``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.ndimage
import scipy.signal

from xrdnet.units import (_check_wavelength, d_angstrom_from_two_theta,  # noqa: F401 - re-exported
                          q_inv_angstrom_from_two_theta, two_theta_deg_from_q)

# --------------------------------------------------------------------------- peak finder


@dataclass(frozen=True)
class PeakFinderConfig:
    """Thresholds of the shared peak finder (``scipy.signal.find_peaks`` on a pattern scaled to max 1).

    Attributes:
        min_height: lowest peak maximum kept, as a fraction of the strongest peak (0.01 = 1 %).
            Simulated patterns carry reflections far weaker than any diffractometer sees; 1 % is
            about where weak lines vanish into the background of a measured pattern.
        min_prominence: lowest prominence kept (height above the higher of the two surrounding
            minima), fraction of max. Rejects shoulders and noise wiggles on top of a peak or on
            a sloping background that would pass the height test alone.
        min_distance_deg: two maxima closer than this (in 2θ) count as one peak, the higher one
            kept. 0.1° is about one instrumental FWHM, so a Kα1/Kα2 doublet at low angle and
            overlapping reflections count once, as a crystallographer would read them.
        smooth_points: width in grid points of a moving average applied before searching
            (0 or 1 = none). Use a few points on measured patterns to stop counting noise from
            splitting one peak into several; simulated noise-free patterns need none.
        noise_sigmas: the prominence must also exceed this many standard deviations of the
            pattern's point-to-point noise, estimated robustly from the median absolute second
            difference (for white noise, std of the second difference = √6 σ). Counting noise at
            a few hundred counts is several % of the maximum, far above ``min_prominence``: without
            this test a noisy pattern shows hundreds of "peaks" and the first ten are noise.
            Noise-free simulated patterns have σ ≈ 0 and are unaffected. 0 disables it.
        refine: refine each peak position below the grid step with the vertex of a parabola
            through the maximum and its two neighbours (heights stay the sampled values). This
            makes Q features independent of where the grid happens to fall.
    """

    min_height: float = 0.01
    min_prominence: float = 0.01
    min_distance_deg: float = 0.1
    smooth_points: int = 3
    noise_sigmas: float = 5.0
    refine: bool = True

    def __post_init__(self) -> None:
        for name in ("min_height", "min_prominence"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
                raise ValueError(f"{name} is a fraction of the pattern maximum and must be in [0, 1), got {value!r}")
        d = self.min_distance_deg
        if isinstance(d, bool) or not isinstance(d, (int, float)) or not (math.isfinite(d) and d >= 0):
            raise ValueError(f"min_distance_deg must be a finite number >= 0 (degrees 2θ), got {d!r}")
        s = self.smooth_points
        if isinstance(s, bool) or not isinstance(s, int) or s < 0:
            raise ValueError(f"smooth_points must be an integer >= 0 (0 = no smoothing), got {s!r}")
        n = self.noise_sigmas
        if isinstance(n, bool) or not isinstance(n, (int, float)) or not (math.isfinite(n) and n >= 0):
            raise ValueError(f"noise_sigmas must be a finite number >= 0, got {n!r}")
        if not isinstance(self.refine, bool):
            raise ValueError(f"refine must be true or false, got {self.refine!r}")


@dataclass(frozen=True)
class Peaks:
    """Peaks of one pattern, sorted by 2θ (M peaks; M may be 0).

    Attributes:
        two_theta_deg: ``[M]`` float64 peak positions (sub-grid when ``PeakFinderConfig.refine``).
        height: ``[M]`` float64 peak maxima relative to the pattern maximum (the strongest is 1).
        prominence: ``[M]`` float64 prominences on the same scale.
        index: ``[M]`` int64 grid index of each peak's highest sample.
    """

    two_theta_deg: np.ndarray
    height: np.ndarray
    prominence: np.ndarray
    index: np.ndarray

    def __len__(self) -> int:
        return len(self.two_theta_deg)

    @classmethod
    def empty(cls) -> "Peaks":
        """No peaks (flat, all-zero or all-negative pattern)."""
        zero = np.zeros(0, dtype=np.float64)
        return cls(zero, zero.copy(), zero.copy(), np.zeros(0, dtype=np.int64))


def _check_grid(two_theta_deg, n_points: int) -> np.ndarray:
    grid = np.asarray(two_theta_deg, dtype=np.float64)
    if grid.ndim != 1 or len(grid) != n_points:
        raise ValueError(f"two_theta_deg must be a 1D grid of {n_points} points (one per pattern column), "
                         f"got shape {grid.shape}")
    if not np.all(np.isfinite(grid)):
        raise ValueError("two_theta_deg contains NaN or inf")
    if n_points > 1 and not np.all(np.diff(grid) > 0):
        raise ValueError("two_theta_deg must be strictly increasing")
    return grid


def _check_patterns(patterns, what: str = "patterns") -> np.ndarray:
    array = np.asarray(patterns)
    if array.ndim != 2:
        raise ValueError(f"{what} must be a 2D array [P, G], got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        bad = np.flatnonzero(~np.all(np.isfinite(array), axis=1))
        raise ValueError(f"{what} contain NaN or inf values (rows {bad[:10].tolist()}{' ...' if len(bad) > 10 else ''})")
    return array


def _distance_points(grid: np.ndarray, min_distance_deg: float) -> int | None:
    """``min_distance_deg`` as a number of grid points, using the median step (robust on uneven grids)."""
    if min_distance_deg <= 0 or len(grid) < 2:
        return None
    step = float(np.median(np.diff(grid)))
    return max(1, int(round(min_distance_deg / step)))


def _find_peaks_checked(pattern: np.ndarray, grid: np.ndarray, config: PeakFinderConfig,
                        distance: int | None) -> Peaks:
    """``find_peaks`` body, inputs already validated (the batch version checks once)."""
    y = pattern.astype(np.float64, copy=False)
    prominence = config.min_prominence
    if config.noise_sigmas > 0 and len(y) > 2 and float(y.max()) > 0:
        second = np.diff(y / float(y.max()), 2)
        sigma = 1.4826 * float(np.median(np.abs(second))) / math.sqrt(6.0)
        prominence = max(prominence, config.noise_sigmas * sigma)
    if config.smooth_points > 1:
        y = scipy.ndimage.uniform_filter1d(y, config.smooth_points, mode="nearest")
    top = float(y.max()) if len(y) else 0.0
    if top <= 0 or top == float(y.min()):
        return Peaks.empty()  # all-zero, all-negative or flat: nothing stands out
    y = y / top
    index, props = scipy.signal.find_peaks(y, height=config.min_height, prominence=prominence,
                                           distance=distance)
    if len(index) == 0:
        return Peaks.empty()
    position = index.astype(np.float64)
    if config.refine:
        inner = (index > 0) & (index < len(y) - 1)
        i = index[inner]
        left, mid, right = y[i - 1], y[i], y[i + 1]
        curvature = left - 2.0 * mid + right
        with np.errstate(divide="ignore", invalid="ignore"):
            offset = np.where(curvature < 0, 0.5 * (left - right) / curvature, 0.0)
        # A plateau or a lopsided maximum can put the vertex far away; it never leaves its cell.
        position[inner] += np.clip(offset, -0.5, 0.5)
    two_theta = np.interp(position, np.arange(len(grid), dtype=np.float64), grid)
    return Peaks(two_theta, props["peak_heights"].astype(np.float64), props["prominences"].astype(np.float64),
                 index.astype(np.int64))


def find_peaks(pattern: np.ndarray, two_theta_deg: np.ndarray, config: PeakFinderConfig = PeakFinderConfig()) -> Peaks:
    """Peaks of one pattern ``[G]`` sampled at ``two_theta_deg [G]``, sorted by 2θ (see ``PeakFinderConfig``).

    The pattern is (optionally smoothed and) scaled to max 1, then ``scipy.signal.find_peaks``
    keeps maxima above ``min_height`` with ``min_prominence``, at least ``min_distance_deg``
    apart. The search runs in index space; the distance is converted with the median grid step,
    so slightly uneven grids (measured files) work. Flat or all-zero patterns have no peaks;
    NaN or inf in the pattern raise ValueError.
    """
    y = np.asarray(pattern)
    if y.ndim != 1:
        raise ValueError(f"pattern must be a 1D array [G], got shape {y.shape}; use find_peaks_batch for [P, G]")
    _check_patterns(y[None], "pattern")
    grid = _check_grid(two_theta_deg, len(y))
    return _find_peaks_checked(y, grid, config, _distance_points(grid, config.min_distance_deg))


def find_peaks_batch(patterns: np.ndarray, two_theta_deg: np.ndarray,
                     config: PeakFinderConfig = PeakFinderConfig()) -> list[Peaks]:
    """``find_peaks`` on every row of ``patterns [P, G]``; returns P ``Peaks`` in row order.

    A plain loop over rows: scipy's peak search is per-signal CPU work (about a millisecond for
    8501 points), and peak lists are ragged anyway.
    """
    array = _check_patterns(patterns)
    grid = _check_grid(two_theta_deg, array.shape[1])
    distance = _distance_points(grid, config.min_distance_deg)
    return [_find_peaks_checked(row, grid, config, distance) for row in array]
