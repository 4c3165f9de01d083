"""scripts/ablate_test_time_scales.py moves every line to where Bragg's law puts it for d scaled by (1 + s)."""

from __future__ import annotations


import numpy as np
import pytest

from tests.conftest import load_script

CU_KALPHA1_ANGSTROM = 1.54056


@pytest.fixture(scope="module")
def script():
    return load_script("ablate_test_time_scales")


def _two_theta_deg(d_angstrom: float) -> float:
    return 2.0 * np.degrees(np.arcsin(CU_KALPHA1_ANGSTROM / (2.0 * d_angstrom)))


@pytest.mark.parametrize("s", [-0.01, 0.005, 0.02])
def test_lines_move_as_braggs_law_says(script, s):
    grid = np.round(np.arange(5.0, 90.0, 0.01), 6)
    d_lines = (3.5, 2.1, 1.2)  # Å
    row = sum(np.exp(-0.5 * ((grid - _two_theta_deg(d)) / 0.03) ** 2) for d in d_lines)
    out = script.d_scaled(row[None].astype(np.float32), grid, s)[0]
    for d in d_lines:
        expected = _two_theta_deg(d * (1.0 + s))
        window = np.abs(grid - expected) < 0.3
        assert abs(grid[window][np.argmax(out[window])] - expected) <= 0.011
        assert out[window].max() == pytest.approx(1.0, abs=0.02)


def test_points_with_no_measured_source_are_zero_and_zero_scale_is_identity(script):
    grid = np.round(np.arange(5.0, 90.0, 0.01), 6)
    row = np.ones((1, len(grid)), np.float32)
    out = script.d_scaled(row, grid, 0.05)[0]  # larger d: the copy's high angles come from beyond 90° (unmeasured)
    assert np.all(out[grid > 87.0] == 0.0) and np.all(out[grid < 80.0] == 1.0)
    assert script.d_scaled(row, grid, 0.0) is row
