"""``.chi`` files of Fit2D and pyFAI (azimuthally integrated 1-D patterns).

Layout (Fit2D manual, "CHI format"; pyFAI ``io.save1D`` writes the same): line 1 a title, line 2
the x-axis label (``2-Theta Angle (Degrees)``, ``Q (nm-1)``, ``Q (A-1)``, ``d-spacing``, ...), line 3
the y label (``Intensity``), line 4 the number of points (and of curves), then ``x  y…`` per line,
space or comma separated (xylib ``chiplot`` quotes the Fit2D reference). A file may hold
several curves (the first is read). 2θ (degrees or radians), Q (1/nm converted to 1/Å) and d are
read; radial distances in mm or pixels are refused (not calibrated). Written-to-spec fixture.

The other ``.chi`` found at synchrotrons (diffpy/SrXplanar, pyFAI's column export) has no point count:
one header line naming the columns (``# chi_Q chi_I``, ``# q_nm^-1 I``, ``# 2th_deg I``, ``# q_A^-1 I``;
pyFAI may put ``# key: value`` lines such as ``Wavelength: 1.0332e-10 m`` above it), then ``x  y`` rows
to the end. Its first column title names the axis (``chi_Q`` is Q in 1/Å, the diffpy convention), read
by the same rule as the Fit2D label; a file with neither layout's axis is refused rather than guessed.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from xrdnet.io.core import PatternFileError, Scan, wavelength_from_text
from xrdnet.io.format import Format, register
from xrdnet.io.text import decode


_COUNT_LINE = re.compile(r"^\s*(\d+)(?:\s*[,\s]\s*(\d+))?\s*$")
_TWO_NUMBERS = re.compile(r"^\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*[,\s]\s*[-+]?(?:\d+\.?\d*|\.\d+)")
_DIFFPY_PREFIX = re.compile(r"(?i)^chi_")
"""diffpy writes its column titles as ``chi_Q``/``chi_I``: the prefix names the file type, not the axis."""


def is_chi(text_head: str) -> bool:
    """Lines 1-3 labels (line 2 with a letter), line 4 the point count (and curve count), line 5 numbers."""
    lines = text_head.splitlines()[:5]
    return (len(lines) == 5 and bool(_COUNT_LINE.match(lines[3])) and bool(_TWO_NUMBERS.match(lines[4]))
            and bool(re.search(r"[A-Za-z]", lines[1])) and not _TWO_NUMBERS.match(lines[2]))


def _axis(path: Path, label: str) -> tuple[str, float]:
    s = label.lower()
    if "theta" in s or "2th" in s or "tth" in s:
        if "rad" in s and "deg" not in s:
            return "2theta-rad", 1.0
        return "2theta", 1.0
    if re.match(r"^q(?![a-z])", s) or s.startswith("q_"):
        return "q", 0.1 if "nm" in s else 1.0
    if s.startswith("d") and ("spacing" in s or re.match(r"^d(?![a-z])", s)):
        return "d", 10.0 if "nm" in s else 1.0
    raise PatternFileError(path, f".chi x axis {label[:40]!r} is neither 2θ, Q nor d (radial distance is not "
                                 "calibrated); integrate in 2θ or Q")


def _is_fit2d_layout(lines: list[str]) -> bool:
    """Line 4 a point count after x and y labels (not numbers): the Fit2D layout, else the column-title one.

    The title (line 1) is not looked at: Fit2D lets it be anything, digits included.
    """
    return (len(lines) >= 4 and bool(_COUNT_LINE.match(lines[3])) and bool(re.search(r"[A-Za-z]", lines[1]))
            and not any(_TWO_NUMBERS.match(ln) for ln in lines[1:3]))


def _rows(path: Path, lines: list[str], linenos: list[int]) -> np.ndarray:
    """``[N, 2]`` x and intensity of data lines (extra columns ignored); numbered as in the file for errors."""
    rows = []
    for line, lineno in zip(lines, linenos):
        try:
            values = [float(t) for t in re.split(r"[\s,]+", line.strip()) if t]
        except ValueError:
            raise PatternFileError(path, f"non-numeric .chi row (line {lineno}: {line.strip()[:40]!r})") from None
        if len(values) < 2:
            raise PatternFileError(path, f".chi row (line {lineno}) needs x and intensity")
        rows.append(values[:2])
    return np.asarray(rows, dtype=np.float64).reshape(-1, 2)


def _read_column_titles(path: Path, lines: list[str]) -> Scan:
    """The diffpy/pyFAI layout (module docstring): header lines, the last titling the columns, then rows."""
    start = next((k for k, ln in enumerate(lines) if _TWO_NUMBERS.match(ln)), None)
    header = [ln.strip().lstrip("#").strip() for ln in lines[:start or 0] if ln.strip()]
    header = [h for h in header if h]
    if start is None or not header:
        raise PatternFileError(path, ".chi file has neither the Fit2D 4-line header nor a column title line "
                                     "(such as '# chi_Q chi_I' or '# 2th_deg I') naming the x axis")
    x_label = header[-1]
    first_title = _DIFFPY_PREFIX.sub("", re.split(r"[\s,]+", x_label)[0])
    unit, factor = _axis(path, first_title)
    linenos = [k + 1 for k in range(start, len(lines)) if lines[k].strip()]
    table = _rows(path, [lines[k - 1] for k in linenos], linenos)
    x = table[:, 0]
    if unit == "2theta-rad":
        x, unit = np.rad2deg(x), "2theta"
    meta: dict = {"x_label": x_label[:80], "layout": "column titles"}
    if len(header) > 1:
        meta["header"] = header[:50]
    wavelength = wavelength_from_text(header, meta)
    return Scan(x=x * factor, y=table[:, 1], format="chi", x_unit=unit, wavelength=wavelength, metadata=meta,
                where=lambda i: f"line {linenos[i]}")


def read(path: Path, raw: bytes, **_) -> Scan:
    text = decode(path, raw)
    lines = text.splitlines()
    if not _is_fit2d_layout(lines):
        return _read_column_titles(path, lines)
    if len(lines) < 5:
        raise PatternFileError(path, ".chi file shorter than its 4 header lines and data")
    title, x_label, y_label = (ln.strip().lstrip("#").strip() for ln in lines[:3])
    unit, factor = _axis(path, x_label)
    count = _COUNT_LINE.match(lines[3])
    if not count:
        raise PatternFileError(path, f".chi line 4 should be the number of points, not {lines[3].strip()[:20]!r}")
    declared = int(count.group(1))
    if declared < 1 or declared > 5_000_000:
        raise PatternFileError(path, f".chi line 4 declares {declared} points")
    body = lines[4:4 + declared]
    if len(body) < declared:
        raise PatternFileError(path, f".chi header declares {declared} points but only {len(body)} lines follow "
                                     "(truncated?)")
    table = _rows(path, body, list(range(5, 5 + declared)))
    warnings = []
    extra = [ln for ln in lines[4 + declared:] if ln.strip()]
    if extra:
        warnings.append(f"ignored {len(extra)} line(s) after the {declared} declared points")
    x = table[:, 0]
    if unit == "2theta-rad":
        x, unit = np.rad2deg(x), "2theta"
    x = x * factor
    meta: dict = {"title": title[:200], "x_label": x_label[:80], "y_label": y_label[:80]}
    wavelength = wavelength_from_text([title, x_label, y_label], meta)
    return Scan(x=x, y=table[:, 1], format="chi", x_unit=unit, wavelength=wavelength, metadata=meta,
                warnings=warnings, where=lambda i: f"line {i + 5}")


FORMAT = register(Format("chi", read, "4-line header: title, x label, 'Intensity', point count; by extension, a "
                         "column-title line ('# chi_Q chi_I', '# q_nm^-1 I')", "text",
                         lambda content: is_chi(content.text_head), priority=60, extensions=(".chi",), by_extension=True))
