"""scripts/ablate_test_time_broadening.py widens lines by the Gaussian it names and keeps the measured span."""

from __future__ import annotations


import numpy as np
import pytest

from tests.conftest import load_script

STEP_DEG = 0.01


@pytest.fixture(scope="module")
def script():
    return load_script("ablate_test_time_broadening")


def _fwhm_deg(row: np.ndarray) -> float:
    above = np.flatnonzero(row >= 0.5 * row.max())
    return (above[-1] - above[0] + 1) * STEP_DEG


def test_a_line_gains_the_gaussian_width_in_quadrature(script):
    grid = np.arange(5.0, 90.0, STEP_DEG)
    fwhm_in, sigma = 0.07, 0.05
    s_in = fwhm_in / 2.3548
    row = np.exp(-0.5 * ((grid - 40.0) / s_in) ** 2).astype(np.float32)[None]  # [1, G]
    out = script.broadened(row, STEP_DEG, sigma)
    expected = 2.3548 * np.hypot(s_in, sigma)  # Gaussians convolve to a Gaussian: σ² adds
    assert out.shape == row.shape and out.dtype == row.dtype
    assert abs(_fwhm_deg(out[0]) - expected) <= 2 * STEP_DEG
    assert out.max() == pytest.approx(1.0)
    assert script.broadened(row, STEP_DEG, 0.0) is row  # σ = 0: the row as predict hands it


def test_points_outside_the_measured_span_stay_zero(script):
    grid = np.arange(5.0, 90.0, STEP_DEG)
    row = np.where((grid >= 20.0) & (grid <= 70.0), 0.05, 0.0)
    row = row + np.exp(-0.5 * ((grid - 20.5) / 0.03) ** 2) * (grid >= 20.0)  # a line just inside the start
    out = script.broadened(row[None].astype(np.float32), STEP_DEG, 0.08)[0]
    assert np.all(out[grid < 19.995] == 0.0) and np.all(out[grid > 70.005] == 0.0)
    assert out[(grid > 20.3) & (grid < 20.7)].max() == pytest.approx(1.0)
