"""Bruker/Siemens UXD (DIFFRAC-AT/plus text export).

Layout (Bruker "DIFFRAC plus FILE EXCHANGE and XCH" manual, as read by xylib ``uxd``): comments start
with ``;``; header keys ``_KEY=value`` (``_WL1``, ``_WL2``, ``_WLRATIO``, ``_ANODE``, ``_SAMPLE``,
``_STEPSIZE``, ``_STEPTIME``, ``_START``, ``_2THETA``, ``_DRIVE``); a line ``_2THETACOUNTS``,
``_2THETACPS``, ``_COUNTS`` or ``_CPS`` opens the data of a range: two columns (2θ, intensity) for the
``_2THETA…`` forms, intensities only (any number per line, positions from ``_START``/``_2THETA`` and
``_STEPSIZE``) for the others. The first range is read. Written-to-spec fixture (converted from the
genuine zincite RAW v2 scan).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from xrdnet.io.core import PatternFileError, Scan, anode_wavelength
from xrdnet.io.format import Format, register
from xrdnet.io.text import decode

_KEY = re.compile(r"^_(?P<key>[A-Z0-9_]+)\s*(?:=\s*(?P<value>.*))?$")
_DATA_KEYS = ("2THETACOUNTS", "2THETACPS", "COUNTS", "CPS", "2THETACOUNTSTIME")


def is_uxd(text_head: str) -> bool:
    return bool(re.search(r"(?m)^_(FILEVERSION|2THETACOUNTS|2THETACPS|COUNTS|CPS|WL1|DRIVE|STEPSIZE)\b", text_head))


def _num(path: Path, value: str | None, what: str) -> float | None:
    if value is None:
        return None
    v = value.strip().strip("'\"")
    if not v:
        return None
    try:
        return float(v)
    except ValueError:
        raise PatternFileError(path, f"UXD {what} is not a number: {v[:30]!r}") from None


def read(path: Path, raw: bytes, **_) -> Scan:
    text = decode(path, raw)
    header: dict[str, str] = {}
    rows: list[list[float]] = []
    lines_of: list[int] = []
    data_key = None
    peak_list = False
    for lineno, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s or s.startswith(";"):
            if rows and s.startswith(";"):
                break  # the next range's comment
            continue
        if s.startswith("_"):
            if rows:
                break  # the next range's header
            if s.upper().startswith(("_D-I", "_2THETA-I")):
                peak_list = True  # a peak list, not the scan: skipped
                continue
            m = _KEY.match(s)
            if not m:
                continue
            if m["value"] is None and m["key"] in _DATA_KEYS:
                data_key, peak_list = m["key"], False
            elif m["value"] is not None and data_key is None:
                header.setdefault(m["key"], m["value"].split("#")[0].strip())
            continue
        if peak_list:
            continue
        if data_key is None:
            raise PatternFileError(path, f"UXD data before any _2THETACOUNTS/_COUNTS line (line {lineno})")
        try:
            rows.append([float(t) for t in re.split(r"[\s,;]+", s) if t])
        except ValueError:
            raise PatternFileError(path, f"non-numeric UXD data (line {lineno}: {s[:40]!r})") from None
        lines_of.append(lineno)
    if data_key is None or not rows:
        raise PatternFileError(path, "UXD file without data (no _2THETACOUNTS/_COUNTS block)")
    meta: dict = {"header": dict(list(header.items())[:200]), "data_block": data_key}
    step = _num(path, header.get("STEPSIZE"), "_STEPSIZE")
    start = _num(path, header.get("START") or header.get("2THETA"), "_START")
    if data_key.startswith("2THETA"):
        # pairs (2θ, intensity), one or more per line (xylib reads them as a flat stream of pairs)
        if any(len(r) % 2 for r in rows):
            k = next(i for i, r in enumerate(rows) if len(r) % 2)
            raise PatternFileError(path, f"UXD 2θ/intensity line {lines_of[k]} has {len(rows[k])} values (pairs expected)")
        flat = np.asarray([v for r in rows for v in r], dtype=np.float64).reshape(-1, 2)
        pair_lines = np.repeat(lines_of, [len(r) // 2 for r in rows])
        x, y = flat[:, 0], flat[:, 1]
        where = lambda i: f"line {int(pair_lines[i])}"  # noqa: E731
    else:
        if start is None or not step:
            raise PatternFileError(path, "UXD counts-only block without _START and _STEPSIZE: angles unknown")
        y = np.asarray([v for r in rows for v in r], dtype=np.float64)
        x = start + step * np.arange(len(y))
        flat = np.repeat(lines_of, [len(r) for r in rows])
        where = lambda i: f"line {int(flat[i])}"  # noqa: E731
    if step:
        meta["step_deg"] = step
    steptime = _num(path, header.get("STEPTIME"), "_STEPTIME")
    if steptime:
        meta["time_per_step_s"] = steptime
    meta["intensity_unit"] = "counts/s" if "CPS" in data_key else "counts"
    if header.get("SAMPLE"):
        meta["sample_name"] = header["SAMPLE"].strip().strip("'\"")
    wavelength = _num(path, header.get("WL1"), "_WL1")
    k2 = _num(path, header.get("WL2"), "_WL2")
    ratio = _num(path, header.get("WLRATIO"), "_WLRATIO")
    if k2:
        meta["kalpha2_angstrom"] = k2
    if ratio is not None:
        meta["kalpha2_kalpha1_ratio"] = ratio
    anode = (header.get("ANODE") or "").strip().strip("'\"")
    if anode:
        meta["anode"] = anode
        if wavelength is None:
            hit = anode_wavelength(anode)
            wavelength = hit[0] if hit else None
    if wavelength is not None:
        meta["kalpha1_angstrom"] = wavelength
    return Scan(x=x, y=y, format="uxd", x_unit="2theta", wavelength=wavelength, metadata=meta, where=where)


FORMAT = register(Format("uxd", read, "text '_2THETACOUNTS', '_WL1', '_FILEVERSION' ...", "text",
                         lambda content: is_uxd(content.text_head), priority=50, extensions=(".uxd",), by_extension=True))
