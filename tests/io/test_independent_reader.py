"""Our readers against an independent one: FAIRmat's ``fairmat-readers-xrd`` (pure Python, NOMAD's XRD
parser) on the genuine XRDML, BRML and RASX fixtures of tests/data/formats.

Positions and the Kα1 wavelength must agree exactly. Intensities: ours are counts per second for XRDML
(``intensity_unit: counts/s``, so patterns of different counting times compare), FAIRmat's are per
counting time, so ours × the counting time must give theirs; BRML and RASX values are equal as read.
Bruker RAW is not compared: fairmat-readers-xrd 0.0.10 returns nothing for the v1, v2 and v3 files here
and a one-point 2θ axis for the v4 one (datalab_TiO2.raw), so it cannot be the reference (or the
delegate) for that format.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import fairmat_readers_xrd as fairmat  # a dev dependency: missing it is a failure, not a skip
import numpy as np
import pytest

from xrdnet.io import read_pattern

DATA = Path(__file__).resolve().parents[1] / "data" / "formats"
FILES = sorted(p for p in DATA.glob("*/*") if p.suffix in {".xrdml", ".brml", ".rasx"})


def _values(quantity) -> np.ndarray:
    """A pint quantity or array as a flat float64 array."""
    return np.asarray(getattr(quantity, "magnitude", quantity), dtype=np.float64).ravel()


def test_the_comparison_covers_each_format():
    assert {p.suffix for p in FILES} == {".xrdml", ".brml", ".rasx"} and len(FILES) >= 8


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_positions_intensities_and_wavelength_agree_with_fairmat(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # their parser warns about pint units and multi-axis scans
        theirs = fairmat.read_file(str(path))
    ours = read_pattern(path)
    two_theta = _values(theirs["2Theta"])
    intensity = _values(theirs["intensity"])
    order = np.argsort(two_theta, kind="stable")  # ours are increasing; a scan may be written downwards
    np.testing.assert_allclose(ours.two_theta_deg, two_theta[order], rtol=0, atol=1e-6)
    expected = intensity[order]
    if path.suffix == ".xrdml":
        assert ours.metadata["intensity_unit"] == "counts/s"
        counting_time_s = _values(theirs["countTime"])
        counting_time_s = counting_time_s[order] if counting_time_s.size == len(order) else counting_time_s
        np.testing.assert_allclose(ours.intensity * counting_time_s, expected, rtol=1e-9)
    else:
        np.testing.assert_allclose(ours.intensity, expected, rtol=1e-9)
    source = theirs["metadata"]["source"]
    assert ours.wavelength_angstrom == pytest.approx(float(_values(source["kAlpha1"])[0]), abs=1e-6)
