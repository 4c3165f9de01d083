"""The ranges every profile effect is drawn from (``ProfileConfig``) and one batch's draws.

``sample_parameters`` draws each effect's value per pattern with the counter-based generator
(``xrdnet.simulate.rng``): value i of stream k is a pure function of (seed, pattern id, k), so a pattern
looks the same however the work is split. Stream numbers are fixed forever: a new effect takes a new
stream, and the draws of the others do not move. What each effect does is derived in
``xrdnet.simulate.profiles``; the named ranges configs refer to are in ``profile_presets``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch

from xrdnet.simulate import rng

Range = tuple[float, float]

# Low-index plane normals (as reciprocal-lattice vectors) that preferred orientation picks from.
TEXTURE_DIRECTIONS = ((0, 0, 1), (1, 0, 0), (0, 1, 0), (1, 1, 0), (1, 0, 1), (0, 1, 1), (1, 1, 1))


@dataclass(frozen=True)
class ProfileConfig:
    """Ranges of the per-pattern profile effects; each pattern draws every value uniformly in its range
    (log-uniformly for crystallite size and counts). A range with equal ends is a fixed value.

    The defaults give clean laboratory patterns (Bragg-Brentano, Cu Kα doublet, realistic widths, no
    texture, background or noise); ``xrdnet.simulate.profile_presets`` holds the named augmentation
    ranges (``experimental``, ``real``) that configs refer to as ``profile: {preset: real}``.
    """

    eta: Range = (0.3, 0.7)  # pseudo-Voigt Lorentzian fraction
    caglioti_u_deg2: Range = (0.002, 0.012)
    caglioti_v_deg2: Range = (-0.004, 0.0)
    caglioti_w_deg2: Range = (0.001, 0.004)
    crystallite_size_nm: Range = (100.0, 1000.0)
    scherrer_k: float = 0.9
    kalpha2: bool = True  # render the Kα1/Kα2 doublet when the anode has one
    kalpha2_ratio: Range = (0.5, 0.5)
    zero_shift_deg: Range = (0.0, 0.0)
    sample_displacement_mm: Range = (0.0, 0.0)
    goniometer_radius_mm: float = 240.0
    march_dollase_r: Range = (1.0, 1.0)  # 1 = random powder
    background_level: Range = (0.0, 0.0)  # background maximum / strongest peak
    background_degree: int = 4
    peak_counts: Range = (0.0, 0.0)  # counts at the strongest point; 0 = no noise
    window_fwhm: float = 10.0  # render each peak over ± this many FWHM
    lattice_strain: Range = (0.0, 0.0)  # relative isotropic change of every d-spacing
    intensity_sigma: Range = (0.0, 0.0)  # σ of the log-normal per-peak intensity factor
    detection_limit: Range = (0.0, 0.0)  # peaks below this fraction of the strongest are dropped
    impurity_peaks: int = 0  # at most this many extra lines per pattern (uniform 0..n)
    impurity_level: Range = (0.0, 0.0)  # each extra line's intensity / strongest stick
    anisotropic_strain: Range = (0.0, 0.0)  # relative change of each free conventional edge
    cell_angle_change_deg: Range = (0.0, 0.0)  # change of each free conventional angle (mono-, triclinic)
    b_iso_change_A2: Range = (0.0, 0.0)  # overall Debye-Waller ΔB (Å²)

    @classmethod
    def config_preset(cls, name: str) -> "ProfileConfig":
        """The named ranges of ``xrdnet.simulate.profile_presets`` (what ``preset:`` in a config reads)."""
        from xrdnet.simulate.profile_presets import profile_preset  # the presets are built from this class

        return profile_preset(name)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                if len(value) != 2 or value[0] > value[1]:
                    raise ValueError(f"ProfileConfig.{f.name} must be a (low, high) range with low <= high, got {value}")
        checks = [
            ("eta", 0.0 <= self.eta[0] and self.eta[1] <= 1.0, "within [0, 1]"),
            ("crystallite_size_nm", self.crystallite_size_nm[0] > 0, "positive"),
            ("march_dollase_r", self.march_dollase_r[0] > 0, "positive"),
            ("kalpha2_ratio", self.kalpha2_ratio[0] >= 0, "non-negative"),
            ("background_level", self.background_level[0] >= 0, "non-negative"),
            ("peak_counts", self.peak_counts[0] >= 0 and (self.peak_counts[0] > 0) == (self.peak_counts[1] > 0),
             "non-negative, and both zero (no noise) or both positive"),
            ("window_fwhm", self.window_fwhm >= 2.0, ">= 2"),
            ("background_degree", 0 <= self.background_degree <= 12, "in 0..12"),
            ("goniometer_radius_mm", self.goniometer_radius_mm > 0, "positive"),
            ("lattice_strain", -0.5 < self.lattice_strain[0] and self.lattice_strain[1] < 0.5, "within (-0.5, 0.5)"),
            ("intensity_sigma", self.intensity_sigma[0] >= 0, "non-negative"),
            ("detection_limit", 0 <= self.detection_limit[0] and self.detection_limit[1] < 1, "within [0, 1)"),
            ("impurity_peaks", 0 <= self.impurity_peaks <= 100, "in 0..100"),
            ("impurity_level", self.impurity_level[0] >= 0, "non-negative"),
            ("anisotropic_strain", -0.2 < self.anisotropic_strain[0] and self.anisotropic_strain[1] < 0.2,
             "within (-0.2, 0.2)"),
            ("cell_angle_change_deg", -10 < self.cell_angle_change_deg[0] and self.cell_angle_change_deg[1] < 10,
             "within (-10, 10)"),
            ("b_iso_change_A2", -5 < self.b_iso_change_A2[0] and self.b_iso_change_A2[1] < 5, "within (-5, 5)"),
        ]
        for name, ok, what in checks:
            if not ok:
                raise ValueError(f"ProfileConfig.{name} must be {what}, got {getattr(self, name)}")


@dataclass
class ProfileParameters:
    """The values drawn for P patterns, each ``[P]`` float32 (``texture_direction`` int64)."""

    eta: torch.Tensor
    u: torch.Tensor
    v: torch.Tensor
    w: torch.Tensor
    size_nm: torch.Tensor
    kalpha2_ratio: torch.Tensor
    zero_shift_deg: torch.Tensor
    displacement_mm: torch.Tensor
    march_dollase_r: torch.Tensor
    texture_direction: torch.Tensor
    background_level: torch.Tensor
    peak_counts: torch.Tensor
    lattice_strain: torch.Tensor
    intensity_sigma: torch.Tensor
    detection_limit: torch.Tensor
    impurity_count: torch.Tensor
    edge_change: torch.Tensor  # [P, 3] relative change of conventional a, b, c
    angle_change_deg: torch.Tensor  # [P, 3] change of α, β, γ
    b_iso_change: torch.Tensor


def _draw_many(seed: int, ids: torch.Tensor, stream: int, bounds: Range, n: int) -> torch.Tensor:
    lo, hi = bounds
    if lo == hi:
        return torch.full((len(ids), n), lo, dtype=torch.float32)
    return (lo + rng.uniform(seed, ids, stream, n, torch.float64) * (hi - lo)).to(torch.float32)


def _draw(seed: int, ids: torch.Tensor, stream: int, bounds: Range, log: bool = False) -> torch.Tensor:
    lo, hi = bounds
    u = rng.uniform(seed, ids, stream, 1, torch.float64)[:, 0]
    if lo == hi:
        return torch.full_like(u, lo, dtype=torch.float32)
    if log and lo > 0:
        return torch.exp(math.log(lo) + u * (math.log(hi) - math.log(lo))).to(torch.float32)
    return (lo + u * (hi - lo)).to(torch.float32)


def sample_parameters(config: ProfileConfig, seed: int, pattern_ids: torch.Tensor) -> ProfileParameters:
    """Draw every effect's value for patterns ``pattern_ids [P]`` (stream numbers are fixed forever)."""
    ids = pattern_ids
    return ProfileParameters(
        eta=_draw(seed, ids, 1, config.eta),
        u=_draw(seed, ids, 2, config.caglioti_u_deg2),
        v=_draw(seed, ids, 3, config.caglioti_v_deg2),
        w=_draw(seed, ids, 4, config.caglioti_w_deg2),
        size_nm=_draw(seed, ids, 5, config.crystallite_size_nm, log=True),
        kalpha2_ratio=_draw(seed, ids, 6, config.kalpha2_ratio),
        zero_shift_deg=_draw(seed, ids, 7, config.zero_shift_deg),
        displacement_mm=_draw(seed, ids, 8, config.sample_displacement_mm),
        march_dollase_r=_draw(seed, ids, 9, config.march_dollase_r),
        texture_direction=(rng.uniform(seed, ids, 10, 1)[:, 0] * len(TEXTURE_DIRECTIONS)).long().clamp(
            max=len(TEXTURE_DIRECTIONS) - 1
        ),
        background_level=_draw(seed, ids, 11, config.background_level),
        peak_counts=_draw(seed, ids, 12, config.peak_counts, log=True),
        lattice_strain=_draw(seed, ids, 13, config.lattice_strain),
        intensity_sigma=_draw(seed, ids, 14, config.intensity_sigma),
        detection_limit=_draw(seed, ids, 15, config.detection_limit),
        impurity_count=(rng.uniform(seed, ids, 16, 1)[:, 0] * (config.impurity_peaks + 1)).long().clamp(
            max=config.impurity_peaks
        ),
        edge_change=_draw_many(seed, ids, 24, config.anisotropic_strain, 3),
        angle_change_deg=_draw_many(seed, ids, 25, config.cell_angle_change_deg, 3),
        b_iso_change=_draw(seed, ids, 26, config.b_iso_change_A2),
    )


def draw_parameters(config: ProfileConfig, seed: int, pattern_ids: torch.Tensor, device) -> ProfileParameters:
    """``sample_parameters`` moved to ``device``."""
    params = sample_parameters(config, seed, pattern_ids)
    return ProfileParameters(**{f.name: getattr(params, f.name).to(device) for f in fields(params)})
