"""The indexer against pymatgen's sticks of textbook structures: the true cell, family and centring."""

from __future__ import annotations

import numpy as np
import pytest

from xrdnet.indexing import FAMILIES, IndexingConfig, drop_kalpha2_lines, index_peaks

CU_KA1 = 1.54056
CU_KA2 = 1.54439


def sticks(structure, two_theta_range=(10, 80), min_percent=1.0):
    """pymatgen's Cu Kα1 sticks ``(two_theta_deg [P], intensity [P])`` above ``min_percent``."""
    from pymatgen.analysis.diffraction.xrd import XRDCalculator

    pattern = XRDCalculator("CuKa1").get_pattern(structure, two_theta_range=two_theta_range)
    keep = pattern.y >= min_percent
    return pattern.x[keep], pattern.y[keep]


def structure(spacegroup, lattice, species, coords):
    from pymatgen.core import Lattice, Structure

    return Structure.from_spacegroup(spacegroup, lattice, species, coords)


def _lattice(kind, *abc):
    from pymatgen.core import Lattice

    return getattr(Lattice, kind)(*abc)


CASES = {
    # name: (structure, family, centring, crystal system, true (a, b, c))
    "NaCl": (lambda: structure("Fm-3m", _lattice("cubic", 5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
             "cubic", "F", "cubic", (5.64, 5.64, 5.64)),
    "LaB6": (lambda: structure("Pm-3m", _lattice("cubic", 4.157), ["La", "B"], [[0, 0, 0], [0.1975, 0.5, 0.5]]),
             "cubic", "P", "cubic", (4.157, 4.157, 4.157)),
    "rutile": (lambda: structure("P4_2/mnm", _lattice("tetragonal", 4.594, 2.959), ["Ti", "O"],
                                 [[0, 0, 0], [0.3048, 0.3048, 0]]),
               "tetragonal", "P", "tetragonal", (4.594, 4.594, 2.959)),
    "anatase": (lambda: structure("I4_1/amd", _lattice("tetragonal", 3.785, 9.514), ["Ti", "O"],
                                  [[0, 0.75, 0.125], [0, 0.75, 0.3333]]),
                "tetragonal", "I", "tetragonal", (3.785, 3.785, 9.514)),
    "ZnO": (lambda: structure("P6_3mc", _lattice("hexagonal", 3.250, 5.207), ["Zn", "O"],
                              [[1 / 3, 2 / 3, 0], [1 / 3, 2 / 3, 0.382]]),
            "hexagonal", "P", "hexagonal", (3.250, 3.250, 5.207)),
    "corundum": (lambda: structure("R-3c", _lattice("hexagonal", 4.759, 12.991), ["Al", "O"],
                                   [[0, 0, 0.35216], [0.30624, 0, 0.25]]),
                 "hexagonal", "R", "trigonal", (4.759, 4.759, 12.991)),
    "orthorhombic P": (lambda: structure("Pmmm", _lattice("orthorhombic", 3.52, 4.71, 5.93), ["Ca", "O", "S"],
                                         [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0, 0.5]]),
                       "orthorhombic", "P", "orthorhombic", (3.52, 4.71, 5.93)),
    "orthorhombic C": (lambda: structure("Cmmm", _lattice("orthorhombic", 5.12, 7.34, 3.61), ["Ca", "O"],
                                         [[0, 0, 0], [0, 0.5, 0.5]]),
                       "orthorhombic", "C", "orthorhombic", (5.12, 7.34, 3.61)),
}


def _axes_match(cell, truth, family, rel=0.005):
    # orthorhombic cells come in the standard setting: a < b < c, or the centred face ab (C)
    return np.allclose([cell.a, cell.b, cell.c], truth, rtol=rel)


@pytest.mark.parametrize("name", list(CASES))
def test_true_cell_family_and_centring_of_textbook_structures(name):
    make, family, centring, system, abc = CASES[name]
    tt, inten = sticks(make())
    result = index_peaks(tt, inten, CU_KA1)
    cell = result.cells[family]
    assert cell is not None
    assert _axes_match(cell, abc, family), (cell.a, cell.b, cell.c)
    assert cell.centring == centring
    assert cell.indexed_fraction == 1.0
    assert cell.figure_of_merit > 20  # exact sticks: de Wolff's "right cell" mark by far
    assert result.best is not None and result.best.family == family
    assert result.best.crystal_system == system
    # every line's hkl gives its position through pymatgen's metric of the reported cell
    from pymatgen.core import Lattice

    lattice = Lattice.from_parameters(cell.a, cell.b, cell.c, cell.alpha, cell.beta, cell.gamma)
    assert len(cell.hkl) == cell.n_lines and all(h is not None for h in cell.hkl)
    d = np.array([lattice.d_hkl(h) for h in cell.hkl])
    two_theta = np.sort(tt)[: cell.n_lines]
    np.testing.assert_allclose(2 * np.rad2deg(np.arcsin(CU_KA1 / (2 * d))), two_theta, atol=0.01)


@pytest.mark.parametrize("shift_deg", [-0.2, 0.15])
def test_zero_shift_is_recovered(shift_deg):
    make, family, _, _, abc = CASES["rutile"]
    tt, inten = sticks(make())
    cell = index_peaks(tt + shift_deg, inten, CU_KA1).cells[family]
    assert cell is not None and _axes_match(cell, abc, family, rel=0.002)
    assert cell.zero_shift_deg == pytest.approx(shift_deg, abs=0.01)


def test_noise_and_an_impurity_line_keep_the_cell():
    make, family, _, _, abc = CASES["ZnO"]
    tt, inten = sticks(make())
    rng = np.random.default_rng(0)
    tt = np.concatenate([tt + rng.normal(0, 0.01, len(tt)), [29.37]])  # a calcite-like stray line
    inten = np.concatenate([inten, [30.0]])
    result = index_peaks(tt, inten, CU_KA1)
    cell = result.cells[family]
    assert _axes_match(cell, abc, family, rel=0.003)
    assert cell.indexed_fraction == pytest.approx((len(tt) - 1) / len(tt))
    assert cell.hkl[int(np.searchsorted(np.sort(tt), 29.37))] is None
    assert result.best.family == "hexagonal"


def test_kalpha2_partners_are_dropped_and_real_lines_kept():
    make = CASES["NaCl"][0]
    tt, inten = sticks(make())
    theta2 = np.arcsin(np.sin(np.deg2rad(tt) / 2) * CU_KA2 / CU_KA1)
    both_tt = np.concatenate([tt, 2 * np.rad2deg(theta2)])
    both_i = np.concatenate([inten, inten / 2])
    kept_tt, kept_i = drop_kalpha2_lines(both_tt, both_i, CU_KA1, CU_KA2)
    np.testing.assert_allclose(np.sort(kept_tt), np.sort(tt))
    assert len(kept_i) == len(tt)


def test_too_few_lines_index_nothing():
    result = index_peaks([20.0, 30.0, 40.0], [100, 50, 20], CU_KA1)
    assert result.best is None and all(cell is None for cell in result.cells.values())


def test_only_the_asked_families_are_tried_and_unknown_ones_refused():
    tt, inten = sticks(CASES["NaCl"][0]())
    result = index_peaks(tt, inten, CU_KA1, families=["cubic"])
    assert list(result.cells) == ["cubic"]
    with pytest.raises(ValueError, match="unknown lattice families"):
        index_peaks(tt, inten, CU_KA1, families=["triclinic"])


@pytest.mark.parametrize("kwargs", [{"n_lines": 3}, {"line_selection": "loudest"}, {"tolerance_two_theta_deg": 0},
                                    {"n_seed_lines": (4, 6, 5)}, {"n_seed_lines": (4, 6, 5, 3)}])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        IndexingConfig(**kwargs)


def test_result_serialises_without_private_fields():
    tt, inten = sticks(CASES["LaB6"][0]())
    d = index_peaks(tt, inten, CU_KA1).to_dict()
    assert set(d) == {"best", "cells"} and set(d["cells"]) == set(FAMILIES)
    assert {"family", "centring", "a", "b", "c", "alpha", "beta", "gamma", "figure_of_merit",
            "indexed_fraction", "zero_shift_deg"} <= set(d["best"])
    assert "hkl" not in d["best"] and "score" not in d["best"]


def test_monoclinic_cell_of_a_pymatgen_structure_is_found_on_request():
    # not a default family (it cannot tell monoclinic from triclinic measured scans); asked for by name
    from pymatgen.core import Lattice

    truth = Lattice.monoclinic(5.21, 6.43, 7.37, 104.2)
    tt, inten = sticks(structure("P2_1/c", truth, ["Si", "O", "Mg"],
                                 [[0.11, 0.23, 0.31], [0.32, 0.13, 0.41], [0.27, 0.61, 0.07]]))
    assert "monoclinic" not in FAMILIES
    result = index_peaks(tt + 0.03, inten, CU_KA1, families=["orthorhombic", "monoclinic"])
    cell = result.cells["monoclinic"]
    assert cell is not None and cell.indexed_fraction == 1.0 and cell.figure_of_merit > 20
    found = Lattice.from_parameters(cell.a, cell.b, cell.c, cell.alpha, cell.beta, cell.gamma)
    assert found.find_mapping(truth, ltol=0.01, atol=0.5) is not None  # the same lattice, in some setting
    assert abs(cell.zero_shift_deg - 0.03) < 0.01
    assert result.best is cell  # the orthorhombic search does not explain the lines as well
