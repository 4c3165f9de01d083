"""Which reader reads a file: decided by its content (magic bytes, XML root element, zip member names,
text keywords), and only then by its extension.

``FORMATS`` lists every format with its reader and what tells it; ``detect`` returns the one for a
file's (decompressed) bytes. Order matters only between text formats, from the most specific
keyword (``*RAS_DATA_START``) to the generic table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from xrdnet.io import brml, bruker_raw, chi, fullprof, gsas, rigaku, stoe_raw, text, uxd, xrdml
from xrdnet.io.compression import COMPRESSED_EXTENSIONS, open_zip
from xrdnet.io.core import PatternFileError, Scan


@dataclass(frozen=True)
class Format:
    name: str
    read: Callable[..., Scan]
    told_by: str
    extensions: tuple[str, ...] = ()


FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("xrdml", xrdml.read, "XML root element <xrdMeasurements>", (".xrdml",)),
    Format("bruker-raw", bruker_raw.read, "magic 'RAW ', 'RAW2', 'RAW1.01', 'RAW4.00'", (".raw",)),
    Format("stoe-raw", stoe_raw.read, "magic 'RAW_'", (".raw",)),
    Format("brml", brml.read, "zip holding Experiment*/RawData*.xml", (".brml",)),
    Format("rigaku-rasx", rigaku.read_rasx, "zip holding Data*/Profile*.txt", (".rasx",)),
    Format("rigaku-ras", rigaku.read_ras, "text '*RAS_DATA_START'", (".ras",)),
    Format("rigaku-asc", rigaku.read_asc, "text '*BEGIN' and '*START ='", (".asc",)),
    Format("uxd", uxd.read, "text '_2THETACOUNTS', '_WL1', '_FILEVERSION' ...", (".uxd",)),
    Format("gsas", gsas.read, "text 'BANK n ...' line", (".gsa", ".gsas", ".fxye", ".fxy", ".esd", ".std")),
    Format("fullprof-xydata", fullprof.read_xydata, "first line 'XYDATA'", (".dat",)),
    Format("chi", chi.read, "4-line header: title, x label, 'Intensity', point count; by extension, a "
           "column-title line ('# chi_Q chi_I', '# q_nm^-1 I')", (".chi",)),
    Format("table", text.read_table, "numeric columns (xy, xye, csv, dat, FullProf INSTRM=0, start/step)",
           (".xy", ".xye", ".csv", ".dat", ".txt")),
)}

_TEXT_SNIFFERS = (("rigaku-ras", rigaku.is_ras), ("rigaku-asc", rigaku.is_asc), ("fullprof-xydata", fullprof.is_xydata),
                  ("gsas", gsas.is_gsas), ("uxd", uxd.is_uxd), ("chi", chi.is_chi))


def _extension(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    while suffixes and suffixes[-1] in COMPRESSED_EXTENSIONS:
        suffixes.pop()
    return suffixes[-1] if suffixes else ""


def _xml_root(raw: bytes) -> str | None:
    head = raw[:65536].decode("utf-8", "replace")
    for match in re.finditer(r"<([^?!/\s>][^\s>/]*)", head):
        return match.group(1).split(":")[-1]
    return None


def detect(path: Path, raw: bytes) -> tuple[Format, dict, str]:
    """(format, extra keyword arguments for its reader, "content" or "extension") of a file's bytes."""
    if not raw.strip():
        raise PatternFileError(path, "empty file")
    if raw.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        archive = open_zip(path, raw)
        names = archive.namelist()
        if brml.is_brml(names):
            return FORMATS["brml"], {"archive": archive}, "content"
        if rigaku.is_rasx(names):
            return FORMATS["rigaku-rasx"], {"archive": archive}, "content"
        raise PatternFileError(path, f"unsupported format: a zip archive that is neither BRML nor RASX "
                                     f"({len(names)} members)")
    if bruker_raw.version_of(raw) is not None:
        return FORMATS["bruker-raw"], {}, "content"
    if raw.startswith(stoe_raw.MAGIC):
        return FORMATS["stoe-raw"], {}, "content"
    stripped = raw[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"<"):
        root = _xml_root(raw.lstrip(b"\xef\xbb\xbf"))
        if root == "xrdMeasurements" or (root is None and b"xrdMeasurement" in raw[:65536]):
            return FORMATS["xrdml"], {}, "content"
        raise PatternFileError(path, f"unsupported format: XML/HTML markup but not a PANalytical XRDML file "
                                     f"(root element <{root}>)")
    head = raw[:65536]
    if len(raw) > len(head) and head.startswith((b"\xff\xfe", b"\xfe\xff")):
        head_text = head.decode("utf-16", "replace")  # the cut may split a surrogate pair
    else:
        head_text = text.decode(path, head)
    for name, sniff in _TEXT_SNIFFERS:
        if sniff(head_text):
            return FORMATS[name], {}, "content"
    head = [ln.strip() for ln in head_text.splitlines()[:400]]
    if any(ln.startswith("data_") for ln in head) and any(ln.startswith(("_pd_", "_cell_", "_atom_site", "_symmetry"))
                                                          for ln in head):
        raise PatternFileError(path, "unsupported format: a CIF file (structure or pdCIF), not a 2θ/intensity table")
    ext = _extension(path)
    for fmt in FORMATS.values():
        if fmt.name not in ("table", "fullprof-xydata", "bruker-raw", "stoe-raw", "brml", "rigaku-rasx", "xrdml",
                            "rigaku-asc") \
                and ext in fmt.extensions:
            return fmt, {}, "extension"
    return FORMATS["table"], {}, "content"
