r"""Render stick patterns onto the 2θ grid with what a diffractometer and a real powder add.

Per pattern, each effect's parameter is drawn from a range in ``ProfileConfig`` with the counter-based
generator (``xrdnet.simulate.rng``), so one structure gives many different patterns and pattern i
looks the same however the work is split.

Physics, per reflection at Bragg angle θ (2θ in degrees unless marked):

* Preferred orientation (March-Dollase): I ← I · (r² cos²α + sin²α / r)^(-3/2), α the angle between
  the reflection's g and the preferred plane normal (a random low-index direction). It acts on the
  unmerged reflections, since symmetry-equivalent reflections make different angles with it, and
  its average over the sphere is 1, so r = 1 is "no texture".
* Kα doublet: the sticks are computed at Kα1; each peak gets a Kα2 twin at
  2θ₂ = 2 asin(λ₂/λ₁ · sin θ₁) with intensity × ratio (≈ 0.5).
* Shifts: zero error adds a constant; sample displacement s (mm) on a goniometer of radius R moves a
  peak by Δ2θ = -2 s cos θ / R (radians).
* Width: Caglioti FWHM² = U tan²θ + V tan θ + W (deg²) for the instrument, Scherrer
  FWHM = K λ / (L cos θ) (radians, L the crystallite size) for the sample, combined in quadrature.
* Shape: pseudo-Voigt, η · Lorentzian + (1-η) · Gaussian of equal FWHM, integrated over each grid
  bin (so peaks narrower than the step keep their area), truncated at ``window_fwhm`` FWHMs either
  side and renormalised so the rendered area equals the stick intensity exactly.
* Real-sample effects the ideal powder lacks (all off by default):
  - lattice strain: every d-spacing scaled by (1 + s), s drawn per pattern. Isotropic, so the
    symmetry is kept exactly; it covers DFT cells that run 1-3 % large, thermal expansion, solid
    solutions and a wavelength that is slightly off (sin θ' = sin θ / (1 + s));
  - intensity errors: each peak multiplied by a log-normal factor exp(σz - σ²/2) (mean 1), σ drawn
    per pattern: graininess, texture beyond March-Dollase, absorption, extinction;
  - detection limit: peaks weaker than a fraction t of the strongest (t drawn per pattern) are
    removed, as weak reflections vanish into a measured pattern's noise and background;
  - impurity peaks: up to ``impurity_peaks`` extra lines at random 2θ, each at most
    ``impurity_level`` of the strongest peak (a few per cent of a second phase);
  - anisotropic strain (``anisotropic_strain``, ``cell_angle_change_deg``): each free parameter of the
    crystal system's conventional cell changed independently, so the symmetry is kept and the peaks
    move as hkl and the new metric say (``xrdnet.simulate.lattice_perturbation``; needs each
    structure's conventional cell, which training from cached sticks supplies);
  - thermal factor (``b_iso_change_A2``): an overall change ΔB of the Debye-Waller factor, every
    peak × exp(-2 ΔB s²) with s = sin θ / λ (I ∝ |F|², F ∝ exp(-B s²)): stiffer or softer
    lattices, other temperatures, and the B values structure files often leave out.
* Background: a smooth random Chebyshev polynomial, non-negative, at ``background_level`` of the
  strongest peak.
* Counting noise: the pattern is scaled to ``peak_counts`` at its maximum and each point drawn as
  λ + √λ·z (the normal limit of Poisson statistics, floored at 0; exact enough above ~10 counts,
  and counter-based like every other draw).
* Finally each pattern is divided by its maximum (max = 1).
"""

from __future__ import annotations

import math

import torch

from xrdnet.simulate import rng
from xrdnet.simulate.lattice_perturbation import ConventionalCells
from xrdnet.simulate.profile_config import (TEXTURE_DIRECTIONS, ProfileConfig, ProfileParameters, Range,  # noqa: F401
                                            draw_parameters, sample_parameters)
from xrdnet.simulate.reflections import reciprocal_lattice
from xrdnet.simulate.sticks import Sticks
from xrdnet.simulate.wavelengths import Radiation

_TEXTURE_DIRECTIONS = TEXTURE_DIRECTIONS
_FWHM_FLOOR_DEG = 1e-3
CPU_BLOCK_ENTRIES = 1 << 18  # ~1 MB float32 blocks: L2-sized on current CPUs


def march_dollase_intensity(
    sticks: Sticks, lattice: torch.Tensor, owner: torch.Tensor, params: ProfileParameters
) -> torch.Tensor:
    """Per-pattern merged peak intensities with March-Dollase texture applied to unmerged reflections.

    Args:
        sticks: unmerged ``[B, H]`` and merged ``[B, M]`` data of the structures.
        lattice: ``[B, 3, 3]`` Å.
        owner: ``[P]`` structure row of each pattern.

    Returns:
        ``[P, M]`` float32 intensities.
    """
    n_peaks = sticks.peak_intensity.shape[1]
    r = params.march_dollase_r.to(torch.float64)
    if bool((r == 1.0).all()):
        return sticks.peak_intensity[owner].to(torch.float32)
    recip = reciprocal_lattice(lattice.to(torch.float64))
    metric = (recip @ recip.transpose(-1, -2))[owner]  # [P, 3, 3]
    direction = torch.tensor(_TEXTURE_DIRECTIONS, dtype=torch.float64, device=owner.device)[params.texture_direction]
    hkl = sticks.hkl[owner].to(torch.float64)  # [P, H, 3]
    g_dot_d = torch.einsum("phi,pij,pj->ph", hkl, metric, direction)
    g_norm = torch.sqrt(torch.einsum("phi,pij,phj->ph", hkl, metric, hkl).clamp(min=1e-30))
    d_norm = torch.sqrt(torch.einsum("pi,pij,pj->p", direction, metric, direction))
    cos2 = (g_dot_d / (g_norm * d_norm.unsqueeze(1))).clamp(-1.0, 1.0) ** 2
    r_ = r.unsqueeze(1)
    weight = (r_ * r_ * cos2 + (1.0 - cos2) / r_) ** -1.5  # [P, H]
    intensity = sticks.intensity[owner] * weight
    index = sticks.peak_index[owner].clamp(min=0)
    out = torch.zeros(len(owner), n_peaks, dtype=torch.float64, device=owner.device)
    out.scatter_add_(1, index, torch.where(sticks.mask[owner], intensity, 0.0))
    return out.to(torch.float32)


def peak_fwhm_deg(two_theta_deg: torch.Tensor, params: ProfileParameters, wavelength_angstrom: float,
                  scherrer_k: float, size_nm: torch.Tensor | None = None) -> torch.Tensor:
    """FWHM (degrees) of peaks at ``two_theta_deg [P, M]``: Caglioti and Scherrer in quadrature.

    ``size_nm [P, M]``: a crystallite size per peak (a sample of several phases); default the pattern's.
    """
    theta = torch.deg2rad(two_theta_deg.to(torch.float32) / 2.0)
    tan = torch.tan(theta)
    cag2 = params.u[:, None] * tan * tan + params.v[:, None] * tan + params.w[:, None]
    size_angstrom = 10.0 * (params.size_nm[:, None] if size_nm is None else size_nm)
    scherrer = torch.rad2deg(scherrer_k * wavelength_angstrom / (size_angstrom * torch.cos(theta)))
    return torch.sqrt(cag2.clamp(min=0.0) + scherrer * scherrer).clamp(min=_FWHM_FLOOR_DEG)


def pseudo_voigt_bins(offset_edges_deg: torch.Tensor, fwhm_deg: torch.Tensor, eta: torch.Tensor) -> torch.Tensor:
    """Fraction of a unit-area pseudo-Voigt falling in each bin.

    Args:
        offset_edges_deg: ``[..., W+1]`` bin edges relative to the peak centre.
        fwhm_deg: ``[...]``.
        eta: ``[...]`` Lorentzian fraction.

    Returns:
        ``[..., W]`` bin fractions (sum ≤ 1; the tails beyond the window are missing).
    """
    fwhm = fwhm_deg.unsqueeze(-1)
    sigma = fwhm / (2.0 * math.sqrt(2.0 * math.log(2.0)))
    gamma = fwhm / 2.0
    cdf_g = 0.5 * torch.erf(offset_edges_deg / (sigma * math.sqrt(2.0)))
    cdf_l = torch.atan(offset_edges_deg / gamma) / math.pi
    e = eta.unsqueeze(-1)
    cdf = e * cdf_l + (1.0 - e) * cdf_g
    return cdf[..., 1:] - cdf[..., :-1]


def render_peaks(
    center_deg: torch.Tensor,
    fwhm_deg: torch.Tensor,
    area: torch.Tensor,
    eta: torch.Tensor,
    grid_start_deg: float,
    step_deg: float,
    n_points: int,
    window_fwhm: float,
    max_entries: int,
) -> torch.Tensor:
    """Sum of pseudo-Voigt peaks on a uniform grid, each peak rendered over its own window.

    Only live peaks (area > 0) are rendered, grouped into a few window widths so a few broad
    peaks do not make every narrow one pay for a wide window (at most 1.25x the points needed).

    Args:
        center_deg, fwhm_deg, area: ``[P, M]`` (area 0 for padding).
        eta: ``[P]``.

    Returns:
        ``[P, G]`` float32; Σ_i pattern[p, i] = Σ_m area[p, m] for peaks well inside the grid.
    """
    n_pat = center_deg.shape[0]
    device = center_deg.device
    live = area > 0
    owner, _ = live.nonzero(as_tuple=True)  # [L]
    if owner.numel() == 0:
        return torch.zeros(n_pat, n_points, dtype=torch.float32, device=device)
    position = (center_deg[live].to(torch.float64) - grid_start_deg) / step_deg  # [L] in grid steps
    fwhm, peak_area, peak_eta = fwhm_deg[live], area[live], eta[owner]
    nearest = torch.round(position)
    frac = (position - nearest).to(torch.float32)
    need = torch.ceil(window_fwhm * fwhm / step_deg).clamp(min=4)  # half-width in points
    # Round half-widths up to 4 steps per octave (at most 25% more points than needed, a few
    # distinct widths per batch).
    quantum = torch.exp2(torch.floor(torch.log2(need)) - 2.0).clamp(min=1.0)
    bucket = (torch.ceil(need / quantum) * quantum).to(torch.int64)  # half-width in points >= need
    # Render into rows with a margin of 2·max half-width each side, then crop: windows never need
    # bounds checks, and a centre clamped into the margin (a peak far off the grid) only ever
    # writes into the margin, because it was more than a half-width outside already.
    margin = 2 * int(bucket.max()) + 1
    width = n_points + 2 * margin
    centre = (nearest.to(torch.int64) + margin).clamp(margin // 2, width - 1 - margin // 2)
    base = owner * width + centre  # [L] flat index of each peak's centre
    padded = torch.zeros(n_pat * width, dtype=torch.float32, device=device)
    # On a CPU the chain of element-wise ops runs ~1.5x faster when each block fits in cache; a GPU
    # wants the biggest blocks memory allows.
    block = max_entries if device.type == "cuda" else min(max_entries, CPU_BLOCK_ENTRIES)
    for b in torch.unique(bucket).tolist():
        sel = (bucket == b).nonzero(as_tuple=True)[0]
        half = int(b)
        offsets = torch.arange(-half, half + 1, device=device)  # [W]
        edges_steps = torch.arange(2 * half + 2, device=device, dtype=torch.float32) - half - 0.5  # [W+1]
        rows = max(1, block // (2 * half + 2))
        for r0 in range(0, len(sel), rows):
            idx = sel[r0 : r0 + rows]
            edges = (edges_steps - frac[idx].unsqueeze(-1)) * step_deg  # [n, W+1] relative to centre
            bins = pseudo_voigt_bins(edges, fwhm[idx], peak_eta[idx])  # [n, W]
            bins = bins * (peak_area[idx] / bins.sum(-1).clamp(min=1e-30)).unsqueeze(-1)  # window keeps full area
            padded.index_add_(0, (base[idx].unsqueeze(-1) + offsets).reshape(-1), bins.reshape(-1))
    return padded.view(n_pat, width)[:, margin : margin + n_points].contiguous()


def chebyshev_background(n_points: int, coefficients: torch.Tensor) -> torch.Tensor:
    """Non-negative smooth backgrounds ``[P, G]`` scaled to max 1 from Chebyshev ``coefficients [P, D+1]``."""
    x = torch.linspace(-1.0, 1.0, n_points, device=coefficients.device)
    basis = [torch.ones_like(x), x]
    for _ in range(2, coefficients.shape[1]):
        basis.append(2.0 * x * basis[-1] - basis[-2])
    # An explicit sum over the few terms, not a matrix product: BLAS picks kernels by the number of
    # rows, so a product would round a pattern's background differently in different batch sizes.
    poly = sum(coefficients[:, k, None] * basis[k] for k in range(coefficients.shape[1]))  # [P, G]
    poly = poly - poly.min(dim=1, keepdim=True).values
    return poly / poly.max(dim=1, keepdim=True).values.clamp(min=1e-12)


def sample_effects(
    two_theta: torch.Tensor,
    intensity: torch.Tensor,
    live: torch.Tensor,
    params: ProfileParameters,
    config: ProfileConfig,
    seed: int,
    pattern_ids: torch.Tensor,
    grid_range_deg: tuple[float, float],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Lattice strain, intensity errors, detection limit and impurity lines (module docstring).

    Args:
        two_theta: ``[P, M]`` float64 peak positions (degrees); intensity ``[P, M]`` float32;
            live ``[P, M]`` bool.

    Returns:
        ``(two_theta [P, M'], intensity [P, M'], live [P, M'])`` with M' = M + ``impurity_peaks``.
        With every effect off the inputs come back unchanged (bit for bit).
    """
    two_theta, intensity, live = phase_effects(two_theta, intensity, live, params, config, seed, pattern_ids)
    return specimen_effects(two_theta, intensity, live, params, config, seed, pattern_ids, grid_range_deg)


def phase_effects(two_theta: torch.Tensor, intensity: torch.Tensor, live: torch.Tensor, params: ProfileParameters,
                  config: ProfileConfig, seed: int, pattern_ids: torch.Tensor
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The effects that belong to one phase: lattice strain and per-peak intensity errors (``[P, M]`` in and out)."""
    if config.lattice_strain != (0.0, 0.0):
        # d' = d (1 + s)  =>  sin θ' = sin θ / (1 + s); a reflection pushed past 90° is dropped.
        sin = torch.sin(torch.deg2rad(two_theta / 2.0)) / (1.0 + params.lattice_strain[:, None].double())
        live = live & (sin < 1.0)
        two_theta = torch.where(live, torch.rad2deg(2.0 * torch.asin(sin.clamp(max=1.0))), two_theta)
    if config.intensity_sigma[1] > 0:
        sigma = params.intensity_sigma[:, None]
        # column-stable: a peak's factor must not depend on how many peaks its batch is padded to
        z = rng.normal_stable(seed, pattern_ids, 22, intensity.shape[1]).to(intensity.device)
        intensity = intensity * torch.exp(sigma * z - 0.5 * sigma * sigma)
    return two_theta, intensity, live


def specimen_effects(two_theta: torch.Tensor, intensity: torch.Tensor, live: torch.Tensor, params: ProfileParameters,
                     config: ProfileConfig, seed: int, pattern_ids: torch.Tensor, grid_range_deg: tuple[float, float]
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The effects of the whole specimen, whatever phases it holds: the detection limit (relative to its
    strongest line) and impurity lines; ``[P, M]`` in, ``[P, M + impurity_peaks]`` out."""
    if config.detection_limit[1] == 0 and config.impurity_peaks == 0:
        return two_theta, intensity, live
    strongest = torch.where(live, intensity, 0.0).amax(dim=1, keepdim=True)  # [P, 1]
    if config.detection_limit[1] > 0:
        live = live & (intensity >= params.detection_limit[:, None] * strongest)
    if config.impurity_peaks > 0:
        n = config.impurity_peaks
        u = rng.uniform(seed, pattern_ids, 23, 2 * n).to(intensity.device)  # positions, heights
        lo, hi = grid_range_deg
        extra_two_theta = (lo + u[:, :n].double() * (hi - lo))
        low, high = config.impurity_level
        level = low + u[:, n:] * (high - low)  # [P, n] height / strongest stick
        extra_live = torch.arange(n, device=intensity.device)[None, :] < params.impurity_count[:, None]
        two_theta = torch.cat([two_theta, extra_two_theta], dim=1)
        intensity = torch.cat([intensity, level * strongest], dim=1)
        live = torch.cat([live, extra_live], dim=1)
    return two_theta, intensity, live


def _anisotropic_two_theta(sticks: Sticks, lattice: torch.Tensor, cells: ConventionalCells | None,
                           owner: torch.Tensor, params: ProfileParameters, two_theta: torch.Tensor,
                           live: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Peak positions ``[P, M]`` after the anisotropic strain; a peak pushed past 2θ = 180° is dropped."""
    if cells is None:
        raise ValueError("ProfileConfig.anisotropic_strain / cell_angle_change_deg need each structure's conventional "
                         "cell: training from cached sticks supplies it, a plain render does not")
    from xrdnet.simulate.lattice_perturbation import peak_d_ratio, perturbed_metrics

    lat = lattice.to(torch.float64)[owner]
    pattern_cells = ConventionalCells(cells.to_conventional[owner], cells.crystal_system[owner], cells.valid[owner])
    metric = lat @ lat.transpose(1, 2)
    new = perturbed_metrics(lat, pattern_cells, params.edge_change, params.angle_change_deg)
    ratio = peak_d_ratio(sticks.hkl[owner], sticks.mask[owner], sticks.intensity[owner], sticks.peak_index[owner],
                         two_theta.shape[1], metric, new)  # [P, M] d'/d
    sin = torch.sin(torch.deg2rad(two_theta / 2.0)) / ratio
    live = live & (sin < 1.0)
    return torch.where(live, torch.rad2deg(2.0 * torch.asin(sin.clamp(max=1.0))), two_theta), live


def render_patterns(
    sticks: Sticks,
    lattice: torch.Tensor,
    grid_deg: torch.Tensor,
    radiation: Radiation,
    config: ProfileConfig,
    seed: int,
    pattern_ids: torch.Tensor,
    patterns_per_structure: int,
    max_entries: int = 1 << 24,
    cells: ConventionalCells | None = None,
) -> torch.Tensor:
    """Profiles for ``patterns_per_structure`` patterns of each structure in ``sticks``.

    Args:
        sticks: sticks of B structures computed at Kα1 when the doublet is on (else the named line).
        lattice: ``[B, 3, 3]`` Å.
        grid_deg: ``[G]`` uniform 2θ grid.
        pattern_ids: ``[B·K]`` global ids (row b·K + k is pattern k of structure b).
        cells: the structures' conventional cells, needed by the anisotropic strain only.

    Returns:
        ``[B·K, G]`` float32, each row max = 1 (all-zero if no peak falls in the range).
    """
    device = grid_deg.device
    n_struct = sticks.peak_intensity.shape[0]
    k = patterns_per_structure
    owner = torch.arange(n_struct, device=device).repeat_interleave(k)  # [P]
    params = draw_parameters(config, seed, pattern_ids, device)
    two_theta, intensity, live = phase_lines(sticks, lattice, owner, params, config, seed, pattern_ids, radiation,
                                             cells)
    two_theta, intensity, live = specimen_effects(two_theta, intensity, live, params, config, seed, pattern_ids,
                                                  (float(grid_deg[0]), float(grid_deg[-1])))
    return render_lines(two_theta, intensity, live, params, config, radiation, grid_deg, seed, pattern_ids,
                        max_entries)


def _kalpha1_or_line(config: ProfileConfig, radiation: Radiation) -> float:
    """The wavelength the sticks were computed at: Kα1 when the doublet is rendered, else the named line."""
    doublet = config.kalpha2 and radiation.has_doublet
    return float(radiation.kalpha1_angstrom) if doublet else radiation.wavelength_angstrom


def phase_lines(sticks: Sticks, lattice: torch.Tensor, owner: torch.Tensor, params: ProfileParameters,
                config: ProfileConfig, seed: int, pattern_ids: torch.Tensor, radiation: Radiation,
                cells: ConventionalCells | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The lines one phase contributes, for P patterns of structures ``owner [P]`` (rows of ``sticks``):
    texture, anisotropic strain, thermal factor, lattice strain and intensity errors.

    Returns ``(two_theta [P, M] float64, intensity [P, M] float32, live [P, M] bool)``.
    """
    lam1 = _kalpha1_or_line(config, radiation)
    intensity = march_dollase_intensity(sticks, lattice, owner, params)  # [P, M]
    two_theta = sticks.peak_two_theta_deg[owner]  # [P, M] float64
    live = sticks.peak_mask[owner]
    if config.anisotropic_strain != (0.0, 0.0) or config.cell_angle_change_deg != (0.0, 0.0):
        two_theta, live = _anisotropic_two_theta(sticks, lattice, cells, owner, params, two_theta, live)
    if config.b_iso_change_A2 != (0.0, 0.0):
        s = torch.sin(torch.deg2rad(two_theta / 2.0)) / lam1  # [P, M] 1/Å
        intensity = intensity * torch.exp(-2.0 * params.b_iso_change[:, None].double() * s * s).to(intensity.dtype)
    return phase_effects(two_theta, intensity, live, params, config, seed, pattern_ids)


def render_lines(two_theta: torch.Tensor, intensity: torch.Tensor, live: torch.Tensor, params: ProfileParameters,
                 config: ProfileConfig, radiation: Radiation, grid_deg: torch.Tensor, seed: int,
                 pattern_ids: torch.Tensor, max_entries: int = 1 << 24,
                 size_nm: torch.Tensor | None = None) -> torch.Tensor:
    """What the instrument makes of a specimen's lines ``[P, M]``: the Kα2 twins, widths, zero shift and
    displacement, pseudo-Voigt peaks, background and counting noise; ``[P, G]`` float32, max = 1.

    ``size_nm [P, M]`` gives each line its own crystallite size (a specimen of several phases).
    """
    device = grid_deg.device
    lam1 = _kalpha1_or_line(config, radiation)
    doublet = config.kalpha2 and radiation.has_doublet
    centers, areas, lams = [two_theta], [torch.where(live, intensity, 0.0)], [lam1]
    if doublet:
        ratio = float(radiation.kalpha2_angstrom) / lam1
        sin2 = torch.sin(torch.deg2rad(two_theta / 2.0)) * ratio
        ok = live & (sin2 < 1.0)
        centers.append(torch.where(ok, torch.rad2deg(2.0 * torch.asin(sin2.clamp(max=1.0))), two_theta))
        areas.append(torch.where(ok, intensity * params.kalpha2_ratio[:, None], 0.0))
        lams.append(float(radiation.kalpha2_angstrom))
    fwhm = torch.cat([peak_fwhm_deg(c, params, lam, config.scherrer_k, size_nm) for c, lam in zip(centers, lams)],
                     dim=1)
    center = torch.cat(centers, dim=1)
    area = torch.cat(areas, dim=1)
    theta = torch.deg2rad(center / 2.0)
    displacement = torch.rad2deg(-2.0 * params.displacement_mm[:, None].double() * torch.cos(theta) / config.goniometer_radius_mm)
    center = center + params.zero_shift_deg[:, None].double() + displacement

    step = float(grid_deg[1] - grid_deg[0]) if len(grid_deg) > 1 else 1.0
    pattern = render_peaks(center, fwhm, area, params.eta, float(grid_deg[0]), step, len(grid_deg),
                           config.window_fwhm, max_entries)
    peak_max = pattern.max(dim=1, keepdim=True).values  # [P, 1]

    if config.background_level[1] > 0:
        degree = config.background_degree
        coeff = (rng.uniform(seed, pattern_ids, 20, degree + 1) * 2.0 - 1.0) / torch.arange(
            1, degree + 2, device=device, dtype=torch.float32
        )
        pattern = pattern + chebyshev_background(len(grid_deg), coeff) * params.background_level[:, None] * peak_max

    if config.peak_counts[1] > 0:
        scale = params.peak_counts[:, None] / pattern.max(dim=1, keepdim=True).values.clamp(min=1e-30)
        counts = pattern * scale
        noise = rng.normal(seed, pattern_ids, 21, len(grid_deg))
        pattern = (counts + torch.sqrt(counts) * noise).clamp(min=0.0)

    return pattern / pattern.max(dim=1, keepdim=True).values.clamp(min=1e-30)
