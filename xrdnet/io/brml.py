"""Bruker BRML (DIFFRAC.SUITE): a zip holding ``Experiment0/RawData0.xml`` and friends.

No published specification; the layout is Bruker's XML as read by xylib (``brucker_raw`` BRML
support) and checked on the genuine ``datalab_TiOF.brml``. The first ``RawData*.xml`` is read:
each ``<Datum>`` is a comma-separated row; ``<DataViews>`` say which column is 2θ (the
``FieldDefinitions`` with ``FieldName="TwoTheta"`` inside a varying view, offset by its ``Start``)
and which holds counts (the ``RecordedRawDataView`` whose recording is of category ``Count``).
Without ``DataViews`` (older files) 2θ is column 3 and counts the last column. Wavelength:
``WaveLengthAlpha1`` of the tube (Kα2, ratio, ``TubeMaterial`` to metadata); sample name from
``DataContainer.xml``'s ``MeasurementInfo``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from xrdnet.io.compression import open_zip, read_zip_member
from xrdnet.io.core import PatternFileError, Scan
from xrdnet.io.format import Format, register
from xrdnet.io.xrdml import _first, _local, parse_xml


def is_brml(names: list[str]) -> bool:
    return any(re.fullmatch(r"(?i)(.*/)?RawData\d*\.xml", n) for n in names)


def _value(path: Path, element, what: str) -> float | None:
    if element is None:
        return None
    text = element.get("Value") if element.get("Value") is not None else element.text
    try:
        return float((text or "").strip())
    except ValueError:
        raise PatternFileError(path, f"BRML {what} is not a number: {clip(text)}") from None


def clip(text, n=30) -> str:
    text = str(text)
    return repr(text if len(text) <= n else text[:n] + "…")


def read(path: Path, raw: bytes, archive=None, **_) -> Scan:
    archive = archive or open_zip(path, raw)
    names = archive.namelist()
    data_names = sorted((n for n in names if re.fullmatch(r"(?i)(.*/)?RawData\d*\.xml", n)),
                        key=lambda n: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", n)])
    if not data_names:
        raise PatternFileError(path, "zip archive without Experiment*/RawData*.xml: not a BRML file")
    root = parse_xml(path, read_zip_member(path, archive, data_names[0]), f"BRML {data_names[0]}")
    warnings: list[str] = []
    metadata: dict = {"member": data_names[0]}
    if len(data_names) > 1:
        warnings.append(f"the file holds {len(data_names)} scans; read the first")
    route = next((e for e in root.iter() if _local(e.tag) == "DataRoute"), root)
    rows = [e.text for e in route.iter() if _local(e.tag) == "Datum"]
    if not rows:
        raise PatternFileError(path, "BRML scan without <Datum> rows")
    try:
        table = [[float(v) for v in (r or "").split(",")] for r in rows]
    except ValueError:
        raise PatternFileError(path, "non-numeric value in a BRML <Datum> row") from None
    widths = {len(r) for r in table}
    if len(widths) != 1 or min(widths) < 2:
        raise PatternFileError(path, "BRML <Datum> rows of unequal or too short length")
    data = np.asarray(table, dtype=np.float64)

    col_2theta, col_counts = None, None
    for view in route.iter():
        if _local(view.tag) != "RawDataView":
            continue
        try:
            start = int(view.get("Start", "-1"))
        except ValueError:
            continue
        fields = [e.get("FieldName") or e.get("AxisId") for e in view.iter() if _local(e.tag) == "FieldDefinitions"]
        if "TwoTheta" in fields:
            col_2theta = start + fields.index("TwoTheta")
        if view.get("LogicName") == "TwoTheta":
            col_2theta = start
        recording = _first(view, "Recording")
        if recording is not None and (recording.get("Category") == "Count" or "Counter" in (recording.get("LogicName") or "")):
            col_counts = start if col_counts is None else col_counts
    if col_2theta is None:
        col_2theta = 2 if data.shape[1] >= 3 else 0
    if col_counts is None:
        col_counts = data.shape[1] - 1
    if not (0 <= col_2theta < data.shape[1] and 0 <= col_counts < data.shape[1]) or col_2theta == col_counts:
        raise PatternFileError(path, f"BRML DataViews point outside the {data.shape[1]} Datum columns")
    x, y = data[:, col_2theta], data[:, col_counts]

    for axis in root.iter():
        if _local(axis.tag) == "ScanAxisInfo" and axis.get("AxisId") == "TwoTheta":
            step = _value(path, _first(axis, "Increment"), "Increment")
            if step is not None:
                metadata["step_deg"] = step
    time = _first(root, "TimePerStep")
    if time is not None:
        metadata["time_per_step_s"] = _value(path, time, "TimePerStep")
    wavelength = None
    tube = _first(root, "Tube")
    scope = tube if tube is not None else root
    for tag, key in (("WaveLengthAlpha1", "kalpha1_angstrom"), ("WaveLengthAlpha2", "kalpha2_angstrom"),
                     ("WaveLengthBeta", "kbeta_angstrom"), ("WaveLengthRatio", "kalpha2_kalpha1_ratio")):
        value = _value(path, _first(scope, tag), tag)
        if value is not None and np.isfinite(value):
            metadata[key] = value
    wavelength = metadata.get("kalpha1_angstrom")
    material = _first(scope, "TubeMaterial")
    if material is not None and (material.text or "").strip():
        metadata["anode"] = material.text.strip()
    container = next((n for n in names if n.lower().endswith("datacontainer.xml")), None)
    if container is not None:
        try:
            info = _first(parse_xml(path, read_zip_member(path, archive, container), "BRML DataContainer"),
                          "MeasurementInfo")
            if info is not None and info.get("SampleName"):
                metadata["sample_name"] = info.get("SampleName")
        except PatternFileError:
            warnings.append("DataContainer.xml unreadable; no sample name")
    return Scan(x=x, y=y, format="brml", x_unit="2theta", wavelength=wavelength, metadata=metadata,
                warnings=warnings, where=lambda i: f"<Datum> {i + 1}")


FORMAT = register(Format("brml", read, "zip holding Experiment*/RawData*.xml", "zip",
                         lambda content: is_brml(list(content.zip_names)), priority=10, extensions=(".brml",),
                         title="BRML"))
