"""The checks on the peaks of a pattern on the model grid: too few, an amorphous hump, one family (a film)."""

from __future__ import annotations

import numpy as np

from xrdnet.checks.finding import AMORPHOUS, THIN_FILM, TOO_FEW_PEAKS, Finding
from xrdnet.checks.thresholds import (AMORPHOUS_HUMP_RATIO, AMORPHOUS_MAX_PEAKS, DOUBLET_Q_TOLERANCE, MIN_PEAKS,
                                      ORDER_TOLERANCE, THIN_FILM_FAMILY_SHARE, THIN_FILM_MAX_FAMILY_PEAKS,
                                      THIN_FILM_MAX_PEAKS, THIN_FILM_STRONG_SHARE)
from xrdnet.signal.peaks import SharpPeaks, peak_measurements


def _peaks(n: int) -> str:
    return f"peak{'s' if n != 1 else ''}"


def check_peaks(row: np.ndarray, grid: np.ndarray, wavelength_angstrom: float, noise: float | None = None,
                measured: SharpPeaks | tuple | None = None) -> tuple[list[Finding], Finding | None, np.ndarray]:
    """``(findings, refusing finding or None, sharp peak 2θ [n])`` of a pattern ``row [G]`` on the model's grid.

    Decides on :func:`xrdnet.signal.peak_measurements` (``measured``, when already taken for this row;
    else measured here with ``noise``): a hump of ``AMORPHOUS_HUMP_RATIO`` with fewer than
    ``AMORPHOUS_MAX_PEAKS`` sharp peaks refuses as amorphous; fewer than ``MIN_PEAKS`` as too few; the
    strong peaks being one family of orders (:func:`one_family`) with at most ``THIN_FILM_MAX_PEAKS`` in
    all as a thin film, which wins over "too few" (it is the more specific reason).
    """
    peaks_two_theta, heights, hump_ratio = measured if measured is not None else peak_measurements(row, grid, noise)
    n = len(peaks_two_theta)
    numbers = {"n_sharp_peaks": n, "hump_ratio": float(hump_ratio)}
    findings: list[Finding] = []
    refusal = None
    hump = hump_ratio >= AMORPHOUS_HUMP_RATIO
    if hump:
        few = n < AMORPHOUS_MAX_PEAKS
        finding = Finding(
            AMORPHOUS, f"a broad hump reaching {100 * hump_ratio:.0f} % of the pattern's height, with {n} sharp "
            f"{_peaks(n)}: " + ("an amorphous or nanocrystalline sample has no crystal system to find" if few else
                                "an amorphous part, glass holder or strong background; peak intensities are less "
                                "reliable"),
            few, numbers, f"mostly amorphous (a broad hump and {n} sharp {_peaks(n)})" if few else None)
        findings.append(finding)
        refusal = finding if few else None
    if n < MIN_PEAKS and refusal is None:
        finding = Finding(TOO_FEW_PEAKS, f"{n} sharp {_peaks(n)} (at least {MIN_PEAKS} are needed "
                          "to tell crystal systems apart)", True, numbers, f"too few peaks ({n} < {MIN_PEAKS})")
        findings.append(finding)
        refusal = finding
    family = one_family(peaks_two_theta, heights, wavelength_angstrom) if not hump else None
    if family is not None:
        few = n <= THIN_FILM_MAX_PEAKS
        finding = Finding(
            THIN_FILM, f"the strong peaks are one family of orders ({family}), with {n} sharp {_peaks(n)} in all: "
            + ("an oriented film or single crystal shows only planes parallel to its surface, not a powder pattern"
               if few else "strong preferred orientation (or a film); relative intensities are not a powder's"),
            few, {**numbers, "family": family},
            "one family of reflections (oriented film or single crystal), not a powder" if few else None)
        findings.append(finding)
        if few:  # the more specific reason wins over "too few peaks"
            refusal = finding
    return findings, refusal, peaks_two_theta


def one_family(two_theta: np.ndarray, heights: np.ndarray, wavelength_angstrom: float) -> str | None:
    """A description when the strong peaks are orders n·Q₁ of one reflection (or one Kα doublet), else None.

    ``two_theta [n]`` (°, at ``wavelength_angstrom``) and ``heights [n]`` of the sharp peaks.
    """
    from xrdnet.units import q_inv_angstrom_from_two_theta

    if len(two_theta) == 0:
        return None
    strong = heights >= THIN_FILM_STRONG_SHARE * heights.max()
    if np.count_nonzero(strong) > THIN_FILM_MAX_FAMILY_PEAKS:
        return None
    q = q_inv_angstrom_from_two_theta(two_theta[strong], wavelength_angstrom)
    h = heights[strong]
    # merge Kα1/Kα2 doublets (ΔQ/Q ≈ 0.25 %): members within 0.5 % of a stronger line
    order = np.argsort(-h)
    lines: list[tuple[float, float]] = []
    for i in order:
        if any(abs(q[i] - ql) / ql < DOUBLET_Q_TOLERANCE for ql, _ in lines):
            continue
        lines.append((q[i], h[i]))
    if len(lines) > THIN_FILM_MAX_FAMILY_PEAKS - 1 and len(lines) > 2:
        return None
    q1 = min(ql for ql, _ in lines)
    in_family = [(ql, hl) for ql, hl in lines if abs(ql / q1 - round(ql / q1)) < ORDER_TOLERANCE]
    share = sum(hl for _, hl in in_family) / sum(hl for _, hl in lines)
    if share < THIN_FILM_FAMILY_SHARE or len(lines) > 3:
        return None
    orders = sorted({int(round(ql / q1)) for ql, _ in in_family})
    if len(lines) == 1:
        return f"one reflection at Q = {q1:.3f} 1/Å"
    if len(orders) < 2:
        return None  # unrelated strong lines: not one family
    return f"Q ratios {':'.join(map(str, orders))} from Q₁ = {q1:.3f} 1/Å"
