"""The xrdnet HDF5 layout: writing records and patterns, reading them back, validating a file.

Layout (``DESIGN.md``, "HDF5 dataset"; P patterns on a G-point grid, S structures, T site slots):

    /patterns                    [P, G] float16|float32, chunked by rows, max = 1 per row
    /two_theta_deg               [G] float32 grid
    /pattern/structure_index     [P] int64 row of /structures/* of each pattern
    /pattern/id                  [P] int64 global pattern id (source_index·K + k): its random draws
    /structures/space_group      [S] int16        /structures/crystal_system  [S] int8
    /structures/lattice_abc_deg  [S, 6] float32   /structures/lattice         [S, 3, 3] float64
    /structures/formula, source, structure_type, name   [S] str (name: mineral/compound, may be "")
    /structures/source_index     [S] int64        /structures/site_start, site_count [S] int64
    /structures/split            [S] int8 by structure; /structures/split_by_type [S] int8 by type
    /sites/frac_coords [T, 3] float64, atomic_number [T] int16, occupancy, b_iso [T] float64,
    /sites/site_index [T] int32
    /skipped/path, /skipped/reason   files a CIF source could not use (may be empty)
    attributes: format, schema_version, xrdnet_version, wavelength, wavelength_angstrom,
                two_theta_min_deg, two_theta_max_deg, two_theta_step_deg, seed,
                patterns_per_structure, config (resolved, JSON), generation (JSON counters),
                unit_start, unit_stop, shard ("I/N")
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from xrdnet.data.records import StructureRecords

FORMAT = "xrdnet-dataset"
SCHEMA_VERSION = 1
_STR = None  # h5py string dtype, created lazily so importing this module does not need h5py


def _str_dtype():
    global _STR
    if _STR is None:
        import h5py

        _STR = h5py.string_dtype("utf-8")
    return _STR


def pattern_chunk_rows(n_points: int, itemsize: int) -> int:
    """Rows per HDF5 chunk of ``/patterns``: about 1 MB, the unit a reader pulls from disk."""
    return max(1, (1 << 20) // max(1, n_points * itemsize))


def write_records(h5: Any, records: StructureRecords, split: np.ndarray, split_by_type: np.ndarray) -> None:
    """Write ``records`` and their splits as ``/structures/*`` and ``/sites/*`` of open file ``h5``."""
    g = h5.require_group("structures")
    g.create_dataset("space_group", data=records.space_group.astype(np.int16))
    g.create_dataset("crystal_system", data=records.crystal_system)
    g.create_dataset("lattice_abc_deg", data=records.lattice_abc_deg())
    g.create_dataset("lattice", data=records.lattice.astype(np.float64))
    g.create_dataset("source_index", data=records.source_index.astype(np.int64))
    g.create_dataset("site_start", data=records.site_start.astype(np.int64))
    g.create_dataset("site_count", data=records.site_count.astype(np.int64))
    g.create_dataset("split", data=np.asarray(split, np.int8))
    g.create_dataset("split_by_type", data=np.asarray(split_by_type, np.int8))
    for name in ("formula", "source", "structure_type", "name"):
        g.create_dataset(name, data=np.array(getattr(records, name), dtype=object), dtype=_str_dtype())
    s = h5.require_group("sites")
    s.create_dataset("frac_coords", data=records.frac_coords.astype(np.float64).reshape(-1, 3))
    s.create_dataset("atomic_number", data=records.atomic_number.astype(np.int16))
    s.create_dataset("occupancy", data=records.occupancy.astype(np.float64))
    s.create_dataset("b_iso", data=records.b_iso.astype(np.float64))
    s.create_dataset("site_index", data=records.site_index.astype(np.int32))


def _strings(dataset) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in dataset[()]]


def read_records(h5: Any, rows: Sequence[int] | np.ndarray | None = None) -> StructureRecords:
    """``StructureRecords`` of ``rows`` (all when None) of open xrdnet file ``h5``."""
    g, s = h5["structures"], h5["sites"]
    every = StructureRecords(
        lattice=g["lattice"][()],
        site_start=g["site_start"][()],
        site_count=g["site_count"][()],
        frac_coords=s["frac_coords"][()],
        atomic_number=s["atomic_number"][()],
        occupancy=s["occupancy"][()],
        b_iso=s["b_iso"][()],
        site_index=s["site_index"][()],
        space_group=g["space_group"][()],
        source_index=g["source_index"][()],
        formula=_strings(g["formula"]),
        source=_strings(g["source"]),
        structure_type=_strings(g["structure_type"]),
        name=_strings(g["name"]) if "name" in g else None,  # files before the JSON-lines source
    )
    return every if rows is None else every.select(rows)


def write_skipped(h5: Any, skipped: Sequence[tuple[str, str]]) -> None:
    """``/skipped/path`` and ``/skipped/reason``: the files a source could not use."""
    g = h5.require_group("skipped")
    g.create_dataset("path", data=np.array([p for p, _ in skipped], dtype=object), dtype=_str_dtype())
    g.create_dataset("reason", data=np.array([r for _, r in skipped], dtype=object), dtype=_str_dtype())


def read_skipped(h5: Any) -> list[tuple[str, str]]:
    if "skipped" not in h5:
        return []
    return list(zip(_strings(h5["skipped/path"]), _strings(h5["skipped/reason"])))


def write_patterns(
    h5: Any,
    patterns: np.ndarray,
    structure_index: np.ndarray,
    pattern_id: np.ndarray,
    two_theta_deg: np.ndarray,
    compression: str | None = None,
) -> None:
    """``/patterns`` (row-chunked), ``/pattern/*`` and ``/two_theta_deg`` of open file ``h5``."""
    n, g = patterns.shape
    rows = pattern_chunk_rows(g, patterns.dtype.itemsize)
    h5.create_dataset(
        "patterns", data=patterns, chunks=(min(rows, max(n, 1)), g) if n else None, compression=compression
    )
    h5.create_dataset("pattern/structure_index", data=np.asarray(structure_index, np.int64))
    h5.create_dataset("pattern/id", data=np.asarray(pattern_id, np.int64))
    h5.create_dataset("two_theta_deg", data=np.asarray(two_theta_deg, np.float32))


def set_attrs(h5: Any, attrs: dict) -> None:
    """Store attributes; dicts and lists go in as JSON text so any HDF5 reader can see them."""
    for key, value in attrs.items():
        if isinstance(value, (dict, list, tuple)):
            value = json.dumps(value, sort_keys=True)
        elif value is None:
            value = ""
        h5.attrs[key] = value


class DatasetFileError(ValueError):
    """A file that is not a readable xrdnet data set (names the file and the problem)."""


def check_dataset_file(path: str | Path, h5: Any) -> None:
    """Raise ``DatasetFileError`` naming ``path`` unless ``h5`` holds the xrdnet layout."""
    if h5.attrs.get("format") != FORMAT:
        raise DatasetFileError(f"{path}: not an xrdnet data set (no format={FORMAT!r} attribute)")
    version = int(h5.attrs.get("schema_version", -1))
    if version > SCHEMA_VERSION:
        raise DatasetFileError(f"{path}: schema version {version} is newer than this xrdnet ({SCHEMA_VERSION})")
    missing = [
        name
        for name in ("patterns", "two_theta_deg", "pattern/structure_index", "structures/space_group", "sites/frac_coords")
        if name not in h5
    ]
    if missing:
        raise DatasetFileError(f"{path}: missing {', '.join(missing)}")
