"""Bruker/Siemens binary RAW, versions 1 (``RAW ``), 2 (``RAW2``), 3 (``RAW1.01``) and 4 (``RAW4.00``).

Little-endian throughout. Layouts (offsets in bytes) as documented by xylib's ``brucker_raw.cpp``
(M. Wojdyr, LGPL; https://github.com/wojdyr/xylib) and GSAS-II's ``G2pwd_BrukerRAW.py``, checked
against the genuine v1, v2 and v4 files in ``tests/data/formats``; the first range (scan) is read.

v1 (DIFFRAC-AT): 0 magic "RAW "; 4 u32 steps; 8 f32 time per step; 12 f32 step; 16 u32 scan mode;
  24 f32 start 2θ; 28/32/36 f32 θ/χ/φ start; 40 char[32] sample; 72 f32 Kα1; 76 f32 Kα2;
  152 u32 "another range follows"; 156 f32[steps] intensities.
v2: 0 "RAW2"; 4 u16 number of ranges; 8 char[] sample/comment; 168 char[20] date; 188 char[2] anode;
  190 f32 Kα1; 194 f32 Kα2; 198 f32 Kα2/Kα1; 206 f32 Kβ; 256 first range: +0 u16 range-header length,
  +2 u16 steps, +8 f32 time per step, +12 f32 step, +16 f32 start 2θ; data f32[steps] after the header.
v3 (``RAW1.01``): 12 u32 ranges; 16 char[10] date; 26 char[10] time; 326 char[60] sample;
  608 char[4] anode; 616/624/632/640/648 f64 Kα mean/Kα1/Kα2/Kβ/ratio; 712 first range: +0 u32 header
  length (304), +4 u32 steps, +8 f64 start θ, +16 f64 start 2θ, +176 f64 step, +192 f32 time per step,
  +256 u32 supplementary-header length; data f32[steps] after both headers.
v4 (``RAW4.00``): 12 date, 24 time; from 61 a chain of records (u32 type, u32 length): type 10 =
  name/value text (name at +12, 24 chars; value at +36), type 30 = X-ray source (+72 f64 Kα mean, Kα1,
  Kα2, Kβ, ratio; +116 char[4] anode); a record of type 0 or 160 starts the range: +32 char[24]
  scan type, +72 f64 start, +80 f64 step, +88 u32 steps, +92 f32 time per step (ms), +112 f64 used
  wavelength, +136 u32 datum size, +140 u32 length of the range's sub-records; data (f32) after them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from xrdnet.io.binary import Buffer
from xrdnet.io.core import PatternFileError, Scan
from xrdnet.io.format import Format, register


def version_of(raw: bytes) -> int | None:
    if raw.startswith(b"RAW4.00"):
        return 4
    if raw.startswith(b"RAW1.01"):
        return 3
    if raw.startswith(b"RAW2"):
        return 2
    if raw.startswith(b"RAW "):
        return 1
    return None


def _lambda(value: float) -> float | None:
    return float(value) if np.isfinite(value) and 0.05 <= value <= 5.0 else None


def _v1(b: Buffer, meta: dict) -> tuple[np.ndarray, np.ndarray, float | None]:
    steps = b.u32(4, "step count")
    meta["time_per_step_s"] = b.f32(8, "time per step")
    step = b.f32(12, "step")
    start = b.f32(24, "start angle")
    meta["sample_name"] = b.text(40, 32, "sample name")
    k1, k2 = _lambda(b.f32(72, "Kα1")), _lambda(b.f32(76, "Kα2"))
    if k2:
        meta["kalpha2_angstrom"] = k2
    if b.u32(152, "range flag"):
        meta["more_ranges"] = True
    y = b.array(156, steps, "<f4", "intensities")
    return start + step * np.arange(steps), y, k1, step


def _store_lines(meta: dict, k2: float | None, kb: float | None, ratio: float) -> None:
    """Kα2, Kβ (Å) and the Kα2/Kα1 ratio into ``meta``, where the header holds plausible values."""
    if k2:
        meta["kalpha2_angstrom"] = k2
    if kb:
        meta["kbeta_angstrom"] = kb
    if np.isfinite(ratio) and 0 <= ratio <= 1:
        meta["kalpha2_kalpha1_ratio"] = ratio


def _v2(b: Buffer, meta: dict):
    ranges = b.u16(4, "range count")
    meta["n_ranges"] = ranges
    meta["sample_name"] = b.text(8, 160, "sample")
    meta["date"] = b.text(168, 20, "date")
    anode = b.text(188, 2, "anode")
    if anode.isalpha():
        meta["anode"] = anode
    k1 = _lambda(b.f32(190, "Kα1"))
    _store_lines(meta, _lambda(b.f32(194, "Kα2")), _lambda(b.f32(206, "Kβ")), b.f32(198, "ratio"))
    if ranges < 1:
        raise PatternFileError(b.path, "Bruker RAW v2 file with no range")
    header = b.u16(256, "range header length")
    if header < 48:
        raise PatternFileError(b.path, f"Bruker RAW v2 range header of {header} bytes (at least 48 expected)")
    steps = b.u16(258, "step count")
    meta["time_per_step_s"] = b.f32(264, "time per step")
    step = b.f32(268, "step")
    start = b.f32(272, "start")
    y = b.array(256 + header, steps, "<f4", "intensities")
    return start + step * np.arange(steps), y, k1, step


def _v3(b: Buffer, meta: dict):
    ranges = b.u32(12, "range count")
    meta["n_ranges"] = ranges
    meta["date"] = b.text(16, 10, "date") + " " + b.text(26, 10, "time")
    meta["sample_name"] = b.text(326, 60, "sample")
    anode = b.text(608, 4, "anode")
    if anode.isalpha():
        meta["anode"] = anode
    k1 = _lambda(b.f64(624, "Kα1"))
    _store_lines(meta, _lambda(b.f64(632, "Kα2")), _lambda(b.f64(640, "Kβ")), b.f64(648, "ratio"))
    if ranges < 1:
        raise PatternFileError(b.path, "Bruker RAW v3 file with no range")
    pos = 712
    header = b.u32(pos, "range header length")
    if header != 304:
        raise PatternFileError(b.path, f"Bruker RAW v3 range header of {header} bytes (304 expected)")
    steps = b.u32(pos + 4, "step count")
    start = b.f64(pos + 16, "start 2θ")
    step = b.f64(pos + 176, "step")
    meta["time_per_step_s"] = b.f32(pos + 192, "time per step")
    extra = b.u32(pos + 256, "supplementary header length")
    if extra > len(b.raw):
        raise PatternFileError(b.path, f"Bruker RAW v3 supplementary header of {extra} bytes")
    start_of_data = pos + header + extra
    if ranges == 1 and start_of_data + 4 * steps != len(b.raw) and pos + header + 40 + 4 * steps == len(b.raw):
        start_of_data = pos + header + 40  # GSAS-II's reading of single-range files: a 40-byte supplement
    y = b.array(start_of_data, steps, "<f4", "intensities")
    return start + step * np.arange(steps), y, k1, step


def _v4(b: Buffer, meta: dict):
    meta["date"] = b.text(12, 12, "date") + " " + b.text(24, 10, "time")
    pos = 61
    k1 = None
    for _ in range(10_000):
        kind = b.u32(pos, "record type")
        if kind in (0, 160):
            break
        length = b.u32(pos + 4, "record length")
        if length < 8:
            raise PatternFileError(b.path, f"Bruker RAW v4 record of {length} bytes at offset {pos}")
        if kind == 10 and length > 36:
            name = b.text(pos + 12, 24, "record name")
            value = b.text(pos + 36, length - 36, "record value")
            if name in ("SAMPLEID", "COMMENT", "USER", "SITE", "CREATOR"):
                meta[name.lower() if name != "SAMPLEID" else "sample_name"] = value
        elif kind == 30 and length >= 120:
            k1 = _lambda(b.f64(pos + 80, "Kα1"))
            _store_lines(meta, _lambda(b.f64(pos + 88, "Kα2")), _lambda(b.f64(pos + 96, "Kβ")),
                         b.f64(pos + 104, "ratio"))
            anode = b.text(pos + 116, 4, "anode")
            if anode.isalpha():
                meta["anode"] = anode
        pos += length
    else:
        raise PatternFileError(b.path, "Bruker RAW v4: no range found")
    scan_type = b.text(pos + 32, 24, "scan type")
    meta["scan_type"] = scan_type
    start = b.f64(pos + 72, "start")
    step = b.f64(pos + 80, "step")
    steps = b.u32(pos + 88, "step count")
    meta["time_per_step_s"] = b.f32(pos + 92, "time per step") / 1000.0
    used = _lambda(b.f64(pos + 112, "used wavelength"))
    datum = b.u32(pos + 136, "datum size")
    extra = b.u32(pos + 140, "sub-record length")
    if datum != 4:
        raise PatternFileError(b.path, f"Bruker RAW v4 datum of {datum} bytes (4 expected)")
    if scan_type not in ("Locked Coupled", "Unlocked Coupled", "Detector Scan", "") and "Coupled" not in scan_type:
        raise PatternFileError(b.path, f"Bruker RAW v4 scan type {scan_type!r} is not a 2θ scan")
    if extra > len(b.raw):
        raise PatternFileError(b.path, f"Bruker RAW v4 sub-records of {extra} bytes")
    y = b.array(pos + 160 + extra, steps, "<f4", "intensities")
    if used is not None:
        meta["used_wavelength_angstrom"] = used
    return start + step * np.arange(steps), y, k1 or used, step


def read(path: Path, raw: bytes, **_) -> Scan:
    version = version_of(raw)
    if version is None:
        raise PatternFileError(path, "not a Bruker RAW file (magic)")
    b = Buffer(path, raw, f"Bruker RAW v{version} file")
    meta: dict = {"version": version}
    x, y, k1, step = (_v1, _v2, _v3, _v4)[version - 1](b, meta)
    if not (np.isfinite(step) and step != 0):
        raise PatternFileError(path, f"Bruker RAW v{version}: step {step} is not a usable 2θ step")
    meta["step_deg"] = float(step)
    meta["start_deg"] = float(x[0]) if len(x) else None
    if k1:
        meta["kalpha1_angstrom"] = k1
    meta = {k: v for k, v in meta.items() if v not in ("", None)}
    return Scan(x=x, y=y, format=f"bruker-raw-v{version}", x_unit="2theta", wavelength=k1, metadata=meta)


FORMAT = register(Format("bruker-raw", read, "magic 'RAW ', 'RAW2', 'RAW1.01', 'RAW4.00'", "binary",
                         lambda content: version_of(content.raw) is not None, priority=10, extensions=(".raw",)))
