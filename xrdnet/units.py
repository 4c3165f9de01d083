"""Positions of a powder line in 2θ, Q and d: Bragg's law, the one place xrdnet converts between them.

Bragg's law with n = 1: λ = 2 d sin θ. The scattering vector length is Q = 4π sin θ / λ = 2π / d (1/Å),
which does not depend on the wavelength: Q is how patterns measured with different anodes are compared.
A Q (or d) is reachable at λ only where sin θ = Qλ / 4π ≤ 1, i.e. 2θ ≤ 180°; callers that hold points
beyond that mask them with ``sin_theta_of_q`` before converting (``two_theta_deg_from_sin_theta``), and
``two_theta_deg_from_q`` refuses them. All arrays are float64 of any shape; angles in degrees.
"""

from __future__ import annotations

import math

import numpy as np


def _check_wavelength(wavelength_angstrom: float) -> float:
    lam = float(wavelength_angstrom)
    if not math.isfinite(lam) or lam <= 0:
        raise ValueError(f"wavelength_angstrom must be a positive number, got {wavelength_angstrom!r}")
    return lam


def q_inv_angstrom_from_two_theta(two_theta_deg, wavelength_angstrom: float) -> np.ndarray:
    """Scattering vector length Q = 4π sin(θ) / λ in 1/Å of diffraction angles ``two_theta_deg`` (any shape).

    Q does not depend on the wavelength, so it is the natural peak position to compare patterns
    measured with different anodes; ``wavelength_angstrom`` is the λ the angles were measured at.
    """
    lam = _check_wavelength(wavelength_angstrom)
    theta_rad = np.deg2rad(np.asarray(two_theta_deg, dtype=np.float64) / 2.0)
    return 4.0 * np.pi * np.sin(theta_rad) / lam


def sin_theta_of_q(q_inv_angstrom, wavelength_angstrom: float) -> np.ndarray:
    """sin θ = Qλ / 4π of ``q_inv_angstrom`` (any shape) at λ; a point is reachable where it is ≤ 1."""
    return np.asarray(q_inv_angstrom, dtype=np.float64) * wavelength_angstrom / (4.0 * np.pi)


def two_theta_deg_from_sin_theta(sin_theta) -> np.ndarray:
    """2θ = 2 asin(sin θ) in degrees (``sin_theta`` in 0..1, any shape)."""
    return 2.0 * np.rad2deg(np.arcsin(sin_theta))


def two_theta_deg_from_q(q_inv_angstrom, wavelength_angstrom: float) -> np.ndarray:
    """Diffraction angle 2θ in degrees of scattering vector lengths ``q_inv_angstrom`` (any shape) at λ.

    The inverse of ``q_inv_angstrom_from_two_theta``. Raises ValueError for Q outside 0..4π/λ,
    which no reflection can reach at that wavelength (sin θ would exceed 1).
    """
    lam = _check_wavelength(wavelength_angstrom)
    sin_theta = sin_theta_of_q(q_inv_angstrom, lam)
    if np.any(sin_theta < 0) or np.any(sin_theta > 1):
        raise ValueError(f"Q must lie in 0..4π/λ = {4 * np.pi / lam:.4f} 1/Å at λ = {lam} Å")
    return two_theta_deg_from_sin_theta(sin_theta)


def d_angstrom_from_two_theta(two_theta_deg, wavelength_angstrom: float) -> np.ndarray:
    """Interplanar spacing d = λ / (2 sin θ) in Å of diffraction angles ``two_theta_deg`` (any shape).

    Bragg's law with n = 1; 2θ = 0 gives d = inf (no division warning).
    """
    lam = _check_wavelength(wavelength_angstrom)
    sin_theta = np.sin(np.deg2rad(np.asarray(two_theta_deg, dtype=np.float64) / 2.0))
    with np.errstate(divide="ignore"):
        return lam / (2.0 * sin_theta)
