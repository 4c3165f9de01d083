"""One prediction API under the CLI: arrays in, a typed, honest result out.

>>> import xrdnet
>>> result = xrdnet.predict(two_theta_deg, intensity, wavelength="CuKa")      # doctest: +SKIP
>>> result.crystal_system.name, result.crystal_system.probability, [w.code for w in result.warnings]

:class:`Predictor` loads a checkpoint (or several: an ensemble averages their calibrated probabilities)
once and answers many patterns; :func:`predict` is the one-call form with the shipped checkpoint.
Files are read by ``xrdnet.patterns_io`` and handed over as :class:`~xrdnet.patterns_io.MeasuredPattern`
(:meth:`Predictor.predict_pattern`); ``xrdnet predict`` and ``predict_files`` are thin layers on top.

Before it answers, every pattern is checked (pure functions on arrays, :func:`check_pattern`), and
each finding is a :class:`PredictionWarning` with a code:

==========================  ===========================================================  ==========
code                        when                                                         refuses?
==========================  ===========================================================  ==========
``x_axis_not_2theta``       the x axis is Q or d (stated: converted, no wavelength           if only
                            needed) or looks like it (values ≤ ``X_AXIS_MAX_FOR_Q_OR_D``,    guessed
                            or decreasing values in a d range) while called 2θ
``wavelength_assumed``      a 2θ axis without a stated wavelength: the model's (its line      no
                            and λ, e.g. Cu Kα1) is assumed and named
``low_coverage``            the pattern covers less than ``WARN_COVERAGE`` of the model's     below
                            2θ range (at its wavelength, i.e. of its Q range); the message    ``MIN_COVERAGE``
                            quotes the card's accuracy on validation scans cut alike
``too_few_peaks``           fewer than ``MIN_PEAKS`` sharp peaks                              yes
``amorphous``               a broad hump reaches ``AMORPHOUS_HUMP_RATIO`` of the pattern's    with fewer
                            height above its floor                                            than 6 peaks
``thin_film``               XRDML scan axis 2θ-ω / header words (warning); or the strong     one family
                            peaks are one family of orders (Q ratios 1:2:3…) (refusal)
``likely_mixture``          the mixture detector (``xrdnet.mixture``) says so                no
``mixture_detector_``       the checkpoint's mixture detector failed to load or to run: no    no
``unavailable``             pattern of the batch could be flagged ``likely_mixture``
``indexing_disagrees``      the peaks index confidently (``xrdnet.indexing.evidence``) on    no
                            a cell of another crystal system than the answer; names it
``low_confidence``          below ``min_confidence``: the answer is "uncertain"               (abstains)
``prior``                   ``prior=`` re-weighted the probabilities                          no
``forced``                  ``force=True`` answered despite a refusal                         (answers)
``reader``                  what the file reader repaired or guessed (reversed axis, ...)     no
==========================  ===========================================================  ==========

A refused pattern gets no class answer (``refused`` with ``refusal_reason``) unless ``force=True``.
Probabilities are temperature-scaled with the checkpoint's ``calibration.json`` (fitted on simulated
validation data) and can be re-weighted for a known sample population (``prior=``).
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import scipy.ndimage

from xrdnet.indexing.evidence import (CONFIDENT_MIN_MERIT, CONFIDENT_MIN_SHARE, FAMILY_OF_SYSTEM,
                                      agrees, cell_record, combine_with_cell, describe_axes, index_measured_peaks,
                                      is_confident, trust_of_cell)
from xrdnet.symmetry import CRYSTAL_SYSTEMS, N_SPACE_GROUPS, space_group_symbol

__all__ = [
    "Predictor",
    "PredictionResult",
    "PredictionWarning",
    "ClassScore",
    "RuleExplanation",
    "ModelInfo",
    "predict",
    "check_pattern",
    "default_checkpoint",
    "X_UNITS",
]

X_UNITS = ("2theta", "q", "d")

# ---- thresholds of the checks (named, so the docs and the tests point at one place)
MIN_COVERAGE = 0.2
"""Refuse when less than this share of the model's 2θ range (its Q range) is measured.

Rule as for the others (false refusals ≤ 1 % on simulated validation patterns: 0.00 % of 4000, which
cover the whole range, so the rule does not pin it); validation patterns cut to 5–19 % of the range are
refused 100 % (``scripts/calibrate_checks.py``)."""
WARN_COVERAGE = 0.75
"""Warn (``low_coverage``) when less than this share is measured."""
MIN_PEAKS = 3
"""Refuse with fewer sharp peaks: two lines do not fix a lattice (an fcc metal has 3 below 90°).

Rule (``scripts/calibrate_checks.py``, simulated data only): false refusals on simulated single-phase
validation patterns ≤ 1 %. Measured: 0.00 % of 4000 (4: 0.075 %, 5: 0.53 %, 6: 1.75 %); patterns
with 0–2 lines are refused 99.8 % of the time (32 % as too_few_peaks, the rest as one family)."""
SHARP_PEAK_MIN_HEIGHT = 0.02
"""A sharp peak rises at least 2 % of the pattern maximum above the broad background."""
AMORPHOUS_HUMP_RATIO = 0.5
"""A broad background whose top reaches half the pattern's top (both above the flat floor) is a hump.

Rule (with ``AMORPHOUS_MAX_PEAKS``; ``scripts/calibrate_checks.py``, simulated data only): false
refusals on simulated single-phase validation patterns ≤ 1 %. Measured: 0.00 % of 4000; simulated
amorphous humps (FWHM 5–10°, 0–2 weak peaks) refused as amorphous 64 % (85 % for any reason). The
rule does not pin this ratio: every value from 0.2 up has 0.00 % false refusals there, and 0.3 would
catch 99.6 % of the simulated humps; 0.5 is kept because it meets the rule."""
BACKGROUND_WINDOW_DEG = 0.75
"""SNIP half-window separating sharp peaks (≤ 0.5° wide in a lab scan) from humps and background."""
PEAK_SIGMAS = 5.0
"""A sharp peak stands this many noise σ above the background and its neighbours."""
SMOOTH_DEG = 0.1
"""The pattern is averaged over this 2θ width before the sharp part is taken (noise averages out)."""
X_AXIS_MAX_FOR_Q_OR_D = 12.0
"""A "2θ" axis that never exceeds 12° is read as a Q (1/Å; Cu Kα 5–90° is Q 0.36–6.0) or d range.

False refusals on simulated validation patterns (2θ 5–90°): 0.00 % of 4000; their Q axes given
unlabelled as 2θ are refused 100 % (``scripts/calibrate_checks.py``)."""
THIN_FILM_FAMILY_SHARE = 0.9
"""Peaks of one family of orders (Q ≈ n·Q₁) holding this share of the peak height, with at most
``THIN_FILM_MAX_FAMILY_PEAKS`` strong peaks overall: an oriented film, not a powder."""
THIN_FILM_MAX_FAMILY_PEAKS = 4
THIN_FILM_MAX_PEAKS = 6
"""One family refuses only with at most this many sharp peaks in all; with more it is texture (a warning).

Rule (``scripts/calibrate_checks.py``, simulated data only): false refusals on simulated single-phase
validation patterns ≤ 1 %. Measured: 0.00 % of 4000 (the one-family test never fires on them, so
any value 2–15 meets the rule); simulated films (2–4 orders n·Q₁) refused as thin_film 80 % (the
misses are the one-family test's, not this count's: 4–15 all give 80 %)."""
AMORPHOUS_MAX_PEAKS = 6
"""A pattern with a broad hump (``AMORPHOUS_HUMP_RATIO``) and fewer sharp peaks is refused.

Chosen with ``AMORPHOUS_HUMP_RATIO`` by the same rule (false refusals ≤ 1 % on simulated validation
patterns: 0.00 %); at ratio 0.5, 3 → 6 peaks raises detection of simulated humps from 33 % to 64 %."""
_THIN_FILM_WORDS = re.compile(r"(?i)thin[ -]?film|epitax|\bom(ega)?[-_ ]?2th|2theta[-_ ]?omega|omega[-_ ]?2theta|"
                              r"rocking|reciprocal space map|\bMRD\b|grazing|GIXRD")
REFUSING_CODES = ("x_axis_not_2theta", "low_coverage", "too_few_peaks", "amorphous", "thin_film")
MIXTURE_UNAVAILABLE = "mixture_detector_unavailable"
"""Code of the results the mixture detector could not judge (it failed to load or to run)."""


@dataclass(frozen=True)
class PredictionWarning:
    """One finding about a pattern: a stable ``code`` (see the module docstring) and a sentence."""

    code: str
    message: str

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message}

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


Warning = PredictionWarning  # noqa: A001 - the name the issue uses; PredictionWarning avoids shadowing


@dataclass(frozen=True)
class ClassScore:
    """A class and its probability: crystal system (``index`` 0..6) or space group (``index`` = ITA number)."""

    name: str
    index: int
    probability: float


@dataclass(frozen=True)
class RuleExplanation:
    """The surrogate tree's rule for this pattern's leaf, shown only when its class is the answer."""

    text: str
    class_name: str
    fidelity: float | None
    accuracy: float | None
    n: int | None


@dataclass(frozen=True)
class ModelInfo:
    """What answered: checkpoint name(s), kind(s), calibration, and the measured figures of its card."""

    name: str
    kinds: tuple[str, ...]
    paths: tuple[str, ...]
    calibrated: bool
    temperatures: tuple[tuple[float, float], ...]
    real_cs_accuracy: float | None = None
    real_baseline_cs_accuracy: float | None = None
    real_n: int | None = None
    real_set: str | None = None
    wavelength_angstrom: float | None = None
    """The run's own (``LoadedRun.wavelength_angstrom``); required: no model is trained at an assumed one."""
    two_theta_range_deg: tuple[float, float] = (5.0, 90.0)
    real_by_scan_range: tuple[dict, ...] = ()
    """The card's accuracy on the measured set cut to laboratory scan ranges (``scripts/calibrate.py``)."""
    real_network_cs_accuracy: float | None = None
    """The network's own accuracy on the measured set; ``real_cs_accuracy`` is that of the answers as given."""
    real_with_indexing: bool = False
    """Whether ``real_cs_accuracy`` is measured with the indexing evidence mixed in, as this predictor answers."""

    def __post_init__(self) -> None:
        if self.wavelength_angstrom is None:
            raise ValueError(f"model {self.name}: no wavelength stated for its training patterns; a 2θ answer "
                             "needs the model's wavelength (no default is assumed)")

    def scan_range_note(self, start_deg: float, end_deg: float) -> str:
        """What a scan of 2θ ``start_deg``–``end_deg`` costs this model, from its card: the measured accuracy
        on the validation scans cut to the nearest laboratory range, beside the full-range figure."""
        from xrdnet.simulate.coverage import nearest_scan_range

        full = self.real_network_cs_accuracy if self.real_network_cs_accuracy is not None else self.real_cs_accuracy
        if not self.real_by_scan_range or full is None:
            return "this model's accuracy on such short scans is not on record (card.json)"
        entry = self.real_by_scan_range[nearest_scan_range(
            start_deg, end_deg, [e["two_theta_range_deg"] for e in self.real_by_scan_range])]
        lo, hi = entry["two_theta_range_deg"]
        return (f"on the {self.real_n or ''} measured {self.real_set or 'validation'} scans cut to {lo:.0f}–{hi:.0f}° "
                f"this model gets the crystal system right {100 * entry['cs_accuracy']:.1f} % of the time "
                f"({100 * full:.1f} % over its full range; network alone)").replace("  ", " ")

    def headline(self) -> str:
        """One line: the model, its measured accuracy on real patterns and the constant baseline."""
        text = f"model {self.name}"
        if self.real_cs_accuracy is not None:
            text += (f": {100 * self.real_cs_accuracy:.1f} % crystal-system accuracy on "
                     f"{self.real_n or ''} measured {self.real_set or 'real'} patterns".replace("  ", " "))
            if self.real_with_indexing and self.real_network_cs_accuracy is not None:
                text += f" with the indexing evidence ({100 * self.real_network_cs_accuracy:.1f} % network alone)"
            if self.real_baseline_cs_accuracy is not None:
                text += f" (always answering the commonest system: {100 * self.real_baseline_cs_accuracy:.1f} %)"
        else:
            text += ": no measured real-pattern accuracy on record (card.json)"
        return text + ("" if self.calibrated else "; probabilities not calibrated")


@dataclass
class PredictionResult:
    """The answer for one pattern.

    ``status`` is ``"answered"``, ``"uncertain"`` (top probability below ``min_confidence``: no
    single answer, see ``top_crystal_systems``) or ``"refused"`` (``refusal_reason``; no class
    answer, unless forced). ``crystal_system`` / ``space_group`` are None unless answered (or
    forced). ``space_group`` is the best group within the predicted crystal system; when that is
    not the overall most probable group, ``space_group_is_overall_top`` is False. Probabilities
    are calibrated (and re-weighted by the prior, when one is given): ``crystal_system_proba [7]``,
    ``space_group_proba [230]`` (column j = group j + 1), empty when refused. When a confident
    indexing cell was combined with the network (``Predictor(combine_indexing=True)``, the default),
    they are the combined probabilities and ``network_crystal_system`` is the network's own answer.
    """

    status: str
    model: ModelInfo
    crystal_system: ClassScore | None = None
    space_group: ClassScore | None = None
    space_group_is_overall_top: bool = True
    top_crystal_systems: list[ClassScore] = field(default_factory=list)
    top_space_groups: list[ClassScore] = field(default_factory=list)
    crystal_system_proba: np.ndarray = field(default_factory=lambda: np.zeros(0))
    space_group_proba: np.ndarray = field(default_factory=lambda: np.zeros(0))
    warnings: list[PredictionWarning] = field(default_factory=list)
    refusal_reason: str | None = None
    forced: bool = False
    rule: RuleExplanation | None = None
    peaks_two_theta_deg: list[float] = field(default_factory=list)
    coverage: float = 1.0
    wavelength_angstrom: float | None = None
    wavelength_source: str = "default"
    x_unit: str = "2theta"
    prior: str | None = None
    mixture_probability: float | None = None
    source: str | None = None
    cell: dict | None = None
    cell_of_predicted_system: dict | None = None
    network_crystal_system: ClassScore | None = None
    combined_with_indexing: bool = False

    @property
    def refused(self) -> bool:
        return self.status == "refused"

    @property
    def uncertain(self) -> bool:
        return self.status == "uncertain"

    @property
    def warning_codes(self) -> list[str]:
        return [w.code for w in self.warnings]

    def to_dict(self) -> dict:
        """Plain-JSON form (``xrdnet predict --json``)."""
        def score(s: ClassScore | None, kind: str) -> dict | None:
            if s is None:
                return None
            if kind == "cs":
                return {"name": s.name, "index": s.index, "probability": s.probability}
            return {"number": s.index, "symbol": s.name, "probability": s.probability}

        m = self.model
        return {
            "file": self.source,
            "status": self.status,
            "refused": self.refused,
            "refusal_reason": self.refusal_reason,
            "forced": self.forced,
            "crystal_system": score(self.crystal_system, "cs"),
            "space_group": score(self.space_group, "sg"),
            "space_group_is_overall_top": self.space_group_is_overall_top,
            "top_k": {"crystal_system": [score(s, "cs") for s in self.top_crystal_systems],
                      "space_group": [score(s, "sg") for s in self.top_space_groups]},
            "rule": None if self.rule is None else self.rule.text,
            "rule_fidelity": None if self.rule is None else self.rule.fidelity,
            "peaks_two_theta_deg": self.peaks_two_theta_deg,
            "coverage": self.coverage,
            "wavelength_angstrom": self.wavelength_angstrom,
            "wavelength_source": self.wavelength_source,
            "x_unit": self.x_unit,
            "prior": self.prior,
            "mixture_probability": self.mixture_probability,
            "cell": self.cell,
            "cell_of_predicted_system": self.cell_of_predicted_system,
            "network_crystal_system": score(self.network_crystal_system, "cs"),
            "combined_with_indexing": self.combined_with_indexing,
            "warnings": [w.to_dict() for w in self.warnings],
            "model": {"name": m.name, "kinds": list(m.kinds), "calibrated": m.calibrated,
                      "temperatures": [list(t) for t in m.temperatures],
                      "real_cs_accuracy": m.real_cs_accuracy, "real_network_cs_accuracy": m.real_network_cs_accuracy,
                      "real_with_indexing": m.real_with_indexing,
                      "real_baseline_cs_accuracy": m.real_baseline_cs_accuracy, "real_n": m.real_n,
                      "real_set": m.real_set},
        }


# --------------------------------------------------------------------------- pure checks


@dataclass
class _Prepared:
    """A pattern on the model grid with the findings of the checks (before the model runs)."""

    row: np.ndarray | None
    warnings: list[PredictionWarning]
    refusal: str | None
    coverage: float
    wavelength_angstrom: float | None
    wavelength_source: str
    x_unit: str
    peaks_two_theta_deg: list[float]
    source: str | None
    error: str | None = None
    sharp_peaks: tuple | None = None  # (2θ [n], heights [n]) of the sharp peaks the checks counted
    scan_range_deg: tuple[float, float] | None = None  # measured 2θ span on the model grid, at the model's λ


def _x_to_q(x: np.ndarray, x_unit: str) -> np.ndarray:
    if x_unit == "q":
        return x
    with np.errstate(divide="ignore"):
        return 2.0 * np.pi / x  # d in Å


def check_x_axis(x: np.ndarray, x_unit: str, x_unit_source: str, was_decreasing: bool = False
                 ) -> tuple[list[PredictionWarning], str | None]:
    """Findings about the x axis. ``x_unit_source``: "argument"/"header"/"file" (stated) or "default"/"guess".

    A stated Q or d axis is converted (a warning says so); a 2θ axis that only *looks* like Q or d
    (all values ≤ ``X_AXIS_MAX_FOR_Q_OR_D``, or decreasing values in a d range) is refused.
    """
    names = {"q": "Q (1/Å)", "d": "d spacing (Å)"}
    stated = x_unit_source not in ("default", "guess", "values", None)
    if x_unit in ("q", "d"):
        how = "stated" if stated else "guessed from the values"
        msg = (f"the x axis is {names[x_unit]} ({how}), not 2θ: converted to 2θ at the model's wavelength "
               "(no wavelength needed)")
        if stated:
            return [PredictionWarning("x_axis_not_2theta", msg)], None
        return [PredictionWarning("x_axis_not_2theta", msg + "; pass the unit (--x-unit) to confirm")], \
            f"the x axis looks like {names[x_unit]}, not 2θ"
    if stated:
        return [], None
    lo, hi = float(np.min(x)), float(np.max(x))
    if hi <= X_AXIS_MAX_FOR_Q_OR_D:
        return [PredictionWarning(
            "x_axis_not_2theta",
            f"x runs {lo:.3g}–{hi:.3g}: a Q (1/Å) or d (Å) range rather than powder 2θ in degrees; "
            "say which with --x-unit {2theta,q,d} (x_unit=)")], "the x axis does not look like 2θ"
    if was_decreasing and hi <= 40.0:
        return [PredictionWarning(
            "x_axis_not_2theta",
            f"x decreases from {hi:.3g} to {lo:.3g}, as d spacings (Å) do; say which with --x-unit")], \
            "the x axis looks like d spacing, not 2θ"
    return [], None


def noise_sigma(values: np.ndarray) -> float:
    """Robust point-to-point noise σ of a signal: 1.4826·median|Δ²y| / √6 (white noise)."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) < 5:
        return 0.0
    return float(1.4826 * np.median(np.abs(np.diff(v, 2))) / math.sqrt(6.0))


def _sharp_part(row: np.ndarray, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(sharp, broad)`` parts of a pattern ``row [G]``: SNIP background (humps, slopes) and what rises above it."""
    from xrdnet.patterns_io import estimate_background

    covered = row > 0
    sharp = np.zeros_like(row, dtype=np.float64)
    broad = np.zeros_like(row, dtype=np.float64)
    if np.count_nonzero(covered) < 3:
        return sharp, broad
    idx = np.flatnonzero(covered)
    lo, hi = idx[0], idx[-1] + 1
    seg = row[lo:hi].astype(np.float64)
    step = float(np.median(np.diff(grid)))
    width = 2 * int(round(SMOOTH_DEG / step / 2)) + 1  # odd: no half-sample shift
    smooth = scipy.ndimage.uniform_filter1d(seg, width, mode="nearest")
    broad[lo:hi] = estimate_background(grid[lo:hi], seg, window_deg=BACKGROUND_WINDOW_DEG)
    sharp[lo:hi] = np.clip(smooth - broad[lo:hi], 0, None)
    return sharp, broad


def peak_measurements(row: np.ndarray, grid: np.ndarray, noise: float | None = None
                      ) -> tuple[np.ndarray, np.ndarray, float]:
    """What :func:`check_peaks` decides on: ``(sharp peak 2θ [n], their heights [n], hump ratio)``.

    Split out so that ``scripts/calibrate_checks.py`` can sweep the refusal thresholds over the
    very same measurements (see :func:`check_peaks` for what each one is).
    """
    from xrdnet.features import PeakFinderConfig, find_peaks

    sigma = noise_sigma(row[row > 0]) if noise is None else float(noise)
    sharp, broad = _sharp_part(row, grid)
    covered = row > 0
    floor = float(np.percentile(row[covered], 5)) if np.any(covered) else 0.0
    top = float(np.max(row) - floor)
    hump_ratio = float(np.max(broad[covered] - floor) / top) if top > 0 and np.any(covered) else 0.0
    peaks_two_theta = np.zeros(0)
    heights = np.zeros(0)
    if sharp.max() > 0:
        pk = find_peaks(sharp, grid, PeakFinderConfig(smooth_points=3, noise_sigmas=0.0))
        scale = float(sharp.max()) / max(float(row.max()), 1e-12)
        absolute, prominence = pk.height * scale, pk.prominence * scale
        keep = (absolute >= max(SHARP_PEAK_MIN_HEIGHT, PEAK_SIGMAS * sigma)) & (prominence >= PEAK_SIGMAS * sigma)
        peaks_two_theta, heights = pk.two_theta_deg[keep], absolute[keep]
    return peaks_two_theta, heights, hump_ratio


def check_peaks(row: np.ndarray, grid: np.ndarray, wavelength_angstrom: float, noise: float | None = None,
                measured: tuple | None = None) -> tuple[list[PredictionWarning], str | None, np.ndarray]:
    """Findings about the peaks of a pattern ``row [G]`` on the model's grid (max = 1).

    Sharp peaks are counted on the (0.1°-smoothed) pattern minus its SNIP background (half-window
    ``BACKGROUND_WINDOW_DEG``): at least ``SHARP_PEAK_MIN_HEIGHT`` of the maximum high and
    ``PEAK_SIGMAS`` noise σ prominent (``noise``: σ of the measured points on the row's scale;
    estimated from the row when None). A broad hump is a background whose top, above the flat floor
    (5th percentile), reaches ``AMORPHOUS_HUMP_RATIO`` of the pattern's top above that floor.
    ``measured``: what :func:`peak_measurements` already gave for this row, so it is not measured twice.
    Returns ``(warnings, refusal, sharp peak positions in 2θ)``.
    """
    peaks_two_theta, heights, hump_ratio = measured if measured is not None else peak_measurements(row, grid, noise)
    n = len(peaks_two_theta)
    warnings: list[PredictionWarning] = []
    refusal = None
    hump = hump_ratio >= AMORPHOUS_HUMP_RATIO
    if hump:
        few = n < AMORPHOUS_MAX_PEAKS
        warnings.append(PredictionWarning(
            "amorphous", f"a broad hump reaching {100 * hump_ratio:.0f} % of the pattern's height, with {n} sharp "
            f"peak{'s' if n != 1 else ''}: " + ("an amorphous or nanocrystalline sample has no crystal system to find"
                                                if few else "an amorphous part, glass holder or strong background; "
                                                "peak intensities are less reliable")))
        if few:
            refusal = f"mostly amorphous (a broad hump and {n} sharp peak{'s' if n != 1 else ''})"
    if n < MIN_PEAKS and refusal is None:
        warnings.append(PredictionWarning(
            "too_few_peaks", f"{n} sharp peak{'s' if n != 1 else ''} (at least {MIN_PEAKS} are needed "
            "to tell crystal systems apart)"))
        refusal = f"too few peaks ({n} < {MIN_PEAKS})"
    family = _one_family(peaks_two_theta, heights, wavelength_angstrom) if not hump else None
    if family is not None:
        few = n <= THIN_FILM_MAX_PEAKS
        warnings.append(PredictionWarning(
            "thin_film", f"the strong peaks are one family of orders ({family}), with {n} sharp "
            f"peak{'s' if n != 1 else ''} in all: "
            + ("an oriented film or single crystal shows only planes parallel to its surface, not a powder pattern"
               if few else "strong preferred orientation (or a film); relative intensities are not a powder's")))
        if few:  # the more specific reason wins over "too few peaks"
            refusal = "one family of reflections (oriented film or single crystal), not a powder"
    return warnings, refusal, peaks_two_theta


def _one_family(two_theta: np.ndarray, heights: np.ndarray, wavelength_angstrom: float) -> str | None:
    """A description when the strong peaks are orders n·Q₁ of one reflection (or one Kα doublet), else None."""
    from xrdnet.features import q_inv_angstrom_from_two_theta

    if len(two_theta) == 0:
        return None
    strong = heights >= 0.05 * heights.max()
    if np.count_nonzero(strong) > THIN_FILM_MAX_FAMILY_PEAKS:
        return None
    q = q_inv_angstrom_from_two_theta(two_theta[strong], wavelength_angstrom)
    h = heights[strong]
    # merge Kα1/Kα2 doublets (ΔQ/Q ≈ 0.25 %): members within 0.5 % of a stronger line
    order = np.argsort(-h)
    lines: list[tuple[float, float]] = []
    for i in order:
        if any(abs(q[i] - ql) / ql < 0.005 for ql, _ in lines):
            continue
        lines.append((q[i], h[i]))
    if len(lines) > THIN_FILM_MAX_FAMILY_PEAKS - 1 and len(lines) > 2:
        return None
    q1 = min(ql for ql, _ in lines)
    in_family = [(ql, hl) for ql, hl in lines if abs(ql / q1 - round(ql / q1)) < 0.02]
    share = sum(hl for _, hl in in_family) / sum(hl for _, hl in lines)
    if share < THIN_FILM_FAMILY_SHARE or len(lines) > 3:
        return None
    orders = sorted({int(round(ql / q1)) for ql, _ in in_family})
    if len(lines) == 1:
        return f"one reflection at Q = {q1:.3f} 1/Å"
    if len(orders) < 2:
        return None  # unrelated strong lines: not one family
    return f"Q ratios {':'.join(map(str, orders))} from Q₁ = {q1:.3f} 1/Å"


def check_metadata(metadata: dict | None) -> list[PredictionWarning]:
    """Thin-film hints in a file's metadata: XRDML scan axis 2θ-ω, header words (film, epitaxy, MRD...)."""
    metadata = metadata or {}
    found = []
    axis = str(metadata.get("scan_axis") or "")
    if axis and axis.lower().replace(" ", "") in ("2theta-omega", "omega-2theta"):
        found.append(f"the scan axis is {axis!r} (a coupled scan of a mounted sample, used for films; "
                     "powder scans say 'Gonio')")
    text = " ".join(str(v) for k, v in metadata.items() if k in ("header", "comments", "measurement_type", "sample"))
    words = sorted({m.group(0) for m in _THIN_FILM_WORDS.finditer(text)})
    if words:
        found.append("the header mentions " + ", ".join(repr(w) for w in words[:3]))
    if not found:
        return []
    return [PredictionWarning("thin_film", "; ".join(found) + ": if this is a film, expect texture and missing "
                              "reflections; the model was trained on powders")]


def check_pattern(x: Any, intensity: Any, grid_two_theta_deg: np.ndarray, model_wavelength_angstrom: float,
                  wavelength_angstrom: float | None = None, x_unit: str = "2theta",
                  x_unit_source: str = "argument", metadata: dict | None = None, source: str | None = None,
                  subtract_background: bool = False, was_decreasing: bool = False,
                  wavelength_source: str | None = None, x_unit_label: str | None = None) -> _Prepared:
    """Every check before the model runs, and the pattern on the model's grid (pure: arrays in, findings out)."""
    from xrdnet.patterns_io import MeasuredPattern, PatternFileError, to_model_grid
    from xrdnet.simulate.wavelengths import describe_wavelength

    if x_unit not in X_UNITS:
        raise ValueError(f"x_unit must be one of {X_UNITS}, got {x_unit!r}")
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(intensity, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x and intensity differ in length ({len(x)} and {len(y)})")
    if len(x) < 20:
        raise ValueError(f"{len(x)} points: a powder pattern needs at least 20")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("x and intensity must be finite (no NaN or inf)")
    if np.all(np.diff(x) < 0):
        was_decreasing = True
        x, y = x[::-1], y[::-1]
    order = np.argsort(x, kind="stable")
    x, y = x[order], np.clip(y[order], 0, None)
    keep = np.concatenate([[True], np.diff(x) > 0])
    x, y = x[keep], y[keep]

    label = x_unit_label or x_unit
    warnings, refusal = check_x_axis(x, label if x_unit != "2theta" else x_unit, x_unit_source, was_decreasing)
    lam_model = float(model_wavelength_angstrom)
    if x_unit in ("q", "d"):
        q = _x_to_q(x, x_unit)
        ok = (q > 0) & (q * lam_model / (4 * np.pi) < 1.0)
        q, y = q[ok], y[ok]
        o = np.argsort(q)
        q, y = q[o], y[o]
        two_theta = 2.0 * np.rad2deg(np.arcsin(q * lam_model / (4 * np.pi)))
        lam, lam_source = lam_model, "not needed"
    else:
        two_theta = x
        if wavelength_angstrom is None:
            lam, lam_source = lam_model, "assumed"
            warnings.append(PredictionWarning(
                "wavelength_assumed", f"no wavelength stated (file or --wavelength): assumed the model's "
                f"{describe_wavelength(lam_model)}; if the pattern was measured with another wavelength, the "
                "answer is meaningless"))
        else:
            lam, lam_source = float(wavelength_angstrom), wavelength_source or "argument"

    prepared = _Prepared(None, warnings, refusal, 0.0, lam, lam_source, label, [], source)
    if len(two_theta) < 2 or not np.all(np.isfinite(two_theta)) or two_theta[-1] >= 180 or two_theta[0] <= 0:
        prepared.warnings.append(PredictionWarning("low_coverage", "nothing of the pattern is in the model's range"))
        prepared.refusal = prepared.refusal or "the pattern does not overlap the model's range"
        return prepared
    pattern = MeasuredPattern(path=Path(source or "<array>"), two_theta_deg=two_theta, intensity=y,
                              wavelength_angstrom=lam)
    try:
        row, info = to_model_grid(pattern, grid_two_theta_deg, lam_model, subtract_background=subtract_background)
    except PatternFileError as exc:
        problem = exc.problem
        code = "low_coverage" if "overlap" in problem or "reachable" in problem else "too_few_peaks"
        prepared.warnings.append(PredictionWarning(code, problem))
        prepared.refusal = prepared.refusal or problem
        return prepared
    prepared.row = row
    prepared.coverage = float(info["coverage"])
    lo, hi = info["two_theta_range_deg"]
    g0, g1 = float(grid_two_theta_deg[0]), float(grid_two_theta_deg[-1])
    prepared.scan_range_deg = (max(float(lo), g0), min(float(hi), g1))
    if prepared.coverage < WARN_COVERAGE:
        msg = (f"covers 2θ {max(lo, g0):.1f}–{min(hi, g1):.1f}° of the model's {g0:.1f}–{g1:.1f}° at "
               f"λ = {lam_model:.4f} Å ({100 * prepared.coverage:.0f} %); the rest is zero")
        prepared.warnings.append(PredictionWarning("low_coverage", msg))
        if prepared.coverage < MIN_COVERAGE:
            prepared.refusal = prepared.refusal or (f"covers {100 * prepared.coverage:.0f} % of the model's range "
                                                    f"(< {100 * MIN_COVERAGE:.0f} %)")
    inside = (two_theta >= g0) & (two_theta <= g1)
    measured = y[inside] if np.count_nonzero(inside) >= 5 else y
    noise = noise_sigma(measured) / max(float(info.get("scale") or 0.0), 1e-300) if not subtract_background else None
    measured = peak_measurements(row, grid_two_theta_deg, noise)
    peak_warnings, peak_refusal, peaks = check_peaks(row, grid_two_theta_deg, lam_model, noise, measured)
    prepared.warnings += peak_warnings
    prepared.sharp_peaks = measured[:2]  # indexed for every pattern the network answers (Predictor._index)
    prepared.refusal = prepared.refusal or peak_refusal
    from xrdnet.features import PeakFinderConfig, find_peaks

    shown = find_peaks(row, grid_two_theta_deg, PeakFinderConfig())  # the shared finder, as features and rules
    prepared.peaks_two_theta_deg = [round(float(t), 3) for t in shown.two_theta_deg]
    for extra in check_metadata(metadata):  # one warning per code: merge with a peak-based thin_film finding
        same = [i for i, w in enumerate(prepared.warnings) if w.code == extra.code]
        if same:
            i = same[0]
            prepared.warnings[i] = PredictionWarning(extra.code, prepared.warnings[i].message + "; " + extra.message)
        else:
            prepared.warnings.append(extra)
    return prepared


# --------------------------------------------------------------------------- the predictor


def default_checkpoint() -> Path:
    """The shipped checkpoint folder inside the package (``$XRDNET_CHECKPOINT`` overrides it)."""
    import os

    here = Path(__file__).resolve().parent / "checkpoints" / "xrdnet-cnn-real"
    return Path(os.environ.get("XRDNET_CHECKPOINT", here))


def _failure(what: str, exc: BaseException) -> str:
    """One line naming what failed and the exception (type and text), for a warning and a result's code."""
    text = " ".join(str(exc).split())
    return f"{what} ({type(exc).__name__}: {text[:200]})" if text else f"{what} ({type(exc).__name__})"


def _mixture_detector(checkpoint: Path):
    """``(detector or None, why it is unavailable or None)`` of a checkpoint.

    A checkpoint without a detector has none (no problem). A broken one must not stop predictions, but
    must not vanish silently either: without it no pattern can be flagged ``likely_mixture``, so the
    failure is warned here and named on every result (``MIXTURE_UNAVAILABLE``).
    """
    try:
        from xrdnet.mixture import load_mixture_detector
    except ImportError:
        return None, None
    try:
        return load_mixture_detector(checkpoint), None
    except Exception as exc:  # noqa: BLE001 - a broken detector must not stop predictions
        problem = _failure(f"the mixture detector of {checkpoint} could not be loaded; no pattern can be "
                           "flagged as a likely mixture", exc)
        warnings.warn(problem, RuntimeWarning, stacklevel=3)
        return None, problem


class Predictor:
    """Load a checkpoint (or several: an ensemble) once; answer many patterns.

    Args:
        checkpoint: a run/checkpoint folder, a list of them (their calibrated probabilities are
            averaged), or None for the shipped checkpoint.
        device: torch device of CNN runs.
        calibrate: apply each checkpoint's ``calibration.json`` (default True).
        prior: None, ``"uniform"``, ``"minerals"`` or a file of space-group counts
            (p ∝ p_model · prior / training prior).
        top_k: how many classes the top lists hold.
        min_confidence: below this crystal-system probability the status is ``"uncertain"``.
        combine_indexing: mix a confident indexing cell into the probabilities
            (``xrdnet.indexing.combine_with_cell``); False reports the cell beside the network's
            answer and only warns when they disagree.
    """

    def __init__(self, checkpoint: str | Path | Sequence[str | Path] | None = None, device: str = "cpu",
                 calibrate: bool = True, prior: str | Path | None = None, top_k: int = 5,
                 min_confidence: float = 0.0, combine_indexing: bool = True) -> None:
        from xrdnet.calibration import Calibration, load_card, load_prior, training_prior
        from xrdnet.models.runs import checkpoint_members, ensemble_calibration, load_run

        if checkpoint is None:
            given = [default_checkpoint()]
        elif isinstance(checkpoint, (str, Path)):
            given = [Path(checkpoint)]
        else:
            given = [Path(c) for c in checkpoint]
        if not given:
            raise ValueError("no checkpoint given")
        for p in given:
            if not (p / "run.json").is_file():
                raise FileNotFoundError(f"checkpoint {p} not found (no run.json); pass --checkpoint runs/<name>")
        # a shipped ensemble is one folder whose members.json lists its further networks
        paths = [member for p in given for member in checkpoint_members(p)]
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        if not 0.0 <= float(min_confidence) <= 1.0:
            raise ValueError(f"min_confidence must be in 0..1, got {min_confidence}")
        self.paths = paths
        self.runs = [load_run(p, device=device) for p in paths]
        self.calibrations = [Calibration.load(p) if calibrate else None for p in paths]
        # a shipped ensemble's own temperatures, applied to the average of its calibrated members
        self.ensemble_calibration = ensemble_calibration(given[0]) if calibrate and len(given) == 1 else None
        self.top_k = int(top_k)
        self.min_confidence = float(min_confidence)
        self.combine_indexing = bool(combine_indexing)
        first = self.runs[0]
        self.grid = first.grid_two_theta_deg
        self.wavelength_angstrom = first.wavelength_angstrom
        if self.grid is None:
            raise ValueError(f"{paths[0]}: the run records no pattern grid")
        self.prior_name = None if prior is None else str(prior)
        self.prior = None
        self.training_prior = None
        if prior is not None:
            self.prior = load_prior(prior)
            train = [training_prior(p) for p in paths]
            train = [t for t in train if t is not None]
            if not train:
                raise ValueError(f"--prior needs the training set of {paths[0]} (training_set.tsv.gz) for its "
                                 "training prior")
            self.training_prior = np.mean(train, axis=0)
        # one folder given (a single network or a shipped ensemble): its card describes what answers
        card = load_card(given[0]) if len(given) == 1 else {}
        real = card.get("real") or {}
        indexed = real.get("with_indexing") if self.combine_indexing else None
        name = first.info.get("name") or first.name
        if len(given) > 1:
            name = "ensemble of " + " + ".join(r.info.get("name") or r.name for r in self.runs)
        elif len(paths) > 1:
            name = f"{name} (ensemble of {len(paths)} networks)"
        self.info = ModelInfo(
            name=name, kinds=tuple(r.kind for r in self.runs), paths=tuple(str(p) for p in paths),
            calibrated=all(c is not None for c in self.calibrations),
            temperatures=tuple((c.cs_temperature, c.sg_temperature) if c else (1.0, 1.0) for c in self.calibrations),
            real_cs_accuracy=indexed["cs_accuracy"] if indexed else real.get("cs_accuracy"),
            real_network_cs_accuracy=real.get("cs_accuracy"), real_with_indexing=bool(indexed),
            real_baseline_cs_accuracy=real.get("baseline_cs_accuracy"),
            real_n=real.get("n"), real_set=real.get("name"), wavelength_angstrom=self.wavelength_angstrom,
            two_theta_range_deg=(float(self.grid[0]), float(self.grid[-1])),
            real_by_scan_range=tuple(real.get("by_scan_range") or ()))
        self.tree = None
        tree_file = paths[0] / "rules" / "tree.json"
        if tree_file.is_file():
            import json

            self.tree = json.loads(tree_file.read_text())
        self.mixture, self.mixture_problem = _mixture_detector(paths[0])

    # ---------------------------------------------------------------- model probabilities
    def probabilities(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated (ensemble-averaged, prior-weighted) ``(cs [P, 7], sg [P, 230])`` of rows on ``self.grid``."""
        from xrdnet.calibration import apply_prior

        cs_sum = np.zeros((len(rows), len(CRYSTAL_SYSTEMS)))
        sg_sum = np.zeros((len(rows), N_SPACE_GROUPS))
        for run, cal in zip(self.runs, self.calibrations):
            pred = run.predict(rows, self.grid, self.wavelength_angstrom)
            cs, sg = np.asarray(pred.cs_proba, np.float64), np.asarray(pred.sg_proba, np.float64)
            if cal is not None:
                cs, sg = cal.apply(cs, sg)
            cs_sum += cs
            sg_sum += sg
        cs, sg = cs_sum / len(self.runs), sg_sum / len(self.runs)
        if self.ensemble_calibration is not None:
            cs, sg = self.ensemble_calibration.apply(cs, sg)
        if self.prior is not None:
            cs, sg = apply_prior(cs, sg, self.prior, self.training_prior)
        return cs, sg

    # ---------------------------------------------------------------- public entry points
    def predict(self, two_theta_deg: Any, intensity: Any, wavelength: str | float | None = None,
                x_unit: str | None = None, force: bool = False, subtract_background: bool = False,
                metadata: dict | None = None, source: str | None = None) -> PredictionResult:
        """Answer one pattern given as arrays.

        ``two_theta_deg [N]`` holds the x values: 2θ in degrees, or Q (1/Å) / d (Å) when ``x_unit``
        says so (then no wavelength is needed); ``x_unit=None`` means 2θ, not stated, so an axis that
        looks like Q or d is refused. ``wavelength``: a radiation name ("CuKa", "MoKa1") or
        Å; None assumes the model's and says so (``wavelength_assumed``). ``force`` answers even
        where a check refuses. ``metadata`` (a file's header, XRDML scan axis) feeds the thin-film check.
        """
        return self.predict_many([dict(x=two_theta_deg, intensity=intensity, wavelength=wavelength,
                                       x_unit=x_unit or "2theta", x_unit_source="argument" if x_unit else "default",
                                       metadata=metadata, source=source)],
                                 force=force, subtract_background=subtract_background)[0]

    def predict_pattern(self, pattern, force: bool = False, subtract_background: bool = False,
                        x_unit: str | None = None) -> PredictionResult:
        """Answer one :class:`~xrdnet.patterns_io.MeasuredPattern` (what ``read_pattern`` returns)."""
        return self.predict_patterns([pattern], force=force, subtract_background=subtract_background,
                                     x_unit=x_unit)[0]

    def predict_patterns(self, patterns: Sequence, force: bool = False, subtract_background: bool = False,
                         x_unit: str | None = None) -> list[PredictionResult]:
        """Answer many measured patterns in one model batch."""
        return self.predict_many([self._pattern_request(p, x_unit) for p in patterns], force=force,
                                 subtract_background=subtract_background)

    @staticmethod
    def _pattern_request(pattern, x_unit: str | None) -> dict:
        """A measured pattern (old or new reader) as the arguments of :meth:`predict`."""
        unit = str(getattr(pattern, "x_unit", None) or "2theta").lower()
        unit = {"2θ": "2theta", "two_theta": "2theta", "tth": "2theta"}.get(unit, unit)
        unit_source = getattr(pattern, "x_unit_source", None) or "default"
        x = pattern.two_theta_deg
        if x_unit is not None and x_unit != unit:
            if unit != "2theta" or x is None:
                raise ValueError(f"{pattern.path}: read as {unit}; re-read the file with x_unit={x_unit!r}")
            unit = x_unit  # an old reader that cannot take x_unit: its "2θ" column is the raw x
        if x_unit is not None:
            unit_source = "argument"
        label = unit
        if unit in ("q", "d"):
            q = getattr(pattern, "q_inv_angstrom", None)
            if q is not None and getattr(pattern, "x_unit", "2theta") in ("q", "d"):
                x, unit = np.asarray(q, dtype=np.float64), "q"
        was_decreasing = any("decreasing" in w and "reversed" in w for w in pattern.warnings)
        lam_source = getattr(pattern, "wavelength_source", None)
        return dict(x=x, intensity=pattern.intensity, wavelength=pattern.wavelength_angstrom, x_unit=unit,
                    x_unit_label=label, x_unit_source=unit_source, metadata=pattern.metadata,
                    source=str(pattern.path), was_decreasing=was_decreasing,
                    wavelength_source=lam_source if lam_source not in (None, "default") else "file",
                    reader_warnings=list(pattern.warnings))

    def predict_many(self, requests: Sequence[dict], force: bool = False,
                     subtract_background: bool = False) -> list[PredictionResult]:
        """Answer many patterns (dicts of :meth:`predict`'s arguments) in one model batch."""
        from xrdnet.simulate.wavelengths import resolve_radiation

        prepared: list[_Prepared] = []
        for req in requests:
            lam = req.get("wavelength")
            if lam is not None and not isinstance(lam, (int, float, np.floating)):
                radiation = resolve_radiation(lam)
                lam = float(getattr(radiation, "kalpha1_angstrom", None) or getattr(radiation, "wavelength_angstrom"))
            p = check_pattern(req["x"], req["intensity"], self.grid, self.wavelength_angstrom,
                              wavelength_angstrom=lam, x_unit=req.get("x_unit", "2theta"),
                              x_unit_source=req.get("x_unit_source", "argument"), metadata=req.get("metadata"),
                              source=req.get("source"), subtract_background=subtract_background,
                              was_decreasing=bool(req.get("was_decreasing")),
                              wavelength_source=req.get("wavelength_source"),
                              x_unit_label=req.get("x_unit_label"))
            p.warnings = [PredictionWarning("reader", w) for w in req.get("reader_warnings", [])
                          if "no wavelength" not in w] + p.warnings
            prepared.append(p)
        run_idx = [i for i, p in enumerate(prepared) if p.row is not None and (p.refusal is None or force)]
        cs_all = sg_all = None
        mixture = None
        mixture_problem = self.mixture_problem if self.mixture is None else None
        if run_idx:
            rows = np.stack([prepared[i].row for i in run_idx]).astype(np.float32)
            cs_all, sg_all = self.probabilities(rows)
            if self.mixture is not None:
                try:
                    mixture = np.asarray(self.mixture.mixture_probability(rows), dtype=np.float64)
                except Exception as exc:  # noqa: BLE001 - the class answer stands without the mixture flag
                    mixture = None
                    mixture_problem = _failure(f"the mixture detector failed on a batch of {len(rows)} "
                                               "pattern(s); none of them can be flagged as a likely mixture", exc)
                    warnings.warn(mixture_problem, RuntimeWarning, stacklevel=2)
        position = {i: j for j, i in enumerate(run_idx)}
        return [self._finish(p, None if i not in position else (cs_all[position[i]], sg_all[position[i]]),
                             None if (mixture is None or i not in position) else float(mixture[position[i]]), force,
                             mixture_problem=mixture_problem if i in position else None)
                for i, p in enumerate(prepared)]

    # ---------------------------------------------------------------- assembling the answer
    def _finish(self, p: _Prepared, proba, mixture: float | None, force: bool,
                mixture_problem: str | None = None) -> PredictionResult:
        from xrdnet.calibration import decode

        result = PredictionResult(status="refused", model=self.info, warnings=list(p.warnings),
                                  refusal_reason=p.refusal, coverage=p.coverage,
                                  wavelength_angstrom=p.wavelength_angstrom, wavelength_source=p.wavelength_source,
                                  x_unit=p.x_unit, peaks_two_theta_deg=p.peaks_two_theta_deg, source=p.source,
                                  prior=self.prior_name)
        if mixture is not None:
            result.mixture_probability = mixture
            threshold = float(getattr(self.mixture, "threshold", 0.5))
            if mixture >= threshold:
                result.warnings.append(PredictionWarning(
                    "likely_mixture", f"the mixture detector gives {100 * mixture:.0f} % (threshold "
                    f"{100 * threshold:.0f} %) that peaks of more than one phase are present; the answer "
                    "describes at most the main phase"))
        if mixture_problem is not None:
            result.warnings.append(PredictionWarning(MIXTURE_UNAVAILABLE, mixture_problem))
        if self.prior_name is not None:
            result.warnings.append(PredictionWarning(
                "prior", f"probabilities re-weighted for the '{self.prior_name}' population "
                "(p ∝ p_model · prior / training prior)"))
        if proba is None:
            return result
        if p.scan_range_deg is not None and p.coverage < WARN_COVERAGE:
            note = self.info.scan_range_note(*p.scan_range_deg)
            result.warnings = [PredictionWarning(w.code, f"{w.message}; {note}") if w.code == "low_coverage" else w
                               for w in result.warnings]
        if p.refusal is not None:
            result.forced = True
            result.warnings.append(PredictionWarning("forced", f"answered despite: {p.refusal} (--force)"))
        cs_p, sg_p = proba
        network_cs = int(np.argmax(cs_p))
        network = ClassScore(CRYSTAL_SYSTEMS[network_cs], network_cs, float(cs_p[network_cs]))
        indexing = self._index(p)
        best = None if indexing is None else indexing.best
        if self.combine_indexing and is_confident(best):
            cs_p, sg_p = combine_with_cell(cs_p, sg_p, best)
            result.combined_with_indexing = True
        result.network_crystal_system = network
        cs_pred, sg_pred, overall = decode(cs_p[None], sg_p[None])
        cs, sg = int(cs_pred[0]), int(sg_pred[0])
        result.crystal_system_proba, result.space_group_proba = cs_p, sg_p
        result.top_crystal_systems = [ClassScore(CRYSTAL_SYSTEMS[j], int(j), float(cs_p[j]))
                                      for j in np.argsort(-cs_p, kind="stable")[: self.top_k]]
        result.top_space_groups = [ClassScore(space_group_symbol(int(j) + 1), int(j) + 1, float(sg_p[j]))
                                   for j in np.argsort(-sg_p, kind="stable")[: self.top_k]]
        result.space_group_is_overall_top = bool(overall[0])
        self._indexing_evidence(indexing, result, CRYSTAL_SYSTEMS[cs])
        if float(cs_p[cs]) < self.min_confidence:
            result.status = "uncertain"
            result.warnings.append(PredictionWarning(
                "low_confidence", f"the most probable crystal system has {100 * cs_p[cs]:.0f} % < the requested "
                f"{100 * self.min_confidence:.0f} %: no single answer, see the candidates"))
            return result
        result.status = "answered"
        result.crystal_system = ClassScore(CRYSTAL_SYSTEMS[cs], cs, float(cs_p[cs]))
        result.space_group = ClassScore(space_group_symbol(sg), sg, float(sg_p[sg - 1]))
        if self.tree is not None and p.row is not None:
            result.rule = self._rule(p.row, result.crystal_system, result.space_group)
        return result

    def _index(self, p: _Prepared):
        """The indexing of a pattern's sharp peaks (Kα2 partners of the model's line dropped), or None."""
        if p.sharp_peaks is None:
            return None
        return index_measured_peaks(*p.sharp_peaks, self.wavelength_angstrom)

    @staticmethod
    def _indexing_evidence(indexing, result: PredictionResult, answer: str) -> None:
        """``cell``, ``cell_of_predicted_system`` and the warning that says how the cell bears on
        ``answer``: ``answer_from_indexing`` when combining moved the answer away from the network's,
        ``indexing_disagrees`` when a confident cell of another system was not combined."""
        if indexing is None:
            return
        best = indexing.best
        result.cell = cell_record(best)
        family = FAMILY_OF_SYSTEM.get(answer)
        result.cell_of_predicted_system = cell_record(indexing.cells.get(family)) if family else None
        if not is_confident(best):
            return
        cell_text = (f"the peaks index on a {best.crystal_system} {best.centring} cell, "
                     f"{describe_axes(best.family, best.a, best.b, best.c)} (M{best.n_lines} = "
                     f"{best.figure_of_merit:.0f}, {100 * best.indexed_fraction:.0f} % of {best.n_lines} lines, "
                     f"zero shift {best.zero_shift_deg:+.3f}°)")
        network = result.network_crystal_system
        if result.combined_with_indexing and network is not None and not agrees(best, network.name):
            result.warnings.append(PredictionWarning(
                "answer_from_indexing", f"{cell_text}; the network alone answers {network.name} "
                f"({100 * network.probability:.0f} %), and such a cell is right {100 * trust_of_cell(best):.0f} % of "
                f"the time on measured validation scans, so the answer is {answer}"))
        elif not agrees(best, answer):
            result.warnings.append(PredictionWarning(
                "indexing_disagrees", f"{cell_text}, not on a {answer} one: on measured validation scans such a "
                f"cell (M ≥ {CONFIDENT_MIN_MERIT:.0f}, ≥ {100 * CONFIDENT_MIN_SHARE:.0f} % indexed) names the "
                f"right crystal system {100 * trust_of_cell(best):.0f} % of the time"))

    def _rule(self, row: np.ndarray, cs: ClassScore, sg: ClassScore) -> RuleExplanation | None:
        """The surrogate rule of this pattern's leaf, or None when its class is not the answer."""
        try:
            rule = rule_for_pattern(self.tree, row, self.grid, self.wavelength_angstrom)
        except (ValueError, KeyError):
            return None
        if rule is None:
            return None
        target = str(self.tree.get("name", ""))
        agrees = rule.class_name == cs.name or ("space_group" in target and rule.label == sg.index)
        if not agrees:
            return None
        from xrdnet.explain.rule_export import rule_text

        h = rule.held_out or {}
        return RuleExplanation(rule_text(rule), rule.class_name, h.get("fidelity"), h.get("accuracy"), h.get("n"))


def rule_for_pattern(tree_json: dict, row: np.ndarray, grid: np.ndarray, wavelength_angstrom: float):
    """The ``Rule`` of ``tree_json`` whose leaf the pattern ``row [G]`` reaches (None if none covers it)."""
    from xrdnet.explain.rule_export import rule_covers, tree_rules
    from xrdnet.features import PeakFinderConfig, interpretable_features

    extraction = tree_json.get("feature_extraction") or {}
    config = PeakFinderConfig(**(extraction.get("peak_finder") or {}))
    X, specs = interpretable_features(np.atleast_2d(row), grid, wavelength_angstrom,
                                      int(extraction.get("n_peaks", 10)), config)
    column = {sp.name: j for j, sp in enumerate(specs)}
    X = X[:, [column[f["name"]] for f in tree_json["features"]]]
    for rule in tree_rules(tree_json):
        if rule_covers(rule, X)[0]:
            return rule
    return None


_DEFAULT: dict[tuple, Predictor] = {}


def predict(two_theta_deg: Any, intensity: Any, wavelength: str | float | None = None, *,
            x_unit: str | None = None, checkpoint: str | Path | Sequence[str | Path] | None = None,
            prior: str | None = None, min_confidence: float = 0.0, top_k: int = 5, force: bool = False,
            device: str = "cpu", combine_indexing: bool = True) -> PredictionResult:
    """Crystal system and space group of one pattern given as arrays (see :class:`Predictor`).

    The predictor of a (checkpoint, prior, min_confidence, top_k, device, combine_indexing) combination
    is loaded once and kept for later calls.
    """
    key = (str(checkpoint), str(prior), float(min_confidence), int(top_k), device, bool(combine_indexing))
    if key not in _DEFAULT:
        _DEFAULT[key] = Predictor(checkpoint, device=device, prior=prior, min_confidence=min_confidence, top_k=top_k,
                                  combine_indexing=combine_indexing)
    return _DEFAULT[key].predict(two_theta_deg, intensity, wavelength=wavelength, x_unit=x_unit, force=force)
