r"""Reciprocal-lattice points inside the diffraction shell, enumerated for a whole batch at once.

For a cell with lattice rows a_i, the reciprocal (crystallographic, no 2π) lattice has rows b_i with
a_i · b_j = δ_ij, and the point h = (h, k, l) has |g_h|² = hᵀ G* h with G* = B Bᵀ the reciprocal
metric. Bragg's law reads |g| = 1/d = 2 sin θ / λ, so the reflections between 2θ_min and 2θ_max
are exactly the points with g_min ≤ |g| ≤ g_max.

Which h to try: since h_i = g · a_i, |h_i| ≤ |g| |a_i| ≤ g_max |a_i|, so the box
|h_i| ≤ ceil(g_max |a_i|) contains every point of the sphere for any cell, however oblique (a
sphere in index space does not). We enumerate that box and filter on g².

Friedel's law: scattering factors are real (no anomalous dispersion), so I(-h) = I(h). We keep one
half-space (h > 0, or h = 0 and k > 0, or h = k = 0 and l > 0), the same as pymatgen, and double
intensities. This halves the work and drops (000).

The batch is ragged (each cell has its own box), so the boxes are laid end to end in one flat index
and decoded with integer arithmetic: no Python loop over structures and no padding to the largest
box. Geometry stays float64: float32 g splits symmetry-equivalent reflections, which then fail to
merge at the 1e-5° key.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Reflections:
    """Half-space reflections of B structures, padded to H (the most in any structure).

    Attributes:
        hkl: ``[B, H, 3]`` int64 Miller indices (0 on padding).
        g_inv_angstrom: ``[B, H]`` float64 |g| = 1/d in Å⁻¹ (0 on padding).
        mask: ``[B, H]`` bool, True on real reflections.
        hexagonal: ``[B]`` bool, cells pymatgen's ``Lattice.is_hexagonal()`` accepts (its XRD labels
            then group reflections by the four Miller-Bravais indices); None = none of them.
    """

    hkl: torch.Tensor
    g_inv_angstrom: torch.Tensor
    mask: torch.Tensor
    hexagonal: torch.Tensor | None = None


def is_hexagonal(lattice: torch.Tensor, angle_tol_deg: float = 5.0, length_tol: float = 0.01) -> torch.Tensor:
    """``[B]`` bool: pymatgen's ``Lattice.is_hexagonal(hex_angle_tol=5, hex_length_tol=0.01)`` for each cell.

    Two angles within ``angle_tol_deg`` of 90°, one within it of 60° or 120°, and the lengths at the
    two right angles' positions equal within ``length_tol`` Å (pymatgen compares those two).
    """
    lattice = lattice.to(torch.float64)
    lengths = torch.linalg.norm(lattice, dim=-1)  # [B, 3] a, b, c
    pairs = ((1, 2), (0, 2), (0, 1))  # alpha = angle(b, c), beta = angle(a, c), gamma = angle(a, b)
    angles = torch.stack(
        [
            torch.rad2deg(torch.arccos(torch.clamp(
                (lattice[:, i] * lattice[:, j]).sum(-1) / (lengths[:, i] * lengths[:, j]), -1.0, 1.0)))
            for i, j in pairs
        ],
        dim=-1,
    )  # [B, 3]
    right = (angles - 90.0).abs() <= angle_tol_deg
    hexa = ((angles - 60.0).abs() <= angle_tol_deg) | ((angles - 120.0).abs() <= angle_tol_deg)
    # With exactly two right angles, the odd one out is the index that is not right.
    odd = torch.argmin(right.to(torch.int64), dim=-1)  # [B]
    first = torch.where(odd == 0, 1, 0)
    second = torch.where(odd == 2, 1, 2)
    gap = (lengths.gather(1, first[:, None]) - lengths.gather(1, second[:, None])).abs()[:, 0]
    return (right.sum(-1) == 2) & (hexa.sum(-1) == 1) & (gap <= length_tol)


def reciprocal_lattice(lattice: torch.Tensor) -> torch.Tensor:
    """Crystallographic reciprocal lattice (rows b_i, a_i·b_j = δ_ij) of ``lattice [B, 3, 3]`` -> ``[B, 3, 3]``."""
    return torch.linalg.inv(lattice).transpose(-1, -2)


def g_limits(two_theta_range_deg: tuple[float, float], wavelength_angstrom: float) -> tuple[float, float]:
    """|g| bounds (Å⁻¹) of the 2θ window: g = 2 sin(θ)/λ."""
    import math

    lo, hi = two_theta_range_deg
    if not 0.0 <= lo < hi <= 180.0:
        raise ValueError(f"two_theta_range must satisfy 0 <= min < max <= 180, got {two_theta_range_deg}")
    return (
        2.0 * math.sin(math.radians(lo / 2.0)) / wavelength_angstrom,
        2.0 * math.sin(math.radians(hi / 2.0)) / wavelength_angstrom,
    )


def index_bounds(lattice: torch.Tensor, g_max: float) -> torch.Tensor:
    """``[B, 3]`` int64 box half-widths ceil(g_max |a_i|) that contain every reflection with |g| ≤ g_max."""
    return torch.ceil(g_max * torch.linalg.norm(lattice, dim=-1) - 1e-12).clamp(min=0).to(torch.int64)


def box_sizes(bounds: torch.Tensor) -> torch.Tensor:
    """``[B]`` int64 number of half-box points (h ≥ 0) enumerated for each structure."""
    return (bounds[:, 0] + 1) * (2 * bounds[:, 1] + 1) * (2 * bounds[:, 2] + 1)


def enumerate_reflections(lattice: torch.Tensor, g_min: float, g_max: float) -> Reflections:
    """All half-space reflections with g_min ≤ |g| ≤ g_max for each cell of ``lattice [B, 3, 3]`` (Å).

    Memory is proportional to the summed half-box sizes; callers chunk structures to bound it
    (see ``box_sizes``).
    """
    lattice = lattice.to(torch.float64)
    device = lattice.device
    batch = lattice.shape[0]
    recip = reciprocal_lattice(lattice)
    metric = recip @ recip.transpose(-1, -2)  # [B, 3, 3] G*
    bounds = index_bounds(lattice, g_max)  # [B, 3]
    sizes = box_sizes(bounds)  # [B]
    total = int(sizes.sum().item())
    owner = torch.repeat_interleave(torch.arange(batch, device=device), sizes)  # [T]
    offsets = torch.cumsum(sizes, 0) - sizes
    local = torch.arange(total, device=device) - offsets[owner]  # [T]
    hb, kb, lb = bounds[owner].unbind(-1)
    n_l, n_k = 2 * lb + 1, 2 * kb + 1
    l_idx = local % n_l - lb
    rest = local // n_l
    k_idx = rest % n_k - kb
    h_idx = rest // n_k
    half = (h_idx > 0) | ((h_idx == 0) & (k_idx > 0)) | ((h_idx == 0) & (k_idx == 0) & (l_idx > 0))
    hkl = torch.stack([h_idx, k_idx, l_idx], dim=-1)  # [T, 3]
    hkl_f = hkl.to(torch.float64)
    g2 = torch.einsum("ti,tij,tj->t", hkl_f, metric[owner], hkl_f)  # [T]
    keep = half & (g2 <= g_max * g_max) & (g2 >= g_min * g_min)
    owner, hkl, g2 = owner[keep], hkl[keep], g2[keep]

    # Scatter the kept points (still grouped by owner, in box order) into padded [B, H] rows.
    counts = torch.bincount(owner, minlength=batch)
    n_h = max(int(counts.max().item()) if counts.numel() else 0, 1)
    start = torch.cumsum(counts, 0) - counts
    pos = torch.arange(owner.numel(), device=device) - start[owner]
    out_hkl = torch.zeros(batch, n_h, 3, dtype=torch.int64, device=device)
    out_g = torch.zeros(batch, n_h, dtype=torch.float64, device=device)
    out_mask = torch.zeros(batch, n_h, dtype=torch.bool, device=device)
    out_hkl[owner, pos] = hkl
    out_g[owner, pos] = torch.sqrt(g2)
    out_mask[owner, pos] = True
    return Reflections(out_hkl, out_g, out_mask, is_hexagonal(lattice))
