"""Readers for measured powder patterns, and their conversion onto a model's 2θ grid.

Every measured pattern a user gives xrdnet (``xrdnet predict``, the RRUFF evaluation) goes through
``read_pattern``; the format is told by the file's CONTENT, never by its extension alone:

- **text tables** (``.xy``, ``.xye``, ``.dat``, ``.txt``, ``.csv``, FullProf's simple ``.xy``/``.dat``,
  Bruker ``.uxd`` with two columns, or any other text): comment lines starting with ``# ! ; % '``,
  non-numeric header lines before the data (``2theta,intensity``), separators comma, whitespace,
  tab or semicolon (a semicolon/tab file whose numbers have no "." reads "," as the decimal mark),
  two columns (2θ in degrees, intensity) or three (plus the error σ of the intensity, "xye").
  Intensity-only files are read in two simple cases: a header stating ``start`` and ``step`` (e.g.
  ``# start: 10.0`` / ``_STEPSIZE = 0.02``) followed by intensities, any number per line; and
  FullProf's free format (first line ``2θ_start step 2θ_end``, then the intensities).
- **PANalytical XRDML** (XML with ``<xrdMeasurements>``, any schema namespace): the 2θ scan of the
  first ``<scan>``, its ``usedWavelength`` and counting time (intensities become counts/s).
- Everything else is refused with a one-line ``PatternFileError``: GSAS ``BANK`` files
  (``.gsa``/``.fxye``), Bruker ``.raw``/``.brml`` and other binary formats, CIF files, other XML.
  No well-kept reader for them is available offline; export two columns (2θ, intensity) instead.

Wavelength: the file's own statement wins (XRDML ``usedWavelength``; in text, a comment or header
line ``wavelength: 1.5406`` / ``lambda = 0.15406 nm`` / ``_WL1 = 1.5406`` / ``energy: 30 keV`` /
``radiation: CuKa`` with a pymatgen radiation name), then the ``wavelength`` argument (a pymatgen
name or Å, through ``resolve_radiation``), else None and the caller decides (``predict`` assumes
the model's and says so). A loose mention such as "Cu K-alpha" in prose is kept in
``metadata["radiation_hint"]`` but not used. For a Kα source the Kα1 line is the wavelength used
for positions: a measured Kα1/Kα2 doublet peaks at its Kα1 position (Kα1 is twice as strong), the
simulator renders Kα1 at the stated position, and models record Kα1 as their wavelength.

``to_model_grid`` brings a pattern onto the model's grid through Q = 4π sinθ/λ, so Mo Kα or
synchrotron data can be fed to a model trained on Cu Kα; grid points the measurement does not
reach are zero and reported.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from xrdnet.features import q_inv_angstrom_from_two_theta
from xrdnet.simulate.wavelengths import Radiation, resolve_radiation

MIN_POINTS = 20
"""Fewest data points accepted: fewer cannot be a powder pattern worth classifying."""

NEGATIVE_TOLERANCE = 0.01
"""Intensities down to -1 % of the maximum (background subtraction, detector offsets) are clipped to
zero with a warning; anything more negative is refused, since counts cannot be negative."""

MAX_FILE_BYTES = 256 * 1024 * 1024
"""Larger files are refused before reading: no powder pattern is that big, so it is something else."""

COMMENT_CHARS = "#!;%'"
HC_KEV_ANGSTROM = 12.398419843320026  # h·c in keV·Å: λ[Å] = 12.398 / E[keV]

_SPLIT = re.compile(r"[\s,;]+")
_SPLIT_DECIMAL_COMMA = re.compile(r"[\s;]+")
_DATA_LIKE = re.compile(r"\s*[-+.\d]")
_DIGIT_COMMA_DIGIT = re.compile(r"\d,\d")
_NUMBER = r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?"
# a wavelength stated as a number; a decimal point is required so that "Wavelength 1: ..." is no match
_WAVELENGTH_NUMBER = re.compile(
    r"(?i)(?<![a-z])(?:wave[-_ ]?length|lambda|λ|_?wl1|k[-_ ]?alpha[-_ ]?1|alpha[-_ ]?1)"
    r"\s*(?P<paren>\([^)]{0,16}\)|\[[^\]]{0,16}\])?\s*[:=]?\s*"
    r"(?P<value>[-+]?(?:\d+\.\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(?P<unit>Å|angstroms?|A|nm|pm)?(?![A-Za-z])")
_ENERGY_NUMBER = re.compile(r"(?i)(?<![a-z])energy\s*[:=]\s*(?P<value>" + _NUMBER + r")\s*kev\b")
_WAVELENGTH_NAME = re.compile(
    r"(?i)(?<![a-z])(?:wave[-_ ]?length|lambda|radiation|anode|target|source|tube)\s*[:=]\s*"
    r"(?P<name>[A-Z][a-z]?K(?:a|b)[12]?)(?![A-Za-z0-9])")
_RADIATION_HINT = re.compile(
    r"(?<![A-Za-z])(Cu|Mo|Co|Fe|Cr|Ag|Ni|W)\s*[-_ ]?\s*[Kk]\s*[-_ ]?\s*(?:alpha|Alpha|ALPHA|α|a)"
    r"(?:\s*-?\s*([12]))?(?![A-Za-z])")
_START = re.compile(r"(?i)(?<![a-z])(?:2[-_ ]?theta[-_ ]?)?start(?:[-_ ]?(?:angle|position|2[-_ ]?theta))?"
                    r"\s*(?:\([^)]{0,8}\))?\s*[:=]\s*(?P<value>" + _NUMBER + ")")
_STEP = re.compile(r"(?i)(?<![a-z])(?:2[-_ ]?theta[-_ ]?)?step(?:[-_ ]?(?:size|width))?"
                   r"\s*(?:\([^)]{0,8}\))?\s*[:=]\s*(?P<value>" + _NUMBER + ")")
_END = re.compile(r"(?i)(?<![a-z])(?:2[-_ ]?theta[-_ ]?)?(?:end|stop)(?:[-_ ]?(?:angle|position|2[-_ ]?theta))?"
                  r"\s*(?:\([^)]{0,8}\))?\s*[:=]\s*(?P<value>" + _NUMBER + ")")
# first column titles that say the abscissa is not 2θ
_NOT_TWO_THETA = re.compile(r"(?i)^(?:q|q[_(\[].*|d|d[_(\[-].*|d-?spacing.*|dspacing.*|k|energy.*|e|e[_(\[].*)$")


class PatternFileError(ValueError):
    """A measured pattern file that cannot be read; the message is one line: ``<path>: <problem>``."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = " ".join(str(problem).split())  # one line, whatever the caller formatted
        super().__init__(f"{self.path}: {self.problem}")

    def __reduce__(self):  # picklable across processes although __init__ takes two arguments
        return (type(self), (self.path, self.problem))


@dataclass
class MeasuredPattern:
    """One measured powder pattern as read from a file (N points, 2θ strictly increasing).

    Attributes:
        path: the file it came from.
        two_theta_deg: ``[N]`` float64 diffraction angles in degrees, strictly increasing, in (0, 180).
        intensity: ``[N]`` float64 intensities, >= 0 (counts, counts/s or arbitrary units, see
            ``metadata["intensity_unit"]`` where the file says).
        errors: ``[N]`` float64 standard deviations of the intensities (third column of xye) or None.
        wavelength_angstrom: the wavelength the angles were measured at (Kα1 for a Kα source), or None
            when neither the file nor the caller said; ``to_model_grid`` needs it.
        wavelength_source: "file", "argument" or "default" (None: the caller's default applies).
        format: what was read: "xy", "xye", "step-intensities", "fullprof-free" or "xrdml".
        warnings: what was repaired or guessed while reading (reversed angles, clipped negatives...).
        metadata: anything else the file said (header lines, Kα2, counting time, radiation hint...).
    """

    path: Path
    two_theta_deg: np.ndarray
    intensity: np.ndarray
    errors: np.ndarray | None = None
    wavelength_angstrom: float | None = None
    wavelength_source: str = "default"
    format: str = "xy"
    warnings: list[str] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.two_theta_deg)


# --------------------------------------------------------------------------- public readers


def read_pattern(path: str | Path, wavelength: str | float | Radiation | None = None) -> MeasuredPattern:
    """Read one measured pattern file (text table or PANalytical XRDML; see the module docstring).

    ``wavelength`` (a pymatgen radiation name such as "CuKa"/"MoKa1", or Å) is used only when the
    file does not state its own; a disagreeing argument is reported in ``warnings``. The data are
    checked and, where harmless, repaired with a warning (reversed when strictly decreasing, tiny
    negative intensities clipped to 0); anything else wrong raises ``PatternFileError`` with one line
    naming the file and the problem (missing, empty, binary, unsupported format, not numeric columns,
    fewer than 20 points, NaN/inf, negative counts, angles not increasing or outside (0, 180)°).
    A bad ``wavelength`` argument raises ValueError: it is the caller's mistake, not the file's.
    """
    path = Path(path)
    arg_wavelength, arg_meta = _resolve_wavelength_argument(wavelength)
    raw = _read_bytes(path)
    if _looks_like_xml(raw):
        pattern = _read_xrdml(path, raw)
    else:
        pattern = _read_text(path, _decode(path, raw))
    if pattern.wavelength_angstrom is not None:
        pattern.wavelength_source = "file"
        if arg_wavelength is not None and abs(arg_wavelength - pattern.wavelength_angstrom) > 1e-3:
            pattern.warnings.append(f"the file states λ = {pattern.wavelength_angstrom:.5f} Å; "
                                    f"the wavelength argument ({arg_wavelength:.5f} Å) is ignored")
    elif arg_wavelength is not None:
        pattern.wavelength_angstrom = arg_wavelength
        pattern.wavelength_source = "argument"
        pattern.metadata.update(arg_meta)
    else:
        pattern.wavelength_source = "default"
    return pattern


def read_many(paths: Iterable[str | Path], wavelength: str | float | Radiation | None = None
              ) -> tuple[list[MeasuredPattern], list[tuple[str, str]]]:
    """Read every file of ``paths``; returns ``(patterns, errors)`` and never raises for a bad file.

    ``patterns`` keeps the order of the readable files; ``errors`` holds ``(path, one-line message)``
    for each file that could not be read, so a caller reports them and goes on with the rest. Only
    an invalid ``wavelength`` argument raises (ValueError), once, before any file is read.
    """
    radiation = None if wavelength is None else (
        wavelength if isinstance(wavelength, Radiation) else resolve_radiation(wavelength))
    patterns: list[MeasuredPattern] = []
    errors: list[tuple[str, str]] = []
    for path in paths:
        try:
            patterns.append(read_pattern(path, radiation))
        except PatternFileError as exc:
            errors.append((str(path), str(exc)))
        except Exception as exc:  # noqa: BLE001 - one broken file must not stop the others
            errors.append((str(path), str(PatternFileError(path, f"unexpected {type(exc).__name__}: {exc}"))))
    return patterns, errors


# --------------------------------------------------------------------------- onto the model grid


def to_model_grid(pattern: MeasuredPattern, grid_two_theta_deg, model_wavelength_angstrom: float,
                  subtract_background: bool = False, normalize: bool = True) -> tuple[np.ndarray, dict]:
    """Resample a measured pattern onto the model's grid ``grid_two_theta_deg [G]``; returns ``([G] float32, info)``.

    When the measured wavelength differs from the model's, each measured point's Q = 4π sinθ/λ is
    mapped to the model-grid 2θ with the same Q (points beyond 2θ = 180° at the model's λ are dropped);
    the result is interpolated linearly onto the grid, i.e. point-sampled like the simulator's
    patterns. Grid points outside the measured range (widened by one measured step, so a file
    ending at 89.99° covers a grid ending at 90.00°) are 0. Only positions are converted: relative
    intensities keep the measured Lorentz-polarisation factor and peaks from a shorter wavelength come
    out broader in the model's 2θ. ``subtract_background`` removes a SNIP estimate
    (``estimate_background``) on the measured points first; ``normalize`` scales to max = 1, the
    training convention. A pattern without wavelength is taken at the model's, with a warning.
    ``info``: ``coverage`` (fraction of the grid covered), ``warning`` (one string or None),
    ``warnings`` (list), ``two_theta_range_deg`` (measured range in model 2θ), ``q_range_inv_angstrom``,
    ``converted``, ``measured_wavelength_angstrom``, ``model_wavelength_angstrom``, ``scale`` (the
    divisor used to normalise) and ``n_points_beyond_180_deg``.
    Raises ``PatternFileError`` when nothing of the pattern lands on the grid or nothing is left
    above zero; ValueError for a bad grid or wavelength.
    """
    grid = np.asarray(grid_two_theta_deg, dtype=np.float64)
    if grid.ndim != 1 or len(grid) < 2 or not np.all(np.diff(grid) > 0) or grid[0] <= 0 or grid[-1] >= 180:
        raise ValueError("grid_two_theta_deg must be a strictly increasing 1-D array inside (0, 180)°")
    lam_model = float(model_wavelength_angstrom)
    if not (math.isfinite(lam_model) and lam_model > 0):
        raise ValueError(f"model_wavelength_angstrom must be a positive number, got {model_wavelength_angstrom!r}")
    warnings: list[str] = []
    lam_meas = pattern.wavelength_angstrom
    if lam_meas is None:
        lam_meas = lam_model
        warnings.append(f"no wavelength for the pattern: assumed the model's ({lam_model:.5f} Å)")
    lam_meas = float(lam_meas)

    two_theta = np.asarray(pattern.two_theta_deg, dtype=np.float64)
    intensity = np.clip(np.asarray(pattern.intensity, dtype=np.float64), 0.0, None)
    if subtract_background:
        # on the measured points: at the model grid's zero-filled edges the estimate would sink to 0
        intensity = np.clip(intensity - estimate_background(two_theta, intensity), 0.0, None)
    q = q_inv_angstrom_from_two_theta(two_theta, lam_meas)
    converted = abs(lam_meas - lam_model) > 1e-6 * lam_model
    n_beyond = 0
    if converted:
        sin_theta = q * lam_model / (4.0 * np.pi)
        keep = sin_theta < 1.0  # larger Q is beyond 2θ = 180° at the model's (longer) wavelength
        n_beyond = int(np.count_nonzero(~keep))
        if np.count_nonzero(keep) < 2:
            raise PatternFileError(pattern.path, f"no measured point (Q {q[0]:.3f}–{q[-1]:.3f} 1/Å) is "
                                                 f"reachable at the model's wavelength {lam_model:.5f} Å")
        x = 2.0 * np.rad2deg(np.arcsin(sin_theta[keep]))
        y = intensity[keep]
    else:
        x, y = two_theta, intensity

    # one measured step of tolerance: the last sample stands for the half step around it
    tolerance = float(np.median(np.diff(x)))
    covered = (grid >= x[0] - tolerance) & (grid <= x[-1] + tolerance)
    coverage = float(np.count_nonzero(covered)) / len(grid)
    if coverage == 0.0:
        raise PatternFileError(pattern.path, f"the measured range (2θ {x[0]:.2f}–{x[-1]:.2f}° at the model's "
                                             f"λ = {lam_model:.5f} Å) does not overlap the model's grid "
                                             f"{grid[0]:.2f}–{grid[-1]:.2f}°")
    out = np.zeros(len(grid), dtype=np.float64)
    out[covered] = np.interp(grid[covered], x, y)  # np.interp holds the edge value inside the tolerance
    if coverage < 1.0:
        lo, hi = max(x[0], grid[0]), min(x[-1], grid[-1])  # the measured range, not the rounded grid
        percent = f"{100 * coverage:.0f}" if coverage < 0.995 else ">99"
        warnings.append(f"covers 2θ {lo:.1f}–{hi:.1f}° of the model's {grid[0]:.1f}–{grid[-1]:.1f}° "
                        f"({percent} %); the rest is zero")
    scale = float(out.max())
    if normalize:
        if not scale > 0:
            after = " after background subtraction" if subtract_background else ""
            raise PatternFileError(pattern.path, f"no intensity above zero in the model's 2θ range{after}")
        out /= scale
    info = {
        "coverage": coverage,
        "warning": "; ".join(warnings) if warnings else None,
        "warnings": warnings,
        "two_theta_range_deg": (float(x[0]), float(x[-1])),
        "q_range_inv_angstrom": (float(q[0]), float(q[-1])),
        "converted": bool(converted),
        "measured_wavelength_angstrom": lam_meas,
        "model_wavelength_angstrom": lam_model,
        "background_subtracted": bool(subtract_background),
        "scale": scale,
        "n_points_beyond_180_deg": n_beyond,
    }
    return out.astype(np.float32), info


def estimate_background(two_theta_deg, intensity, window_deg: float = 1.5, smooth_points: int = 5) -> np.ndarray:
    """Smooth background under a pattern ``intensity [N]`` at angles ``two_theta_deg [N]``: SNIP; returns ``[N]``.

    SNIP (Ryan et al. 1988, Nucl. Instrum. Methods B 34, 396) clips every point to the mean of its
    neighbours ±p for p = 1..m, after the log-log-sqrt transform that lets one pass handle strong
    and weak peaks alike; features narrower than about ``window_deg`` (2θ, the half-width m) are
    clipped away, broad humps and slopes stay. Lab peaks are 0.05–0.5° wide, amorphous humps
    several degrees, hence 1.5°. The pattern is first scaled to a counts-like maximum (the transform
    assumes counts), smoothed over ``smooth_points`` so the estimate follows the noise's mean rather
    than its minima, and padded by reflection so edge points see a full window.
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
    v = np.pad(v, m, mode="reflect")
    for p in range(1, m + 1):
        mean = 0.5 * (v[:-2 * p] + v[2 * p:])
        v[p:-p] = np.minimum(v[p:-p], mean)
    v = v[m:m + n]
    background = (np.exp(np.exp(v) - 1.0) - 1.0) ** 2 - 1.0
    return np.clip(background, 0.0, None) * (peak / 1e4)


# --------------------------------------------------------------------------- file level


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise PatternFileError(path, "file not found")
    if path.is_dir():
        raise PatternFileError(path, "is a directory, not a pattern file")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise PatternFileError(path, f"{size / 2**20:.0f} MiB is too large for a powder pattern file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PatternFileError(path, f"cannot be read ({exc.strerror or exc})") from None
    if not raw.strip():
        raise PatternFileError(path, "empty file")
    if raw.startswith(b"PK\x03\x04"):
        raise PatternFileError(path, "unsupported format: a zip archive (Bruker .brml or similar); "
                                     "export the pattern as two-column 2θ/intensity text or .xrdml")
    if raw.startswith(b"RAW"):
        raise PatternFileError(path, "unsupported format: Bruker/Siemens RAW binary; "
                                     "export the pattern as two-column 2θ/intensity text")
    return raw


def _decode(path: Path, raw: bytes) -> str:
    """Text of a file: UTF-16 with a BOM (some Windows exports), UTF-8, else Latin-1 (a "°" or "Å")."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            pass
    head = raw[:8192]
    control = sum(1 for b in head if b < 9 or 13 < b < 32)
    if b"\x00" in head or control > 0.05 * len(head):
        raise PatternFileError(path, "binary file, not a pattern (unsupported format); export the pattern as "
                                     "two-column 2θ/intensity text or .xrdml")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _looks_like_xml(raw: bytes) -> bool:
    head = raw[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"<")


def _resolve_wavelength_argument(wavelength) -> tuple[float | None, dict]:
    if wavelength is None:
        return None, {}
    radiation = wavelength if isinstance(wavelength, Radiation) else resolve_radiation(wavelength)
    return _positions_wavelength(radiation), _radiation_metadata(radiation)


def _positions_wavelength(radiation: Radiation) -> float:
    """Kα1 for a Kα source (see the module docstring), else the single line."""
    return float(radiation.kalpha1_angstrom if radiation.has_doublet else radiation.wavelength_angstrom)


def _radiation_metadata(radiation: Radiation) -> dict:
    meta = {"radiation": radiation.name or None}
    if radiation.has_doublet:
        meta.update(kalpha1_angstrom=radiation.kalpha1_angstrom, kalpha2_angstrom=radiation.kalpha2_angstrom)
    return meta


# --------------------------------------------------------------------------- checks shared by the formats


def _validate(path: Path, two_theta: np.ndarray, intensity: np.ndarray, errors: np.ndarray | None,
              where: Callable[[int], str], warnings: list[str]
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, Callable[[int], str]]:
    """The checks every format shares; returns the (possibly reversed / clipped) arrays and locator."""
    n = len(two_theta)
    if n < MIN_POINTS:
        raise PatternFileError(path, f"only {n} data point{'s' if n != 1 else ''} (at least {MIN_POINTS} needed)")
    for name, values in (("2θ", two_theta), ("intensity", intensity), ("error", errors)):
        if values is None:
            continue
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad):
            raise PatternFileError(path, f"{len(bad)} NaN/inf {name} value{'s' if len(bad) > 1 else ''} "
                                         f"(first at {where(int(bad[0]))}: {values[bad[0]]})")
    outside = np.flatnonzero((two_theta <= 0) | (two_theta >= 180))
    if len(outside):
        i = int(outside[0])
        raise PatternFileError(path, f"2θ must lie in (0, 180)° ({where(i)}: {two_theta[i]:.6g}); "
                                     "is the first column 2θ in degrees?")
    step = np.diff(two_theta)
    if np.all(step < 0):
        # some instruments scan downwards; nothing is lost by turning it round
        two_theta, intensity = two_theta[::-1].copy(), intensity[::-1].copy()
        errors = None if errors is None else errors[::-1].copy()
        old_where = where
        where = lambda i: old_where(n - 1 - i)  # noqa: E731 - locations keep pointing into the file
        warnings.append("angles were decreasing; the pattern was reversed")
        step = np.diff(two_theta)
    bad = np.flatnonzero(step <= 0)
    if len(bad):
        i = int(bad[0]) + 1
        if step[i - 1] == 0:
            raise PatternFileError(path, f"duplicated angle ({where(i)}: {two_theta[i]:.6g} repeats {where(i - 1)})")
        raise PatternFileError(path, f"angles are not increasing ({where(i)}: {two_theta[i]:.6g} after "
                                     f"{two_theta[i - 1]:.6g})")
    top = float(intensity.max())
    if top <= 0:
        raise PatternFileError(path, "no positive intensity (all values are zero or negative)")
    low = float(intensity.min())
    if low < 0:
        if low < -NEGATIVE_TOLERANCE * top:
            i = int(np.argmin(intensity))
            raise PatternFileError(path, f"negative intensities down to {low:.6g} ({where(i)}), "
                                         f"{-100 * low / top:.1f} % of the maximum {top:.6g}; counts cannot be "
                                         "negative (more than 1 % below zero is refused)")
        count = int(np.count_nonzero(intensity < 0))
        intensity = np.clip(intensity, 0.0, None)
        warnings.append(f"{count} slightly negative intensit{'ies' if count > 1 else 'y'} (down to {low:.3g}, "
                        f"{-100 * low / top:.2f} % of the maximum) clipped to 0")
    if errors is not None and np.any(errors < 0):
        i = int(np.flatnonzero(errors < 0)[0])
        raise PatternFileError(path, f"negative value in the error (third) column ({where(i)}: {errors[i]:.6g})")
    return two_theta, intensity, errors, where


# --------------------------------------------------------------------------- text tables


def _parse_float_row(tokens: list[str]) -> list[float] | None:
    try:
        return [float(t) for t in tokens]
    except ValueError:
        return None


def _read_text(path: Path, text: str) -> MeasuredPattern:
    lines = text.splitlines()
    _refuse_known_text_formats(path, lines)
    # a decimal comma is only plausible with another separator and no "." in any number
    data_like = [ln for ln in lines if _DATA_LIKE.match(ln)]
    decimal_comma = (any(";" in ln or "\t" in ln for ln in data_like)
                     and any(_DIGIT_COMMA_DIGIT.search(ln) for ln in data_like)
                     and not any("." in ln for ln in data_like))
    splitter = _SPLIT_DECIMAL_COMMA if decimal_comma else _SPLIT

    comments: list[str] = []
    header: list[str] = []
    rows: list[list[float]] = []
    row_lines: list[int] = []
    after_data: list[tuple[int, str]] = []
    for lineno, line in enumerate(lines, start=1):
        s = line.strip()
        if not s:
            continue
        if s[0] in COMMENT_CHARS:
            comments.append(s)
            continue
        body = s.split("#", 1)[0].strip() if "#" in s else s  # "20.0 153  # Kα2 shoulder"
        if decimal_comma:
            body = body.replace(",", ".")
        values = _parse_float_row([t for t in splitter.split(body) if t]) if body else None
        if values is None:
            if rows:
                after_data.append((lineno, s))
            else:
                header.append(s)
            continue
        if after_data:
            first_line, first_text = after_data[0]
            raise PatternFileError(path, f"non-numeric line inside the data (line {first_line}: "
                                         f"{_clip(first_text)!r}); one scan per file")
        rows.append(values)
        row_lines.append(lineno)

    warnings: list[str] = []
    if after_data:
        warnings.append(f"ignored {len(after_data)} non-numeric line{'s' if len(after_data) > 1 else ''} "
                        f"after the data (from line {after_data[0][0]})")
    if not rows:
        raise PatternFileError(path, "no numeric data: not a table of 2θ and intensity columns")
    if header:
        titles = [t for t in _SPLIT.split(header[-1].strip()) if t]
        if titles and _NOT_TWO_THETA.match(titles[0]):
            raise PatternFileError(path, f"the first column is titled {titles[0]!r}; xrdnet reads 2θ in degrees "
                                         "as the first column")

    described = comments + header
    metadata: dict = {
        "delimiter": _delimiter_name(lines[row_lines[0] - 1], decimal_comma),
        "decimal_comma": decimal_comma,
    }
    if header:
        metadata["header"] = header[:50]
    if comments:
        metadata["comments"] = comments[:50]
    wavelength = _wavelength_from_text(described, metadata)

    widths = {len(r) for r in rows}
    errors = None
    step_header = _start_step_from_text(described)
    if len(widths) == 1 and widths <= {2, 3}:
        table = np.asarray(rows, dtype=np.float64)
        two_theta, intensity = table[:, 0], table[:, 1]
        errors = table[:, 2].copy() if table.shape[1] == 3 else None
        fmt = "xye" if errors is not None else "xy"
        lines_of = np.asarray(row_lines)
    elif (fullprof := _fullprof_free(rows)) is not None:
        start, step, end = fullprof
        intensity = np.asarray([v for r in rows[1:] for v in r], dtype=np.float64)
        two_theta = start + step * np.arange(len(intensity))
        fmt = "fullprof-free"
        lines_of = np.repeat(row_lines[1:], [len(r) for r in rows[1:]])
        metadata.update(start_deg=start, step_deg=step, end_deg=end)
    elif step_header is not None:
        start, step, end = step_header
        intensity = np.asarray([v for r in rows for v in r], dtype=np.float64)
        two_theta = start + step * np.arange(len(intensity))
        if end is not None and abs(two_theta[-1] - end) > 1.01 * abs(step):
            raise PatternFileError(path, f"the header says start {start:g}, step {step:g}, end {end:g} "
                                         f"({round((end - start) / step) + 1} points) but there are {len(intensity)} "
                                         "intensities")
        fmt = "step-intensities"
        lines_of = np.repeat(row_lines, [len(r) for r in rows])
        metadata.update(start_deg=start, step_deg=step, end_deg=end)
    elif widths == {1}:
        raise PatternFileError(path, "one numeric column (intensities only) and no 'start'/'step' in the header, "
                                     "so the angles are unknown; write 2θ and intensity columns")
    elif len(widths) == 1:
        raise PatternFileError(path, f"{widths.pop()} numeric columns; expected 2θ, intensity and optionally "
                                     "an error column")
    else:
        first = len(rows[0])
        k = next(i for i, r in enumerate(rows) if len(r) != first)
        raise PatternFileError(path, f"line {row_lines[k]} has {len(rows[k])} value{'s' if len(rows[k]) != 1 else ''} "
                                     f"where line {row_lines[0]} has {first}; every row needs 2θ and intensity")

    def where(i: int) -> str:
        return f"line {int(lines_of[i])}"

    two_theta, intensity, errors, _ = _validate(path, two_theta, intensity, errors, where, warnings)
    return MeasuredPattern(path=path, two_theta_deg=two_theta, intensity=intensity, errors=errors,
                           wavelength_angstrom=wavelength, format=fmt, warnings=warnings, metadata=metadata)


def _refuse_known_text_formats(path: Path, lines: list[str]) -> None:
    head = [ln.strip() for ln in lines[:400]]
    if any(re.match(r"BANK\s+\d", ln) for ln in head):
        raise PatternFileError(path, "unsupported format: GSAS BANK file (.gsa/.fxye/.raw); export 2θ/intensity "
                                     "columns (.xy/.xye) instead")
    if any(ln.startswith("data_") for ln in head) and any(ln.startswith(("_pd_", "_cell_", "_atom_site", "_symmetry"))
                                                          for ln in head):
        raise PatternFileError(path, "unsupported format: a CIF file (structure or pdCIF), not a 2θ/intensity table")


def _delimiter_name(line: str, decimal_comma: bool) -> str:
    if ";" in line:
        return "semicolon"
    if "\t" in line:
        return "tab"
    if "," in line and not decimal_comma:
        return "comma"
    return "whitespace"


def _clip(text: str, n: int = 40) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _wavelength_from_text(lines: list[str], metadata: dict) -> float | None:
    """The wavelength a header or comment states (numeric with unit, energy, or a pymatgen name), else None."""
    found: list[tuple[float, str]] = []
    for line in lines[:400]:
        for match in _WAVELENGTH_NUMBER.finditer(line):
            value = float(match["value"])
            unit = (match["unit"] or match["paren"] or "").lower()
            value *= 10.0 if "nm" in unit else 0.01 if "pm" in unit else 1.0
            if 0.05 <= value <= 5.0:  # else it is not an X-ray wavelength in Å: not what the line meant
                found.append((value, line))
        for match in _ENERGY_NUMBER.finditer(line):
            energy = float(match["value"])
            if energy > 0 and 0.05 <= HC_KEV_ANGSTROM / energy <= 5.0:
                found.append((HC_KEV_ANGSTROM / energy, line))
        for match in _WAVELENGTH_NAME.finditer(line):
            try:
                radiation = resolve_radiation(match["name"])
            except ValueError:
                continue
            found.append((_positions_wavelength(radiation), line))
            metadata.update(_radiation_metadata(radiation))
        hint = _RADIATION_HINT.search(line)
        if hint and "radiation_hint" not in metadata:
            metadata["radiation_hint"] = f"{hint[1]}Ka{hint[2] or ''}"
    if not found:
        return None
    metadata["wavelength_statement"] = found[0][1]
    if len({round(v, 4) for v, _ in found}) > 1:
        metadata["wavelength_statements"] = [line for _, line in found]
    return float(found[0][0])


def _start_step_from_text(lines: list[str]) -> tuple[float, float, float | None] | None:
    start = step = end = None
    for line in lines[:400]:
        start = start if start is not None else _first_value(_START, line)
        step = step if step is not None else _first_value(_STEP, line)
        end = end if end is not None else _first_value(_END, line)
    if start is None or step is None or step == 0:
        return None
    return start, step, end


def _first_value(regex: re.Pattern, line: str) -> float | None:
    match = regex.search(line)
    return float(match["value"]) if match else None


def _fullprof_free(rows: list[list[float]]) -> tuple[float, float, float] | None:
    """FullProf's free format: a first row ``start step end`` and then the intensities, any number a line."""
    if len(rows) < 2 or len(rows[0]) != 3:
        return None
    start, step, end = rows[0]
    if not (step > 0 and end > start):
        return None
    expected = round((end - start) / step) + 1
    count = sum(len(r) for r in rows[1:])
    # an xye table has 3 values on every row; the count check makes a chance match implausible
    if all(len(r) == 3 for r in rows) or abs(count - expected) > 1:
        return None
    return start, step, end


# --------------------------------------------------------------------------- PANalytical XRDML


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _first(element: ET.Element, name: str) -> ET.Element | None:
    return next((e for e in element.iter() if _local(e.tag) == name), None)


def _numbers(path: Path, element: ET.Element, what: str) -> np.ndarray:
    try:
        return np.asarray((element.text or "").split(), dtype=np.float64)
    except ValueError:
        raise PatternFileError(path, f"non-numeric values in <{what}>") from None


def _angstrom(path: Path, element: ET.Element) -> float:
    value = _numbers(path, element, _local(element.tag))
    if len(value) != 1:
        raise PatternFileError(path, f"<{_local(element.tag)}> should hold one wavelength")
    unit = (element.get("unit") or "Angstrom").lower()
    return float(value[0]) * (10.0 if unit in ("nm", "nanometer", "nanometre") else 1.0)


def _read_xrdml(path: Path, raw: bytes) -> MeasuredPattern:
    """The first 2θ scan of a PANalytical XRDML file (schemas 1.x and 2.x, namespace-agnostic).

    Values: ``<intensities>`` as written (already corrected for the beam attenuator) or raw
    ``<counts>`` (schema 2.x) times ``beamAttenuationFactors``/``commonBeamAttenuationFactor``;
    divided by ``commonCountingTime`` or per-point ``countingTimes`` when given (counts/s).
    Positions: ``listPositions`` or ``startPosition``/``endPosition`` evenly spaced over the points.
    Wavelength: ``usedWavelength``'s kAlpha1 (kBeta when ``intended`` says K-Beta); kAlpha2 and the
    ratio go to ``metadata``.
    """
    if b"xrdMeasurement" not in raw[:65536]:
        raise PatternFileError(path, "unsupported format: XML/HTML markup but not a PANalytical XRDML file "
                                     "(no <xrdMeasurements>)")
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as exc:
        raise PatternFileError(path, f"XRDML file is not well-formed XML ({exc})") from None
    measurement = _first(root, "xrdMeasurement")
    if measurement is None:
        raise PatternFileError(path, "XRDML file without an <xrdMeasurement>")
    warnings: list[str] = []
    metadata: dict = {"measurement_type": measurement.get("measurementType")}
    wavelength = None
    used = _first(measurement, "usedWavelength")
    if used is not None:
        lines = {_local(e.tag): e for e in used}
        intended = used.get("intended") or ""
        metadata["intended_wavelength"] = intended or None
        for key, name in (("kAlpha1", "kalpha1_angstrom"), ("kAlpha2", "kalpha2_angstrom"), ("kBeta", "kbeta_angstrom")):
            if key in lines:
                metadata[name] = _angstrom(path, lines[key])
        if "ratioKAlpha2KAlpha1" in lines:
            metadata["kalpha2_kalpha1_ratio"] = float((lines["ratioKAlpha2KAlpha1"].text or "nan").strip())
        key = "kbeta_angstrom" if "beta" in intended.lower() else "kalpha1_angstrom"
        wavelength = metadata.get(key) or metadata.get("kalpha1_angstrom")
        if wavelength is not None and not 0.05 <= wavelength <= 5.0:
            raise PatternFileError(path, f"usedWavelength {wavelength} Å is outside the X-ray range 0.05..5 Å")
    anode = _first(root, "anodeMaterial")
    if anode is not None and anode.text:
        metadata["anode"] = anode.text.strip()

    scans = [e for e in measurement.iter() if _local(e.tag) == "scan"]
    if not scans:
        raise PatternFileError(path, "XRDML file without a <scan>")
    if len(scans) > 1:
        warnings.append(f"the file holds {len(scans)} scans; read the first")
    scan = scans[0]
    metadata["scan_axis"] = scan.get("scanAxis")
    if scan.get("status") and scan.get("status") != "Completed":
        warnings.append(f"scan status is {scan.get('status')!r}")
    points = _first(scan, "dataPoints")
    if points is None:
        raise PatternFileError(path, "XRDML scan without <dataPoints>")
    values_element = _first(points, "intensities")
    raw_counts = values_element is None
    if raw_counts:
        values_element = _first(points, "counts")
    if values_element is None:
        raise PatternFileError(path, "XRDML scan without <intensities> or <counts>")
    intensity = _numbers(path, values_element, _local(values_element.tag))
    n = len(intensity)
    metadata["intensity_element"] = _local(values_element.tag)
    if raw_counts:
        # schema 2.x raw counts are not yet corrected for the attenuator; <intensities> already are
        factors = _first(points, "beamAttenuationFactors")
        common_factor = _first(points, "commonBeamAttenuationFactor")
        if factors is not None:
            f = _numbers(path, factors, "beamAttenuationFactors")
            if len(f) != n:
                raise PatternFileError(path, f"{len(f)} beamAttenuationFactors for {n} counts")
            intensity = intensity * f
        elif common_factor is not None:
            intensity = intensity * float((common_factor.text or "1").strip())

    axis = next((e for e in points if _local(e.tag) == "positions" and (e.get("axis") or "").lower() == "2theta"), None)
    if axis is None:
        axes = [e.get("axis") for e in points if _local(e.tag) == "positions"]
        raise PatternFileError(path, f"no 2Theta axis in the scan (axes {axes}, scan axis {scan.get('scanAxis')!r}); "
                                     "only 2θ powder scans can be read")
    listed = _first(axis, "listPositions")
    start, end = _first(axis, "startPosition"), _first(axis, "endPosition")
    if listed is not None:
        two_theta = _numbers(path, listed, "listPositions")
        if len(two_theta) != n:
            raise PatternFileError(path, f"{len(two_theta)} 2Theta positions for {n} intensities")
    elif start is not None and end is not None:
        a = _numbers(path, start, "startPosition")
        b = _numbers(path, end, "endPosition")
        if len(a) != 1 or len(b) != 1:
            raise PatternFileError(path, "2Theta startPosition/endPosition should hold one number each")
        two_theta = np.linspace(a[0], b[0], n) if n else np.zeros(0)
    else:
        raise PatternFileError(path, "2Theta does not move in this scan (commonPosition only); not a 2θ scan")

    common_time = _first(points, "commonCountingTime")
    times = _first(points, "countingTimes")
    if common_time is not None:
        t = float(_numbers(path, common_time, "commonCountingTime")[0])
        if not t > 0:
            raise PatternFileError(path, f"commonCountingTime {t} is not positive")
        intensity = intensity / t
        metadata.update(counting_time_s=t, intensity_unit="counts/s")
    elif times is not None:
        t = _numbers(path, times, "countingTimes")
        if len(t) != n or not np.all(t > 0):
            raise PatternFileError(path, "countingTimes must hold one positive time per point")
        intensity = intensity / t
        metadata.update(intensity_unit="counts/s")
    else:
        metadata["intensity_unit"] = "counts"

    def where(i: int) -> str:
        return f"point {i + 1}"

    two_theta, intensity, _, _ = _validate(path, two_theta, intensity, None, where, warnings)
    return MeasuredPattern(path=path, two_theta_deg=two_theta, intensity=intensity, errors=None,
                           wavelength_angstrom=None if wavelength is None else float(wavelength), format="xrdml",
                           warnings=warnings, metadata=metadata)
