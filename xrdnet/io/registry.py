"""Which reader reads a file: decided by its content (magic bytes, XML root element, zip member names,
text keywords), and only then by its extension.

Each reader module registers its formats (``format.register``) when imported; ``READER_MODULES`` below
imports them all, so ``FORMATS`` is complete once this module is. ``detect`` walks the containers in
order (zip, binary, XML, text; ``format.CONTAINERS``) and, within one, the formats by priority; it names
no format itself, so a new format is a new reader module and one line in ``READER_MODULES``.
"""

from __future__ import annotations

import re
from pathlib import Path

from xrdnet.io import brml, bruker_raw, chi, fullprof, gsas, rigaku, stoe_raw, text, uxd, xrdml
from xrdnet.io.compression import COMPRESSED_EXTENSIONS, open_zip
from xrdnet.io.core import PatternFileError
from xrdnet.io.format import FORMATS, Content, Format, in_container

READER_MODULES = (xrdml, bruker_raw, stoe_raw, brml, rigaku, uxd, gsas, fullprof, chi, text)
"""Every reader module; importing one registers its formats (the one list to extend for a new format)."""

__all__ = ["FORMATS", "Format", "READER_MODULES", "detect"]


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


def _first_claiming(container: str, content: Content) -> Format | None:
    return next((fmt for fmt in in_container(container) if fmt.sniff(content)), None)


def _titles(container: str, joiner: str) -> str:
    return joiner.join(fmt.title or fmt.name for fmt in in_container(container))


def _text_head(path: Path, raw: bytes) -> str:
    head = raw[:65536]
    if len(raw) > len(head) and head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return head.decode("utf-16", "replace")  # the cut may split a surrogate pair
    return text.decode(path, head)


def _is_cif(text_head: str) -> bool:
    head = [ln.strip() for ln in text_head.splitlines()[:400]]
    return any(ln.startswith("data_") for ln in head) and any(
        ln.startswith(("_pd_", "_cell_", "_atom_site", "_symmetry")) for ln in head)


def detect(path: Path, raw: bytes) -> tuple[Format, dict, str]:
    """(format, extra keyword arguments for its reader, "content" or "extension") of a file's bytes."""
    if not raw.strip():
        raise PatternFileError(path, "empty file")
    if raw.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        archive = open_zip(path, raw)
        names = archive.namelist()
        fmt = _first_claiming("zip", Content(path, raw, zip_names=tuple(names)))
        if fmt is not None:
            return fmt, {"archive": archive}, "content"
        raise PatternFileError(path, f"unsupported format: a zip archive that is neither {_titles('zip', ' nor ')} "
                                     f"({len(names)} members)")
    fmt = _first_claiming("binary", Content(path, raw))
    if fmt is not None:
        return fmt, {}, "content"
    stripped = raw[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"<"):
        root = _xml_root(raw.lstrip(b"\xef\xbb\xbf"))
        fmt = _first_claiming("xml", Content(path, raw, xml_root=root))
        if fmt is not None:
            return fmt, {}, "content"
        raise PatternFileError(path, f"unsupported format: XML/HTML markup but not a {_titles('xml', ' or ')} file "
                                     f"(root element <{root}>)")
    head_text = _text_head(path, raw)
    fmt = _first_claiming("text", Content(path, raw, text_head=head_text))
    if fmt is not None:
        return fmt, {}, "content"
    if _is_cif(head_text):
        raise PatternFileError(path, "unsupported format: a CIF file (structure or pdCIF), not a 2θ/intensity table")
    ext = _extension(path)
    for fmt in FORMATS.values():
        if fmt.by_extension and ext in fmt.extensions:
            return fmt, {}, "extension"
    return next(f for f in FORMATS.values() if f.last_resort), {}, "content"
