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
