"""Named profile ranges: the one place the augmentation ranges are written down.

Configs name a preset instead of copying its numbers (``profile: {preset: real}``, optionally with
fields changed beside it: ``profile: {preset: real, eta: [0.1, 0.5]}``); the quickstart's built-in recipe
and the mixture detector's renderer read the same objects, so the copies can no longer drift apart.

- ``clean``: ``ProfileConfig()``'s defaults, a clean laboratory pattern (Cu Kα doublet, realistic
  widths, no texture, background or noise).
- ``experimental``: what a laboratory Bragg-Brentano diffractometer does to a pattern. Widths span
  Caglioti U ≤ 0.03, V −0.01…0, W 0.001…0.01 deg² and Scherrer sizes 15–500 nm (0.03°–0.5° FWHM at
  Cu Kα across 5–90°); η of the pseudo-Voigt 0.1–0.9; Kα2/Kα1 0.45–0.55; zero shift ±0.1°; sample
  displacement ±0.15 mm on a 240 mm goniometer; March-Dollase r 0.7–1.3 (mild plate or needle
  texture); a smooth background up to 15 % of the strongest peak; 500–50 000 counts at the strongest
  point (Poisson noise).
- ``real``: ``experimental`` plus what real samples add beyond the instrument. The ranges were fixed
  before any measured pattern was looked at:
  lattice_strain −3 %…+2 % in d (MP (PBE) cells run 1–3 % large in volume, i.e. ~0.3–1 % in d;
  experimental structures are measured at other temperatures and compositions);
  intensity_sigma ≤ 0.4 in log-intensity (graininess, absorption, micro-absorption, texture scatter
  measured intensities of a random powder by tens of per cent);
  detection_limit ≤ 3 % (a laboratory pattern rarely shows lines below 0.5–3 % of the strongest);
  up to 3 impurity lines of up to 5 % (a minor second phase, a Kβ or W-L line).
"""

from __future__ import annotations

from dataclasses import replace

from xrdnet.simulate.profiles import ProfileConfig

CLEAN = ProfileConfig()

EXPERIMENTAL = ProfileConfig(
    eta=(0.1, 0.9), caglioti_u_deg2=(0.0, 0.03), caglioti_v_deg2=(-0.01, 0.0), caglioti_w_deg2=(0.001, 0.01),
    crystallite_size_nm=(15.0, 500.0), kalpha2_ratio=(0.45, 0.55), zero_shift_deg=(-0.1, 0.1),
    sample_displacement_mm=(-0.15, 0.15), march_dollase_r=(0.7, 1.3), background_level=(0.0, 0.15),
    peak_counts=(500.0, 50000.0),
)

REAL = replace(EXPERIMENTAL, lattice_strain=(-0.03, 0.02), intensity_sigma=(0.0, 0.4),
               detection_limit=(0.0, 0.03), impurity_peaks=3, impurity_level=(0.0, 0.05))

PRESETS: dict[str, ProfileConfig] = {"clean": CLEAN, "experimental": EXPERIMENTAL, "real": REAL}


def profile_preset(name: str) -> ProfileConfig:
    """The preset called ``name``; a ValueError naming the known ones otherwise."""
    try:
        return PRESETS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown profile preset {name!r}; known: {sorted(PRESETS)}") from None
