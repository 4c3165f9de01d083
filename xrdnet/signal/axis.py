"""The x axis of a measured pattern: ordered, de-duplicated, and Q or d brought to the model's 2θ.

Pure array code: what a reader or a caller hands over may run either way or repeat a point; the
checks and the model grid want increasing, unique positions, and a Q or d axis needs no measured
wavelength (Q = 4π sinθ/λ is the same for every λ), only the model's.
"""

from __future__ import annotations

import numpy as np

from xrdnet.units import sin_theta_of_q, two_theta_deg_from_sin_theta


def ordered_axis(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """``(x [M], y [M], was_decreasing)``: increasing unique ``x``, intensities clipped at zero.

    A strictly decreasing axis is reversed (and said so: d files are written that way, and a
    decreasing "2θ" in a d range is the hint the x-axis check uses); otherwise points are sorted
    stably and a repeated position keeps its first point.
    """
    was_decreasing = bool(np.all(np.diff(x) < 0))
    if was_decreasing:
        x, y = x[::-1], y[::-1]
    order = np.argsort(x, kind="stable")
    x, y = x[order], np.clip(y[order], 0, None)
    keep = np.concatenate([[True], np.diff(x) > 0])
    return x[keep], y[keep], was_decreasing


def q_of_axis(x: np.ndarray, x_unit: str) -> np.ndarray:
    """Q (1/Å) of positions ``x [M]`` given as Q (``"q"``) or d spacing in Å (``"d"``: Q = 2π/d)."""
    if x_unit == "q":
        return x
    with np.errstate(divide="ignore"):
        return 2.0 * np.pi / x


def two_theta_at_model(q_inv_angstrom: np.ndarray, y: np.ndarray, wavelength_angstrom: float
                       ) -> tuple[np.ndarray, np.ndarray]:
    """``(2θ [K], y [K])``, 2θ in degrees at ``wavelength_angstrom``, of the points reachable there (sinθ < 1).

    Sorted by Q, so 2θ increases; ``y [M]`` follows its points.
    """
    q = q_inv_angstrom
    ok = (q > 0) & (sin_theta_of_q(q, wavelength_angstrom) < 1.0)
    q, y = q[ok], y[ok]
    o = np.argsort(q)
    q, y = q[o], y[o]
    return two_theta_deg_from_sin_theta(sin_theta_of_q(q, wavelength_angstrom)), y
