"""The thin-film hints in a file's metadata (a warning only: a header can be wrong, the peaks decide)."""

from __future__ import annotations

from xrdnet.checks.finding import THIN_FILM, Finding
from xrdnet.checks.thresholds import THIN_FILM_WORDS

COUPLED_SCAN_AXES = ("2theta-omega", "omega-2theta")
"""XRDML scan axes of a coupled scan of a mounted sample (films); powder scans say 'Gonio'."""
HEADER_KEYS = ("header", "comments", "measurement_type", "sample")
"""Metadata fields whose text is searched for ``THIN_FILM_WORDS``."""


def check_metadata(metadata: dict | None) -> list[Finding]:
    """Thin-film hints in a file's metadata: XRDML scan axis 2θ-ω, header words (film, epitaxy, MRD...)."""
    metadata = metadata or {}
    found = []
    axis = str(metadata.get("scan_axis") or "")
    if axis and axis.lower().replace(" ", "") in COUPLED_SCAN_AXES:
        found.append(f"the scan axis is {axis!r} (a coupled scan of a mounted sample, used for films; "
                     "powder scans say 'Gonio')")
    text = " ".join(str(v) for k, v in metadata.items() if k in HEADER_KEYS)
    words = sorted({m.group(0) for m in THIN_FILM_WORDS.finditer(text)})
    if words:
        found.append("the header mentions " + ", ".join(repr(w) for w in words[:3]))
    if not found:
        return []
    return [Finding(THIN_FILM, "; ".join(found) + ": if this is a film, expect texture and missing "
                    "reflections; the model was trained on powders",
                    measurements={"scan_axis": axis or None, "header_words": words})]
