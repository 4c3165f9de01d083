"""scripts/bench_line_widths.py measures the FWHM and η of isolated lines, and refuses blends."""

from __future__ import annotations


import numpy as np
import pytest

from tests.conftest import load_script



@pytest.fixture(scope="module")
def bench():
    return load_script("bench_line_widths")


def test_isolated_doublets_give_back_their_width_and_shape(bench):
    grid = np.round(np.arange(5.0, 90.0 + 1e-9, 0.01), 6)
    lines = ((21.0, 0.07, 0.2, 1.0), (38.0, 0.10, 0.5, 0.6), (55.0, 0.13, 0.8, 0.4))  # 2θ, FWHM, η, height
    y = 0.02 + 0.0002 * (90.0 - grid)  # a sloping background, removed by SNIP
    for centre, fwhm, eta, height in lines:
        y = y + bench.doublet(grid, height, centre, fwhm, eta, 0.0)
    y = y + np.random.default_rng(0).normal(0.0, 0.002, len(grid))
    found = sorted(bench.measure_lines(y, grid))
    assert [round(c) for c, _, _ in found] == [21, 38, 55]
    for (centre, fwhm, eta, _), (c, w, e) in zip(lines, found):
        assert c == pytest.approx(centre, abs=0.01)
        assert w == pytest.approx(fwhm, rel=0.1)
        assert e == pytest.approx(eta, abs=0.15)


def test_a_blend_is_not_measured_as_one_line(bench):
    grid = np.round(np.arange(5.0, 90.0 + 1e-9, 0.01), 6)
    y = bench.doublet(grid, 1.0, 30.0, 0.08, 0.3, 0.0) + bench.doublet(grid, 0.8, 30.35, 0.08, 0.3, 0.0)
    y = y + bench.doublet(grid, 0.5, 50.0, 0.08, 0.3, 0.0)
    found = bench.measure_lines(y, grid)
    assert [round(c) for c, _, _ in found] == [50]
    stats = bench.band_statistics(np.asarray(found))
    assert [b["n_lines"] for b in stats] == [0, 1, 0] and stats[1]["fwhm_median_deg"] == pytest.approx(0.08, rel=0.1)
