"""Laboratory scan ranges for training patterns, and the measured span the network is told about."""

from pathlib import Path

import numpy as np
import pytest
import torch

from xrdnet.simulate.coverage import CoverageConfig, crop_patterns, draw_ranges, measured_span


def test_ranges_follow_the_config_and_are_reproducible():
    config = CoverageConfig(full_range_fraction=0.25, start_deg=(5.0, 25.0), end_deg=(55.0, 90.0))
    ids = torch.arange(20000)
    start, end = draw_ranges(config, 3, ids, (5.0, 90.0))
    full = (start == 5.0) & (end == 90.0)
    assert 0.23 < full.double().mean() < 0.27
    assert float(start.min()) >= 5.0 and float(start.max()) <= 25.0
    assert float(end.min()) >= 55.0 and float(end.max()) <= 90.0
    s2, e2 = draw_ranges(config, 3, ids.flip(0), (5.0, 90.0))  # order of the batch does not matter
    assert torch.equal(s2, start.flip(0)) and torch.equal(e2, end.flip(0))
    s3, _ = draw_ranges(config, 4, ids, (5.0, 90.0))
    assert not torch.equal(s3, start)


def test_off_by_default():
    assert not CoverageConfig().active
    start, end = draw_ranges(CoverageConfig(), 0, torch.arange(10), (5.0, 90.0))
    assert bool((start == 5.0).all() and (end == 90.0).all())


def test_crop_zeroes_outside_and_renormalises_inside():
    grid = torch.linspace(5.0, 90.0, 8501, dtype=torch.float64)
    pattern = torch.exp(-((grid - 30.0) / 0.1) ** 2) * 0.5 + torch.exp(-((grid - 80.0) / 0.1) ** 2) + 0.01
    out = crop_patterns(pattern[None].float(), grid, torch.tensor([20.0], dtype=torch.float64),
                        torch.tensor([60.0], dtype=torch.float64))[0]
    inside = (grid >= 20.0) & (grid <= 60.0)
    assert float(out[~inside].abs().max()) == 0.0
    assert float(out.max()) == pytest.approx(1.0)
    assert int(out.argmax()) == int(torch.argmin((grid - 30.0).abs()))  # the 80° peak is gone
    span = measured_span(out[None])[0]
    assert torch.equal(span, inside)


def test_measured_span_of_a_scan_on_the_model_grid():
    from xrdnet.io.core import MeasuredPattern
    from xrdnet.io.grid import to_model_grid

    two_theta = np.arange(12.0, 68.0, 0.02)
    intensity = 50.0 + 900.0 * np.exp(-((two_theta - 31.7) / 0.08) ** 2)
    grid = np.arange(5.0, 90.0 + 1e-9, 0.01)
    row, _ = to_model_grid(MeasuredPattern(path=Path("scan.xy"), two_theta_deg=two_theta, intensity=intensity,
                                           wavelength_angstrom=1.5406), grid, 1.5406)
    span = measured_span(torch.from_numpy(row)[None])[0].numpy()
    assert abs(grid[span][0] - 12.0) < 0.03 and abs(grid[span][-1] - 68.0) < 0.05


def test_bad_ranges_are_refused():
    with pytest.raises(ValueError, match="full_range_fraction"):
        CoverageConfig(full_range_fraction=1.5)
    with pytest.raises(ValueError, match="end_deg"):
        CoverageConfig(end_deg=(90.0, 50.0))
