"""A measured pattern onto a model's 2θ grid (through Q), and the SNIP background estimate."""

from __future__ import annotations

import math

import numpy as np

from xrdnet.io.core import NO_INTENSITY, NO_OVERLAP, UNREACHABLE, MeasuredPattern, PatternFileError, q_of_two_theta
from xrdnet.units import sin_theta_of_q, two_theta_deg_from_sin_theta


def to_model_grid(pattern: MeasuredPattern, grid_two_theta_deg, model_wavelength_angstrom: float,
                  subtract_background: bool = False, normalize: bool = True) -> tuple[np.ndarray, dict]:
    """Resample a measured pattern onto the model's grid ``grid_two_theta_deg [G]``; returns ``([G] float32, info)``.

    Each measured point's Q is mapped to the model-grid 2θ with the same Q (points beyond 2θ = 180° at
    the model's λ are dropped): Q = 4π sinθ/λ from the pattern's 2θ and wavelength, or the pattern's own
    ``q_inv_angstrom`` for a Q or d file (no wavelength needed). The result is interpolated linearly onto
    the grid. Grid points outside the measured range (widened by one measured step) are 0. Only positions
    are converted: relative intensities keep the measured Lorentz-polarisation factor.
    ``subtract_background`` removes a SNIP estimate (``estimate_background``) on the measured points
    first; ``normalize`` scales to max = 1. A 2θ pattern without wavelength is taken at the model's, with
    a warning. ``info``: ``coverage``, ``warning`` (one string or None), ``warnings``,
    ``two_theta_range_deg`` (measured range in model 2θ), ``q_range_inv_angstrom``, ``converted``,
    ``measured_wavelength_angstrom`` (None for a Q/d file without one), ``model_wavelength_angstrom``,
    ``scale``, ``n_points_beyond_180_deg``, ``background_subtracted``.
    Raises ``PatternFileError`` when nothing lands on the grid (code ``NO_OVERLAP`` or ``UNREACHABLE``) or
    nothing is left above zero (``NO_INTENSITY``);
    ValueError for a bad grid or wavelength.
    """
    grid = np.asarray(grid_two_theta_deg, dtype=np.float64)
    if grid.ndim != 1 or len(grid) < 2 or not np.all(np.diff(grid) > 0) or grid[0] <= 0 or grid[-1] >= 180:
        raise ValueError("grid_two_theta_deg must be a strictly increasing 1-D array inside (0, 180)°")
    lam_model = float(model_wavelength_angstrom)
    if not (math.isfinite(lam_model) and lam_model > 0):
        raise ValueError(f"model_wavelength_angstrom must be a positive number, got {model_wavelength_angstrom!r}")
    warnings: list[str] = []
    intensity = np.clip(np.asarray(pattern.intensity, dtype=np.float64), 0.0, None)
    lam_meas = pattern.wavelength_angstrom
    from_q = pattern.two_theta_deg is None or getattr(pattern, "x_unit", "2theta") != "2theta"
    if from_q:
        if pattern.q_inv_angstrom is None:
            raise PatternFileError(pattern.path, "neither 2θ nor Q positions in the pattern")
        q = np.asarray(pattern.q_inv_angstrom, dtype=np.float64)
        # a Q/d file: positions are independent of any wavelength
        converted = True
        background_x = q
    else:
        if lam_meas is None:
            lam_meas = lam_model
            warnings.append(f"no wavelength for the pattern: assumed the model's ({lam_model:.5f} Å)")
        lam_meas = float(lam_meas)
        two_theta = np.asarray(pattern.two_theta_deg, dtype=np.float64)
        q = q_of_two_theta(two_theta, lam_meas)
        converted = abs(lam_meas - lam_model) > 1e-6 * lam_model
        background_x = two_theta
    if subtract_background:
        intensity = np.clip(intensity - estimate_background(background_x, intensity,
                                                            window_deg=0.1 if from_q else 1.5), 0.0, None)
    n_beyond = 0
    if converted:
        sin_theta = sin_theta_of_q(q, lam_model)
        keep = (sin_theta < 1.0) & (sin_theta > 0.0)
        n_beyond = int(np.count_nonzero(sin_theta >= 1.0))
        if np.count_nonzero(keep) < 2:
            raise PatternFileError(pattern.path, f"no measured point (Q {q[0]:.3f}–{q[-1]:.3f} 1/Å) is "
                                                 f"reachable at the model's wavelength {lam_model:.5f} Å",
                                   UNREACHABLE)
        x = two_theta_deg_from_sin_theta(sin_theta[keep])
        y = intensity[keep]
    else:
        x, y = two_theta, intensity

    tolerance = float(np.median(np.diff(x)))
    covered = (grid >= x[0] - tolerance) & (grid <= x[-1] + tolerance)
    coverage = float(np.count_nonzero(covered)) / len(grid)
    if coverage == 0.0:
        raise PatternFileError(pattern.path, f"the measured range (2θ {x[0]:.2f}–{x[-1]:.2f}° at the model's "
                                             f"λ = {lam_model:.5f} Å) does not overlap the model's grid "
                                             f"{grid[0]:.2f}–{grid[-1]:.2f}°", NO_OVERLAP)
    out = np.zeros(len(grid), dtype=np.float64)
    out[covered] = np.interp(grid[covered], x, y)
    if coverage < 1.0:
        lo, hi = max(x[0], grid[0]), min(x[-1], grid[-1])
        percent = f"{100 * coverage:.0f}" if coverage < 0.995 else ">99"
        warnings.append(f"covers 2θ {lo:.1f}–{hi:.1f}° of the model's {grid[0]:.1f}–{grid[-1]:.1f}° "
                        f"({percent} %); the rest is zero")
    scale = float(out.max())
    if normalize:
        if not (scale > 0 and math.isfinite(scale)):
            after = " after background subtraction" if subtract_background else ""
            raise PatternFileError(pattern.path, f"no intensity above zero in the model's 2θ range{after}",
                                   NO_INTENSITY)
        out /= scale
    info = {
        "coverage": coverage,
        "warning": "; ".join(warnings) if warnings else None,
        "warnings": warnings,
        "two_theta_range_deg": (float(x[0]), float(x[-1])),
        "q_range_inv_angstrom": (float(q[0]), float(q[-1])),
        "converted": bool(converted),
        "measured_wavelength_angstrom": None if lam_meas is None else float(lam_meas),
        "model_wavelength_angstrom": lam_model,
        "background_subtracted": bool(subtract_background),
        "scale": scale,
        "n_points_beyond_180_deg": n_beyond,
    }
    return out.astype(np.float32), info


def estimate_background(two_theta_deg, intensity, window_deg: float = 1.5, smooth_points: int = 5) -> np.ndarray:
    """Smooth background under a pattern ``intensity [N]`` at positions ``two_theta_deg [N]``: SNIP; returns ``[N]``.

    SNIP (Ryan et al. 1988, Nucl. Instrum. Methods B 34, 396) clips every point to the mean of its
    neighbours ±p for p = 1..m, after the log-log-sqrt transform; features narrower than about
    ``window_deg`` (the half-width m, in the units of the positions) are clipped away, broad humps stay.
    The pattern is scaled to a counts-like maximum, smoothed over ``smooth_points`` and padded by odd
    reflection (point-symmetric about each end, so a slope continues) so edge points see a full window; a
    plain mirror made a cusp of every sloped edge, which SNIP clipped like a peak, leaving the background
    below the data at a lab scan's steeply falling start and a false "peak" at its first point.
    """
    x = np.asarray(two_theta_deg, dtype=np.float64)
    y = np.clip(np.asarray(intensity, dtype=np.float64), 0.0, None)
    n = len(y)
    peak = float(y.max()) if n else 0.0
    if n < 3 or peak <= 0:
        return np.zeros(n, dtype=np.float64)
    step = float(np.median(np.diff(x)))
    m = int(max(1, min(round(window_deg / step), n // 2 - 1)))
    counts = y * (1e4 / peak)
    if smooth_points > 1:
        kernel = np.ones(smooth_points) / smooth_points
        counts = np.convolve(np.pad(counts, smooth_points // 2, mode="edge"), kernel, mode="valid")[:n]
    v = np.log(np.log(np.sqrt(counts + 1.0) + 1.0) + 1.0)
    v = np.pad(v, m, mode="reflect", reflect_type="odd")
    for p in range(1, m + 1):
        mean = 0.5 * (v[:-2 * p] + v[2 * p:])
        v[p:-p] = np.minimum(v[p:-p], mean)
    v = v[m:m + n]
    background = (np.exp(np.exp(v) - 1.0) - 1.0) ** 2 - 1.0
    return np.clip(background, 0.0, None) * (peak / 1e4)
