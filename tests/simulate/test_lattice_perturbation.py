"""Anisotropic lattice perturbation: spglib finds the same space group afterwards, and the moved peaks are
where pymatgen puts the peaks of the perturbed structure."""

from __future__ import annotations

import numpy as np
import pytest
import spglib
import torch
from pymatgen.analysis.diffraction.xrd import XRDCalculator
from pymatgen.core import Lattice, Structure

from xrdnet.simulate import XRDSimulator
from xrdnet.simulate.lattice_perturbation import (ConventionalCells, conventional_transform, peak_d_ratio,
                                                  perturbed_metrics)
from xrdnet.simulate.simulator import as_batch
from xrdnet.symmetry import space_group_to_crystal_system_table


def _primitive(symbol, lattice, species, coords):
    return Structure.from_spacegroup(symbol, lattice, species, coords).get_primitive_structure()


# Stored in primitive (non-conventional) cells where the lattice is centred, so the perturbation must go
# through the conventional cell to keep the symmetry.
STRUCTURES = {
    "I4/mmm (ThCr2Si2 type, primitive cell)": _primitive("I4/mmm", Lattice.tetragonal(3.9, 13.0), ["Ba", "Fe", "As"],
                                                         [[0, 0, 0], [0, 0.5, 0.25], [0, 0, 0.354]]),
    "P6_3mc (wurtzite ZnO)": Structure.from_spacegroup("P6_3mc", Lattice.hexagonal(3.25, 5.21), ["Zn", "O"],
                                                       [[1 / 3, 2 / 3, 0], [1 / 3, 2 / 3, 0.382]]),
    "R-3m (hexagonal axes, primitive cell)": _primitive("R-3m", Lattice.hexagonal(2.9, 14.4), ["Li", "Co", "O"],
                                                        [[0, 0, 0.5], [0, 0, 0], [0, 0, 0.26]]),
    "Cmcm (primitive cell)": _primitive("Cmcm", Lattice.orthorhombic(3.5, 9.8, 4.4), ["Zr", "S"],
                                        [[0, 0.14, 0.25], [0, 0.43, 0.25]]),
    "C2/m (primitive cell)": _primitive("C2/m", Lattice.monoclinic(9.7, 3.8, 5.4, 104.0), ["Cu", "O", "Na"],
                                        [[0.1, 0, 0.2], [0.35, 0, 0.3], [0, 0.5, 0.5]]),
    "P-1": Structure(Lattice.from_parameters(5.1, 6.2, 7.3, 82.0, 95.0, 103.0), ["Si", "O", "O"],
                     [[0.1, 0.2, 0.3], [0.4, 0.1, 0.7], [0.8, 0.6, 0.2]]),
}


def _spglib_cell(structure, lattice=None):
    lattice = structure.lattice.matrix if lattice is None else lattice
    return lattice, structure.frac_coords, [site.specie.Z for site in structure]


def _cells(structures) -> tuple[ConventionalCells, list[int]]:
    transforms, valid, groups = [], [], []
    for s in structures:
        number = spglib.get_symmetry_dataset(_spglib_cell(s), symprec=0.1).number
        t, ok = conventional_transform(s.lattice.matrix, s.frac_coords, [site.specie.Z for site in s], number)
        transforms.append(t), valid.append(ok), groups.append(number)
    system = space_group_to_crystal_system_table()[np.array(groups)]
    return ConventionalCells(torch.tensor(np.array(transforms)), torch.tensor(system, dtype=torch.int64),
                             torch.tensor(valid)), groups


def _draws(n: int, edge: float = 0.04, angle_deg: float = 2.0, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return ((torch.rand(n, 3, generator=g, dtype=torch.float64) * 2 - 1) * edge,
            (torch.rand(n, 3, generator=g, dtype=torch.float64) * 2 - 1) * angle_deg)


def test_perturbed_cells_keep_their_space_group_and_a_naive_one_does_not():
    structures = list(STRUCTURES.values())
    cells, groups = _cells(structures)
    assert bool(cells.valid.all())
    lattice = torch.tensor(np.array([s.lattice.matrix for s in structures]))
    for seed in range(3):
        edge, angle = _draws(len(structures), seed=seed)
        metrics = perturbed_metrics(lattice, cells, edge, angle).numpy()
        for (name, s), g, number in zip(STRUCTURES.items(), metrics, groups):
            moved = np.linalg.cholesky(g)  # rows with moved @ moved.T = g: the same metric
            assert not np.allclose(g, s.lattice.matrix @ s.lattice.matrix.T, atol=1e-3), name
            found = spglib.get_symmetry_dataset(_spglib_cell(s, moved), symprec=0.01).number
            assert found == number, f"{name}: {number} -> {found}"
    # The control: scaling the stored primitive cell's three edges independently breaks I4/mmm.
    s = structures[0]
    naive = s.lattice.matrix * np.array([1.03, 0.98, 1.01])[:, None]
    assert spglib.get_symmetry_dataset(_spglib_cell(s, naive), symprec=0.01).number != groups[0]


@pytest.mark.parametrize("name", list(STRUCTURES))
def test_moved_peaks_are_where_pymatgen_puts_the_perturbed_structures_peaks(name):
    s = STRUCTURES[name]
    sim = XRDSimulator()
    lam = sim._stick_wavelength()
    batch = as_batch([s])
    sticks = sim.sticks(batch, wavelength_angstrom=lam)
    cells, _ = _cells([s])
    edge, angle = _draws(1, seed=7)
    lattice = batch.lattice.to(torch.float64)
    metric = lattice @ lattice.transpose(1, 2)
    new = perturbed_metrics(lattice, cells, edge, angle)
    ratio = peak_d_ratio(sticks.hkl, sticks.mask, sticks.intensity, sticks.peak_index,
                         sticks.peak_two_theta_deg.shape[1], metric, new)[0]
    sin = torch.sin(torch.deg2rad(sticks.peak_two_theta_deg[0] / 2)) / ratio
    ours = torch.rad2deg(2 * torch.asin(sin.clamp(max=1.0))).numpy()
    strong = (sticks.peak_mask[0] & (sticks.peak_intensity[0] > 3.0)).numpy()
    everyone = sticks.peak_mask[0].numpy() & (sin.numpy() < 1)

    moved = Structure(Lattice(np.linalg.cholesky(new[0].numpy())), s.species, s.frac_coords)
    reference = XRDCalculator(wavelength=lam).get_pattern(moved, two_theta_range=(0, 180))
    inside = lambda x: (x > 8) & (x < 87)  # peaks that moved across the grid's ends are not compared
    # intensities change a little with the angle (Lorentz-polarisation): compare strong lines to all lines
    for x in ours[strong & inside(ours)]:
        assert np.abs(reference.x - x).min() < 2e-3, f"{name}: our peak at {x:.4f}° has no pymatgen peak"
    for x in reference.x[(reference.y > 3.0) & inside(reference.x)]:
        assert np.abs(ours[everyone] - x).min() < 2e-3, f"{name}: pymatgen's peak at {x:.4f}° is missing"
    assert np.abs(ratio[sticks.peak_mask[0]].numpy() - 1).max() > 0.005  # it did move (not cubic)
