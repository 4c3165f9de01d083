"""2θ, Q and d of a powder line (xrdnet.units): Bragg's law against textbook values and pymatgen."""

from __future__ import annotations

import numpy as np
import pytest

from xrdnet.units import (d_angstrom_from_two_theta, q_inv_angstrom_from_two_theta, sin_theta_of_q,
                          two_theta_deg_from_q, two_theta_deg_from_sin_theta)

CU_KA1 = 1.540598  # Å


def test_silicon_111_at_cu_kalpha1_sits_at_28_44_degrees():
    # Si, a = 5.431 Å: d(111) = a / √3 = 3.1356 Å; the line every diffractometer is aligned on
    d = 5.431 / np.sqrt(3.0)
    q = 2 * np.pi / d
    assert two_theta_deg_from_q(q, CU_KA1) == pytest.approx(28.44, abs=0.01)
    assert d_angstrom_from_two_theta(two_theta_deg_from_q(q, CU_KA1), CU_KA1) == pytest.approx(d, rel=1e-12)


def test_q_is_2pi_over_d_and_the_conversions_invert_each_other():
    two_theta = np.linspace(5.0, 170.0, 50)
    q = q_inv_angstrom_from_two_theta(two_theta, CU_KA1)
    np.testing.assert_allclose(q, 2 * np.pi / d_angstrom_from_two_theta(two_theta, CU_KA1), rtol=1e-12)
    np.testing.assert_allclose(two_theta_deg_from_q(q, CU_KA1), two_theta, rtol=1e-12)
    np.testing.assert_allclose(two_theta_deg_from_sin_theta(sin_theta_of_q(q, CU_KA1)), two_theta, rtol=1e-12)
    # Q does not depend on the anode: the same line measured with Mo Kα1 has the same Q
    two_theta_mo = two_theta_deg_from_q(q, 0.70932)
    np.testing.assert_allclose(q_inv_angstrom_from_two_theta(two_theta_mo, 0.70932), q, rtol=1e-12)


def test_lines_agree_with_pymatgen():
    from pymatgen.analysis.diffraction.xrd import WAVELENGTHS, XRDCalculator
    from pymatgen.core import Lattice, Structure

    nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    pattern = XRDCalculator(wavelength="CuKa1").get_pattern(nacl, two_theta_range=(10, 120))
    d = np.asarray(pattern.d_hkls)
    np.testing.assert_allclose(two_theta_deg_from_q(2 * np.pi / d, WAVELENGTHS["CuKa1"]), pattern.x, atol=1e-8)


def test_unreachable_q_and_bad_wavelengths_are_refused():
    with pytest.raises(ValueError, match="0..4π/λ"):
        two_theta_deg_from_q(4 * np.pi / CU_KA1 * 1.01, CU_KA1)
    for bad in (0.0, -1.5406, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="positive number"):
            q_inv_angstrom_from_two_theta(30.0, bad)
    assert d_angstrom_from_two_theta(0.0, CU_KA1) == np.inf
