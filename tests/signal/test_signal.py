"""Signal processing as pure array code: the axis, the noise level, the sharp and broad parts, the peaks."""

from __future__ import annotations

import numpy as np
import pytest

from xrdnet.signal import (SharpPeaks, noise_sigma, ordered_axis, peak_measurements, q_of_axis, sharp_and_broad,
                           two_theta_at_model)

GRID = np.round(np.arange(5.0, 90.0 + 1e-9, 0.01), 4)
LAM = 1.54056


def test_ordered_axis_reverses_sorts_and_drops_repeats():
    x, y, was = ordered_axis(np.array([3.0, 2.0, 1.0]), np.array([1.0, -2.0, 3.0]))
    assert was and x.tolist() == [1.0, 2.0, 3.0] and y.tolist() == [3.0, 0.0, 1.0]  # negative clipped
    x, y, was = ordered_axis(np.array([1.0, 3.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0, 4.0]))
    assert not was and x.tolist() == [1.0, 2.0, 3.0] and y.tolist() == [1.0, 3.0, 2.0]  # first of a repeat kept


def test_q_and_d_reach_the_models_two_theta_without_a_measured_wavelength():
    two_theta = np.array([20.0, 40.0, 60.0])
    q = 4 * np.pi * np.sin(np.radians(two_theta / 2)) / LAM
    back, y = two_theta_at_model(q_of_axis(2 * np.pi / q, "d"), np.ones(3), LAM)
    np.testing.assert_allclose(back, two_theta)
    beyond, _ = two_theta_at_model(np.array([1.0, 100.0]), np.ones(2), LAM)  # Q 100 1/Å is past 2θ = 180°
    assert len(beyond) == 1


def test_noise_sigma_measures_white_noise_not_the_signal():
    rng = np.random.default_rng(0)
    x = np.linspace(0, 10, 20000)
    signal = 100 * np.exp(-0.5 * ((x - 5) / 0.5) ** 2) + 3 * x
    assert noise_sigma(signal + rng.normal(0, 2.0, len(x))) == pytest.approx(2.0, rel=0.05)
    assert noise_sigma(np.ones(4)) == 0.0


def test_the_sharp_part_keeps_peaks_and_the_broad_part_keeps_a_hump():
    hump = 0.5 * np.exp(-0.5 * ((GRID - 30) / 6) ** 2)
    peak = np.exp(-0.5 * ((GRID - 60) / 0.05) ** 2)
    row = 0.01 + hump + peak
    sharp, broad = sharp_and_broad(row / row.max(), GRID)
    assert sharp.shape == broad.shape == GRID.shape
    assert np.argmax(sharp) == pytest.approx(np.argmin(np.abs(GRID - 60)), abs=3)
    assert broad[np.argmin(np.abs(GRID - 30))] > 0.3 and sharp[np.argmin(np.abs(GRID - 30))] < 0.2 * sharp.max()


def test_peak_measurements_unpack_as_the_old_tuple():
    row = 0.01 + sum(np.exp(-0.5 * ((GRID - t) / 0.05) ** 2) for t in (28.4, 47.3, 56.1))
    measured = peak_measurements(row / row.max(), GRID)
    peaks, heights, hump = measured
    assert isinstance(measured, SharpPeaks) and len(peaks) == len(heights) == 3 and hump < 0.1
    np.testing.assert_allclose(peaks, [28.4, 47.3, 56.1], atol=0.02)


def _lab_scan_on_model_grid(seed: int = 0):
    """A 10-70° lab scan on the 5-90° model grid (zeros outside): a background falling steeply from the
    first point (air scatter), three peaks, counting noise; max = 1."""
    rng = np.random.default_rng(seed)
    grid = np.round(np.arange(5.0, 90.0 + 1e-9, 0.01), 2)
    inside = (grid >= 10.0) & (grid <= 70.0)
    counts = 40.0 + 140.0 * np.exp(-(np.clip(grid, 10.0, None) - 10.0) / 4.0)  # 180 counts at 10°, 60 at 20°
    for centre, height in ((25.4, 600.0), (31.8, 550.0), (48.1, 250.0)):
        counts += height * np.exp(-0.5 * ((grid - centre) / 0.05) ** 2)
    counts = rng.poisson(counts).astype(np.float64)
    row = np.where(inside, counts, 0.0)
    return grid, row / row.max()


def test_the_first_point_of_a_scan_on_a_falling_background_is_not_a_sharp_peak():
    from xrdnet.signal.peaks import peak_measurements

    for seed in range(10):
        grid, row = _lab_scan_on_model_grid(seed)
        found = peak_measurements(row, grid).two_theta_deg
        assert len(found) == 3 and np.allclose(found, [25.4, 31.8, 48.1], atol=0.05), (seed, found)


def test_the_background_follows_a_slope_to_the_edges_of_the_scan():
    """Padding by plain reflection made a cusp of every sloped edge, which SNIP clipped as a peak: the
    background fell below the data there and the first point of a lab scan became a "peak"."""
    from xrdnet.io.grid import estimate_background

    x = np.arange(10.0, 70.0, 0.02)
    for y in (40.0 + 140.0 * np.exp(-(x - 10.0) / 4.0), 40.0 + 140.0 * np.exp((x - 70.0) / 4.0)):
        background = estimate_background(x, y, window_deg=0.75)
        assert np.max(np.abs(background - y) / y) < 0.02
