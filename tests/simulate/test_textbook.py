"""Exact textbook checks: Bragg positions, extinction rules and intensity ratios from first principles."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from xrdnet.simulate import XRDSimulator
from xrdnet.simulate.scattering import form_factor

from ..conftest import cubic

CU_KA = 1.54184


def two_theta_of_d(d: float, lam: float = CU_KA) -> float:
    return math.degrees(2 * math.asin(lam / (2 * d)))


def cubic_lines(a: float, allowed, tt_max: float = 90.0):
    """2θ of every allowed cubic reflection family (by h²+k²+l²) below tt_max."""
    lines = {}
    for h, k, l in itertools.product(range(0, 12), repeat=3):
        n = h * h + k * k + l * l
        if n == 0 or not allowed(h, k, l):
            continue
        d = a / math.sqrt(n)
        if CU_KA / (2 * d) < 1 and two_theta_of_d(d) <= tt_max:
            lines[n] = two_theta_of_d(d)
    return np.array(sorted(lines.values()))


def same(h, k, l):
    return len({h % 2, k % 2, l % 2}) == 1


@pytest.mark.parametrize(
    "structure, allowed",
    [
        (cubic("Fm-3m", 3.615, ["Cu"], [[0, 0, 0]]), same),  # fcc: h, k, l unmixed
        (cubic("Im-3m", 2.8665, ["Fe"], [[0, 0, 0]]), lambda h, k, l: (h + k + l) % 2 == 0),  # bcc
        (cubic("Fm-3m", 5.640, ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]), same),  # rock salt
        (cubic("Pm-3m", 4.123, ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]), lambda h, k, l: True),  # CsCl
        (cubic("Fd-3m", 5.431, ["Si"], [[0, 0, 0]]),  # diamond: fcc and not (all even with h+k+l = 4n+2)
         lambda h, k, l: same(h, k, l) and not (h % 2 == 0 and (h + k + l) % 4 == 2)),
    ],
    ids=["fcc-Cu", "bcc-Fe", "rocksalt-NaCl", "CsCl", "diamond-Si"],
)
def test_cubic_positions_and_extinctions(structure, allowed):
    peaks = XRDSimulator(two_theta_range=(5, 90)).peaks([structure])[0]
    expected = cubic_lines(structure.lattice.a, allowed)
    assert len(peaks) == len(expected)
    np.testing.assert_allclose(peaks.two_theta_deg, expected, atol=1e-9)


def test_rock_salt_intensity_ratio_from_form_factors():
    """I(111)/I(200) = m·|f_Na - f_Cl|²·LP / m·|f_Na + f_Cl|²·LP, with multiplicities 8 and 6."""
    import torch

    a = 5.640
    nacl = cubic("Fm-3m", a, ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    peaks = XRDSimulator().peaks([nacl])[0]

    def expected(n, mult, sign):
        d = a / math.sqrt(n)
        s2 = torch.tensor((1 / (2 * d)) ** 2, dtype=torch.float64)
        f_na, f_cl = (float(form_factor(torch.tensor(z), s2)) for z in (11, 17))
        theta = math.asin(CU_KA / (2 * d))
        lp = (1 + math.cos(2 * theta) ** 2) / (math.sin(theta) ** 2 * math.cos(theta))
        return mult * 16 * (f_na + sign * f_cl) ** 2 * lp, two_theta_of_d(d)

    i111, tt111 = expected(3, 8, -1)
    i200, tt200 = expected(4, 6, +1)
    got111 = peaks.intensity[np.argmin(np.abs(peaks.two_theta_deg - tt111))]
    got200 = peaks.intensity[np.argmin(np.abs(peaks.two_theta_deg - tt200))]
    assert got200 == pytest.approx(100.0)  # (200) is the strongest line of NaCl
    assert got111 / got200 == pytest.approx(i111 / i200, rel=1e-6)


def test_hcp_positions_and_001_extinction():
    a, c = 3.209, 5.211
    mg = Structure.from_spacegroup("P6_3/mmc", Lattice.hexagonal(a, c), ["Mg"], [[1 / 3, 2 / 3, 0.25]])
    peaks = XRDSimulator().peaks([mg])[0]

    def tt(h, k, l):
        return two_theta_of_d(1 / math.sqrt(4 / 3 * (h * h + h * k + k * k) / a**2 + l * l / c**2))

    found = lambda t: np.min(np.abs(peaks.two_theta_deg - t)) < 1e-6  # noqa: E731
    for hkl in [(1, 0, 0), (0, 0, 2), (1, 0, 1), (1, 0, 2), (1, 1, 0), (1, 0, 3), (1, 1, 2), (2, 0, 1)]:
        assert found(tt(*hkl)), hkl
    # hcp: reflections with l odd and h - k = 3n vanish, so (001) and (003) are absent
    assert not found(tt(0, 0, 1)) and not found(tt(0, 0, 3))


def test_oblique_cell_gives_the_same_pattern():
    """The same crystal in a badly skewed cell: an index-space sphere would miss reflections here."""
    nacl = cubic("Fm-3m", 5.640, ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    primitive = nacl.get_primitive_structure()
    skewed = primitive.copy()
    skewed.make_supercell([[1, 3, 0], [0, 1, 0], [2, 0, 1]])  # unimodular: same lattice, oblique basis
    assert len(skewed) == len(primitive)
    a, b = XRDSimulator().peaks([nacl, skewed])
    np.testing.assert_allclose(a.two_theta_deg, b.two_theta_deg, atol=1e-8)
    np.testing.assert_allclose(a.intensity, b.intensity, atol=1e-3)


def test_thousand_atom_supercell_equals_unit_cell():
    """5x5x5 NaCl (1000 atoms): superlattice reflections cancel, the rest equals the unit cell."""
    nacl = cubic("Fm-3m", 5.640, ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    big = nacl * (5, 5, 5)
    assert len(big) == 1000
    unit, sup = XRDSimulator(max_entries=1 << 22).peaks([nacl, big])
    np.testing.assert_allclose(sup.two_theta_deg, unit.two_theta_deg, atol=1e-8)
    np.testing.assert_allclose(sup.intensity, unit.intensity, atol=1e-3)


def test_unknown_element_and_bad_arguments_raise_clearly(nacl):
    with pytest.raises(ValueError, match="unknown wavelength"):
        XRDSimulator("CuKz")
    with pytest.raises(ValueError, match="two_theta_range"):
        XRDSimulator(two_theta_range=(90, 5))
    from pymatgen.core import DummySpecies

    odd = Structure(Lattice.cubic(4), [DummySpecies("X")], [[0, 0, 0]])
    with pytest.raises(ValueError):
        XRDSimulator().peaks([odd])
