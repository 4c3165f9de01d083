"""Where ``xrdnet simulate`` gets its structures: one interface, one registry, one module per source.

A source hands the builder *units* (a generation index, a CIF file, a JSON-lines record, a stored
structure) in increasing order, each usable one as ``(unit, one-structure StructureRecords)``, and
tells a :class:`UnitLog` what happened to the others (pyxtal attempts, space groups given up, skipped
files with their reason). The builder (``xrdnet.data.build``) never asks which source it has.

Adding a source is one module here defining a class that satisfies :class:`StructureSource` (with a
``from_config(SimulateConfig)`` constructor), its entry in :data:`SOURCES`, and its test.
"""

from __future__ import annotations

import importlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass
class UnitLog:
    """What happened to each unit of the current pass, keyed by unit index (per-chunk bookkeeping)."""

    attempts: dict[int, Counter] = field(default_factory=dict)  # unit -> Counter(outcome) of pyxtal tries
    exhausted: dict[int, int] = field(default_factory=dict)  # unit -> space-group draws given up
    skipped: dict[int, tuple[str, str]] = field(default_factory=dict)  # unit -> (location, reason)


@runtime_checkable
class StructureSource(Protocol):
    """A source of structures for the builder.

    Attributes:
        uses_worker_processes: True when ``records`` labels in worker processes (the builder then leaves
            them the cores: torch threads competing with them spin-wait).
    """

    uses_worker_processes: bool

    def n_available(self) -> int | None:
        """Units the source holds; None when it has no end (a generator)."""

    def records(self, start: int, stop: int, log: UnitLog) -> Iterator[tuple[int, object]]:
        """``(unit, one-structure StructureRecords)`` for the usable units of ``start .. stop-1``, in order."""


@dataclass(frozen=True)
class SourceEntry:
    """A registered source: where its class lives and which setting it cannot do without."""

    target: str  # "module:Class", imported on first use (a generator source must not load a CIF parser)
    setting: str | None = None  # the SimulateConfig field it needs (None: none)
    flag: str | None = None  # the ``xrdnet simulate`` flag that sets it
    bounded: bool = True  # False: n_structures = 0 ("all of them") means nothing
    unit_name: str = "structures"  # what a unit is, plural, in the skip report ("3 files skipped")


SOURCES: dict[str, SourceEntry] = {
    "synthetic": SourceEntry("xrdnet.structures.sources.synthetic:SyntheticSource", bounded=False),
    "cif": SourceEntry("xrdnet.structures.sources.cif:CifFolderSource", "cif_dir", "--cif-dir",
                       unit_name="files"),
    "jsonl": SourceEntry("xrdnet.structures.sources.jsonl:JsonlSource", "jsonl_files", "--structures-jsonl",
                         unit_name="records"),
    "hdf5": SourceEntry("xrdnet.data.stored_source:StoredSource", "structures_file", "--structures-from"),
}
"""The registry: ``SimulateConfig.source`` names one of these (the one line a new source adds)."""


def check_source_settings(config) -> None:
    """``ValueError`` unless ``config.source`` is registered and ``config`` holds what that source needs."""
    entry = SOURCES.get(config.source)
    if entry is None:
        raise ValueError(f"source must be one of {tuple(SOURCES)}, got {config.source!r}")
    if entry.setting is not None and not getattr(config, entry.setting):
        raise ValueError(f"source {config.source!r} needs {entry.setting} (or {entry.flag})")
    if config.n_structures < 0 or (not entry.bounded and config.n_structures == 0):
        raise ValueError(f"n_structures must be > 0 (or 0 = all, for a source with an end), got {config.n_structures}")


def open_source(config) -> StructureSource:
    """The source ``config.source`` names, opened on ``config`` (a ``SimulateConfig``)."""
    check_source_settings(config)
    module_name, class_name = SOURCES[config.source].target.split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls.from_config(config)


def n_units(source: StructureSource, n_structures: int) -> int:
    """Units a run covers: ``n_structures`` of them, all the source holds for 0, never more than it holds."""
    total = source.n_available()
    if total is None:
        return n_structures
    return total if n_structures == 0 else min(n_structures, total)


__all__ = ["SOURCES", "SourceEntry", "StructureSource", "UnitLog", "check_source_settings", "n_units",
           "open_source"]
