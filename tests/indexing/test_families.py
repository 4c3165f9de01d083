"""Lattice families: 1/d² from the design rows equals pymatgen's d-spacings; centring conditions."""

from __future__ import annotations

import numpy as np
import pytest

from xrdnet.indexing import CENTRING_CONDITIONS, FAMILIES


def _pymatgen_inv_d2(lattice, hkl):
    return np.array([1.0 / lattice.d_hkl(tuple(int(v) for v in row)) ** 2 for row in hkl])


HKL = np.array([[1, 0, 0], [0, 1, 1], [1, 2, 3], [2, -1, 1], [3, 1, -2], [0, 0, 4]])


@pytest.mark.parametrize("family,make,params", [
    ("cubic", lambda L: L.cubic(4.2), [1 / 4.2 ** 2]),
    ("tetragonal", lambda L: L.tetragonal(3.9, 7.1), [1 / 3.9 ** 2, 1 / 7.1 ** 2]),
    ("hexagonal", lambda L: L.hexagonal(3.25, 5.21), [4 / (3 * 3.25 ** 2), 1 / 5.21 ** 2]),
    ("orthorhombic", lambda L: L.orthorhombic(3.5, 4.7, 5.9), [1 / 3.5 ** 2, 1 / 4.7 ** 2, 1 / 5.9 ** 2]),
])
def test_design_rows_give_pymatgen_spacings_and_cells(family, make, params):
    from pymatgen.core import Lattice

    lattice, fam, p = make(Lattice), FAMILIES[family], np.array(params)
    np.testing.assert_allclose(fam.design(HKL) @ p, _pymatgen_inv_d2(lattice, HKL), rtol=1e-10)
    np.testing.assert_allclose(fam.cell(p), lattice.parameters, rtol=1e-10)
    np.testing.assert_allclose(fam.volume_angstrom3(p[None]), [lattice.volume], rtol=1e-10)


@pytest.mark.parametrize("family,p", [("cubic", [0.05]), ("tetragonal", [0.06, 0.02]),
                                      ("hexagonal", [0.1, 0.03]), ("orthorhombic", [0.08, 0.045, 0.03])])
def test_fast_deviation_is_zero_on_the_cells_own_lines_and_box_complete(family, p):
    fam, p = FAMILIES[family], np.array(p)
    hkl = fam.hkl_box(p, 0.8)
    q = fam.design(hkl) @ p
    low = q[q <= 0.6]
    np.testing.assert_allclose(fam.deviation(p[None], low)[0], 0, atol=1e-12)
    # the box holds every reflection (up to Friedel) below the limit: brute force over a wide box
    r = np.arange(-12, 13)
    grid = np.stack(np.meshgrid(r, r, r, indexing="ij"), -1).reshape(-1, 3)
    brute = fam.design(grid) @ p
    assert (2 * len(hkl)) == ((brute <= 0.8) & (brute > 0)).sum()


def test_centring_conditions_match_textbook_absences():
    hkl = np.array([[1, 0, 0], [1, 1, 0], [1, 1, 1], [2, 0, 0], [2, 1, 0], [0, 1, 2], [1, 0, 1]])
    assert CENTRING_CONDITIONS["I"](hkl).tolist() == [False, True, False, True, False, False, True]
    assert CENTRING_CONDITIONS["F"](hkl).tolist() == [False, False, True, True, False, False, False]
    assert CENTRING_CONDITIONS["C"](hkl).tolist() == [False, True, True, True, False, False, False]
    # rhombohedral obverse: -h + k + l = 3n; 003, 012, 104, 110 are the corundum lines
    r = np.array([[0, 0, 3], [0, 1, 2], [1, 0, 4], [1, 1, 0], [1, 0, 0], [0, 0, 1]])
    assert CENTRING_CONDITIONS["R"](r).tolist() == [True, True, True, True, False, False]


def _monoclinic_params(a, b, c, beta_deg):
    """(a*², b*², c*², 2 a* c* cos β*) of a monoclinic cell, b unique."""
    sin_b, cos_b = np.sin(np.radians(beta_deg)), np.cos(np.radians(beta_deg))
    a_star, c_star = 1 / (a * sin_b), 1 / (c * sin_b)
    return np.array([a_star ** 2, 1 / b ** 2, c_star ** 2, -2 * a_star * c_star * cos_b])


def test_monoclinic_design_cell_and_box_agree_with_pymatgen():
    from pymatgen.core import Lattice

    from xrdnet.indexing.families import ALL_FAMILIES

    fam, lattice = ALL_FAMILIES["monoclinic"], Lattice.monoclinic(5.1, 6.3, 7.4, 103.5)
    p = _monoclinic_params(5.1, 6.3, 7.4, 103.5)
    np.testing.assert_allclose(fam.design(HKL) @ p, _pymatgen_inv_d2(lattice, HKL), rtol=1e-10)
    np.testing.assert_allclose(fam.cell(p), lattice.parameters, rtol=1e-10)
    np.testing.assert_allclose(fam.volume_angstrom3(p[None]), [lattice.volume], rtol=1e-10)
    hkl = fam.hkl_box(p, 0.8)
    r = np.arange(-12, 13)
    grid = np.stack(np.meshgrid(r, r, r, indexing="ij"), -1).reshape(-1, 3)
    brute = fam.design(grid) @ p
    assert 2 * len(hkl) == ((brute <= 0.8) & (brute > 0)).sum()
    # the fast test finds every line whose k and l it loops over (h is solved for, both signs)
    near = hkl[(np.abs(hkl[:, 1]) <= fam.MAX_KL_FAST) & (hkl[:, 2] <= fam.MAX_KL_FAST)]
    np.testing.assert_allclose(fam.deviation(p[None], fam.design(near) @ p)[0], 0, atol=1e-12)
    # the usual setting (β > 90°) is the one kept; β* beyond the limit is no trial cell
    assert fam.plausible(p[None])[0] and not fam.plausible(_monoclinic_params(5.1, 6.3, 7.4, 140.0)[None])[0]
