"""interpretable_features: units, NaN for missing peaks, the cubic Q² ratio signal, one pattern = P of 1."""

from __future__ import annotations

import numpy as np
import pytest

from xrdnet.features import (
    FEATURE_UNITS,
    FeatureSpec,
    cubic_index_fraction,
    interpretable_feature_specs,
    interpretable_features,
)
from xrdnet.units import two_theta_deg_from_q

LAMBDA = 1.5406
GRID = np.arange(10.0, 80.0, 0.02)


def gaussians(centres, heights, sigma_deg=0.04):
    return sum(h * np.exp(-0.5 * ((GRID - c) / sigma_deg) ** 2) for c, h in zip(centres, heights))


def primitive_cubic_pattern(a_angstrom=4.0):
    """Peaks at Q = 2π/a √N for N = h² + k² + l² = 1, 2, 3, 4, 5, 6, 8 (7 is no sum of three squares)."""
    n = np.array([1, 2, 3, 4, 5, 6, 8, 9])
    two_theta = two_theta_deg_from_q(2 * np.pi / a_angstrom * np.sqrt(n), LAMBDA)
    keep = two_theta < GRID[-1] - 1
    return gaussians(two_theta[keep], np.linspace(1.0, 0.4, keep.sum())), two_theta[keep]


def test_specs_have_units_symbols_and_unique_names():
    specs = interpretable_feature_specs(10)
    assert len({s.name for s in specs}) == len(specs)
    assert all(s.unit in FEATURE_UNITS and s.symbol and s.latex and s.description for s in specs)
    by_name = {s.name: s for s in specs}
    assert by_name["n_peaks"].unit == "count" and by_name["n_peaks"].needs_peaks == 0
    assert by_name["two_theta3_deg"].unit == "deg" and by_name["two_theta3_deg"].symbol == "2θ₃"
    assert by_name["d1_angstrom"].unit == "Å" and by_name["q1_inv_angstrom"].unit == "1/Å"
    assert by_name["q2_over_q1_squared"].unit == "1" and by_name["q2_over_q1_squared"].needs_peaks == 2
    with pytest.raises(ValueError, match="unit"):
        FeatureSpec("x", "furlong", "bad unit")
    with pytest.raises(ValueError, match="n_peaks"):
        interpretable_feature_specs(0)


def test_cubic_ratios_positions_and_missing_peaks_are_nan():
    pattern, two_theta = primitive_cubic_pattern()
    flat = np.zeros_like(GRID)
    X, specs = interpretable_features(np.stack([pattern, flat]), GRID, LAMBDA, n_peaks=10)
    assert X.shape == (2, len(specs)) and X.dtype == np.float64
    col = {s.name: j for j, s in enumerate(specs)}
    n = len(two_theta)
    assert X[0, col["n_peaks"]] == n
    np.testing.assert_allclose([X[0, col[f"two_theta{i}_deg"]] for i in range(1, n + 1)], two_theta, atol=0.01)
    assert X[0, col["d1_angstrom"]] == pytest.approx(4.0, abs=2e-3)
    np.testing.assert_allclose([X[0, col[f"q{i}_over_q1_squared"]] for i in range(2, n + 1)],
                               [2, 3, 4, 5, 6, 8, 9][: n - 1], atol=0.01)
    assert X[0, col["intensity2_over_intensity1"]] == pytest.approx(np.linspace(1, 0.4, n)[1], abs=0.02)
    assert X[0, col["span_two_theta_deg"]] == pytest.approx(two_theta[-1] - two_theta[0], abs=0.02)
    # Peaks the pattern does not have are NaN, never 0; the flat pattern has only counts.
    assert np.all(np.isnan(X[0, [col[f"two_theta{i}_deg"] for i in range(n + 1, 11)]]))
    counts = [j for j, s in enumerate(specs) if s.needs_peaks == 0]
    assert {specs[j].name for j in counts} >= {"n_peaks", "n_strong_peaks", "n_peaks_q1_2"}
    assert np.all(X[1, counts] == 0)
    assert np.isnan(np.delete(X[1], counts)).all()
    # The indexing-style columns of the cubic pattern: every strong peak indexes, and the counts
    # per cell size and per Q window match the positions put in.
    assert X[0, col["cubic_index_fraction"]] == 1.0
    q = 2 * np.pi / 4.0 * np.sqrt(np.array([1, 2, 3, 4, 5, 6, 8, 9])[:n])
    # N = 1, 2, 3 lie below 2 Q₁ (N = 4 sits on the boundary, either side is right); N ≤ 8 below 3 Q₁.
    assert X[0, col["n_peaks_below_2q1"]] in (3, 4)
    assert X[0, col["n_peaks_below_3q1"]] >= np.sum(q < 2.99 * q[0])
    assert X[0, col["n_peaks_q1_2"]] == np.sum((q >= 1) & (q < 2))
    assert X[0, col["n_peaks_q2_3"]] == np.sum((q >= 2) & (q < 3))


def test_cubic_index_fraction_tells_cubic_from_random_lines():
    # Face-centred (NaCl, N = 3, 4, 8, 11, ...) and body-centred (N = 2, 4, 6, ...) sequences
    # index fully whatever the cell size; random line positions mostly do not.
    fcc = 2 * np.pi / 5.64 * np.sqrt([3, 4, 8, 11, 12, 16, 19, 20, 24, 27])
    bcc = 2 * np.pi / 3.3 * np.sqrt([2, 4, 6, 8, 10, 12, 14, 16])
    rows = np.full((2, 10), np.nan)
    rows[0], rows[1, :8] = fcc, bcc
    np.testing.assert_array_equal(cubic_index_fraction(rows), [1.0, 1.0])
    # Lines 0.3 % off in Q (a zero shift's size) still index; shifting alternate lines by 2 % does not.
    assert cubic_index_fraction((fcc * (1 + 0.003 * (np.arange(10) % 2)))[None])[0] == 1.0
    assert cubic_index_fraction((fcc * (1 + 0.02 * (np.arange(10) % 2)))[None])[0] < 0.8
    rng = np.random.default_rng(0)
    random_lines = np.sort(rng.uniform(1.0, 4.0, (500, 10)), axis=1)
    assert np.mean(cubic_index_fraction(random_lines) >= 0.9) < 0.05
    assert np.isnan(cubic_index_fraction(np.array([[1.0, 2.0, np.nan]]))[0])  # fewer than 3 peaks


def test_single_pattern_matches_the_batch_row():
    pattern, _ = primitive_cubic_pattern(5.0)
    other = gaussians([20.0, 33.0, 47.5], [1.0, 0.5, 0.2])
    X, _ = interpretable_features(np.stack([other, pattern]), GRID, LAMBDA)
    one, _ = interpretable_features(pattern[None], GRID, LAMBDA)
    np.testing.assert_array_equal(one[0], X[1])
