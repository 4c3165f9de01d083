"""The feature sets computed from patterns (the forest's inputs, later the rules').

Sections of this module:

- feature sets: ``suzuki`` (first-N peak Q plus peak count, Suzuki et al. 2020, Sci. Rep. 10,
  21790) and ``profile`` (the block-max downsampled pattern);
- feature set ``interpretable`` (``FeatureSpec``, ``interpretable_features``, the cubic indexing
  share ``cubic_index_fraction``): what the surrogate rules are written in.

Feature sets are numpy ``float32`` matrices ``[P, F]`` with a matching tuple of feature names in
physical units, so a decision-tree threshold reads as "q1_inv_angstrom <= 1.93".

Peaks come from the one shared peak finder, ``xrdnet.peak_finder``. Its names and the 2θ / d / Q
conversions (``PeakFinderConfig``, ``Peaks``, ``find_peaks``, ``find_peaks_batch``,
``q_inv_angstrom_from_two_theta``, ``two_theta_deg_from_q``, ``d_angstrom_from_two_theta``) are
re-exported here for one release: import them from ``xrdnet.peak_finder``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xrdnet.peak_finder import (  # noqa: F401 - the public names are re-exported for one release
    PeakFinderConfig,
    Peaks,
    _check_grid,
    _check_patterns,
    _check_wavelength,
    d_angstrom_from_two_theta,
    find_peaks,
    find_peaks_batch,
    q_inv_angstrom_from_two_theta,
    two_theta_deg_from_q,
)


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
        categories: for a categorical feature, the names of its codes 0, 1, 2, ...; a threshold on it
            prints as the names it keeps ("best cell's system: tetragonal or trigonal").
    """

    name: str
    unit: str
    description: str
    symbol: str = ""
    latex: str = ""
    needs_peaks: int = 0
    categories: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "categories", tuple(str(c) for c in self.categories))  # a JSON list too
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
