"""Rigaku: RAS (text), RASX (zip of the RAS profile + XML conditions) and ASC (RINT text).

RAS (SmartLab Studio / Guidance), text, ``*KEY "value"`` header lines between ``*RAS_HEADER_START``
and ``*RAS_HEADER_END``, data rows ``2θ intensity attenuator`` between ``*RAS_INT_START`` and
``*RAS_INT_END``; intensity = counts × attenuator. Keys used: ``*HW_XG_TARGET_NAME``,
``*HW_XG_WAVE_LENGTH_ALPHA1``/``ALPHA2``/``BETA``, ``*MEAS_SCAN_AXIS_X``, ``*MEAS_SCAN_START``/``STEP``/
``STOP``, ``*MEAS_SCAN_SPEED`` (+``_UNIT``), ``*FILE_SAMPLE``. Layout as read by xylib ``rigaku_ras``
and FAIRmat's readers; the first data block is read. No genuine RAS file here: the fixture is written
to this layout from the genuine RASX profile.
RASX: a zip with ``Data0/Profile0.txt`` (the RAS rows, tab-separated, UTF-8 BOM) and
``Data0/MesurementConditions0.xml`` (sic; ``WavelengthKalpha1``/``Kalpha2``/``Kbeta``, ``TargetName``,
``AxisName``/``Start``/``Stop``/``Step``/``Speed``, ``SampleName``). Genuine files tested.
ASC/DAT (RINT2000 export; xylib ``rigaku_dat`` documents the layout): a file header of ``*KEY = value``
lines from ``*TYPE`` (``*TARGET``, ``*KALPHA1``, ``*KALPHA2``, ``*GROUP_COUNT``), then groups: ``*BEGIN``,
the group header (``*START``, ``*STOP``, ``*STEP``, ``*COUNT``), intensities comma separated, ``*END``;
``*EOF``. The first group is read; written-to-spec fixture.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from xrdnet.io.compression import open_zip, read_zip_member
from xrdnet.io.core import NO_WAVELENGTH_STATED, PatternFileError, ReaderNote, Scan, anode_wavelength
from xrdnet.io.format import Format, register
from xrdnet.io.text import decode
from xrdnet.io.xrdml import _first, _local, parse_xml

_RAS_KEY = re.compile(r'^\*(?P<key>[A-Z0-9_\-]+)\s+"?(?P<value>[^"]*)"?\s*$')
_ASC_KEY = re.compile(r"^\*(?P<key>[A-Z0-9_\-]+)\s*=\s*(?P<value>.*?)\s*$")
_TWO_THETA_AXIS = re.compile(r"(?i)2[-_ ]?theta|twotheta|2θ")


def _float(path: Path, value, what: str) -> float | None:
    if value is None or str(value).strip() == "":
        return None
    try:
        return float(str(value).strip())
    except ValueError:
        raise PatternFileError(path, f"{what} is not a number: {str(value)[:30]!r}") from None


def _lambda(value: float | None) -> float | None:
    return value if value is not None and np.isfinite(value) and 0.05 <= value <= 5.0 else None


def _axis_check(path: Path, axis: str | None) -> None:
    if axis and not _TWO_THETA_AXIS.search(axis):
        raise PatternFileError(path, f"the scan axis is {axis!r}, not 2θ; only 2θ powder scans can be read")


def _wavelength(meta: dict, k1, k2, kb, target) -> float | None:
    k1, k2, kb = _lambda(k1), _lambda(k2), _lambda(kb)
    if k2:
        meta["kalpha2_angstrom"] = k2
    if kb:
        meta["kbeta_angstrom"] = kb
    if target and target.strip().isalpha():
        meta["anode"] = target.strip()
    if k1:
        meta["kalpha1_angstrom"] = k1
        return k1
    if meta.get("anode"):
        hit = anode_wavelength(meta["anode"])
        if hit:
            meta["wavelength_from_anode"] = True
            return hit[0]
    return None


def _rows(path: Path, lines: list[tuple[int, str]], what: str):
    data, where = [], []
    for lineno, line in lines:
        parts = [t for t in re.split(r"[\s,;]+", line.strip()) if t]
        if not parts:
            continue
        try:
            data.append([float(t) for t in parts])
        except ValueError:
            raise PatternFileError(path, f"non-numeric {what} row (line {lineno}: {line.strip()[:40]!r})") from None
        where.append(lineno)
    if not data:
        raise PatternFileError(path, f"no {what} rows")
    widths = {len(r) for r in data}
    if len(widths) != 1 or min(widths) < 2:
        k = next((i for i, r in enumerate(data) if len(r) != len(data[0])), 0)
        raise PatternFileError(path, f"{what} row (line {where[k]}) has {len(data[k])} values where the first has "
                                     f"{len(data[0])}; 2θ and intensity needed")
    table = np.asarray(data, dtype=np.float64)
    return table, where


def _profile(path: Path, table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = table[:, 0], table[:, 1]
    if table.shape[1] >= 3:
        y = y * table[:, 2]  # the attenuator coefficient
    return x, y


def is_ras(text_head: str) -> bool:
    return "*RAS_DATA_START" in text_head or "*RAS_HEADER_START" in text_head


def read_ras(path: Path, raw: bytes, **_) -> Scan:
    text = decode(path, raw)
    header: dict[str, str] = {}
    data_lines: list[tuple[int, str]] = []
    state = "header"
    ended = False
    for lineno, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if s.startswith("*RAS_INT_START"):
            if ended:
                break
            state = "data"
            continue
        if s.startswith("*RAS_INT_END"):
            state, ended = "after", True
            continue
        if state == "data":
            if s.startswith("*"):
                raise PatternFileError(path, f"header line inside the RAS data (line {lineno})")
            data_lines.append((lineno, s))
        elif state == "header" and s.startswith("*"):
            m = _RAS_KEY.match(s)
            if m:
                header.setdefault(m["key"], m["value"].strip())
    if state == "header" and not ended:
        raise PatternFileError(path, "RAS file without *RAS_INT_START: no data")
    if not ended:
        raise PatternFileError(path, "RAS data block has no *RAS_INT_END (truncated file?)")
    table, where = _rows(path, data_lines, "RAS data")
    _axis_check(path, header.get("MEAS_SCAN_AXIS_X"))
    meta: dict = {"header": {k: v for k, v in list(header.items())[:200]}}
    wavelength = _wavelength(meta, _float(path, header.get("HW_XG_WAVE_LENGTH_ALPHA1"), "*HW_XG_WAVE_LENGTH_ALPHA1"),
                             _float(path, header.get("HW_XG_WAVE_LENGTH_ALPHA2"), "*HW_XG_WAVE_LENGTH_ALPHA2"),
                             _float(path, header.get("HW_XG_WAVE_LENGTH_BETA"), "*HW_XG_WAVE_LENGTH_BETA"),
                             header.get("HW_XG_TARGET_NAME"))
    for key, name in (("MEAS_SCAN_STEP", "step_deg"), ("MEAS_SCAN_START", "start_deg"), ("MEAS_SCAN_STOP", "end_deg"),
                      ("MEAS_SCAN_SPEED", "scan_speed")):
        value = _float(path, header.get(key), "*" + key)
        if value is not None:
            meta[name] = value
    if header.get("MEAS_SCAN_SPEED_UNIT"):
        meta["scan_speed_unit"] = header["MEAS_SCAN_SPEED_UNIT"]
    if header.get("FILE_SAMPLE"):
        meta["sample_name"] = header["FILE_SAMPLE"]
    x, y = _profile(path, table)
    return Scan(x=x, y=y, format="rigaku-ras", x_unit="2theta", wavelength=wavelength, metadata=meta,
                where=lambda i: f"line {where[i]}")


def is_rasx(names: list[str]) -> bool:
    return any(re.fullmatch(r"(?i)Data\d+/Profile\d+\.txt", n) for n in names)


def read_rasx(path: Path, raw: bytes, archive=None, **_) -> Scan:
    archive = archive or open_zip(path, raw)
    names = archive.namelist()
    profiles = sorted(n for n in names if re.fullmatch(r"(?i)Data\d+/Profile\d+\.txt", n))
    if not profiles:
        raise PatternFileError(path, "zip archive without Data0/Profile0.txt: not a RASX file")
    warnings = [f"the file holds {len(profiles)} profiles; read {profiles[0]}"] if len(profiles) > 1 else []
    text = decode(path, read_zip_member(path, archive, profiles[0]))
    table, where = _rows(path, list(enumerate(text.splitlines(), start=1)), "RASX profile")
    meta: dict = {"member": profiles[0]}
    folder = profiles[0].split("/")[0]
    conditions = next((n for n in names if n.lower().startswith(folder.lower() + "/")
                       and re.search(r"(?i)mea?surementconditions\d*\.xml$", n)), None)
    wavelength = None
    if conditions is None:
        warnings.append(ReaderNote(NO_WAVELENGTH_STATED,
                                   "no MesurementConditions XML in the RASX; no wavelength or axis stated"))
    else:
        root = parse_xml(path, read_zip_member(path, archive, conditions), f"RASX {conditions}")

        def text_of(tag):
            element = _first(root, tag)
            return None if element is None else (element.text or "").strip() or None

        scan_axis = None
        for element in root.iter():
            if _local(element.tag) == "ScanInformation":
                axis = _first(element, "AxisName")
                scan_axis = None if axis is None else (axis.text or "").strip()
                for tag, key in (("Start", "start_deg"), ("Stop", "end_deg"), ("Step", "step_deg"), ("Speed", "scan_speed")):
                    value = _first(element, tag)
                    if value is not None and value.text:
                        meta[key] = _float(path, value.text, tag)
                unit = _first(element, "SpeedUnit")
                if unit is not None and unit.text:
                    meta["scan_speed_unit"] = unit.text.strip()
                break
        _axis_check(path, scan_axis)
        if scan_axis:
            meta["scan_axis"] = scan_axis
        wavelength = _wavelength(meta, _float(path, text_of("WavelengthKalpha1"), "WavelengthKalpha1"),
                                 _float(path, text_of("WavelengthKalpha2"), "WavelengthKalpha2"),
                                 _float(path, text_of("WavelengthKbeta"), "WavelengthKbeta"), text_of("TargetName"))
        if text_of("SampleName"):
            meta["sample_name"] = text_of("SampleName")
    x, y = _profile(path, table)
    return Scan(x=x, y=y, format="rigaku-rasx", x_unit="2theta", wavelength=wavelength, metadata=meta,
                warnings=warnings, where=lambda i: f"{profiles[0]} line {where[i]}")


def is_asc(text_head: str) -> bool:
    return text_head.lstrip("\ufeff").startswith("*TYPE") or (
        bool(re.search(r"(?m)^\*BEGIN\b", text_head)) and bool(re.search(r"(?m)^\*(START|STEP)\s*=", text_head)))


def read_asc(path: Path, raw: bytes, **_) -> Scan:
    text = decode(path, raw)
    header: dict[str, str] = {}
    values: list[float] = []
    lines_of: list[int] = []
    state = "header"
    for lineno, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if s.startswith("*EOF"):
            break
        if s.startswith("*BEGIN"):
            if state == "after":
                break
            state = "data"
            continue
        if s.startswith("*END"):
            state = "after"
            continue
        if s.startswith("*"):
            m = _ASC_KEY.match(s)
            if m and state != "after":
                header.setdefault(m["key"], m["value"])
            continue
        if state == "data":
            for token in (t for t in re.split(r"[\s,;]+", s) if t):
                try:
                    values.append(float(token))
                except ValueError:
                    raise PatternFileError(path, f"non-numeric ASC intensity (line {lineno}: {token[:20]!r})") from None
                lines_of.append(lineno)
    if state == "header":
        raise PatternFileError(path, "ASC file without *BEGIN: no data")
    if state == "data":
        raise PatternFileError(path, "ASC data block has no *END (truncated file?)")
    start = _float(path, header.get("START"), "*START")
    step = _float(path, header.get("STEP"), "*STEP")
    stop = _float(path, header.get("STOP"), "*STOP")
    if start is None or not step:
        raise PatternFileError(path, "ASC header lacks *START or *STEP; the angles are unknown")
    count = _float(path, header.get("COUNT"), "*COUNT")
    if count is not None and int(count) != len(values):
        raise PatternFileError(path, f"ASC header says *COUNT = {int(count)} but there are {len(values)} intensities")
    meta: dict = {"start_deg": start, "step_deg": step, "end_deg": stop,
                  "header": {k: v for k, v in list(header.items())[:200]}}
    for key in ("SPEEDDURATIONTIME", "SPEED"):
        if header.get(key):
            meta["scan_speed"] = header[key]
            break
    if header.get("SAMPLE") or header.get("COMMENT"):
        meta["sample_name"] = header.get("SAMPLE") or header.get("COMMENT")
    wavelength = _wavelength(meta, _float(path, header.get("KALPHA1"), "*KALPHA1"),
                             _float(path, header.get("KALPHA2"), "*KALPHA2"), _float(path, header.get("KBETA"), "*KBETA"),
                             header.get("TARGET"))
    y = np.asarray(values, dtype=np.float64)
    x = start + step * np.arange(len(y))
    return Scan(x=x, y=y, format="rigaku-asc", x_unit="2theta", wavelength=wavelength, metadata=meta,
                where=lambda i: f"line {lines_of[i]}")


RASX = register(Format("rigaku-rasx", read_rasx, "zip holding Data*/Profile*.txt", "zip",
                       lambda content: is_rasx(list(content.zip_names)), priority=20, extensions=(".rasx",),
                       title="RASX"))
RAS = register(Format("rigaku-ras", read_ras, "text '*RAS_DATA_START'", "text",
                      lambda content: is_ras(content.text_head), priority=10, extensions=(".ras",), by_extension=True))
ASC = register(Format("rigaku-asc", read_asc, "text '*BEGIN' and '*START ='", "text",
                      lambda content: is_asc(content.text_head), priority=20, extensions=(".asc",)))
