r"""Stick patterns (peak positions and intensities), the same physics as pymatgen's ``XRDCalculator``.

For every half-space reflection h of a structure with slots j (one per (site, species), occupancy
o_j, fractional position x_j, isotropic B_j):

    s = sin θ / λ = |g| / 2
    f_j(s) = Z_j - 41.78214 s² Σ_i a_i exp(-b_i s²)                 (pymatgen's fit)
    F(h)   = Σ_j o_j f_j(s) exp(-B_j s²) exp(2πi h·x_j)
    I(h)   = 2 |F(h)|² (1 + cos² 2θ) / (sin² θ cos θ)               (Friedel pair, Lorentz-polarisation)

Reflections whose 2θ round to the same multiple of 1e-5° are summed into one peak (pymatgen's
``TWO_THETA_TOL``), peaks at or below 1e-5 of the strongest are dropped (``SCALED_INTENSITY_TOL``)
and the rest are scaled so the strongest is 100.

Labels are the ones pymatgen prints: a peak's reflections, in pymatgen's order (|g|, then -h, -k,
-l), each followed by its Friedel mate -h, are grouped into families of permuted absolute indices
(``get_unique_families``; four Miller-Bravais indices h, k, i = -h-k, l on cells pymatgen calls
hexagonal), each named by its largest member in tuple order. ``PeakList.hkl`` is the name of the
first family (NaCl: (1 1 1), (2 2 0)); ``PeakList.families()`` gives all of them with multiplicities.
On hexagonal cells the label is (h, k, l) of pymatgen's (h, k, i, l).

Batched form: slots sharing (Z, B) within a structure are grouped into "species slots" S, so the
form factors are evaluated on ``[B, H, S]`` (S is a handful) and the phase sums become one batched
matrix product ``[B, H, N] @ [B, N, S]``. h·x is reduced modulo 1 in float64 before the 2π
multiplication, so the float32 trigonometry sees angles in [0, 2π) at full relative precision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from xrdnet.simulate.reflections import Reflections
from xrdnet.simulate.scattering import form_factor

TWO_THETA_TOL_DEG = 1e-5
# |F|² below this fraction of its bound (Σ_j o_j |f_j|)² is a systematic extinction whose float
# round-off (≈1e-14 of the bound in float32) would otherwise be rescaled into fake peaks when a 2θ
# window holds nothing else.
EXTINCTION_TOL = 1e-10
SCALED_INTENSITY_TOL = 1e-3  # on the 0..100 scale, i.e. 1e-5 of the strongest peak
CPU_BLOCK_ENTRIES = 1 << 18  # ~1 MB float32 blocks: L2-sized on current CPUs
_KEY_STRIDE = 1 << 25  # > 180 / 1e-5, so (structure, 2θ key) pairs never collide


@dataclass
class PeakList:
    """One structure's merged stick pattern (numpy arrays, ascending 2θ).

    Attributes:
        two_theta_deg: ``[M]`` peak positions.
        intensity: ``[M]`` intensities, strongest = 100.
        d_angstrom: ``[M]`` d-spacings.
        hkl: ``[M, 3]`` the Miller index pymatgen labels each peak with (its first family).
        reflection_hkl, reflection_peak: ``[R, 3]`` and ``[R]``, the half-space reflections of the
            kept peaks and the peak each belongs to (for ``families``; None when not kept).
        hexagonal: whether families use the four Miller-Bravais indices (pymatgen's hexagonal test).
    """

    two_theta_deg: np.ndarray
    intensity: np.ndarray
    d_angstrom: np.ndarray
    hkl: np.ndarray
    reflection_hkl: np.ndarray | None = None
    reflection_peak: np.ndarray | None = None
    hexagonal: bool = False

    def __len__(self) -> int:
        return len(self.two_theta_deg)

    def families(self) -> list[dict[tuple[int, int, int], int]]:
        """Per peak, pymatgen's ``get_unique_families`` of its reflections: ``{(h, k, l): multiplicity}``.

        The first family is the one named by ``hkl``; multiplicities count the Friedel mates, as
        pymatgen does. Hexagonal labels are (h, k, l) of pymatgen's (h, k, i, l).
        """
        if self.reflection_hkl is None or self.reflection_peak is None:
            raise ValueError("this PeakList holds no reflections (made without Sticks.to_peak_lists)")
        out: list[dict[tuple[int, int, int], int]] = []
        for m in range(len(self)):
            members = self.reflection_hkl[self.reflection_peak == m]
            groups: dict[tuple, list[tuple[int, int, int]]] = {}
            for h, k, l in members.tolist():
                groups.setdefault(_family_key(h, k, l, self.hexagonal), []).append((h, k, l))
            first = _family_key(*(int(v) for v in self.hkl[m]), self.hexagonal)
            order = [first] + [key for key in groups if key != first]
            out.append({max(groups[key]): 2 * len(groups[key]) for key in order if key in groups})
        return out


def _family_key(h: int, k: int, l: int, hexagonal: bool) -> tuple[int, ...]:
    """pymatgen's ``is_perm`` class: sorted absolute indices (with i = -h-k on hexagonal cells)."""
    values = (h, k, -h - k, l) if hexagonal else (h, k, l)
    return tuple(sorted(abs(v) for v in values))


@dataclass
class Sticks:
    """Unmerged reflections and merged peaks of B structures.

    Unmerged (``[B, H]``): what profiles render, so preferred orientation can weight each
    reflection by its own direction. Merged (``[B, M]``): what pymatgen reports.

    Attributes:
        hkl: ``[B, H, 3]`` int64.
        two_theta_deg: ``[B, H]`` float64.
        intensity: ``[B, H]`` float64 on the merged peaks' 0..100 scale (sums to the peak value).
        mask: ``[B, H]`` bool, real reflections that belong to a kept peak.
        peak_index: ``[B, H]`` int64 merged peak of each reflection (-1 where masked).
        peak_two_theta_deg, peak_intensity, peak_d_angstrom: ``[B, M]`` float64.
        peak_hkl: ``[B, M, 3]`` int64, pymatgen's label of each peak (see the module docstring).
        peak_mask: ``[B, M]`` bool.
        hexagonal: ``[B]`` bool, cells labelled with Miller-Bravais families (None = none).
    """

    hkl: torch.Tensor
    two_theta_deg: torch.Tensor
    intensity: torch.Tensor
    mask: torch.Tensor
    peak_index: torch.Tensor
    peak_two_theta_deg: torch.Tensor
    peak_intensity: torch.Tensor
    peak_d_angstrom: torch.Tensor
    peak_hkl: torch.Tensor
    peak_mask: torch.Tensor
    hexagonal: torch.Tensor | None = None

    def to_peak_lists(self) -> list[PeakList]:
        """One ``PeakList`` (numpy, on the CPU) per structure."""
        tt = self.peak_two_theta_deg.cpu().numpy()
        inten = self.peak_intensity.cpu().numpy()
        d = self.peak_d_angstrom.cpu().numpy()
        hkl = self.peak_hkl.cpu().numpy()
        mask = self.peak_mask.cpu().numpy()
        refl_hkl = self.hkl.cpu().numpy()
        refl_mask = self.mask.cpu().numpy()
        refl_peak = self.peak_index.cpu().numpy()
        hexagonal = self.hexagonal.cpu().numpy() if self.hexagonal is not None else np.zeros(len(mask), bool)
        return [
            PeakList(tt[b][mask[b]], inten[b][mask[b]], d[b][mask[b]], hkl[b][mask[b]],
                     refl_hkl[b][refl_mask[b]], refl_peak[b][refl_mask[b]], bool(hexagonal[b]))
            for b in range(len(mask))
        ]


def species_slots(
    atomic_number: torch.Tensor, occupancy: torch.Tensor, b_iso: torch.Tensor, site_mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Group each structure's slots by (Z, B) so form factors are computed once per group.

    Args:
        atomic_number, occupancy, b_iso, site_mask: ``[B, N]``.

    Returns:
        slot_z: ``[B, S]`` int64 (0 on padding, whose form factor is 0).
        slot_b: ``[B, S]`` float64 B (Å²).
        weight: ``[B, N, S]`` float32 occupancy of slot n in group s (one nonzero per n).
    """
    batch, n_slots = atomic_number.shape
    device = atomic_number.device
    owner = torch.arange(batch, device=device).unsqueeze(1).expand(batch, n_slots)
    rows = torch.stack([owner.to(torch.float64), atomic_number.to(torch.float64), b_iso.to(torch.float64)], dim=-1)
    uniq, inverse = torch.unique(rows[site_mask], dim=0, return_inverse=True)  # sorted: grouped by owner
    group_owner = uniq[:, 0].to(torch.int64)
    counts = torch.bincount(group_owner, minlength=batch)
    first = torch.cumsum(counts, 0) - counts
    local = torch.arange(len(uniq), device=device) - first[group_owner]
    n_groups = max(int(counts.max().item()) if counts.numel() else 0, 1)
    slot_z = torch.zeros(batch, n_groups, dtype=torch.int64, device=device)
    slot_b = torch.zeros(batch, n_groups, dtype=torch.float64, device=device)
    slot_z[group_owner, local] = uniq[:, 1].to(torch.int64)
    slot_b[group_owner, local] = uniq[:, 2]
    weight = torch.zeros(batch, n_slots, n_groups, dtype=torch.float32, device=device)
    b_idx, n_idx = site_mask.nonzero(as_tuple=True)
    weight[b_idx, n_idx, local[inverse]] = occupancy[b_idx, n_idx].to(torch.float32)
    return slot_z, slot_b, weight


def structure_factor_squared(
    hkl: torch.Tensor,
    g_inv_angstrom: torch.Tensor,
    frac_coords: torch.Tensor,
    atomic_number: torch.Tensor,
    occupancy: torch.Tensor,
    b_iso: torch.Tensor,
    site_mask: torch.Tensor,
    max_entries: int = 1 << 24,
) -> torch.Tensor:
    """|F(h)|² for every reflection of every structure, chunked over reflections.

    Args:
        hkl: ``[B, H, 3]`` int64.
        g_inv_angstrom: ``[B, H]`` float64 |g|.
        frac_coords: ``[B, N, 3]`` float64.
        atomic_number, occupancy, b_iso, site_mask: ``[B, N]``.
        max_entries: bound on B·h·N phase entries held at once (memory, not results).

    Returns:
        ``[B, H]`` float32 |F|² in electrons², exactly 0 for systematic extinctions.
    """
    batch, n_refl = g_inv_angstrom.shape
    n_slots = frac_coords.shape[1]
    slot_z, slot_b, weight = species_slots(atomic_number, occupancy, b_iso, site_mask)
    s2 = (g_inv_angstrom / 2.0) ** 2  # [B, H] (sin θ/λ)²
    f = form_factor(slot_z.unsqueeze(1), s2.unsqueeze(-1))  # [B, H, S]
    f = (f * torch.exp(-slot_b.unsqueeze(1) * s2.unsqueeze(-1))).to(torch.float32)
    frac_t = frac_coords.to(torch.float64).transpose(1, 2)  # [B, 3, N]
    f64, weight64 = f.to(torch.float64), weight.to(torch.float64)
    bound = (f64.abs() * weight64.sum(dim=1).unsqueeze(1)).sum(-1).to(torch.float32)  # [B, H] Σ_j o_j |f_j| >= |F|
    out = torch.empty(batch, n_refl, dtype=torch.float32, device=hkl.device)
    # Cache-sized blocks on a CPU (the element-wise chain runs ~1.4x faster), the largest on a GPU.
    block = max_entries if hkl.device.type == "cuda" else min(max_entries, CPU_BLOCK_ENTRIES)
    step = max(1, block // max(batch * n_slots, 1))
    for start in range(0, n_refl, step):
        stop = min(start + step, n_refl)
        turns = hkl[:, start:stop].to(torch.float64) @ frac_t  # [B, h, N] h·x in turns
        angle = (2.0 * math.pi) * (turns - torch.floor(turns)).to(torch.float32)
        # The sums over slots and species groups run in float64: their length is the batch's
        # padded width, and float32 SIMD sums of different lengths round differently, which made a
        # pattern depend (in its last bits) on which structures shared its batch.
        f_block = f64[:, start:stop]
        re = (torch.cos(angle).to(torch.float64) @ weight64 * f_block).sum(-1)  # [B, h]
        im = (torch.sin(angle).to(torch.float64) @ weight64 * f_block).sum(-1)
        out[:, start:stop] = (re * re + im * im).to(torch.float32)
    return torch.where(out > EXTINCTION_TOL * bound * bound, out, 0.0)


def lorentz_polarisation(theta_rad: torch.Tensor) -> torch.Tensor:
    """Lorentz-polarisation factor (1 + cos² 2θ) / (sin² θ cos θ) for unpolarised Bragg-Brentano."""
    return (1.0 + torch.cos(2.0 * theta_rad) ** 2) / (torch.sin(theta_rad) ** 2 * torch.cos(theta_rad))


def compute_sticks(
    refl: Reflections,
    frac_coords: torch.Tensor,
    atomic_number: torch.Tensor,
    occupancy: torch.Tensor,
    b_iso: torch.Tensor,
    site_mask: torch.Tensor,
    wavelength_angstrom: float,
    max_entries: int = 1 << 24,
) -> Sticks:
    """Intensities, merging and scaling for the reflections ``refl`` of a batch (see module docstring)."""
    batch = refl.mask.shape[0]
    device = refl.mask.device
    theta = torch.asin(torch.clamp(wavelength_angstrom * refl.g_inv_angstrom / 2.0, max=1.0))  # [B, H]
    two_theta_deg = torch.rad2deg(2.0 * theta)
    f2 = structure_factor_squared(
        refl.hkl, refl.g_inv_angstrom, frac_coords, atomic_number, occupancy, b_iso, site_mask, max_entries
    )
    lp = torch.where(refl.mask, lorentz_polarisation(torch.where(refl.mask, theta, torch.ones_like(theta))), 0.0)
    raw = 2.0 * f2.to(torch.float64) * lp  # [B, H]

    # Merge equal 2θ keys within each structure: unique over (structure, key) pairs.
    b_idx, h_idx = refl.mask.nonzero(as_tuple=True)
    key = torch.round(two_theta_deg[b_idx, h_idx] / TWO_THETA_TOL_DEG).to(torch.int64)
    combined = b_idx * _KEY_STRIDE + key
    uniq, inverse = torch.unique(combined, return_inverse=True)  # sorted: by structure, then 2θ
    n_peaks_all = len(uniq)
    peak_owner = torch.div(uniq, _KEY_STRIDE, rounding_mode="floor")
    peak_raw = torch.zeros(n_peaks_all, dtype=torch.float64, device=device).index_add_(0, inverse, raw[b_idx, h_idx])
    peak_tt = torch.full((n_peaks_all,), float("inf"), dtype=torch.float64, device=device).scatter_reduce(
        0, inverse, two_theta_deg[b_idx, h_idx], reduce="amin"
    )
    peak_g = torch.zeros(n_peaks_all, dtype=torch.float64, device=device).scatter_reduce(
        0, inverse, refl.g_inv_angstrom[b_idx, h_idx], reduce="amax", include_self=False
    )
    hexagonal = refl.hexagonal if refl.hexagonal is not None else torch.zeros(batch, dtype=torch.bool, device=device)
    peak_hkl_flat = peak_labels(
        refl.hkl[b_idx, h_idx], refl.g_inv_angstrom[b_idx, h_idx], inverse, n_peaks_all, hexagonal[b_idx]
    )

    # Scale per structure to 100 and drop peaks at or below 1e-5 of the strongest.
    max_raw = torch.zeros(batch, dtype=torch.float64, device=device).scatter_reduce(
        0, peak_owner, peak_raw, reduce="amax", include_self=False
    )
    scale = torch.where(max_raw > 0, 100.0 / max_raw, torch.zeros_like(max_raw))  # [B]
    peak_scaled = peak_raw * scale[peak_owner]
    keep = peak_scaled > SCALED_INTENSITY_TOL
    kept_owner = peak_owner[keep]
    counts = torch.bincount(kept_owner, minlength=batch)
    n_m = max(int(counts.max().item()) if counts.numel() else 0, 1)
    start = torch.cumsum(counts, 0) - counts
    new_pos = torch.full((n_peaks_all,), -1, dtype=torch.int64, device=device)
    new_pos[keep] = torch.arange(int(keep.sum().item()), device=device) - start[kept_owner]

    def padded(values: torch.Tensor, fill: float = 0.0) -> torch.Tensor:
        out = torch.full((batch, n_m) + tuple(values.shape[1:]), fill, dtype=values.dtype, device=device)
        out[kept_owner, new_pos[keep]] = values[keep]
        return out

    peak_mask = torch.zeros(batch, n_m, dtype=torch.bool, device=device)
    peak_mask[kept_owner, new_pos[keep]] = True
    peak_index = torch.full_like(refl.hkl[..., 0], -1)
    peak_index[b_idx, h_idx] = new_pos[inverse]
    refl_mask = peak_index >= 0
    intensity = torch.where(refl_mask, raw * scale.unsqueeze(1), 0.0)
    return Sticks(
        hkl=refl.hkl,
        two_theta_deg=torch.where(refl_mask, two_theta_deg, 0.0),
        intensity=intensity,
        mask=refl_mask,
        peak_index=peak_index,
        peak_two_theta_deg=padded(peak_tt),
        peak_intensity=padded(peak_scaled),
        peak_d_angstrom=padded(torch.where(peak_g > 0, 1.0 / peak_g, 0.0)),
        peak_hkl=padded(peak_hkl_flat),
        peak_mask=peak_mask,
        hexagonal=hexagonal,
    )


def peak_labels(
    hkl: torch.Tensor, g_inv_angstrom: torch.Tensor, peak: torch.Tensor, n_peaks: int, hexagonal: torch.Tensor
) -> torch.Tensor:
    """pymatgen's label of each merged peak, ``[n_peaks, 3]`` int64, from its half-space reflections.

    Args:
        hkl: ``[R, 3]`` reflections (half space), g_inv_angstrom: ``[R]`` their |g|,
        peak: ``[R]`` the peak each belongs to, hexagonal: ``[R]`` whether its cell is hexagonal.

    pymatgen walks the reflections by (|g|, -h, -k, -l); the first one's family (permutations of
    absolute indices, with i = -h-k on hexagonal cells) comes first, and a family is named by its
    largest member in tuple order. Friedel mates -h never win that maximum (h is the lexicographically
    positive one), and on hexagonal cells (h, k, i, l) orders like (h, k, l) since i follows from h, k.
    |g| is compared at 1e-10 Å⁻¹, so symmetry-equivalent reflections tie exactly and fall back to
    -h, -k, -l, as pymatgen's do up to its own round-off. Everything is a per-peak scatter (no sort
    over reflections), so labels cost little next to the structure factors.
    """
    if n_peaks == 0:
        return hkl.new_zeros(0, 3)
    device = hkl.device
    h, k, l = hkl.unbind(-1)
    bound = int(hkl.abs().max().item()) if len(peak) else 0
    width = 2 * bound + 1
    # (h, k, l) as one integer whose order is the tuple order.
    code = ((h + bound) * width + (k + bound)) * width + (l + bound)

    def per_peak_max(values: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
        return torch.full((n_peaks,), -1, dtype=torch.int64, device=device).scatter_reduce(
            0, peak, torch.where(where, values, -1), reduce="amax"
        )

    # pymatgen's first reflection of a peak: smallest |g|, then largest (h, k, l) (its -h, -k, -l key).
    g_key = torch.round(g_inv_angstrom * 1e10).to(torch.int64)
    g_min = torch.full((n_peaks,), torch.iinfo(torch.int64).max, dtype=torch.int64, device=device).scatter_reduce(
        0, peak, g_key, reduce="amin"
    )
    at_g_min = g_key == g_min[peak]
    is_first = at_g_min & (code == per_peak_max(code, at_g_min)[peak])
    # Family of each reflection: its sorted absolute indices (a fourth, |i| = |h + k|, on hexagonal
    # cells; -1 elsewhere), as one integer.
    i_abs = torch.where(hexagonal, (h + k).abs(), torch.full_like(h, -1))
    rows = torch.sort(torch.stack([h.abs(), k.abs(), l.abs(), i_abs], dim=-1), dim=-1).values + 1
    base = 2 * bound + 2
    family = ((rows[:, 0] * base + rows[:, 1]) * base + rows[:, 2]) * base + rows[:, 3]
    same = family == per_peak_max(family, is_first)[peak]
    best = per_peak_max(code, same)
    return torch.stack([best // (width * width) - bound, (best // width) % width - bound, best % width - bound], -1)
