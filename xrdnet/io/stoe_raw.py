"""Stoe binary RAW (WinXPOW ``.raw``), the single-range powder form.

Little-endian; offsets as decoded by xrdpattern's ``StoeParser`` (MIT,
https://github.com/aimat-lab/xrdpattern): 0 magic ``RAW_`` (e.g. ``RAW_1.06Powder``); 322 f32 Kα2;
326 f32 Kα1; 384 f32 Kα2/Kα1 ratio; 572 f32 start 2θ; 576 f32 end 2θ; 2082 i32 number of points;
2560 i32[N] counts, evenly spaced from start to end. No genuine Stoe file was available: the test
fixture is written to this layout (README table says so).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from xrdnet.io.binary import Buffer
from xrdnet.io.core import PatternFileError, Scan
from xrdnet.io.format import Format, register

MAGIC = b"RAW_"


def read(path: Path, raw: bytes, **_) -> Scan:
    if not raw.startswith(MAGIC):
        raise PatternFileError(path, "not a Stoe RAW file (magic)")
    b = Buffer(path, raw, "Stoe RAW file")
    k2, k1, ratio = b.f32(322, "Kα2"), b.f32(326, "Kα1"), b.f32(384, "ratio")
    start, end = b.f32(572, "start"), b.f32(576, "end")
    n = int(b.unpack("i", 2082, "number of points"))
    if n < 2:
        raise PatternFileError(path, f"Stoe RAW file with {n} points")
    y = b.array(2560, n, "<i4", "counts")
    if not (np.isfinite(start) and np.isfinite(end) and end > start):
        raise PatternFileError(path, f"Stoe RAW 2θ range {start}..{end} is not increasing")
    meta: dict = {"start_deg": start, "end_deg": end, "step_deg": (end - start) / (n - 1),
                  "version": raw[:16].split(b"\x00")[0].decode("latin-1", "replace")}
    wavelength = k1 if np.isfinite(k1) and 0.05 <= k1 <= 5 else None
    if wavelength:
        meta["kalpha1_angstrom"] = k1
    if np.isfinite(k2) and 0.05 <= k2 <= 5:
        meta["kalpha2_angstrom"] = k2
    if np.isfinite(ratio) and 0 <= ratio <= 1:
        meta["kalpha2_kalpha1_ratio"] = ratio
    return Scan(x=np.linspace(start, end, n), y=y, format="stoe-raw", x_unit="2theta", wavelength=wavelength,
                metadata=meta)


FORMAT = register(Format("stoe-raw", read, "magic 'RAW_'", "binary", lambda content: content.raw.startswith(MAGIC),
                         priority=20, extensions=(".raw",)))
