"""Every check before the model runs, in order, and the pattern on the model's grid: :func:`check_pattern`.

Pure: arrays in, a :class:`CheckedPattern` out (the row the network reads, the findings, the refusing
finding, the measurements). The order is the order of the findings in a result: x axis, wavelength,
coverage, peaks, metadata. The first refusing finding is the refusal, except that a thin film found
by the peaks wins over "too few peaks" (``check_peaks``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from xrdnet.checks.axis import check_x_axis
from xrdnet.checks.finding import LOW_COVERAGE, TOO_FEW_PEAKS, WAVELENGTH_ASSUMED, Finding, merge_by_code
from xrdnet.checks.metadata import check_metadata
from xrdnet.checks.peaks import check_peaks
from xrdnet.checks.thresholds import MIN_COVERAGE, MIN_POINTS, WARN_COVERAGE
from xrdnet.signal.axis import ordered_axis, q_of_axis, two_theta_at_model
from xrdnet.signal.background import noise_sigma
from xrdnet.signal.peaks import SharpPeaks, peak_measurements, shown_peaks

X_UNITS = ("2theta", "q", "d")

COVERAGE_CODES = {"no_overlap": LOW_COVERAGE, "unreachable": LOW_COVERAGE}
"""``PatternFileError.code`` of ``to_model_grid`` → the finding it is; any other code is ``too_few_peaks``."""


@dataclass
class CheckedPattern:
    """A pattern on the model grid with the findings of the checks (before the model runs).

    ``row [G]`` float32 (max = 1) is None when nothing of the pattern reaches the model's grid.
    ``refusing`` is the finding that refuses (None: the pattern can be answered); ``measured`` what the
    peak checks decided on (None when they did not run); ``scan_range_deg`` the measured 2θ span on the
    model grid at the model's wavelength.
    """

    row: np.ndarray | None
    findings: list[Finding]
    refusing: Finding | None
    coverage: float
    wavelength_angstrom: float | None
    wavelength_source: str
    x_unit: str
    peaks_two_theta_deg: list[float]
    source: str | None
    measured: SharpPeaks | None = None
    scan_range_deg: tuple[float, float] | None = None
    measurements: dict = field(default_factory=dict)

    @property
    def warnings(self) -> list[Finding]:
        """The findings (each has the ``code`` and ``message`` of a ``PredictionWarning``)."""
        return self.findings

    @property
    def refusal(self) -> str | None:
        """The short refusal text (``PredictionResult.refusal_reason``), None when the pattern can be answered."""
        return None if self.refusing is None else self.refusing.reason

    @property
    def refusal_code(self) -> str | None:
        """The code of the check that refused, None when the pattern can be answered."""
        return None if self.refusing is None else self.refusing.code

    @property
    def sharp_peaks(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(2θ [n], heights [n])`` of the sharp peaks the checks counted (what the indexing reads), or None."""
        return None if self.measured is None else (self.measured.two_theta_deg, self.measured.heights)

    def add(self, finding: Finding) -> None:
        """Record ``finding``; a refusing one becomes the refusal unless one is already there."""
        self.findings.append(finding)
        if finding.refuses and self.refusing is None:
            self.refusing = finding


def _arrays(x: Any, intensity: Any, x_unit: str) -> tuple[np.ndarray, np.ndarray]:
    """The two arrays as flat float64, checked (ValueError with what is wrong)."""
    if x_unit not in X_UNITS:
        raise ValueError(f"x_unit must be one of {X_UNITS}, got {x_unit!r}")
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(intensity, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x and intensity differ in length ({len(x)} and {len(y)})")
    if len(x) < MIN_POINTS:
        raise ValueError(f"{len(x)} points: a powder pattern needs at least {MIN_POINTS}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("x and intensity must be finite (no NaN or inf)")
    return x, y


def wavelength_finding(model_wavelength_angstrom: float) -> Finding:
    """``wavelength_assumed``: a 2θ axis without a stated wavelength is read at the model's, named."""
    from xrdnet.simulate.wavelengths import describe_wavelength

    return Finding(WAVELENGTH_ASSUMED, f"no wavelength stated (file or --wavelength): assumed the model's "
                   f"{describe_wavelength(model_wavelength_angstrom)}; if the pattern was measured with another "
                   "wavelength, the answer is meaningless",
                   measurements={"assumed_wavelength_angstrom": float(model_wavelength_angstrom)})


def coverage_finding(coverage: float, lo_deg: float, hi_deg: float, grid: np.ndarray,
                     model_wavelength_angstrom: float) -> Finding | None:
    """``low_coverage`` below ``WARN_COVERAGE`` of the model's range, refusing below ``MIN_COVERAGE``; else None."""
    if coverage >= WARN_COVERAGE:
        return None
    g0, g1 = float(grid[0]), float(grid[-1])
    refuses = coverage < MIN_COVERAGE
    lam = model_wavelength_angstrom
    return Finding(LOW_COVERAGE, f"covers 2θ {max(lo_deg, g0):.1f}–{min(hi_deg, g1):.1f}° of the model's "
                   f"{g0:.1f}–{g1:.1f}° at λ = {lam:.4f} Å ({100 * coverage:.0f} %); the rest is zero",
                   refuses, {"coverage": coverage},
                   f"covers {100 * coverage:.0f} % of the model's range (< {100 * MIN_COVERAGE:.0f} %)" if refuses
                   else None)


def check_pattern(x: Any, intensity: Any, grid_two_theta_deg: np.ndarray, model_wavelength_angstrom: float,
                  wavelength_angstrom: float | None = None, x_unit: str = "2theta",
                  x_unit_source: str = "argument", metadata: dict | None = None, source: str | None = None,
                  subtract_background: bool = False, was_decreasing: bool = False,
                  wavelength_source: str | None = None, x_unit_label: str | None = None) -> CheckedPattern:
    """Every check before the model runs, and the pattern on the model's grid (pure: arrays in, findings out).

    ``x [N]`` in the unit ``x_unit`` ("2theta" °, "q" 1/Å, "d" Å), ``intensity [N]``; the model's grid
    ``grid_two_theta_deg [G]`` at ``model_wavelength_angstrom``. ``x_unit_label``: the unit the caller read
    (a d file handed over as Q keeps its name in the messages); ``was_decreasing``: the reader reversed the axis.
    """
    from xrdnet.io.core import MeasuredPattern, PatternFileError
    from xrdnet.io.grid import to_model_grid

    x, y = _arrays(x, intensity, x_unit)
    x, y, reversed_here = ordered_axis(x, y)
    was_decreasing = was_decreasing or reversed_here

    label = x_unit_label or x_unit
    findings, refusing = check_x_axis(x, label if x_unit != "2theta" else x_unit, x_unit_source, was_decreasing)
    lam_model = float(model_wavelength_angstrom)
    if x_unit in ("q", "d"):
        two_theta, y = two_theta_at_model(q_of_axis(x, x_unit), y, lam_model)
        lam, lam_source = lam_model, "not needed"
    else:
        two_theta = x
        if wavelength_angstrom is None:
            lam, lam_source = lam_model, "assumed"
            findings.append(wavelength_finding(lam_model))
        else:
            lam, lam_source = float(wavelength_angstrom), wavelength_source or "argument"

    checked = CheckedPattern(None, findings, refusing, 0.0, lam, lam_source, label, [], source)
    if len(two_theta) < 2 or not np.all(np.isfinite(two_theta)) or two_theta[-1] >= 180 or two_theta[0] <= 0:
        checked.add(Finding(LOW_COVERAGE, "nothing of the pattern is in the model's range", True, {"coverage": 0.0},
                            "the pattern does not overlap the model's range"))
        return checked
    pattern = MeasuredPattern(path=Path(source or "<array>"), two_theta_deg=two_theta, intensity=y,
                              wavelength_angstrom=lam)
    try:
        row, info = to_model_grid(pattern, grid_two_theta_deg, lam_model, subtract_background=subtract_background)
    except PatternFileError as exc:
        code = COVERAGE_CODES.get(exc.code, TOO_FEW_PEAKS)
        checked.add(Finding(code, exc.problem, True, {"problem_code": exc.code}, exc.problem))
        return checked
    checked.row = row
    checked.coverage = float(info["coverage"])
    lo, hi = info["two_theta_range_deg"]
    g0, g1 = float(grid_two_theta_deg[0]), float(grid_two_theta_deg[-1])
    checked.scan_range_deg = (max(float(lo), g0), min(float(hi), g1))
    coverage = coverage_finding(checked.coverage, lo, hi, grid_two_theta_deg, lam_model)
    if coverage is not None:
        checked.add(coverage)
    inside = (two_theta >= g0) & (two_theta <= g1)
    measured = y[inside] if np.count_nonzero(inside) >= 5 else y
    noise = noise_sigma(measured) / max(float(info.get("scale") or 0.0), 1e-300) if not subtract_background else None
    checked.measured = peak_measurements(row, grid_two_theta_deg, noise)
    peak_findings, peak_refusal, _ = check_peaks(row, grid_two_theta_deg, lam_model, noise, checked.measured)
    checked.findings += peak_findings
    checked.refusing = checked.refusing or peak_refusal
    checked.peaks_two_theta_deg = shown_peaks(row, grid_two_theta_deg)
    for extra in check_metadata(metadata):  # one finding per code: merge with a peak-based thin_film finding
        checked.findings = merge_by_code(checked.findings, extra)
    checked.measurements = {"coverage": checked.coverage, "noise_sigma": noise,
                            "n_sharp_peaks": len(checked.measured.two_theta_deg),
                            "hump_ratio": checked.measured.hump_ratio}
    return checked
