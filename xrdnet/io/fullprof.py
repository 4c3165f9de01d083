"""FullProf data files (``.dat``).

Spec: FullProf manual, "Input data files" (J. Rodríguez-Carvajal, ILL/LLB):

- ``INSTRM = 0`` (free format, the default): optional title line(s), then a line ``2θ_start step
  2θ_end``, then the intensities, any number per line. Read by the table reader (``text.py``,
  format ``fullprof-free``) because such a file is told from its numbers, not from a keyword.
- ``INSTRM = 10`` (``XYDATA``): first line ``XYDATA``, five more header lines (``INTER``, ``TEMP``,
  comments), then ``x  y  [σ]`` per line in free format. Read here (format ``fullprof-xydata``);
  ``INTER`` holds the scale factors and, when present, the wavelength statement in the comments is used.
Both are written-to-spec fixtures (converted from a genuine scan).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from xrdnet.io.core import PatternFileError, Scan, wavelength_from_text
from xrdnet.io.format import Format, register
from xrdnet.io.text import axis_from_lines, decode


def is_xydata(text_head: str) -> bool:
    return text_head.lstrip("\ufeff \t\r\n").upper().startswith("XYDATA")


def read_xydata(path: Path, raw: bytes, **_) -> Scan:
    lines = decode(path, raw).splitlines()
    header = [ln.strip() for ln in lines[:6]]
    rows, where = [], []
    for lineno, line in enumerate(lines[6:], start=7):
        s = line.split("!", 1)[0].strip()
        if not s:
            continue
        try:
            rows.append([float(t) for t in re.split(r"[\s,;]+", s) if t])
        except ValueError:
            raise PatternFileError(path, f"non-numeric FullProf XYDATA row (line {lineno}: {s[:40]!r})") from None
        where.append(lineno)
    if not rows:
        raise PatternFileError(path, "FullProf XYDATA file without data rows")
    widths = {len(r) for r in rows}
    if len(widths) != 1 or not widths <= {2, 3}:
        raise PatternFileError(path, "FullProf XYDATA rows must all hold x, y and optionally σ")
    table = np.asarray(rows, dtype=np.float64)
    meta: dict = {"header": header}
    wavelength = wavelength_from_text(header, meta)
    x_unit, factor = axis_from_lines(path, [], header[1:])
    return Scan(x=table[:, 0] * factor, y=table[:, 1], errors=table[:, 2] if table.shape[1] == 3 else None,
                format="fullprof-xydata", x_unit=x_unit, wavelength=wavelength, metadata=meta,
                where=lambda i: f"line {where[i]}")


FORMAT = register(Format("fullprof-xydata", read_xydata, "first line 'XYDATA'", "text",
                         lambda content: is_xydata(content.text_head), priority=30, extensions=(".dat",)))
