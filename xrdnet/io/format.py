"""What one reader module registers about its format, and the table they register into.

Each reader module (``xrdml.py``, ``rigaku.py``, ...) calls ``register(Format(...))`` once per format it
reads: its name, its reader, how its content is told (``container`` + ``sniff``), its suffixes. The
registry (``registry.detect``) only walks this table, so it never names a format itself, and adding a
format is one new reader module (plus its import in ``registry.READER_MODULES``) and its test.

This module is a leaf (it imports no reader), so every reader can import it without a cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from xrdnet.io.core import Scan

CONTAINERS = ("zip", "binary", "xml", "text")
"""How a file's content is looked at, in the order detection tries them: a zip archive (member names),
binary magic bytes, XML markup (root element), text (a decoded head). A zip or XML file that no format
of its container claims is refused; a text file no format claims falls through to the extension and then
to the last-resort format."""


@dataclass(frozen=True)
class Content:
    """What detection has learned of a file's (decompressed) bytes, computed once and shared by every sniff.

    Only the fields of the container being tried are set: ``zip_names`` for a zip archive, ``xml_root``
    (local name of the first element, None if none was found in the head) for XML markup, ``text_head``
    (the decoded first 64 KiB) for text; ``raw`` always.
    """

    path: Path
    raw: bytes
    zip_names: tuple[str, ...] = ()
    xml_root: str | None = None
    text_head: str = ""


@dataclass(frozen=True)
class Format:
    """One file format: everything the registry needs to pick its reader, stated once, in its module.

    ``name``: the key of ``FORMATS`` (``"rigaku-ras"``). ``read(path, raw, instrument_file=..., **extra)``:
    the reader (zip formats also get ``archive=``, the opened ``zipfile.ZipFile``). ``told_by``: what
    tells it, for people. ``container``: one of ``CONTAINERS``. ``sniff(content) -> bool``: the content
    test (None: never by content). ``priority``: order among the formats of one container, lowest first
    (among text formats it matters: the most specific keyword first). ``extensions``: the suffixes the
    format is known by. ``by_extension``: whether a text file no content test claimed is read by this
    format on its suffix alone (off for suffixes other programs use too, such as ``.dat``, ``.asc``).
    ``title``: how the refusal of an unclaimed zip/XML file names it ("BRML"). ``last_resort``: the one
    format a text file falls to when nothing else claims it (the generic table).
    """

    name: str
    read: Callable[..., Scan]
    told_by: str
    container: str
    sniff: Callable[[Content], bool] | None = None
    priority: int = 100
    extensions: tuple[str, ...] = ()
    by_extension: bool = False
    title: str = ""
    last_resort: bool = False

    def __post_init__(self) -> None:
        if self.container not in CONTAINERS:
            raise ValueError(f"format {self.name!r}: container must be one of {CONTAINERS}, got {self.container!r}")
        if self.sniff is None and not (self.by_extension or self.last_resort):
            raise ValueError(f"format {self.name!r} can never be chosen: no sniff, not by extension, not last resort")


FORMATS: dict[str, Format] = {}
"""Every registered format by name, in the order detection tries them (complete once ``xrdnet.io.registry``
has imported the readers)."""


def register(fmt: Format) -> Format:
    """Add ``fmt`` to ``FORMATS``; a second format of the same name, or a second last resort, is a bug."""
    if fmt.name in FORMATS and FORMATS[fmt.name] != fmt:
        raise ValueError(f"format {fmt.name!r} is registered twice")
    if fmt.last_resort and any(f.last_resort and f.name != fmt.name for f in FORMATS.values()):
        raise ValueError(f"format {fmt.name!r}: there is already a last-resort format")
    FORMATS[fmt.name] = fmt
    ordered = sorted(FORMATS.values(), key=lambda f: (CONTAINERS.index(f.container), f.last_resort, f.priority, f.name))
    FORMATS.clear()  # kept in detection order whatever order the modules were imported in
    FORMATS.update((f.name, f) for f in ordered)
    return fmt


def in_container(container: str) -> list[Format]:
    """The formats of one container that have a content test, in the order they are tried."""
    return sorted((f for f in FORMATS.values() if f.container == container and f.sniff is not None),
                  key=lambda f: (f.priority, f.name))
