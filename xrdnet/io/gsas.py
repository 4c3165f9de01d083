"""GSAS raw powder data (``.gsa``, ``.gsas``, ``.raw``, ``.fxye``): constant-wavelength banks.

Spec: GSAS manual (Larson & Von Dreele, LAUR 86-748), "Raw data file formats": line 1 a title
(80 chars); optional ``Instrument parameter file: name.prm`` and ``#`` comment lines; then
``BANK ibank nchan nrec BINTYP BCOEF1 BCOEF2 BCOEF3 BCOEF4 TYPE``. For BINTYP ``CONST``/``CONS``
BCOEF1 is the first 2θ and BCOEF2 the step, both in centidegrees. TYPE:

- ``STD``: ten 8-character fields per line, ``(I2,F6.0)`` = number of counts summed (blank = 1) and
  the intensity; σ = sqrt(I / n);
- ``ESD``: five (intensity, σ) pairs per line, ``10F8``;
- ``FXYE`` / ``FXY``: free-format x (centidegrees), intensity (and σ) per line.

Time-of-flight banks (``TIME_MAP``, ``SLOG``, ``RALF``) are refused. The first bank is read.
Wavelength: from an instrument-parameter file: the ``instrument_file`` argument, else the file the
header names, else ``<stem>.prm``/``.instprm``/``.iparm`` next to the data. GSAS ``.prm`` lines
``INS  1 ICONS  λ1  λ2 ...`` or GSAS-II ``.instprm`` lines ``Lam:λ`` / ``Lam1:λ1`` / ``Lam2:λ2``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from xrdnet.io.core import PatternFileError, Scan
from xrdnet.io.format import Format, register
from xrdnet.io.text import decode

_BANK = re.compile(r"^BANK\s+\d+", re.MULTILINE)
_INST = re.compile(r"(?i)^\s*instrument\s+parameter(?:\s+file)?\s*[:=]?\s*(?P<name>\S+)")


def is_gsas(text_head: str) -> bool:
    return bool(_BANK.search(text_head))


def wavelength_from_instrument_file(path: Path, inst: Path, meta: dict) -> float | None:
    try:
        if inst.stat().st_size > 4 * 2**20:
            raise PatternFileError(path, f"instrument parameter file {inst.name} is too large")
        text = decode(inst, inst.read_bytes())
    except OSError as exc:
        raise PatternFileError(path, f"instrument parameter file {inst} cannot be read ({exc.strerror or exc})") from None
    except PatternFileError as exc:
        raise PatternFileError(path, f"instrument parameter file: {exc.problem}") from None
    lam1 = lam2 = None
    for line in text.splitlines()[:2000]:
        m = re.match(r"^INS\s+\d+\s+ICONS\s+(?P<l1>\S+)\s+(?P<l2>\S+)", line)
        if m:
            try:
                lam1, lam2 = float(m["l1"]), float(m["l2"])
            except ValueError:
                raise PatternFileError(path, f"{inst.name}: ICONS line without numbers") from None
            break
        m = re.match(r"^\s*(?P<key>Lam1|Lam|Lam2)\s*[:=]\s*(?P<value>\S+)", line)
        if m:
            try:
                value = float(m["value"].split(",")[0])
            except ValueError:
                continue
            if m["key"] == "Lam2":
                lam2 = value
            else:
                lam1 = value
    meta["instrument_file"] = str(inst)
    if lam2 and 0.05 <= lam2 <= 5:
        meta["kalpha2_angstrom"] = lam2
    if lam1 is not None and 0.05 <= lam1 <= 5:
        meta["kalpha1_angstrom"] = lam1
        return lam1
    return None


def _instrument_file(path: Path, named: str | None, given) -> Path | None:
    if given is not None:
        inst = Path(given)
        if not inst.is_file():
            raise PatternFileError(path, f"instrument parameter file {inst} not found")
        return inst
    candidates = []
    if named:
        candidates.append(path.parent / Path(named.replace("\\", "/")).name)
    stem = path.name.split(".")[0]
    candidates += [path.parent / f"{stem}{ext}" for ext in (".prm", ".instprm", ".iparm", ".PRM")]
    return next((c for c in candidates if c.is_file() and c != path), None)


def read(path: Path, raw: bytes, instrument_file=None, **_) -> Scan:
    text = decode(path, raw)
    lines = text.splitlines()
    bank_index = next((i for i, ln in enumerate(lines) if re.match(r"^BANK\s+\d+", ln)), None)
    if bank_index is None:
        raise PatternFileError(path, "GSAS file without a BANK line")
    meta: dict = {"title": lines[0].strip()[:80] if lines else ""}
    named = None
    for line in lines[1:bank_index]:
        m = _INST.match(line)
        if m:
            named = m["name"]
    fields = lines[bank_index].split()
    if len(fields) < 5:
        raise PatternFileError(path, f"GSAS BANK line too short: {lines[bank_index].strip()[:60]!r}")
    try:
        nchan = int(fields[2])
    except ValueError:
        raise PatternFileError(path, f"GSAS BANK line: channel count {fields[2][:12]!r} is not an integer") from None
    bintyp = fields[4].upper()
    kind = fields[-1].upper() if fields[-1].upper() in ("STD", "ESD", "FXYE", "FXY", "ALT") else "STD"
    meta.update(bank=fields[1], bintyp=bintyp, data_type=kind, n_channels=nchan)
    if bintyp not in ("CONST", "CONS"):
        raise PatternFileError(path, f"GSAS bank of type {bintyp}: time-of-flight data, not a 2θ scan")
    if kind == "ALT":
        raise PatternFileError(path, "GSAS ALT data are time-of-flight (RALF); not a 2θ scan")
    if nchan < 1 or nchan > 5_000_000:
        raise PatternFileError(path, f"GSAS BANK line claims {nchan} channels")
    try:
        bcoef = [float(f) for f in fields[5:7]]
    except ValueError:
        raise PatternFileError(path, "GSAS BANK line: start/step are not numbers") from None
    body = []
    for i in range(bank_index + 1, len(lines)):
        if re.match(r"^BANK\s+\d+", lines[i]):
            break
        if lines[i].strip():
            body.append((i + 1, lines[i].rstrip("\r\n")))
    errors = None
    if kind in ("FXYE", "FXY"):
        rows, where = [], []
        for lineno, line in body:
            try:
                rows.append([float(t) for t in line.split()])
            except ValueError:
                raise PatternFileError(path, f"non-numeric GSAS {kind} row (line {lineno}: {line.strip()[:40]!r})") from None
            where.append(lineno)
        width = 3 if kind == "FXYE" else 2
        if not rows or any(len(r) < width for r in rows):
            raise PatternFileError(path, f"GSAS {kind} rows need {width} values")
        table = np.asarray([r[:width] for r in rows], dtype=np.float64)
        x, y = table[:, 0] / 100.0, table[:, 1]
        errors = table[:, 2] if width == 3 else None
    else:
        if len(bcoef) < 2 or not bcoef[1] > 0:
            raise PatternFileError(path, "GSAS CONST bank without a positive step (BCOEF2)")
        values, sigmas, where = [], [], []
        width = 8
        for lineno, line in body:
            if len(line.rstrip()) > 80:
                raise PatternFileError(path, f"GSAS {kind} line {lineno} is longer than 80 columns (fixed-width fields)")
            cells = [line[k:k + width] for k in range(0, min(len(line), 80), width)]
            for cell in cells:
                if not cell.strip():
                    continue
                try:
                    if kind == "STD":
                        count = int(cell[:2]) if cell[:2].strip() else 1
                        values.append(float(cell[2:]))
                        sigmas.append(count)
                    else:
                        values.append(float(cell))
                except ValueError:
                    raise PatternFileError(path, f"GSAS {kind} field {cell.strip()[:10]!r} is not a number (line {lineno})") from None
                where.append(lineno)
        if kind == "ESD":
            if len(values) % 2:
                raise PatternFileError(path, "GSAS ESD data must be (intensity, σ) pairs")
            pairs = np.asarray(values, dtype=np.float64).reshape(-1, 2)
            y, errors = pairs[:, 0], pairs[:, 1]
            where = where[::2]
        else:
            y = np.asarray(values, dtype=np.float64)
            counts = np.maximum(np.asarray(sigmas, dtype=np.float64), 1.0)
            errors = np.sqrt(np.clip(y, 0.0, None) / counts)
        if len(y) < nchan:
            raise PatternFileError(path, f"GSAS bank says {nchan} channels but holds {len(y)} (truncated?)")
        y, errors, where = y[:nchan], errors[:nchan], where[:nchan]
        x = (bcoef[0] + bcoef[1] * np.arange(len(y))) / 100.0
        meta.update(start_deg=bcoef[0] / 100.0, step_deg=bcoef[1] / 100.0)
    inst = _instrument_file(path, named, instrument_file)
    wavelength = None if inst is None else wavelength_from_instrument_file(path, inst, meta)
    return Scan(x=x, y=y, errors=errors, format=f"gsas-{kind.lower()}", x_unit="2theta", wavelength=wavelength,
                metadata=meta, where=lambda i: f"line {where[i]}" if i < len(where) else f"point {i + 1}")


FORMAT = register(Format("gsas", read, "text 'BANK n ...' line", "text", lambda content: is_gsas(content.text_head),
                         priority=40, extensions=(".gsa", ".gsas", ".fxye", ".fxy", ".esd", ".std"), by_extension=True))
