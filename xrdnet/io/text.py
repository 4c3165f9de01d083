"""Text tables: ``.xy``, ``.xye``, ``.csv``, ``.dat``, ``.txt`` and any other plain columns.

- comment lines start with ``# ! ; % '``; non-numeric lines before the data are a header
  (``2theta,intensity``); separators comma, whitespace, tab or semicolon (a semicolon/tab file whose
  numbers have no "." reads "," as the decimal mark);
- two columns (x, intensity) or three (plus σ, "xye");
- intensities only, with ``start``/``step`` in the header (``# start: 10.0``, ``_STEPSIZE = 0.02``);
- the x axis is 2θ in degrees unless a column title or comment says Q (``Q(1/A)``, ``q_nm^-1``) or d
  (``d-spacing``, ``d(Å)``); Q in 1/nm is converted to 1/Å, d in nm to Å. Energy, k or r columns are
  refused (not a diffraction angle).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from xrdnet.io.core import PatternFileError, Scan, wavelength_from_text
from xrdnet.io.format import Format, register

COMMENT_CHARS = "#!;%'"
_SPLIT = re.compile(r"[\s,;]+")
_SPLIT_DECIMAL_COMMA = re.compile(r"[\s;]+")
_DATA_LIKE = re.compile(r"\s*[-+.\d]")
_DIGIT_COMMA_DIGIT = re.compile(r"\d,\d")
_NUMBER = r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?"
_START = re.compile(r"(?i)(?<![a-z])(?:2[-_ ]?theta[-_ ]?)?start(?:[-_ ]?(?:angle|position|2[-_ ]?theta))?"
                    r"\s*(?:\([^)]{0,8}\))?\s*[:=]\s*(?P<value>" + _NUMBER + ")")
_STEP = re.compile(r"(?i)(?<![a-z])(?:2[-_ ]?theta[-_ ]?)?step(?:[-_ ]?(?:size|width))?"
                   r"\s*(?:\([^)]{0,8}\))?\s*[:=]\s*(?P<value>" + _NUMBER + ")")
_END = re.compile(r"(?i)(?<![a-z])(?:2[-_ ]?theta[-_ ]?)?(?:end|stop)(?:[-_ ]?(?:angle|position|2[-_ ]?theta))?"
                  r"\s*(?:\([^)]{0,8}\))?\s*[:=]\s*(?P<value>" + _NUMBER + ")")
# column titles
_TITLE_Q = re.compile(r"(?i)^q(?![a-z])(?P<unit>[^,;\t]{0,14})")
_TITLE_D = re.compile(r"(?i)^(?:d[-_ ]?spacing|dspacing|d[-_ ]?value|d(?![a-z]))(?P<unit>[^,;\t]{0,14})")
_TITLE_2THETA = re.compile(r"(?i)^(?:2[-_ ]?theta|2θ|two[-_ ]?theta|tth|2th(?![a-z])|angle|theta|pos)")
_TITLE_OTHER = re.compile(r"(?i)^(?:k(?![a-z])|energy|e(?![a-z])|e[_(\[]|r(?![a-z])|r[_(\[]|time|tof)")


def decode(path: Path, raw: bytes) -> str:
    """Text of a file: UTF-16 with a BOM, UTF-8 (BOM dropped), else Latin-1; binary is refused."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            raise PatternFileError(path, "UTF-16 text that does not decode") from None
    head = raw[:8192]
    control = sum(1 for b in head if b < 9 or 13 < b < 32)
    if b"\x00" in head or control > 0.05 * max(len(head), 1):
        raise PatternFileError(path, "binary file of no known pattern format (unsupported format); export the "
                                     "pattern as two-column 2θ/intensity text or .xrdml")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def axis_of_title(title: str) -> tuple[str, float] | None | str:
    """("2theta"|"q"|"d", factor to 1/Å or Å) for a column title line, "other" for energy/k/r, else None."""
    s = title.strip().lstrip(COMMENT_CHARS).strip()
    if not s:
        return None
    if _TITLE_2THETA.match(s):
        first = re.split(r"[\s,;]+", s)[0].lower()
        if "rad" in first and "deg" not in first:  # pyFAI "2th_rad"
            return ("2theta", 180.0 / np.pi)
        return ("2theta", 1.0)
    m = _TITLE_Q.match(s)
    if m:
        unit = m["unit"].lower()
        return ("q", 0.1 if "nm" in unit else 1.0)
    m = _TITLE_D.match(s)
    if m:
        unit = m["unit"].lower()
        if "=" in unit or ":" in unit:  # "d = 3.2" is a statement, not a column title
            return None
        return ("d", 10.0 if "nm" in unit else 1.0)
    if _TITLE_OTHER.match(s):
        return "other"
    return None


def axis_from_lines(path: Path, header: list[str], comments: list[str]) -> tuple[str | None, float]:
    """The x axis the column titles or comments state (header rows first, then short comment lines)."""
    titled = [(line, True) for line in header[-1:]]
    titled += [(c, False) for c in reversed(comments) if len(c.split()) <= 16 and ":" not in c and "=" not in c][:3]
    for line, is_header_row in titled:
        axis = axis_of_title(line)
        if axis == "other" and not is_header_row:
            continue
        if axis == "other":
            first = [t for t in _SPLIT.split(line.strip().lstrip(COMMENT_CHARS).strip()) if t][:1]
            raise PatternFileError(path, f"the first column is titled {first[0] if first else line!r}; xrdnet reads "
                                         "2θ (degrees), Q (1/Å) or d (Å) as the first column")
        if axis is not None:
            return axis
    return None, 1.0


def _parse_float_row(tokens: list[str]) -> list[float] | None:
    try:
        return [float(t) for t in tokens]
    except ValueError:
        return None


def clip(text: str, n: int = 40) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def split_lines(path: Path, text: str):
    """(comments, header, rows, row_lines, after_data, decimal_comma, lines) of a text table."""
    lines = text.splitlines()
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
        body = s.split("#", 1)[0].strip() if "#" in s else s
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
                                         f"{clip(first_text)!r}); one scan per file")
        rows.append(values)
        row_lines.append(lineno)
    return comments, header, rows, row_lines, after_data, decimal_comma, lines


def _delimiter_name(line: str, decimal_comma: bool) -> str:
    if ";" in line:
        return "semicolon"
    if "\t" in line:
        return "tab"
    if "," in line and not decimal_comma:
        return "comma"
    return "whitespace"


def start_step_from_text(lines: list[str]) -> tuple[float, float, float | None] | None:
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


def fullprof_free(rows: list[list[float]]) -> tuple[float, float, float] | None:
    """FullProf INSTRM=0: a first row ``start step end`` and then the intensities, any number a line."""
    if len(rows) < 2 or len(rows[0]) != 3:
        return None
    start, step, end = rows[0]
    if not (step > 0 and end > start):
        return None
    expected = round((end - start) / step) + 1
    count = sum(len(r) for r in rows[1:])
    if all(len(r) == 3 for r in rows) or abs(count - expected) > 1:
        return None
    return start, step, end


def read_table(path: Path, raw: bytes, **_) -> Scan:
    text = decode(path, raw)
    comments, header, rows, row_lines, after_data, decimal_comma, lines = split_lines(path, text)
    warnings: list[str] = []
    if after_data:
        warnings.append(f"ignored {len(after_data)} non-numeric line{'s' if len(after_data) > 1 else ''} "
                        f"after the data (from line {after_data[0][0]})")
    if not rows:
        raise PatternFileError(path, "no numeric data: not a table of 2θ and intensity columns")
    x_unit, factor = axis_from_lines(path, header, comments)
    described = comments + header
    metadata: dict = {"delimiter": _delimiter_name(lines[row_lines[0] - 1], decimal_comma),
                      "decimal_comma": decimal_comma}
    if header:
        metadata["header"] = header[:50]
    if comments:
        metadata["comments"] = comments[:50]
    wavelength = wavelength_from_text(described, metadata)

    if header and len(rows) > 1 and len(rows[0]) != 3:
        # FullProf INSTRM=0 whose first line carries a title after "start step end"
        tokens = header[-1].split()
        first = _parse_float_row(tokens[:3]) if len(tokens) > 3 else None
        if first is not None and fullprof_free([first] + rows) is not None:
            rows = [first] + rows
            row_lines = [row_lines[0] - 1] + row_lines
            metadata["title"] = " ".join(tokens[3:])[:200]
    widths = {len(r) for r in rows}
    errors = None
    step_header = start_step_from_text(described)
    if len(widths) == 1 and widths <= {2, 3}:
        table = np.asarray(rows, dtype=np.float64)
        x, y = table[:, 0], table[:, 1]
        errors = table[:, 2].copy() if table.shape[1] == 3 else None
        fmt = "xye" if errors is not None else "xy"
        lines_of = np.asarray(row_lines)
    elif (fp := fullprof_free(rows)) is not None:
        start, step, end = fp
        y = np.asarray([v for r in rows[1:] for v in r], dtype=np.float64)
        x = start + step * np.arange(len(y))
        fmt = "fullprof-free"
        lines_of = np.repeat(row_lines[1:], [len(r) for r in rows[1:]])
        metadata.update(start_deg=start, step_deg=step, end_deg=end)
    elif step_header is not None:
        start, step, end = step_header
        y = np.asarray([v for r in rows for v in r], dtype=np.float64)
        if len(y) > 5_000_000:
            raise PatternFileError(path, "too many values for a powder scan")
        x = start + step * np.arange(len(y))
        if end is not None and abs(x[-1] - end) > 1.01 * abs(step):
            raise PatternFileError(path, f"the header says start {start:g}, step {step:g}, end {end:g} "
                                         f"({round((end - start) / step) + 1} points) but there are {len(y)} "
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
    if factor != 1.0:
        x = x * factor
    return Scan(x=x, y=y, errors=errors, format=fmt, x_unit=x_unit, wavelength=wavelength, metadata=metadata,
                warnings=warnings, where=lambda i: f"line {int(lines_of[i])}")


FORMAT = register(Format("table", read_table, "numeric columns (xy, xye, csv, dat, FullProf INSTRM=0, start/step)",
                         "text", extensions=(".xy", ".xye", ".csv", ".dat", ".txt"), last_resort=True))
