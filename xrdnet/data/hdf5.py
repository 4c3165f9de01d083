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

import contextlib
import json
import re
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


def clean_strings(values: Sequence[str]) -> np.ndarray:
    """Object array of ``values`` that HDF5 can store: NUL and lone surrogates (from odd records) -> U+FFFD."""
    return np.array(
        [str(v).replace("\0", "\ufffd").encode("utf-8", "replace").decode("utf-8") for v in values], dtype=object
    )


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
        g.create_dataset(name, data=clean_strings(getattr(records, name)), dtype=_str_dtype())
    s = h5.require_group("sites")
    s.create_dataset("frac_coords", data=records.frac_coords.astype(np.float64).reshape(-1, 3))
    s.create_dataset("atomic_number", data=records.atomic_number.astype(np.int16))
    s.create_dataset("occupancy", data=records.occupancy.astype(np.float64))
    s.create_dataset("b_iso", data=records.b_iso.astype(np.float64))
    s.create_dataset("site_index", data=records.site_index.astype(np.int32))


def _strings(dataset) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in dataset[()]]


def read_records(h5: Any, rows: Sequence[int] | np.ndarray | None = None) -> StructureRecords:
    """``StructureRecords`` of ``rows`` (all when None) of open xrdnet file ``h5``.

    The stored structures are checked (``check_records``): a damaged file is a ``DatasetFileError``
    naming it, not a crash in the simulator.
    """
    path = getattr(h5, "filename", "data set")
    with dataset_errors(path, "structures"):
        every = _read_records(h5)
        check_records(path, every)
    return every if rows is None else every.select(rows)


def _read_records(h5: Any) -> StructureRecords:
    g, s = h5["structures"], h5["sites"]
    return StructureRecords(
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


def check_records(path: Any, records: StructureRecords) -> None:
    """``DatasetFileError`` naming ``path`` unless the stored structures are consistent and physical."""
    from xrdnet.structures.labelled import xray_scattering_elements

    n = len(records.space_group)

    def bad(problem: str) -> DatasetFileError:
        return DatasetFileError(f"{path}: stored structures are damaged: {problem}")

    shapes = {
        "structures/lattice": (records.lattice, (n, 3, 3)),
        "structures/site_start": (records.site_start, (n,)),
        "structures/site_count": (records.site_count, (n,)),
        "structures/source_index": (records.source_index, (n,)),
    }
    for name, (array, shape) in shapes.items():
        if np.shape(array) != shape:
            raise bad(f"{name} has shape {np.shape(array)}, expected {shape}")
    if np.ndim(records.atomic_number) != 1:
        raise bad("sites/atomic_number is not a list of sites")
    t = len(records.atomic_number)
    for name, array, shape in (("sites/frac_coords", records.frac_coords, (t, 3)),
                               ("sites/occupancy", records.occupancy, (t,)), ("sites/b_iso", records.b_iso, (t,)),
                               ("sites/site_index", records.site_index, (t,)),
                               ("sites/atomic_number", records.atomic_number, (t,))):
        if np.shape(array) != shape:
            raise bad(f"{name} has shape {np.shape(array)}, expected {shape}")
    for name, values in (("formula", records.formula), ("source", records.source),
                         ("structure_type", records.structure_type), ("name", records.name)):
        if values is not None and len(values) != n:
            raise bad(f"structures/{name} has {len(values)} entries for {n} structures")
    numeric = {"structures/lattice": records.lattice, "sites/frac_coords": records.frac_coords,
               "sites/occupancy": records.occupancy, "sites/b_iso": records.b_iso}
    for name, array in numeric.items():
        if np.asarray(array).dtype.kind not in "fiu" or not np.all(np.isfinite(array)):
            raise bad(f"{name} holds values that are not finite numbers")
    for name, array in (("structures/site_start", records.site_start), ("structures/site_count", records.site_count),
                        ("sites/atomic_number", records.atomic_number), ("structures/space_group", records.space_group),
                        ("sites/site_index", records.site_index), ("structures/source_index", records.source_index)):
        if np.asarray(array).dtype.kind not in "iu":
            raise bad(f"{name} is not an integer array")
    start, count = np.asarray(records.site_start, np.int64), np.asarray(records.site_count, np.int64)
    if n and (start.min() < 0 or count.min() < 1 or (start + count).max() > t):
        raise bad(f"site ranges (site_start, site_count) do not fit the {t} stored sites")
    if n and (records.space_group.min() < 1 or records.space_group.max() > 230):
        raise bad("space groups outside 1..230")
    if t:
        from pymatgen.core import Element

        known = {Element(e).Z for e in xray_scattering_elements() if Element.is_valid_symbol(e)}
        z = np.asarray(records.atomic_number, np.int64)
        if z.min() < 1 or not set(np.unique(z).tolist()) <= known:
            raise bad("atomic numbers without X-ray scattering factors")
        if records.occupancy.min() <= 0 or records.occupancy.max() > 1.05 or records.b_iso.min() < 0:
            raise bad("occupancies outside (0, 1] or negative B factors")
    if n:
        volume = np.abs(np.linalg.det(records.lattice))
        lengths = np.linalg.norm(records.lattice, axis=-1)
        if not np.all(volume > 1e-2 * np.prod(lengths, axis=-1)) or lengths.min() < 0.5 or lengths.max() > 1000:
            raise bad("flat or absurd cells")


def _one_line(message: object, limit: int = 300) -> str:
    text = re.sub(r"\s+", " ", str(message)).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


@contextlib.contextmanager
def dataset_errors(path: Any, what: str = "data"):
    """Turn what h5py and numpy raise on a damaged or foreign file into ``DatasetFileError`` naming ``path``."""
    try:
        yield
    except DatasetFileError:
        raise
    except (OSError, KeyError, TypeError, ValueError, IndexError, AttributeError, RuntimeError) as exc:
        detail = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        raise DatasetFileError(
            f"{path}: damaged or not in the xrdnet layout: cannot read its {what} ({_one_line(detail)})"
        ) from None


def write_skipped(h5: Any, skipped: Sequence[tuple[str, str]]) -> None:
    """``/skipped/path`` and ``/skipped/reason``: the files a source could not use."""
    g = h5.require_group("skipped")
    g.create_dataset("path", data=clean_strings([p for p, _ in skipped]), dtype=_str_dtype())
    g.create_dataset("reason", data=clean_strings([r for _, r in skipped]), dtype=_str_dtype())


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


# Datasets every xrdnet file has: (number of dimensions, dtype kinds allowed).
REQUIRED = {
    "patterns": (2, "f"),
    "two_theta_deg": (1, "f"),
    "pattern/structure_index": (1, "iu"),
    "structures/space_group": (1, "iu"),
    "structures/crystal_system": (1, "iu"),
    "structures/split": (1, "iu"),
    "structures/split_by_type": (1, "iu"),
    "sites/frac_coords": (2, "f"),
}


def open_dataset_file(path: str | Path, what: str = "data set"):
    """``h5py.File`` of xrdnet data set ``path`` opened read-only and checked (``check_dataset_file``).

    A missing file raises FileNotFoundError ("<what> <path> not found"), anything that is not a
    readable HDF5 file or not the xrdnet layout a one-line ``DatasetFileError`` naming the file.
    Use it as a context manager.
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} not found")
    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise DatasetFileError(f"{path}: not a readable HDF5 file ({exc})") from None
    try:
        check_dataset_file(path, h5)
    except BaseException:
        h5.close()
        raise
    return h5


def check_dataset_file(path: str | Path, h5: Any) -> None:
    """Raise ``DatasetFileError`` naming ``path`` unless ``h5`` holds the xrdnet layout.

    Checks the format attribute, the required datasets (present, datasets, dimensions, dtypes),
    that their lengths agree, that every pattern points at a stored structure and that labels and
    splits are in range; the patterns themselves are not read.
    """
    import h5py

    with dataset_errors(path, "layout"):
        if h5.attrs.get("format") != FORMAT:
            raise DatasetFileError(f"{path}: not an xrdnet data set (no format={FORMAT!r} attribute)")
        try:
            version = int(h5.attrs.get("schema_version", -1))
        except (TypeError, ValueError):
            raise DatasetFileError(f"{path}: its schema_version attribute is not a number") from None
        if version > SCHEMA_VERSION:
            raise DatasetFileError(f"{path}: schema version {version} is newer than this xrdnet ({SCHEMA_VERSION})")
        missing = [name for name in REQUIRED if name not in h5]
        if missing:
            raise DatasetFileError(f"{path}: missing {', '.join(missing)}")
        for name, (ndim, kinds) in REQUIRED.items():
            obj = h5[name]
            if not isinstance(obj, h5py.Dataset) or obj.ndim != ndim or obj.dtype.kind not in kinds:
                shape = getattr(obj, "shape", "a group")
                raise DatasetFileError(f"{path}: /{name} is {shape} {getattr(obj, 'dtype', '')}, expected a "
                                       f"{ndim}-d {'float' if kinds == 'f' else 'integer'} dataset")
        n_patterns, n_points = h5["patterns"].shape
        if h5["two_theta_deg"].shape[0] != n_points or n_points < 2:
            raise DatasetFileError(f"{path}: /patterns has {n_points} columns but /two_theta_deg "
                                   f"{h5['two_theta_deg'].shape[0]} points")
        grid = h5["two_theta_deg"][()]
        if not (np.all(np.isfinite(grid)) and np.all(np.diff(grid) > 0)):
            raise DatasetFileError(f"{path}: /two_theta_deg is not a finite increasing grid")
        if h5["pattern/structure_index"].shape[0] != n_patterns:
            raise DatasetFileError(f"{path}: /patterns has {n_patterns} rows but /pattern/structure_index "
                                   f"{h5['pattern/structure_index'].shape[0]}")
        if "pattern/id" in h5 and h5["pattern/id"].shape != (n_patterns,):
            raise DatasetFileError(f"{path}: /pattern/id does not have one entry per pattern")
        n_structures = h5["structures/space_group"].shape[0]
        for name in ("structures/crystal_system", "structures/split", "structures/split_by_type"):
            if h5[name].shape[0] != n_structures:
                raise DatasetFileError(f"{path}: /{name} has {h5[name].shape[0]} entries for {n_structures} structures")
        owner = h5["pattern/structure_index"][()]
        if n_patterns and (owner.min() < 0 or owner.max() >= n_structures):
            raise DatasetFileError(f"{path}: /pattern/structure_index points outside the {n_structures} structures")
        groups = h5["structures/space_group"][()]
        if n_structures and (groups.min() < 1 or groups.max() > 230):
            raise DatasetFileError(f"{path}: /structures/space_group holds numbers outside 1..230")
        if n_structures and not np.all(h5["structures/crystal_system"][()] == _crystal_systems(groups)):
            raise DatasetFileError(f"{path}: /structures/crystal_system does not match the space groups")
        for name in ("structures/split", "structures/split_by_type"):
            values = h5[name][()]
            if n_structures and (values.min() < 0 or values.max() > 2):
                raise DatasetFileError(f"{path}: /{name} holds splits outside 0 (train), 1 (val), 2 (test)")
        if "wavelength_angstrom" not in h5.attrs:
            raise DatasetFileError(f"{path}: no wavelength_angstrom attribute (the patterns' wavelength is unknown)")
        for name in ("wavelength_angstrom", "two_theta_step_deg"):
            if name in h5.attrs:
                try:
                    value = float(h5.attrs[name])
                except (TypeError, ValueError):
                    raise DatasetFileError(f"{path}: its {name} attribute is not a number") from None
                if not (np.isfinite(value) and value > 0):
                    raise DatasetFileError(f"{path}: its {name} attribute is {value}, not a positive number")


def _crystal_systems(space_groups: np.ndarray) -> np.ndarray:
    from xrdnet.symmetry import crystal_system_index

    table = np.array([0] + [crystal_system_index(g) for g in range(1, 231)])
    return table[np.asarray(space_groups, np.int64)]
