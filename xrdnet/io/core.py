"""What every reader shares: the error, the pattern, the scan a reader hands back, and the checks.

A format module turns bytes into a ``Scan`` (x values as the file holds them, intensities, the
metadata the file states); ``finish`` then does, once for every format, what must not differ between
them: the x axis (2θ, Q or d: the caller's ``x_unit``, else the file's words, else the values, else
2θ), the checks (enough points, finite, increasing, no absurd values, some dynamic range), Q for
every pattern whose wavelength is known, and the wavelength rule (the file's statement, else the
caller's argument, else None: never a silent default).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from xrdnet.simulate.wavelengths import Radiation, resolve_radiation
from xrdnet.units import q_inv_angstrom_from_two_theta, sin_theta_of_q, two_theta_deg_from_sin_theta

MIN_POINTS = 20
"""Fewest data points accepted: fewer cannot be a powder pattern worth classifying."""

NEGATIVE_TOLERANCE = 0.01
"""Intensities down to -1 % of the maximum are clipped to zero with a warning; more negative is refused."""

MAX_FILE_BYTES = 256 * 1024 * 1024
"""Larger files are refused before reading: no powder pattern is that big."""

MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024
"""Most bytes a compressed file or a zip member may expand to (a bomb is refused, not unpacked)."""

MAX_POINTS = 5_000_000
"""Most points accepted in one pattern (a header claiming more is corrupt)."""

MAX_ABS_VALUE = 1e15
"""Intensities or errors beyond this are refused: no detector counts that far, scaling would overflow."""

HC_KEV_ANGSTROM = 12.398419843320026  # h·c in keV·Å: λ[Å] = 12.398 / E[keV]
X_UNITS = ("2theta", "q", "d")


class PatternFileError(ValueError):
    """A measured pattern file that cannot be read; the message is one line: ``<path>: <problem>``.

    ``code`` (None for most reading errors) names the few problems a caller acts on, so that it tests
    a code rather than searching the sentence: ``NO_OVERLAP``, ``UNREACHABLE``, ``NO_INTENSITY``.
    """

    def __init__(self, path: str | Path, problem: str, code: str | None = None) -> None:
        self.path = str(path)
        self.problem = " ".join(str(problem).split())  # one line, whatever the caller formatted
        self.code = code
        super().__init__(f"{self.path}: {self.problem}")

    def __reduce__(self):  # picklable across processes although __init__ takes several arguments
        return (type(self), (self.path, self.problem, self.code))


# codes of PatternFileError (to_model_grid) and of ReaderNote
NO_OVERLAP = "no_overlap"
"""The measured 2θ range (at the model's wavelength) does not overlap the model's grid."""
UNREACHABLE = "unreachable"
"""No measured Q is reachable (2θ < 180°) at the model's wavelength."""
NO_INTENSITY = "no_intensity"
"""Nothing above zero is left in the model's range (after background subtraction, if asked)."""
AXIS_REVERSED = "axis_reversed"
"""The x values were decreasing (2θ or Q) and the pattern was reversed."""
NO_WAVELENGTH_STATED = "no_wavelength_stated"
"""The file states no wavelength (the caller's ``wavelength_assumed`` finding says what was assumed)."""


class ReaderNote(str):
    """One of a reader's ``warnings``: the sentence itself (a ``str``, as every warning was) plus a ``code``.

    Callers that act on a repair (a reversed axis) test ``note_code(w) == AXIS_REVERSED`` instead of
    searching the sentence for a word, so rewording a warning cannot change a prediction.
    """

    code: str

    def __new__(cls, code: str, text: str) -> "ReaderNote":
        note = super().__new__(cls, text)
        note.code = code
        return note

    def __reduce__(self):  # picklable across processes, code included
        return (type(self), (self.code, str(self)))


def note_code(warning: str) -> str | None:
    """The code of a reader warning (``ReaderNote``), None for a plain sentence."""
    return getattr(warning, "code", None)


@dataclass
class MeasuredPattern:
    """One measured powder pattern as read from a file (N points).

    Attributes:
        path: the file it came from.
        two_theta_deg: ``[N]`` float64 angles in degrees, strictly increasing, in (0, 180); None for a
            Q or d file whose wavelength is unknown (``q_inv_angstrom`` then holds the positions).
        intensity: ``[N]`` float64 intensities >= 0, in the order of ``two_theta_deg``/``q_inv_angstrom``.
        errors: ``[N]`` float64 standard deviations of the intensities, or None.
        wavelength_angstrom: the wavelength of the angles (Kα1 for a Kα source) or None when neither the
            file nor the caller said.
        wavelength_source: "file", "argument" or "default" (default: nobody said; the caller decides).
        format: the reader that read it ("xy", "xrdml", "bruker-raw-v2", ...).
        warnings: what was repaired or guessed while reading.
        metadata: what else the file states (Kα2 and ratio, anode, step, counting time, sample name...).
        x_unit: what the file's x axis was: "2theta", "q" or "d".
        x_unit_source: "header" (the file says), "values" (told from the numbers), "argument" or "default".
        q_inv_angstrom: ``[N]`` increasing Q = 4π sinθ/λ in 1/Å; always set for Q and d files, and for
            2θ files whose wavelength is known.
    """

    path: Path
    two_theta_deg: np.ndarray | None
    intensity: np.ndarray
    errors: np.ndarray | None = None
    wavelength_angstrom: float | None = None
    wavelength_source: str = "default"
    format: str = "xy"
    warnings: list[str] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)
    x_unit: str = "2theta"
    x_unit_source: str = "default"
    q_inv_angstrom: np.ndarray | None = None

    def __post_init__(self) -> None:
        if (self.q_inv_angstrom is None and self.two_theta_deg is not None and self.wavelength_angstrom
                and len(self.two_theta_deg) == len(self.intensity)):
            self.q_inv_angstrom = q_of_two_theta(self.two_theta_deg, float(self.wavelength_angstrom))

    def __len__(self) -> int:
        return len(self.intensity)


@dataclass
class Scan:
    """What a format module read, before the shared checks (``finish``).

    ``x`` is in degrees 2θ, 1/Å (Q) or Å (d) as ``x_unit`` says (None: the file does not say, the
    values or the default decide); ``where(i)`` names the place of point i in the file for messages.
    """

    x: np.ndarray
    y: np.ndarray
    format: str
    errors: np.ndarray | None = None
    x_unit: str | None = None
    wavelength: float | None = None
    metadata: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    where: Callable[[int], str] | None = None


def q_of_two_theta(two_theta_deg, wavelength_angstrom: float) -> np.ndarray:
    """Q in 1/Å of ``two_theta_deg`` at λ (``xrdnet.units``)."""
    return q_inv_angstrom_from_two_theta(two_theta_deg, wavelength_angstrom)


def two_theta_of_q(q, wavelength_angstrom: float) -> np.ndarray:
    """2θ in degrees of ``q`` at λ; the caller has checked that every point is reachable (sin θ < 1)."""
    return two_theta_deg_from_sin_theta(sin_theta_of_q(q, wavelength_angstrom))


# --------------------------------------------------------------------------- wavelengths


def resolve_wavelength_argument(wavelength) -> tuple[float | None, dict]:
    """(Å used for positions, metadata) of the caller's ``wavelength``; ValueError when it is invalid."""
    if wavelength is None:
        return None, {}
    radiation = wavelength if isinstance(wavelength, Radiation) else resolve_radiation(wavelength)
    return positions_wavelength(radiation), radiation_metadata(radiation)


def positions_wavelength(radiation: Radiation) -> float:
    """Kα1 for a Kα source (a doublet peaks at its Kα1 position), else the single line."""
    return float(radiation.kalpha1_angstrom if radiation.has_doublet else radiation.wavelength_angstrom)


def radiation_metadata(radiation: Radiation) -> dict:
    meta = {"radiation": radiation.name or None}
    if radiation.has_doublet:
        meta.update(kalpha1_angstrom=radiation.kalpha1_angstrom, kalpha2_angstrom=radiation.kalpha2_angstrom)
    return meta


def anode_wavelength(anode: str, line: str = "a1") -> tuple[float, dict] | None:
    """Å of an anode's line ("a1", "a2", "a" → Kα1, "b" → Kβ) from pymatgen's table, with metadata; None if unknown."""
    anode = anode.strip().capitalize()
    line = line.lower()
    try:
        if line.startswith("b"):
            radiation = resolve_radiation(f"{anode}Kb1")
        elif line == "a2":
            radiation = resolve_radiation(f"{anode}Ka2")
        else:
            radiation = resolve_radiation(f"{anode}Ka")
    except ValueError:
        return None
    meta = radiation_metadata(radiation)
    meta["anode"] = anode
    return positions_wavelength(radiation), meta


_NUMBER = r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?"
_WAVELENGTH_NUMBER = re.compile(
    r"(?i)(?<![a-z])(?:wave[-_ ]?length|lambda|λ|_?wl1|k[-_ ]?alpha[-_ ]?1|alpha[-_ ]?1)"
    r"\s*(?P<paren>\([^)]{0,16}\)|\[[^\]]{0,16}\])?\s*[:=]?\s*"
    r"(?P<value>[-+]?(?:\d+\.\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(?P<unit>Å|angstroms?|A|nm|pm)?(?![A-Za-z])")
_ENERGY_NUMBER = re.compile(r"(?i)(?<![a-z])energy\s*[:=]\s*(?P<value>" + _NUMBER + r")\s*kev\b")
_WAVELENGTH_NAME = re.compile(
    r"(?i)(?<![a-z])(?:wave[-_ ]?length|lambda|radiation|anode|target|source|tube)\s*[:=]\s*"
    r"(?P<name>[A-Z][a-z]?K(?:a|b)[12]?)(?![A-Za-z0-9])")
# an anode line by name: "Cu K-alpha", "CuKa1", "Cu Ka", "Mo Kα", "Co K-alpha1", "Cu K-Alpha1", "Cu Kβ"
ANODE_LINE = re.compile(
    r"(?<![A-Za-z])(?P<anode>Cu|Mo|Co|Fe|Cr|Ag|CU|MO|CO|FE|CR|AG)\s*[-_ ]?\s*[Kk]\s*[-_ ]?\s*"
    r"(?P<line>alpha|Alpha|ALPHA|α|a|beta|Beta|BETA|β|b)(?:\s*-?\s*(?P<n>[12]))?(?![A-Za-z])")
_ANODE_KEY = re.compile(r"(?i)(?<![a-z])(?:anode|target|tube|_anode|anode[-_ ]?material)\s*[:=]\s*['\"]?"
                        r"(?P<anode>Cu|Mo|Co|Fe|Cr|Ag)(?![a-z])")


def wavelength_from_text(lines: list[str], metadata: dict) -> float | None:
    """The wavelength header/comment lines state, else None; what was found goes to ``metadata``.

    In order of trust: a number (``wavelength: 1.5406``, ``lambda = 0.15406 nm``, ``_WL1=1.5406``), an
    energy (``energy: 30 keV``), a pymatgen name after a key (``radiation: CuKa``), an anode line by name
    anywhere in the header (``Cu K-alpha``, ``CuKa1``, ``Mo Kα``: Kα1 of that anode), an anode key
    (``anode: Cu``: Kα1).
    """
    found: list[tuple[float, str]] = []
    named: list[tuple[float, str, dict]] = []
    for line in lines[:400]:
        for match in _WAVELENGTH_NUMBER.finditer(line):
            value = float(match["value"])
            unit = (match["unit"] or match["paren"] or "").lower()
            value *= 10.0 if "nm" in unit else 0.01 if "pm" in unit else 1.0
            if 0 < value < 1e-6:  # in metres (pyFAI: "Wavelength: 1.0332e-10 m")
                value *= 1e10
            if 0.05 <= value <= 5.0:
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
            found.append((positions_wavelength(radiation), line))
            metadata.update(radiation_metadata(radiation))
        for match in ANODE_LINE.finditer(line):
            kind = match["line"].lower()
            code = "b" if kind in ("beta", "β", "b") else ("a2" if match["n"] == "2" else "a1")
            hit = anode_wavelength(match["anode"], code)
            if hit is not None:
                named.append((hit[0], line, hit[1]))
                metadata.setdefault("radiation_hint", f"{match['anode'].capitalize()}K{'b' if code == 'b' else 'a'}"
                                                      f"{match['n'] or ''}")
        if not named:
            match = _ANODE_KEY.search(line)
            if match:
                hit = anode_wavelength(match["anode"], "a1")
                if hit is not None:
                    named.append((hit[0], line, hit[1]))
    if found:
        metadata["wavelength_statement"] = found[0][1]
        if len({round(v, 4) for v, _ in found}) > 1:
            metadata["wavelength_statements"] = [line for _, line in found]
        return float(found[0][0])
    if named:
        value, line, meta = named[0]
        for key, val in meta.items():
            metadata.setdefault(key, val)
        metadata["wavelength_statement"] = line
        return float(value)
    return None


# --------------------------------------------------------------------------- the shared checks


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def _looks_like_d(x: np.ndarray) -> bool:
    """Strictly decreasing, values of d in Å, and steps as uneven as a 2θ scan turned into d gives."""
    if len(x) < 3 or not np.all(np.diff(x) < 0):
        return False
    if not (0.3 <= x[-1] and x[0] <= 50.0 and x[-1] < 5.0):
        return False
    steps = -np.diff(x)
    return float(steps.max()) > 2.0 * float(steps.min())


def finish(path: Path, scan: Scan, wavelength_arg: float | None, arg_meta: dict,
           x_unit_arg: str | None) -> MeasuredPattern:
    """Checks and axis/wavelength resolution shared by every format (see the module docstring)."""
    warnings = list(scan.warnings)
    metadata = dict(scan.metadata)
    where = scan.where or (lambda i: f"point {i + 1}")
    x = np.asarray(scan.x, dtype=np.float64).ravel()
    y = np.asarray(scan.y, dtype=np.float64).ravel()
    errors = None if scan.errors is None else np.asarray(scan.errors, dtype=np.float64).ravel()
    n = len(y)
    if len(x) != n or (errors is not None and len(errors) != n):
        raise PatternFileError(path, f"{len(x)} positions for {n} intensities")
    if n < MIN_POINTS:
        raise PatternFileError(path, f"only {_plural(n, 'data point')} (at least {MIN_POINTS} needed)")
    if n > MAX_POINTS:
        raise PatternFileError(path, f"{n} data points is more than any powder scan ({MAX_POINTS})")
    for name, values in (("x", x), ("intensity", y), ("error", errors)):
        if values is None:
            continue
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad):
            label = "2θ" if name == "x" and (scan.x_unit or "2theta") == "2theta" else name
            raise PatternFileError(path, f"{_plural(len(bad), f'NaN/inf {label} value')} "
                                         f"(first at {where(int(bad[0]))}: {values[bad[0]]})")
    for name, values in (("intensity", y), ("error", errors)):
        if values is not None and np.max(np.abs(values)) > MAX_ABS_VALUE:
            i = int(np.argmax(np.abs(values)))
            raise PatternFileError(path, f"absurd {name} {values[i]:.6g} ({where(i)}); no detector counts beyond "
                                         f"{MAX_ABS_VALUE:.0e}")

    # ---- the x axis
    if x_unit_arg is not None:
        unit, source = x_unit_arg, "argument"
        if scan.x_unit is not None and scan.x_unit != x_unit_arg:
            warnings.append(f"the file's x axis reads as {scan.x_unit}; treated as {x_unit_arg} as asked")
    elif scan.x_unit is not None:
        unit, source = scan.x_unit, "header"
    elif _looks_like_d(x):
        unit, source = "d", "values"
        warnings.append("x decreases unevenly from {:.3g} to {:.3g}: read as d-spacing in Å".format(x[0], x[-1]))
    else:
        unit, source = "2theta", "default"

    # ---- order: increasing in the axis's own sense (d decreasing = Q increasing)
    if unit == "d":
        bad = np.flatnonzero(x <= 0)
        if len(bad):
            i = int(bad[0])
            raise PatternFileError(path, f"d-spacing must be positive ({where(i)}: {x[i]:.6g})")
        if np.max(x) > 1e4:
            raise PatternFileError(path, f"d-spacing up to {np.max(x):.6g} Å is not a powder pattern")
    elif unit == "q":
        bad = np.flatnonzero((x <= 0) | (x > 100))
        if len(bad):
            i = int(bad[0])
            raise PatternFileError(path, f"Q must lie in (0, 100] 1/Å ({where(i)}: {x[i]:.6g})")
    else:
        if x[0] == 0.0 and n > MIN_POINTS and np.all(x[1:] > 0):
            # a detector's first channel at exactly 2θ = 0 (direct beam): carries no diffraction
            x, y = x[1:], y[1:]
            errors = None if errors is None else errors[1:]
            first_where = where
            where = lambda i: first_where(i + 1)  # noqa: E731
            n -= 1
            warnings.append("dropped the first point at 2θ = 0")
        outside = np.flatnonzero((x <= 0) | (x >= 180))
        if len(outside):
            i = int(outside[0])
            raise PatternFileError(path, f"2θ must lie in (0, 180)° ({where(i)}: {x[i]:.6g}); "
                                         "is the first column 2θ in degrees?")
    step = np.diff(x)
    want_decreasing = unit == "d"
    if (np.all(step < 0) and not want_decreasing) or (np.all(step > 0) and want_decreasing):
        x, y = x[::-1].copy(), y[::-1].copy()
        errors = None if errors is None else errors[::-1].copy()
        old_where = where
        where = lambda i: old_where(n - 1 - i)  # noqa: E731 - locations keep pointing into the file
        if unit != "d":
            warnings.append(ReaderNote(AXIS_REVERSED, "angles were decreasing; the pattern was reversed"
                                       if unit == "2theta" else "Q was decreasing; the pattern was reversed"))
        step = np.diff(x)
    ok = step < 0 if want_decreasing else step > 0
    bad = np.flatnonzero(~ok)
    if len(bad):
        i = int(bad[0]) + 1
        if step[i - 1] == 0:
            raise PatternFileError(path, f"duplicated {'angle' if unit == '2theta' else unit} ({where(i)}: "
                                         f"{x[i]:.6g} repeats {where(i - 1)})")
        what = "angles are" if unit == "2theta" else f"{unit} values are"
        raise PatternFileError(path, f"{what} not {'decreasing' if want_decreasing else 'increasing'} "
                                     f"({where(i)}: {x[i]:.6g} after {x[i - 1]:.6g})")

    # ---- intensities
    top = float(y.max())
    if top <= 0:
        raise PatternFileError(path, "no positive intensity (all values are zero or negative)")
    low = float(y.min())
    if low < 0:
        if low < -NEGATIVE_TOLERANCE * top:
            i = int(np.argmin(y))
            raise PatternFileError(path, f"negative intensities down to {low:.6g} ({where(i)}), "
                                         f"{-100 * low / top:.1f} % of the maximum {top:.6g}; counts cannot be "
                                         "negative (more than 1 % below zero is refused)")
        count = int(np.count_nonzero(y < 0))
        y = np.clip(y, 0.0, None)
        warnings.append(f"{count} slightly negative intensit{'ies' if count > 1 else 'y'} (down to {low:.3g}, "
                        f"{-100 * low / top:.2f} % of the maximum) clipped to 0")
    with np.errstate(all="ignore"):
        scaled = y / top
        spread = float(np.max(scaled) - np.min(scaled))
    if not np.all(np.isfinite(scaled)) or not math.isfinite(spread):
        raise PatternFileError(path, "intensities are not finite after scaling to the maximum")
    if spread <= 1e-9:
        raise PatternFileError(path, f"constant intensity {top:.6g} at every point: no peaks, no dynamic range")
    if errors is not None and np.any(errors < 0):
        i = int(np.flatnonzero(errors < 0)[0])
        raise PatternFileError(path, f"negative value in the error column ({where(i)}: {errors[i]:.6g})")

    # ---- wavelength: the file's statement, else the argument, else None
    file_wavelength = scan.wavelength
    if file_wavelength is not None and not (math.isfinite(file_wavelength) and 0.05 <= file_wavelength <= 5.0):
        warnings.append(f"the file states λ = {file_wavelength:.6g} Å, outside the X-ray range 0.05..5 Å; ignored")
        file_wavelength = None
    if file_wavelength is not None:
        wavelength, wsource = float(file_wavelength), "file"
        if wavelength_arg is not None and abs(wavelength_arg - wavelength) > 1e-3:
            warnings.append(f"the file states λ = {wavelength:.5f} Å; the wavelength argument "
                            f"({wavelength_arg:.5f} Å) is ignored")
    elif wavelength_arg is not None:
        wavelength, wsource = float(wavelength_arg), "argument"
        for key, value in arg_meta.items():
            metadata.setdefault(key, value)
    else:
        wavelength, wsource = None, "default"

    # ---- positions in 2θ and Q
    if unit == "2theta":
        two_theta = x
        q = None if wavelength is None else q_of_two_theta(x, wavelength)
    else:
        q = x if unit == "q" else 2.0 * np.pi / x
        two_theta = None
        if wavelength is not None:
            if np.all(sin_theta_of_q(q, wavelength) < 1.0):
                two_theta = two_theta_of_q(q, wavelength)
            else:
                warnings.append(f"Q up to {q[-1]:.3f} 1/Å is beyond 2θ = 180° at λ = {wavelength:.5f} Å; "
                                "2θ left unset")
    metadata.setdefault("n_points", n)
    return MeasuredPattern(path=path, two_theta_deg=two_theta, intensity=y, errors=errors,
                           wavelength_angstrom=wavelength, wavelength_source=wsource, format=scan.format,
                           warnings=warnings, metadata=metadata, x_unit=unit, x_unit_source=source,
                           q_inv_angstrom=q)
