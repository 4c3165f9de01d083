r"""Anisotropic lattice perturbation that keeps the crystal system: new peak positions from the sticks.

Isostructural compounds, solid solutions, other temperatures and DFT cells differ from the stored cell
not only in scale (``ProfileConfig.lattice_strain``) but in shape: the c/a ratio of a tetragonal or
hexagonal cell, the three edges of an orthorhombic one, β of a monoclinic one. A network that has seen
each structure only at its own axial ratios learns the ratios by heart; perturbing each *free*
parameter of the crystal system independently teaches it the system instead, and never changes the
label, since the perturbed metric keeps the lattice's symmetry.

Physics. A reflection hkl (indices in the cell the structure is stored in, row lattice ``L``, metric
``G = L Lᵀ``) has ``1/d² = hᵀ G⁻¹ h``. The free parameters are those of the *conventional* cell of
the crystal system (spglib's standard setting: unique axis b for monoclinic, hexagonal axes for
trigonal), ``L_c = T L`` with ``T`` the stored cell -> conventional transformation (``T = P⁻ᵀ`` for
spglib's ``transformation_matrix`` P), so ``G_c = T G Tᵀ``. Per pattern each free parameter is
changed:

| crystal system | changed independently |
|---|---|
| triclinic | a, b, c, α, β, γ |
| monoclinic | a, b, c and the one angle ≠ 90° |
| orthorhombic | a, b, c |
| tetragonal, trigonal, hexagonal | a (= b) and c |
| cubic | nothing (a scale is ``lattice_strain``'s job) |

then ``G' = T⁻¹ G_c' T⁻ᵀ`` and every reflection moves to ``d' = d · sqrt((hᵀG⁻¹h) / (hᵀG'⁻¹h))``.
Symmetry-equivalent reflections keep equal d; reflections that only coincided by accident (merged into
one pymatgen peak) may part in reality, and here the merged peak moves by their intensity-weighted
mean ratio: a rare, small error in exchange for rendering peaks, not reflections. Intensities stay as
they are (the structure factors change little for a few per cent of strain). A structure whose
conventional cell is unknown (``valid`` false: spglib disagreed with the label) is left unperturbed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from xrdnet.symmetry import CRYSTAL_SYSTEMS

RIGHT_ANGLE_TOLERANCE_DEG = 1e-3  # a conventional angle this close to 90° is fixed by symmetry
SPGLIB_SYMPREC = 0.1  # the tolerance the labels were made with (configs/real.yaml: symprec)

_SYSTEM = {name: i for i, name in enumerate(CRYSTAL_SYSTEMS)}
# which of (a, b, c) share one factor, per crystal system code: group index per edge
_EDGE_GROUPS = {
    _SYSTEM["triclinic"]: (0, 1, 2), _SYSTEM["monoclinic"]: (0, 1, 2), _SYSTEM["orthorhombic"]: (0, 1, 2),
    _SYSTEM["tetragonal"]: (0, 0, 2), _SYSTEM["trigonal"]: (0, 0, 2), _SYSTEM["hexagonal"]: (0, 0, 2),
}


@dataclass
class ConventionalCells:
    """What the perturbation needs of B structures: ``to_conventional [B, 3, 3]`` float64 (``T``, rows
    of the conventional vectors in the stored cell's basis), ``crystal_system [B]`` int64 (codes of
    ``xrdnet.symmetry.CRYSTAL_SYSTEMS``), ``valid [B]`` bool."""

    to_conventional: torch.Tensor
    crystal_system: torch.Tensor
    valid: torch.Tensor


def conventional_transform(lattice: np.ndarray, frac_coords: np.ndarray, numbers: np.ndarray,
                           space_group: int, symprec: float = SPGLIB_SYMPREC) -> tuple[np.ndarray, bool]:
    """``(T [3, 3], valid)`` of one structure: ``T @ lattice`` is its conventional cell (spglib).

    ``valid`` is false (and T the identity) when spglib finds no symmetry or another space group
    than the label: the perturbation then leaves the structure alone rather than guess its axes.
    """
    import spglib

    dataset = spglib.get_symmetry_dataset((np.asarray(lattice, float), np.asarray(frac_coords, float),
                                           np.asarray(numbers, int)), symprec=symprec)
    if dataset is None or int(dataset.number) != int(space_group):
        return np.eye(3), False
    return np.linalg.inv(np.asarray(dataset.transformation_matrix, float)).T, True


def _parameters(metric: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Edges ``[..., 3]`` (Å) and angles ``[..., 3]`` (α, β, γ in degrees) of metrics ``[..., 3, 3]``."""
    edges = torch.sqrt(torch.diagonal(metric, dim1=-2, dim2=-1))
    pairs = ((1, 2), (0, 2), (0, 1))
    cos = torch.stack([metric[..., i, j] / (edges[..., i] * edges[..., j]) for i, j in pairs], dim=-1)
    return edges, torch.rad2deg(torch.acos(cos.clamp(-1.0, 1.0)))


def _metric(edges: torch.Tensor, angles_deg: torch.Tensor) -> torch.Tensor:
    """Metric ``[..., 3, 3]`` from edges and angles (the inverse of ``_parameters``)."""
    cos = torch.cos(torch.deg2rad(angles_deg))  # [..., 3] cos α, cos β, cos γ
    ones = torch.ones_like(cos[..., 0])
    m = torch.stack([torch.stack([ones, cos[..., 2], cos[..., 1]], -1),
                     torch.stack([cos[..., 2], ones, cos[..., 0]], -1),
                     torch.stack([cos[..., 1], cos[..., 0], ones], -1)], -2)
    return m * edges[..., :, None] * edges[..., None, :]


def perturbed_metrics(lattice: torch.Tensor, cells: ConventionalCells, edge_change: torch.Tensor,
                      angle_change_deg: torch.Tensor) -> torch.Tensor:
    """Metrics ``[B, 3, 3]`` (stored-cell basis) of the perturbed lattices.

    Args:
        lattice: ``[B, 3, 3]`` Å, rows a, b, c of the stored cells.
        edge_change: ``[B, 3]`` relative change of the conventional a, b, c (only the free ones are
            used: a tetragonal cell takes column 0 for a and b, column 2 for c).
        angle_change_deg: ``[B, 3]`` change of α, β, γ (used where the system leaves the angle free).
    """
    lattice = lattice.to(torch.float64)
    t = cells.to_conventional.to(lattice)
    g = lattice @ lattice.transpose(1, 2)
    edges, angles = _parameters(t @ g @ t.transpose(1, 2))
    system = cells.crystal_system
    groups = torch.tensor([_EDGE_GROUPS.get(s, (0, 0, 0)) for s in range(len(CRYSTAL_SYSTEMS))],
                          device=system.device)[system]  # [B, 3]
    factor = 1.0 + torch.gather(edge_change.to(lattice), 1, groups)
    free_edges = cells.valid & (system != _SYSTEM["cubic"])
    edges = torch.where(free_edges[:, None], edges * factor, edges)
    free_angle = ((system == _SYSTEM["triclinic"])[:, None]
                  | ((system == _SYSTEM["monoclinic"])[:, None] & ((angles - 90.0).abs() > RIGHT_ANGLE_TOLERANCE_DEG)))
    free_angle = free_angle & cells.valid[:, None]
    angles = torch.where(free_angle, angles + angle_change_deg.to(lattice), angles)
    t_inv = torch.linalg.inv(t)
    return t_inv @ _metric(edges, angles) @ t_inv.transpose(1, 2)


def peak_d_ratio(hkl: torch.Tensor, reflection_mask: torch.Tensor, reflection_intensity: torch.Tensor,
                 peak_index: torch.Tensor, n_peaks: int, metric: torch.Tensor,
                 perturbed: torch.Tensor) -> torch.Tensor:
    """``[B, M]`` float64 ratio d'/d of every merged peak (1 where a peak has no reflection).

    Args:
        hkl: ``[B, H, 3]`` reflections; reflection_mask, reflection_intensity ``[B, H]``;
            peak_index ``[B, H]`` the merged peak of each reflection (-1 for padding).
        metric, perturbed: ``[B, 3, 3]`` metrics of the stored and the perturbed cell.
    """
    h = hkl.to(torch.float64)
    q2 = torch.einsum("bhi,bij,bhj->bh", h, torch.linalg.inv(metric), h)
    q2p = torch.einsum("bhi,bij,bhj->bh", h, torch.linalg.inv(perturbed), h)
    ratio = torch.sqrt(torch.where(reflection_mask, q2 / q2p.clamp(min=1e-30), 1.0))
    weight = torch.where(reflection_mask, reflection_intensity.to(torch.float64).clamp(min=1e-12), 0.0)
    index = peak_index.clamp(min=0)
    total = torch.zeros(h.shape[0], n_peaks, dtype=torch.float64, device=h.device)
    weighted = torch.zeros_like(total)
    total.scatter_add_(1, index, weight)
    weighted.scatter_add_(1, index, weight * ratio)
    return torch.where(total > 0, weighted / total.clamp(min=1e-300), 1.0)


def conventional_cells_of(records, progress: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(to_conventional [S, 3, 3] float64, valid [S] bool, crystal_system [S] int8)`` of ``records``
    (``xrdnet.data.records.StructureRecords``); spglib on each structure, a few ms each.

    A disordered site (several species sharing ``site_index``) counts as its most occupied species, as
    a symmetry search needs one species per site.
    """
    from tqdm.auto import tqdm

    from xrdnet.symmetry import space_group_to_crystal_system_table

    n = len(records.site_start)
    transform = np.tile(np.eye(3), (n, 1, 1))
    valid = np.zeros(n, bool)
    for i in tqdm(range(n), desc="conventional cells", unit="struct", disable=not progress):
        start, count = int(records.site_start[i]), int(records.site_count[i])
        site = records.site_index[start:start + count]
        order = np.lexsort((-records.occupancy[start:start + count], site))  # by site, most occupied first
        first = order[np.r_[True, site[order][1:] != site[order][:-1]]]
        transform[i], valid[i] = conventional_transform(
            records.lattice[i], records.frac_coords[start:start + count][first],
            records.atomic_number[start:start + count][first], int(records.space_group[i]))
    system = space_group_to_crystal_system_table()[np.asarray(records.space_group, np.int64)].astype(np.int8)
    return transform, valid, system
