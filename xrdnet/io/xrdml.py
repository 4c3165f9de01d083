"""PANalytical XRDML (XML, root ``<xrdMeasurements>``), every schema version (1.0–2.x), namespace-agnostic.

Spec: the XRDML schemas published by Malvern Panalytical (http://www.xrdml.com/XRDMeasurement/x.y).
The first ``<scan>`` with a moving ``2Theta`` axis is read. Values: ``<intensities>`` as written
(already attenuator-corrected, schema 1.x) or ``<counts>`` (schema 2.x) times
``beamAttenuationFactors``/``commonBeamAttenuationFactor``; divided by ``commonCountingTime`` or the
per-point ``countingTimes`` (counts/s). Positions: ``listPositions`` or ``startPosition``/``endPosition``
spaced evenly over the points. Wavelength: ``usedWavelength``'s kAlpha1 (kBeta when ``intended`` says
K-Beta); kAlpha2, the ratio and the anode go to metadata, as do sample id/name and step.
A UTF-8 byte-order mark is accepted.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from xrdnet.io.core import PatternFileError, Scan
from xrdnet.io.format import Content, Format, register


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _first(element: ET.Element, name: str) -> ET.Element | None:
    return next((e for e in element.iter() if _local(e.tag) == name), None)


def _numbers(path: Path, element: ET.Element, what: str) -> np.ndarray:
    try:
        return np.asarray((element.text or "").split(), dtype=np.float64)
    except ValueError:
        raise PatternFileError(path, f"non-numeric values in <{what}>") from None


def _one(path: Path, element: ET.Element, what: str) -> float:
    value = _numbers(path, element, what)
    if len(value) != 1:
        raise PatternFileError(path, f"<{what}> should hold one number")
    return float(value[0])


def parse_xml(path: Path, raw: bytes, what: str) -> ET.Element:
    if b"<!DOCTYPE" in raw[:4096] or b"<!ENTITY" in raw[:65536]:
        raise PatternFileError(path, f"{what} with a DOCTYPE/ENTITY declaration is refused")
    try:
        return ET.fromstring(raw)
    except ET.ParseError as exc:
        raise PatternFileError(path, f"{what} is not well-formed XML ({exc})") from None
    except (ValueError, RecursionError) as exc:
        raise PatternFileError(path, f"{what} cannot be parsed ({type(exc).__name__})") from None


def read(path: Path, raw: bytes, **_) -> Scan:
    root = parse_xml(path, raw.lstrip(b"\xef\xbb\xbf"), "XRDML file")
    measurement = _first(root, "xrdMeasurement")
    if measurement is None:
        raise PatternFileError(path, "XRDML file without an <xrdMeasurement>")
    warnings: list[str] = []
    namespace = root.tag[1:].split("}")[0] if root.tag.startswith("{") else ""
    metadata: dict = {"measurement_type": measurement.get("measurementType"), "schema": namespace or None}
    sample = _first(root, "sample")
    if sample is not None:
        for key in ("id", "name"):
            element = _first(sample, key)
            if element is not None and (element.text or "").strip():
                metadata[f"sample_{key}"] = element.text.strip()
    wavelength = None
    used = _first(measurement, "usedWavelength")
    if used is not None:
        lines = {_local(e.tag): e for e in used}
        intended = used.get("intended") or ""
        metadata["intended_wavelength"] = intended or None
        for key, name in (("kAlpha1", "kalpha1_angstrom"), ("kAlpha2", "kalpha2_angstrom"), ("kBeta", "kbeta_angstrom")):
            if key in lines:
                value = _one(path, lines[key], key)
                unit = (lines[key].get("unit") or "Angstrom").lower()
                metadata[name] = value * (10.0 if unit in ("nm", "nanometer", "nanometre") else 1.0)
        if "ratioKAlpha2KAlpha1" in lines:
            metadata["kalpha2_kalpha1_ratio"] = _one(path, lines["ratioKAlpha2KAlpha1"], "ratioKAlpha2KAlpha1")
        key = "kbeta_angstrom" if "beta" in intended.lower() else "kalpha1_angstrom"
        wavelength = metadata.get(key) or metadata.get("kalpha1_angstrom")
    anode = _first(root, "anodeMaterial")
    if anode is not None and anode.text:
        metadata["anode"] = anode.text.strip()

    scans = [e for e in measurement.iter() if _local(e.tag) == "scan"]
    if not scans:
        raise PatternFileError(path, "XRDML file without a <scan>")
    if len(scans) > 1:
        warnings.append(f"the file holds {len(scans)} scans; read the first")
    scan = scans[0]
    metadata["scan_axis"] = scan.get("scanAxis")
    if scan.get("status") and scan.get("status") != "Completed":
        warnings.append(f"scan status is {scan.get('status')!r}")
    points = _first(scan, "dataPoints")
    if points is None:
        raise PatternFileError(path, "XRDML scan without <dataPoints>")
    values_element = _first(points, "intensities")
    raw_counts = values_element is None
    if raw_counts:
        values_element = _first(points, "counts")
    if values_element is None:
        raise PatternFileError(path, "XRDML scan without <intensities> or <counts>")
    intensity = _numbers(path, values_element, _local(values_element.tag))
    n = len(intensity)
    metadata["intensity_element"] = _local(values_element.tag)
    if raw_counts:
        factors = _first(points, "beamAttenuationFactors")
        common_factor = _first(points, "commonBeamAttenuationFactor")
        if factors is not None:
            f = _numbers(path, factors, "beamAttenuationFactors")
            if len(f) != n:
                raise PatternFileError(path, f"{len(f)} beamAttenuationFactors for {n} counts")
            intensity = intensity * f
        elif common_factor is not None:
            intensity = intensity * _one(path, common_factor, "commonBeamAttenuationFactor")

    axis = next((e for e in points if _local(e.tag) == "positions" and (e.get("axis") or "").lower() == "2theta"), None)
    if axis is None:
        axes = [e.get("axis") for e in points if _local(e.tag) == "positions"]
        raise PatternFileError(path, f"no 2Theta axis in the scan (axes {axes}, scan axis {scan.get('scanAxis')!r}); "
                                     "only 2θ powder scans can be read")
    listed = _first(axis, "listPositions")
    start, end = _first(axis, "startPosition"), _first(axis, "endPosition")
    if listed is not None:
        two_theta = _numbers(path, listed, "listPositions")
        if len(two_theta) != n:
            raise PatternFileError(path, f"{len(two_theta)} 2Theta positions for {n} intensities")
    elif start is not None and end is not None:
        a, b = _one(path, start, "startPosition"), _one(path, end, "endPosition")
        two_theta = np.linspace(a, b, n) if n else np.zeros(0)
        if n > 1:
            metadata.update(start_deg=a, end_deg=b, step_deg=(b - a) / (n - 1))
    else:
        raise PatternFileError(path, "2Theta does not move in this scan (commonPosition only); not a 2θ scan")

    common_time = _first(points, "commonCountingTime")
    times = _first(points, "countingTimes")
    if common_time is not None:
        t = _one(path, common_time, "commonCountingTime")
        if not t > 0:
            raise PatternFileError(path, f"commonCountingTime {t} is not positive")
        intensity = intensity / t
        metadata.update(counting_time_s=t, intensity_unit="counts/s")
    elif times is not None:
        t = _numbers(path, times, "countingTimes")
        if len(t) != n or not np.all(t > 0):
            raise PatternFileError(path, "countingTimes must hold one positive time per point")
        intensity = intensity / t
        metadata.update(intensity_unit="counts/s")
    else:
        metadata["intensity_unit"] = "counts"
    return Scan(x=two_theta, y=intensity, format="xrdml", x_unit="2theta",
                wavelength=None if wavelength is None else float(wavelength), metadata=metadata, warnings=warnings)


def sniff(content: Content) -> bool:
    """The root element is ``<xrdMeasurements>``, or the head names it where no root was found."""
    return content.xml_root == "xrdMeasurements" or (content.xml_root is None and b"xrdMeasurement" in content.raw[:65536])


FORMAT = register(Format("xrdml", read, "XML root element <xrdMeasurements>", "xml", sniff, priority=10,
                         extensions=(".xrdml",), title="PANalytical XRDML"))
