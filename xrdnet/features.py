"""Peak finding and the feature sets computed from patterns (the forest's inputs, later the rules').

There is ONE peak finder in xrdnet, ``find_peaks``, so the forest baseline, the surrogate rules and
anything a user runs on a measured pattern count peaks the same way. It works on a pattern scaled
to max = 1, so its thresholds are fractions of the strongest peak whatever the intensity units.

Sections of this module:

- unit conversions between 2θ (degrees), d (Å) and Q = 4π sinθ / λ (1/Å);
- the peak finder (``PeakFinderConfig``, ``Peaks``, ``find_peaks``, ``find_peaks_batch``);
- feature sets: ``suzuki`` (first-N peak Q plus peak count, Suzuki et al. 2020, Sci. Rep. 10,
  21790) and ``profile`` (the block-max downsampled pattern).

Feature sets are numpy ``float32`` matrices ``[P, F]`` with a matching tuple of feature names in
physical units, so a decision-tree threshold reads as "q1_inv_angstrom <= 1.93".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.ndimage
import scipy.signal

# --------------------------------------------------------------------------- unit conversions


def _check_wavelength(wavelength_angstrom: float) -> float:
    lam = float(wavelength_angstrom)
    if not math.isfinite(lam) or lam <= 0:
        raise ValueError(f"wavelength_angstrom must be a positive number, got {wavelength_angstrom!r}")
    return lam


def q_inv_angstrom_from_two_theta(two_theta_deg, wavelength_angstrom: float) -> np.ndarray:
    """Scattering vector length Q = 4π sin(θ) / λ in 1/Å of diffraction angles ``two_theta_deg`` (any shape).

    Q does not depend on the wavelength, so it is the natural peak position to compare patterns
    measured with different anodes; ``wavelength_angstrom`` is the λ the angles were measured at.
    """
    lam = _check_wavelength(wavelength_angstrom)
    theta_rad = np.deg2rad(np.asarray(two_theta_deg, dtype=np.float64) / 2.0)
    return 4.0 * np.pi * np.sin(theta_rad) / lam


def two_theta_deg_from_q(q_inv_angstrom, wavelength_angstrom: float) -> np.ndarray:
    """Diffraction angle 2θ in degrees of scattering vector lengths ``q_inv_angstrom`` (any shape) at λ.

    The inverse of ``q_inv_angstrom_from_two_theta``. Raises ValueError for Q outside 0..4π/λ,
    which no reflection can reach at that wavelength (sin θ would exceed 1).
    """
    lam = _check_wavelength(wavelength_angstrom)
    sin_theta = np.asarray(q_inv_angstrom, dtype=np.float64) * lam / (4.0 * np.pi)
    if np.any(sin_theta < 0) or np.any(sin_theta > 1):
        raise ValueError(f"Q must lie in 0..4π/λ = {4 * np.pi / lam:.4f} 1/Å at λ = {lam} Å")
    return 2.0 * np.rad2deg(np.arcsin(sin_theta))


def d_angstrom_from_two_theta(two_theta_deg, wavelength_angstrom: float) -> np.ndarray:
    """Interplanar spacing d = λ / (2 sin θ) in Å of diffraction angles ``two_theta_deg`` (any shape).

    Bragg's law with n = 1; 2θ = 0 gives d = inf (no division warning).
    """
    lam = _check_wavelength(wavelength_angstrom)
    sin_theta = np.sin(np.deg2rad(np.asarray(two_theta_deg, dtype=np.float64) / 2.0))
    with np.errstate(divide="ignore"):
        return lam / (2.0 * sin_theta)


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


# --------------------------------------------------------------------------- feature set "suzuki"


def suzuki_feature_names(n_peaks: int = 10) -> tuple[str, ...]:
    """Names of the ``suzuki_features`` columns: ``q1_inv_angstrom .. q{n}_inv_angstrom, n_peaks``."""
    if isinstance(n_peaks, bool) or not isinstance(n_peaks, (int, np.integer)) or n_peaks < 1:
        raise ValueError(f"n_peaks must be a positive integer, got {n_peaks!r}")
    return tuple(f"q{i}_inv_angstrom" for i in range(1, int(n_peaks) + 1)) + ("n_peaks",)


SUZUKI_FEATURE_NAMES: tuple[str, ...] = suzuki_feature_names(10)


def suzuki_features(patterns: np.ndarray, two_theta_deg: np.ndarray, wavelength_angstrom: float,
                    n_peaks: int = 10, config: PeakFinderConfig = PeakFinderConfig()) -> np.ndarray:
    """Suzuki et al. (2020) features ``[P, n_peaks + 1]`` float32 of ``patterns [P, G]`` on ``two_theta_deg [G]``.

    Columns: Q (1/Å) of the first ``n_peaks`` peaks in ascending 2θ (0 where the pattern has
    fewer peaks), then the total number of peaks found (not capped at ``n_peaks``). Q rather
    than 2θ makes the features independent of the wavelength; ``wavelength_angstrom`` is the λ
    the peak maxima belong to (Kα1 for a pattern rendered with the Kα1/Kα2 doublet, whose
    maxima sit at the Kα1 positions). Names of the columns: ``suzuki_feature_names(n_peaks)``.
    """
    names = suzuki_feature_names(n_peaks)
    lam = _check_wavelength(wavelength_angstrom)
    peaks = find_peaks_batch(patterns, two_theta_deg, config)
    features = np.zeros((len(peaks), len(names)), dtype=np.float32)
    for row, p in enumerate(peaks):
        first = p.two_theta_deg[:n_peaks]
        features[row, : len(first)] = q_inv_angstrom_from_two_theta(first, lam)
        features[row, -1] = len(p)
    return features


# --------------------------------------------------------------------------- feature set "profile"


def _check_factor(factor: int) -> None:
    if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor < 1:
        raise ValueError(f"factor must be a positive integer, got {factor!r}")


def profile_features(patterns: np.ndarray, factor: int = 10) -> np.ndarray:
    """Downsampled patterns ``[P, ceil(G / factor)]`` float32: the max of each block of ``factor`` points.

    Each row is first scaled to max 1 (as data sets store patterns, so a measured pattern in
    counts gives the same features; rows with max <= 0 are left alone). Block max rather than
    block mean keeps a narrow peak's height whatever block it falls in; the last, shorter block
    takes the max of the points it has.
    """
    _check_factor(factor)
    array = _check_patterns(patterns).astype(np.float32, copy=True)
    n_rows, n_points = array.shape
    top = array.max(axis=1, keepdims=True) if n_points else np.zeros((n_rows, 1), np.float32)
    np.divide(array, top, out=array, where=top > 0)
    n_full = n_points // factor
    blocks = array[:, : n_full * factor].reshape(n_rows, n_full, factor).max(axis=2)
    if n_points % factor:
        blocks = np.concatenate([blocks, array[:, n_full * factor :].max(axis=1, keepdims=True)], axis=1)
    return np.ascontiguousarray(blocks, dtype=np.float32)


def profile_feature_names(two_theta_deg: np.ndarray, factor: int = 10) -> tuple[str, ...]:
    """Names of the ``profile_features`` columns: ``max_two_theta_{lo}_{hi}_deg`` of each block's 2θ range."""
    _check_factor(factor)
    grid = _check_grid(two_theta_deg, np.asarray(two_theta_deg).size)
    return tuple(f"max_two_theta_{grid[s]:.2f}_{grid[min(s + factor, len(grid)) - 1]:.2f}_deg"
                 for s in range(0, len(grid), factor))


# --------------------------------------------------------------------------- feature set "interpretable"

_SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")

FEATURE_UNITS: tuple[str, ...] = ("count", "deg", "Å", "1/Å", "1")
"""Units a ``FeatureSpec`` may carry: a count, degrees 2θ, ångström, inverse ångström, dimensionless."""

STRONG_PEAK_FRACTION = 0.1
"""A peak at least this fraction of the strongest one counts as "strong" (``n_strong_peaks``)."""

INDEXING_PEAK_FRACTION = 0.08
"""Peaks weaker than this fraction of the strongest are left out of ``cubic_index_fraction``: the
weak ones are where noise, Kα2 shoulders and impurity lines live, and one stray line among the
first ten costs a cubic pattern a tenth of its score."""

CUBIC_INDEX_TOLERANCE = 0.01
"""Relative tolerance on Q² when a peak is tested against a cubic line N·Q₁²/N₁. 1 % in Q² is
0.5 % in Q, about what a 0.1° zero shift does at 2θ ≈ 20–40° (ΔQ/Q = Δθ / tan θ): measured
patterns are never perfectly calibrated."""

CUBIC_INDEX_MAX_DEVIATION = 0.25
"""...but never more than this in N = h² + k² + l² itself: at N ≈ 50 a 1 % window would span a
whole integer and index anything. With both limits, a share ≥ 0.9 picks 67 % of cubic patterns and
7 % of the others on the simulated real-structure set (held-out compounds, ``configs/real.yaml``)."""

CUBIC_FIRST_LINES: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 8)
"""Candidate h² + k² + l² of the first strong line: P (100) = 1, (110) = 2, I (110) = 2, F (111) = 3,
and the higher values a systematically weak or absent low-angle line can leave first."""

# Every h² + k² + l² up to 200 (7, 15, 23, 28, ... are not sums of three squares).
_CUBIC_N = np.array(sorted({h * h + k * k + l * l for h in range(15) for k in range(15) for l in range(15)}
                           - {0}), dtype=np.float64)
_CUBIC_N = _CUBIC_N[_CUBIC_N <= 200]

Q_WINDOWS_INV_ANGSTROM: tuple[tuple[float, float], ...] = ((1.0, 2.0), (2.0, 3.0), (3.0, 4.0))
"""Q windows (1/Å) of the per-window peak counts: the count of lines in a fixed Q range grows with
the cell volume and falls with the symmetry, whatever the wavelength."""


def cubic_index_fraction(q_inv_angstrom: np.ndarray, tolerance: float = CUBIC_INDEX_TOLERANCE,
                         max_deviation: float = CUBIC_INDEX_MAX_DEVIATION) -> np.ndarray:
    """``[P]`` share of the peaks in ``q_inv_angstrom [P, n]`` (ascending, NaN-padded) on one cubic lattice.

    For a cubic cell 1/d² = N / a² with N = h² + k² + l², so (Q_i / Q_1)² = N_i / N_1: for every
    candidate N_1 in ``CUBIC_FIRST_LINES`` a peak counts when N_1 (Q_i/Q_1)² is within ``tolerance``
    (relative) and ``max_deviation`` (absolute) of a sum of three squares; the best N_1 wins. NaN for fewer than 3 peaks. A
    non-cubic pattern scores high only by coincidence, which is why it is a share and not a yes/no.
    """
    q = np.asarray(q_inv_angstrom, dtype=np.float64)
    if q.ndim != 2:
        raise ValueError(f"q_inv_angstrom must be [P, n], got shape {q.shape}")
    ratio2 = (q / q[:, :1]) ** 2  # [P, n]
    present = ~np.isnan(ratio2)
    count = present.sum(axis=1)
    best = np.zeros(len(q))
    for n1 in CUBIC_FIRST_LINES:
        n = ratio2 * n1  # [P, n]
        with np.errstate(invalid="ignore"):
            window = np.minimum(tolerance * n, max_deviation)[..., None]  # [P, n, 1]
            hit = (np.abs(n[..., None] - _CUBIC_N) <= window).any(axis=-1) & present
        best = np.maximum(best, hit.sum(axis=1) / np.maximum(count, 1))
    best[count < 3] = np.nan
    return best


@dataclass(frozen=True)
class FeatureSpec:
    """Name, physical unit and meaning of one interpretable feature column.

    Attributes:
        name: machine name, unique, ASCII (``q2_over_q1``); the column key in JSON and CSV.
        unit: one of ``FEATURE_UNITS``; decides how a threshold prints (counts as integers).
        description: one sentence for tables and figure captions.
        symbol: short Unicode label for rules (``Q₂/Q₁``, ``2θ₁``, ``number of peaks``).
        latex: the same label in LaTeX (``$Q_{2}/Q_{1}$``).
        needs_peaks: peaks a pattern must have for the feature to be defined (0 = always);
            below that the value is NaN, which rule text spells "fewer than k peaks".
    """

    name: str
    unit: str
    description: str
    symbol: str = ""
    latex: str = ""
    needs_peaks: int = 0

    def __post_init__(self) -> None:
        if self.unit not in FEATURE_UNITS:
            raise ValueError(f"feature {self.name!r}: unit must be one of {FEATURE_UNITS}, got {self.unit!r}")

    @property
    def label(self) -> str:
        """``symbol (unit)`` for axes and tree figures; counts and dimensionless features have no unit."""
        shown = {"deg": "°", "Å": "Å", "1/Å": "1/Å"}.get(self.unit)
        return f"{self.symbol or self.name} ({shown})" if shown else (self.symbol or self.name)


def _ordinal(i: int) -> str:
    return f"{i}{'th' if 10 <= i % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(i % 10, 'th')}"


def interpretable_feature_specs(n_peaks: int = 10) -> list[FeatureSpec]:
    """The ``FeatureSpec`` of every ``interpretable_features`` column, in column order.

    For the first ``n_peaks`` peaks in ascending 2θ: 2θ_i (deg), d_i (Å) and Q_i (1/Å); for
    i = 2..n_peaks: Q_i/Q_1 and (Q_i/Q_1)²; then the number of peaks, the number of strong peaks
    (≥ ``STRONG_PEAK_FRACTION`` of the strongest), the 2θ and d of the strongest peak, the
    relative intensities I₂/I₁ and I₃/I₁ of the 2nd and 3rd strongest peaks, mean and standard
    deviation of the relative intensity of the ``n_peaks`` strongest peaks, the angular span
    2θ_last − 2θ_first of all peaks; then indexing-style quantities a shallow tree can use: the
    share of the first strong peaks on one cubic lattice (``cubic_index_fraction``), the number of
    peaks up to 2 Q₁ and 3 Q₁ (a peak count normalised by the cell size), and the number of peaks in
    each Q window of ``Q_WINDOWS_INV_ANGSTROM``.
    """
    suzuki_feature_names(n_peaks)  # validates n_peaks
    n = int(n_peaks)
    specs: list[FeatureSpec] = []
    for i in range(1, n + 1):
        s = str(i).translate(_SUBSCRIPT)
        specs.append(FeatureSpec(f"two_theta{i}_deg", "deg", f"2θ of the {_ordinal(i)} peak (ascending 2θ)",
                                 f"2θ{s}", rf"$2\theta_{{{i}}}$", i))
        specs.append(FeatureSpec(f"d{i}_angstrom", "Å", f"d-spacing of the {_ordinal(i)} peak",
                                 f"d{s}", f"$d_{{{i}}}$", i))
        specs.append(FeatureSpec(f"q{i}_inv_angstrom", "1/Å", f"Q = 4π sin θ / λ of the {_ordinal(i)} peak",
                                 f"Q{s}", f"$Q_{{{i}}}$", i))
    for i in range(2, n + 1):
        s = str(i).translate(_SUBSCRIPT)
        specs.append(FeatureSpec(f"q{i}_over_q1", "1", f"Q of the {_ordinal(i)} peak over Q of the 1st",
                                 f"Q{s}/Q₁", f"$Q_{{{i}}}/Q_{{1}}$", i))
        specs.append(FeatureSpec(f"q{i}_over_q1_squared", "1",
                                 f"(Q_{i}/Q_1)²: 1, 2, 3, 4, ... for a primitive cubic lattice",
                                 f"(Q{s}/Q₁)²", f"$(Q_{{{i}}}/Q_{{1}})^2$", i))
    pct = f"{STRONG_PEAK_FRACTION:.0%}"
    specs += [
        FeatureSpec("n_peaks", "count", "number of peaks found in the whole pattern", "number of peaks",
                    "number of peaks", 0),
        FeatureSpec("n_strong_peaks", "count", f"number of peaks at least {pct} of the strongest",
                    f"number of peaks ≥ {pct} I₁", rf"number of peaks $\geq {pct[:-1]}\,\%\,I_1$", 0),
        FeatureSpec("two_theta_strongest_deg", "deg", "2θ of the strongest peak", "2θ(I₁)", r"$2\theta(I_1)$", 1),
        FeatureSpec("d_strongest_angstrom", "Å", "d-spacing of the strongest peak", "d(I₁)", "$d(I_1)$", 1),
        FeatureSpec("intensity2_over_intensity1", "1", "height of the 2nd strongest peak over the strongest",
                    "I₂/I₁", "$I_2/I_1$", 2),
        FeatureSpec("intensity3_over_intensity1", "1", "height of the 3rd strongest peak over the strongest",
                    "I₃/I₁", "$I_3/I_1$", 3),
        FeatureSpec("mean_intensity_strongest", "1", f"mean height (max = 1) of the {n} strongest peaks",
                    f"mean I (top {n})", rf"$\bar I$ (top {n})", 1),
        FeatureSpec("std_intensity_strongest", "1", f"standard deviation of the height of the {n} strongest peaks",
                    f"std I (top {n})", rf"$\sigma_I$ (top {n})", 1),
        FeatureSpec("span_two_theta_deg", "deg", "2θ of the last peak minus 2θ of the first", "2θ span",
                    r"$2\theta$ span", 1),
        FeatureSpec("cubic_index_fraction", "1",
                    f"share of the first {n} peaks ≥ {INDEXING_PEAK_FRACTION:.0%} of the strongest that index on "
                    "one cubic lattice", "cubic-indexed share", "cubic-indexed share", 3),
        FeatureSpec("n_peaks_below_2q1", "count", "number of peaks with Q ≤ 2 Q₁ (a count per cell size)",
                    "peaks with Q ≤ 2Q₁", r"peaks with $Q \leq 2Q_1$", 1),
        FeatureSpec("n_peaks_below_3q1", "count", "number of peaks with Q ≤ 3 Q₁ (a count per cell size)",
                    "peaks with Q ≤ 3Q₁", r"peaks with $Q \leq 3Q_1$", 1),
    ]
    for lo, hi in Q_WINDOWS_INV_ANGSTROM:
        specs.append(FeatureSpec(f"n_peaks_q{lo:g}_{hi:g}", "count", f"number of peaks with {lo:g} ≤ Q < {hi:g} 1/Å",
                                 f"peaks in Q {lo:g}–{hi:g} 1/Å", rf"peaks in $Q$ {lo:g}--{hi:g}\,\AA$^{{-1}}$", 0))
    return specs


def interpretable_features(patterns: np.ndarray, two_theta_deg: np.ndarray, wavelength_angstrom: float,
                           n_peaks: int = 10, config: PeakFinderConfig = PeakFinderConfig(),
                           ) -> tuple[np.ndarray, list[FeatureSpec]]:
    """Interpretable peak features ``X [P, F]`` float64 of ``patterns [P, G]`` and their ``FeatureSpec``s.

    The same function serves a data set and one measured pattern (pass it as ``[1, G]``). Peaks
    come from the shared ``find_peaks`` with ``config``; ``wavelength_angstrom`` is the λ their
    maxima belong to (Kα1 for a doublet), used for d and Q. A feature a pattern cannot have
    (the 7th peak of a pattern with 5, I₂/I₁ of a single peak) is NaN, not 0: scikit-learn
    trees (≥ 1.3) route NaN to the side learned in fitting, while a 0 sentinel would make
    "2θ₇ ≤ 20°" silently mean "or no 7th peak". Columns: ``interpretable_feature_specs``.
    """
    specs = interpretable_feature_specs(n_peaks)
    lam = _check_wavelength(wavelength_angstrom)
    n = int(n_peaks)
    peaks = find_peaks_batch(patterns, two_theta_deg, config)
    X = np.full((len(peaks), len(specs)), np.nan, dtype=np.float64)
    column = {s.name: j for j, s in enumerate(specs)}
    first = np.full((len(peaks), n), np.nan)
    strong_first = np.full((len(peaks), n), np.nan)  # first n peaks >= INDEXING_PEAK_FRACTION
    for row, p in enumerate(peaks):
        first[row, : min(n, len(p))] = p.two_theta_deg[:n]
        q_all = q_inv_angstrom_from_two_theta(p.two_theta_deg, lam)
        for lo, hi in Q_WINDOWS_INV_ANGSTROM:
            X[row, column[f"n_peaks_q{lo:g}_{hi:g}"]] = np.sum((q_all >= lo) & (q_all < hi))
        X[row, column["n_peaks"]] = len(p)
        X[row, column["n_strong_peaks"]] = int(np.sum(p.height >= STRONG_PEAK_FRACTION * p.height.max())) if len(p) else 0
        if len(p) == 0:
            continue
        order = np.argsort(-p.height, kind="stable")
        top = p.height[order[:n]] / p.height[order[0]]
        X[row, column["two_theta_strongest_deg"]] = p.two_theta_deg[order[0]]
        X[row, column["mean_intensity_strongest"]] = top.mean()
        X[row, column["std_intensity_strongest"]] = top.std()
        X[row, column["span_two_theta_deg"]] = p.two_theta_deg[-1] - p.two_theta_deg[0]
        X[row, column["n_peaks_below_2q1"]] = np.sum(q_all <= 2.0 * q_all[0])
        X[row, column["n_peaks_below_3q1"]] = np.sum(q_all <= 3.0 * q_all[0])
        strong = p.two_theta_deg[p.height >= INDEXING_PEAK_FRACTION * p.height.max()][:n]
        strong_first[row, : len(strong)] = strong
        if len(p) >= 2:
            X[row, column["intensity2_over_intensity1"]] = top[1]
        if len(p) >= 3:
            X[row, column["intensity3_over_intensity1"]] = top[2]
    X[:, column["d_strongest_angstrom"]] = d_angstrom_from_two_theta(X[:, column["two_theta_strongest_deg"]], lam)
    X[:, column["cubic_index_fraction"]] = cubic_index_fraction(q_inv_angstrom_from_two_theta(strong_first, lam))
    q = q_inv_angstrom_from_two_theta(first, lam)  # NaN stays NaN
    for i in range(1, n + 1):
        X[:, column[f"two_theta{i}_deg"]] = first[:, i - 1]
        X[:, column[f"d{i}_angstrom"]] = d_angstrom_from_two_theta(first[:, i - 1], lam)
        X[:, column[f"q{i}_inv_angstrom"]] = q[:, i - 1]
        if i >= 2:
            ratio = q[:, i - 1] / q[:, 0]
            X[:, column[f"q{i}_over_q1"]] = ratio
            X[:, column[f"q{i}_over_q1_squared"]] = ratio**2
    return X, specs
