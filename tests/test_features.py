"""Shared peak finder and feature sets: known synthetic peaks, merging, noise, Bragg's law on NaCl."""

from __future__ import annotations

import numpy as np
import pytest

from xrdnet.features import (
    SUZUKI_FEATURE_NAMES,
    profile_feature_names,
    profile_features,
    suzuki_feature_names,
    suzuki_features,
)
from xrdnet.peak_finder import (
    PeakFinderConfig,
    d_angstrom_from_two_theta,
    find_peaks,
    find_peaks_batch,
    q_inv_angstrom_from_two_theta,
    two_theta_deg_from_q,
)

CU_KA = 1.54184
STEP = 0.01
GRID = np.round(np.arange(5.0, 90.0 + STEP / 2, STEP), 6)  # the default 8501-point grid


def gaussians(grid: np.ndarray, centres, heights, sigma_deg: float = 0.03) -> np.ndarray:
    """``[G]`` sum of Gaussians of the given peak heights at ``centres`` (degrees 2θ)."""
    centres = np.asarray(centres, dtype=np.float64)[:, None]
    heights = np.asarray(heights, dtype=np.float64)[:, None]
    return (heights * np.exp(-0.5 * ((grid[None] - centres) / sigma_deg) ** 2)).sum(0)


def test_known_peaks_found_within_one_grid_step():
    centres = [12.345, 27.0, 44.4444, 61.1, 88.88]
    pattern = gaussians(GRID, centres, [0.3, 1.0, 0.05, 0.5, 0.2]) * 1234.0  # any intensity units
    peaks = find_peaks(pattern, GRID)
    assert len(peaks) == len(centres)
    assert np.all(np.abs(peaks.two_theta_deg - centres) <= STEP)
    assert np.all(np.diff(peaks.two_theta_deg) > 0)
    assert peaks.height.max() == pytest.approx(1.0)
    assert np.allclose(peaks.height, [0.3, 1.0, 0.05, 0.5, 0.2], atol=0.01)
    assert np.all(peaks.prominence <= peaks.height + 1e-12)
    # Unrefined positions are grid points, still within one step.
    raw = find_peaks(pattern, GRID, PeakFinderConfig(refine=False))
    assert np.all(np.abs(raw.two_theta_deg - centres) <= STEP)
    assert np.all(np.isin(raw.two_theta_deg, GRID))


def test_close_peaks_merge_and_separate_with_smaller_distance():
    grid = GRID[:1000]
    pattern = gaussians(grid, [10.0, 10.06], [1.0, 0.8], sigma_deg=0.01)
    merged = find_peaks(pattern, grid)  # 0.06° < min_distance_deg 0.1°
    assert len(merged) == 1 and abs(merged.two_theta_deg[0] - 10.0) <= STEP
    separate = find_peaks(pattern, grid, PeakFinderConfig(min_distance_deg=0.02))
    assert np.allclose(separate.two_theta_deg, [10.0, 10.06], atol=STEP)


def test_noise_below_threshold_gives_no_peaks_and_flat_patterns_are_empty():
    rng = np.random.default_rng(0)
    grid = GRID[:2000]
    one_peak = gaussians(grid, [15.0], [1.0]) + rng.uniform(0, 0.005, len(grid))
    peaks = find_peaks(one_peak, grid)
    assert len(peaks) == 1 and abs(peaks.two_theta_deg[0] - 15.0) <= STEP
    for flat in (np.zeros(len(grid)), np.full(len(grid), 3.0), -np.ones(len(grid))):
        assert len(find_peaks(flat, grid)) == 0
    # Noise of 5 % of the maximum: a fixed 1 % prominence counts noise wiggles as peaks; the
    # default noise-adaptive prominence (and smoothing) keeps only the real one.
    noisy = gaussians(grid, [15.0], [1.0], sigma_deg=0.05) + rng.uniform(0, 0.05, len(grid))
    assert len(find_peaks(noisy, grid, PeakFinderConfig(noise_sigmas=0, smooth_points=0))) > 1
    assert len(find_peaks(noisy, grid)) == 1
    assert len(find_peaks(noisy, grid, PeakFinderConfig(smooth_points=9, min_prominence=0.05))) == 1
    # Peaks well above the noise are all still found.
    three = gaussians(grid, [12.0, 15.0, 20.0], [1.0, 0.3, 0.2]) + rng.normal(0, 0.01, len(grid))
    assert len(find_peaks(three, grid)) == 3


def test_non_uniform_grid_and_batch():
    rng = np.random.default_rng(1)
    grid = np.sort(np.concatenate([[5.0], 5.0 + np.cumsum(rng.uniform(0.008, 0.012, 3000))]))
    pattern = gaussians(grid, [10.0, 20.0, 30.0], [1.0, 0.5, 0.25], sigma_deg=0.04)
    peaks = find_peaks(pattern, grid)
    assert np.allclose(peaks.two_theta_deg, [10.0, 20.0, 30.0], atol=0.012)
    batch = find_peaks_batch(np.stack([pattern, np.zeros_like(pattern)]), grid)
    assert [len(p) for p in batch] == [3, 0]
    assert np.array_equal(batch[0].two_theta_deg, peaks.two_theta_deg)


def test_bad_inputs_raise():
    pattern = gaussians(GRID, [20.0], [1.0])
    pattern[100] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        find_peaks(pattern, GRID)
    with pytest.raises(ValueError, match="NaN"):
        suzuki_features(pattern[None], GRID, CU_KA)
    with pytest.raises(ValueError, match="NaN"):
        profile_features(pattern[None])
    with pytest.raises(ValueError, match="two_theta_deg"):
        find_peaks(np.ones(10), np.arange(11.0))
    with pytest.raises(ValueError, match="increasing"):
        find_peaks(np.ones(3), np.array([1.0, 3.0, 2.0]))
    with pytest.raises(ValueError, match="wavelength"):
        suzuki_features(np.ones((1, 3)), np.arange(3.0), 0.0)
    for bad in ({"min_height": 1.0}, {"min_prominence": -0.1}, {"min_distance_deg": float("nan")},
                {"smooth_points": -1}, {"smooth_points": 2.5}, {"refine": 1}):
        with pytest.raises(ValueError):
            PeakFinderConfig(**bad)


def test_unit_conversions_round_trip():
    two_theta = np.array([10.0, 31.73, 89.9])
    q = q_inv_angstrom_from_two_theta(two_theta, CU_KA)
    assert np.allclose(two_theta_deg_from_q(q, CU_KA), two_theta)
    d = d_angstrom_from_two_theta(two_theta, CU_KA)
    assert np.allclose(q, 2 * np.pi / d)  # Q = 2π / d
    assert d_angstrom_from_two_theta(0.0, CU_KA) == np.inf
    with pytest.raises(ValueError, match="Q must lie"):
        two_theta_deg_from_q(10.0, CU_KA)


def test_suzuki_features_of_nacl_follow_braggs_law(nacl):
    from pymatgen.analysis.diffraction.xrd import XRDCalculator

    sticks = XRDCalculator(wavelength=CU_KA).get_pattern(nacl, two_theta_range=(5, 90))
    pattern = gaussians(GRID, sticks.x, sticks.y / 100.0, sigma_deg=0.05)
    config = PeakFinderConfig()
    features = suzuki_features(pattern[None], GRID, CU_KA, n_peaks=10, config=config)
    assert features.shape == (1, 11) and features.dtype == np.float32
    visible = sticks.x[sticks.y / sticks.y.max() > config.min_height]
    assert features[0, -1] == len(visible)  # 8 of pymatgen's 9 lines; (331) is 0.9 % of max
    expected_q = 4 * np.pi * np.sin(np.deg2rad(visible / 2)) / CU_KA
    tolerance = q_inv_angstrom_from_two_theta(visible + STEP, CU_KA) - expected_q  # one grid step
    n = len(visible)
    assert np.all(np.abs(features[0, :n] - expected_q) <= tolerance)
    assert np.all(features[0, n:10] == 0)  # fewer than 10 peaks: zero padding


def test_suzuki_padding_names_and_counts_beyond_n_peaks():
    patterns = np.stack([
        gaussians(GRID, [20.0, 30.0], [1.0, 0.5]),
        gaussians(GRID, np.arange(10.0, 80.0, 5.0), np.ones(14)),  # 14 peaks
        np.zeros(len(GRID)),
    ])
    features = suzuki_features(patterns, GRID, CU_KA, n_peaks=10)
    assert features.shape == (3, 11)
    assert np.all(features[0, 2:10] == 0) and features[0, 10] == 2
    assert np.all(features[1, :10] > 0) and features[1, 10] == 14
    assert np.all(np.diff(features[1, :10]) > 0)
    assert np.all(features[2] == 0)
    assert SUZUKI_FEATURE_NAMES[0] == "q1_inv_angstrom" and SUZUKI_FEATURE_NAMES[-1] == "n_peaks"
    assert len(SUZUKI_FEATURE_NAMES) == 11
    assert suzuki_feature_names(3) == ("q1_inv_angstrom", "q2_inv_angstrom", "q3_inv_angstrom", "n_peaks")
    assert suzuki_features(patterns, GRID, CU_KA, n_peaks=3).shape == (3, 4)
    with pytest.raises(ValueError):
        suzuki_feature_names(0)


def test_profile_features_block_max_with_padded_tail():
    patterns = np.arange(2 * 23, dtype=np.float64).reshape(2, 23)
    out = profile_features(patterns, factor=5)
    assert out.shape == (2, 5) and out.dtype == np.float32
    assert np.allclose(out[0], np.array([4, 9, 14, 19, 22]) / 22)  # rows scaled to max 1
    assert np.allclose(out[1], np.array([27, 32, 37, 42, 45]) / 45)
    assert profile_features(np.zeros((1, 7)), factor=3).tolist() == [[0.0, 0.0, 0.0]]
    assert profile_features(patterns, factor=1).shape == (2, 23)
    names = profile_feature_names(np.linspace(5, 27, 23), factor=5)
    assert len(names) == 5 and names[-1] == "max_two_theta_25.00_27.00_deg"
    with pytest.raises(ValueError):
        profile_features(patterns, factor=0)
