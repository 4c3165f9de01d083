"""``PatternDataset``: read an xrdnet HDF5 data set (a single file or a merged virtual one).

Labels, splits and the structure index are small and read once; patterns stay on disk and are read
in row blocks (``read_patterns`` sorts the rows it is asked for, because h5py reads sorted,
deduplicated fancy indices far faster than scattered ones).
"""

from __future__ import annotations

import json
from collections import Counter
from functools import cached_property
from pathlib import Path
from typing import Sequence

import numpy as np

from xrdnet.data import hdf5 as h5io
from xrdnet.data.records import StructureRecords
from xrdnet.data.splits import SPLIT_KINDS, SPLIT_NAMES, assign_splits, compound_key, compound_space_group_key
from xrdnet.symmetry import CRYSTAL_SYSTEMS, space_group_symbol


class PatternDataset:
    """An open xrdnet data set (read-only). Use as a context manager or call ``close()``.

    Attributes (numpy, read once): ``two_theta_deg [G]``, ``structure_index [P]``,
    ``space_group [S]``, ``crystal_system [S]``, ``split [S]``, ``split_by_type [S]``, and
    ``attrs`` (the file attributes, JSON ones decoded).
    """

    def __init__(self, path: str | Path) -> None:
        import h5py

        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"data set {self.path} not found")
        try:
            self._h5 = h5py.File(self.path, "r")
        except OSError as exc:
            raise h5io.DatasetFileError(f"{self.path}: not a readable HDF5 file ({exc})") from None
        try:
            h5io.check_dataset_file(self.path, self._h5)
            with h5io.dataset_errors(self.path, "labels"):
                self._read_labels()
        except Exception:
            self._h5.close()
            raise

    def _read_labels(self) -> None:
        h5 = self._h5
        self.attrs = {k: _decode_attr(v) for k, v in h5.attrs.items()}
        self.two_theta_deg = h5["two_theta_deg"][()].astype(np.float64)
        self.structure_index = h5["pattern/structure_index"][()]
        self.pattern_id = h5["pattern/id"][()] if "pattern/id" in h5 else np.arange(len(self.structure_index))
        self.space_group = h5["structures/space_group"][()].astype(np.int64)
        self.crystal_system = h5["structures/crystal_system"][()].astype(np.int64)
        self.split = h5["structures/split"][()]
        self.split_by_type = h5["structures/split_by_type"][()]
        self._split_by_compound: np.ndarray | None = None
        n_rows = h5["patterns"].shape[0]
        if n_rows != len(self.structure_index):
            raise h5io.DatasetFileError(
                f"{self.path}: /patterns has {n_rows} rows but /pattern/structure_index {len(self.structure_index)}"
            )
        if not isinstance(self.attrs.get("config", {}), dict):
            raise h5io.DatasetFileError(f"{self.path}: its config attribute is not a JSON mapping")
        if not isinstance(self.attrs.get("generation", {}) or {}, dict):
            raise h5io.DatasetFileError(f"{self.path}: its generation attribute is not a JSON mapping")

    # ------------------------------------------------------------------ basics
    @cached_property
    def formula(self) -> list[str]:
        """``S`` reduced formulas (read on first use: most readers never need them)."""
        return self._strings("structures/formula")

    @cached_property
    def source(self) -> list[str]:
        """``S`` source ids such as ``mp_structures:mp-1`` (read on first use)."""
        return self._strings("structures/source")

    def _strings(self, name: str) -> list[str]:
        """``S`` strings of dataset ``name``; ``DatasetFileError`` naming the file when damaged."""
        with h5io.dataset_errors(self.path, f"/{name}"):
            values = h5io._strings(self._h5[name])
        if len(values) != self.n_structures:
            raise h5io.DatasetFileError(
                f"{self.path}: /{name} has {len(values)} entries for {self.n_structures} structures")
        return values

    def __enter__(self) -> "PatternDataset":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._h5.close()

    def __len__(self) -> int:
        return len(self.structure_index)

    @property
    def n_structures(self) -> int:
        return len(self.space_group)

    @property
    def n_points(self) -> int:
        return len(self.two_theta_deg)

    @property
    def patterns(self):
        """The ``/patterns`` h5py dataset ``[P, G]`` itself (lazy)."""
        return self._h5["patterns"]

    @property
    def config(self) -> dict:
        """The resolved config the file was made with."""
        return self.attrs.get("config", {}) or {}

    def simulator_config(self):
        """The ``SimulatorConfig`` (radiation, grid, profile ranges) the file's patterns were rendered with."""
        from xrdnet.config import config_from_dict
        from xrdnet.simulate import SimulatorConfig

        return config_from_dict(SimulatorConfig, self.config.get("simulator", {}), f"{self.path}:simulator")

    @property
    def wavelength_angstrom(self) -> float:
        return float(self.attrs["wavelength_angstrom"])

    # ------------------------------------------------------------------ labels and splits
    def pattern_space_group(self) -> np.ndarray:
        """``[P]`` space group of every pattern."""
        return self.space_group[self.structure_index]

    def pattern_crystal_system(self) -> np.ndarray:
        """``[P]`` crystal-system index of every pattern."""
        return self.crystal_system[self.structure_index]

    def structure_split(self, kind: str = "structure") -> np.ndarray:
        """``[S]`` int8 split (0 train, 1 val, 2 test) by ``structure`` or by ``structure_type``."""
        if kind not in SPLIT_KINDS:
            raise ValueError(f"split kind must be one of {SPLIT_KINDS}, got {kind!r}")
        if kind == "compound":
            if self._split_by_compound is None:
                config = self.config or {}
                self._split_by_compound = assign_splits(
                    [compound_key(f) for f in self.formula], int(config.get("split_seed", 0)),
                    tuple(config.get("split_fractions", (0.8, 0.1, 0.1))))
            return self._split_by_compound
        return self.split if kind == "structure" else self.split_by_type

    def indices(self, split: str, kind: str = "structure", sources: Sequence[str] = ()) -> np.ndarray:
        """Sorted pattern rows of ``split`` ("train", "val", "test") under split ``kind``.

        ``sources`` keeps only structures from those databases (``source_name``; empty = all).
        """
        if split not in SPLIT_NAMES:
            raise ValueError(f"split must be one of {SPLIT_NAMES}, got {split!r}")
        code = SPLIT_NAMES.index(split)
        wanted = self.structure_split(kind) == code
        if sources:
            present = np.array([source_name(s) for s in self.source])
            known = set(present.tolist())
            if not known & set(sources):
                raise ValueError(f"{self.path}: no structure comes from {list(sources)}; its sources are {sorted(known)}")
            wanted &= np.isin(present, list(sources))
        return np.flatnonzero(wanted[self.structure_index])

    def read_patterns(self, rows: Sequence[int] | np.ndarray, dtype=np.float32) -> np.ndarray:
        """``[len(rows), G]`` patterns in the order of ``rows`` (read sorted, then reordered)."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        if len(rows) == 0:
            return np.zeros((0, self.n_points), dtype)
        uniq, inverse = np.unique(rows, return_inverse=True)
        if uniq[0] < 0 or uniq[-1] >= len(self):
            raise IndexError(f"{self.path}: pattern rows must be in 0..{len(self) - 1}")
        with h5io.dataset_errors(self.path, "patterns"):
            if len(uniq) == uniq[-1] - uniq[0] + 1:  # contiguous: one slice read
                block = self.patterns[int(uniq[0]) : int(uniq[-1]) + 1]
            else:
                block = self.patterns[uniq]
        return block.astype(dtype, copy=False)[inverse]

    def records(self, rows: Sequence[int] | np.ndarray | None = None) -> StructureRecords:
        """Stored structures of structure ``rows`` (all when None) as ``StructureRecords``."""
        return h5io.read_records(self._h5, rows)

    def structures(self, rows: Sequence[int] | np.ndarray) -> list:
        """pymatgen ``Structure`` objects of structure ``rows``."""
        return self.records(rows).to_structures()

    def skipped(self) -> list[tuple[str, str]]:
        """``(path, reason)`` of the files the source skipped."""
        with h5io.dataset_errors(self.path, "/skipped"):
            return h5io.read_skipped(self._h5)

    # ------------------------------------------------------------------ summary
    def summary(self) -> dict:
        """Counts per crystal system, space group and split, the grid and the config (``xrdnet info``)."""
        with h5io.dataset_errors(self.path, "summary"):
            return self._summary()

    def _summary(self) -> dict:
        per_system = Counter(self.crystal_system.tolist())
        per_group = Counter(self.space_group.tolist())
        splits = {}
        for kind in SPLIT_KINDS:
            codes = Counter(self.structure_split(kind).tolist())
            splits[kind] = {name: int(codes.get(i, 0)) for i, name in enumerate(SPLIT_NAMES)}
        return {
            "path": str(self.path),
            "n_patterns": len(self),
            "n_structures": self.n_structures,
            "patterns_per_structure": int(self.attrs.get("patterns_per_structure", 0)),
            "dtype": str(self.patterns.dtype),
            "virtual": bool(self.patterns.is_virtual),
            "grid": {
                "two_theta_min_deg": float(self.two_theta_deg[0]),
                "two_theta_max_deg": float(self.two_theta_deg[-1]),
                "step_deg": float(self.attrs.get("two_theta_step_deg", np.nan)),
                "n_points": self.n_points,
            },
            "wavelength": self.attrs.get("wavelength"),
            "wavelength_angstrom": self.wavelength_angstrom,
            "seed": self.attrs.get("seed"),
            "source": self.attrs.get("source"),
            "xrdnet_version": self.attrs.get("xrdnet_version"),
            "crystal_systems": {CRYSTAL_SYSTEMS[i]: int(per_system.get(i, 0)) for i in range(len(CRYSTAL_SYSTEMS))},
            "space_groups": {f"{sg} {space_group_symbol(sg)}": int(n) for sg, n in sorted(per_group.items())},
            "n_space_groups": len(per_group),
            "n_structure_types": len(set(self._strings("structures/structure_type"))),
            "splits_structures": splits,
            "generation": self.attrs.get("generation", {}),
            "n_skipped_files": len(self.skipped()),
            "sources": dict(Counter(source_name(s) for s in self.source)),
            "unique_compound_space_group": _unique_per_system(self.formula, self.space_group, self.crystal_system),
            "config": self.config,
        }


def source_name(source: str) -> str:
    """The database part of a structure's source: ``"mp_structures:mp-1"`` -> ``"mp_structures"``."""
    return source.split(":", 1)[0] if ":" in source else source.split("/", 1)[0]


def _unique_per_system(formula: Sequence[str], space_group: np.ndarray, crystal_system: np.ndarray) -> dict:
    """Distinct (compound, space group) pairs per crystal system: the counts left after de-duplication."""
    seen: dict[str, int] = {}
    for f, g, c in zip(formula, space_group.tolist(), crystal_system.tolist()):
        seen[compound_space_group_key(f, g)] = c
    counts = Counter(seen.values())
    return {CRYSTAL_SYSTEMS[i]: int(counts.get(i, 0)) for i in range(len(CRYSTAL_SYSTEMS))}


def _decode_attr(value):
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    if isinstance(value, np.generic):
        return value.item()
    return value


def format_summary(summary: dict) -> str:
    """Human-readable text of ``PatternDataset.summary()``."""
    g = summary["grid"]
    lines = [
        f"{summary['path']}: {summary['n_patterns']} patterns of {summary['n_structures']} structures "
        f"(K = {summary['patterns_per_structure']}, {summary['dtype']}{', virtual' if summary['virtual'] else ''})",
        f"grid: 2θ {g['two_theta_min_deg']:g}..{g['two_theta_max_deg']:g}° step {g['step_deg']:g}° "
        f"({g['n_points']} points), {summary['wavelength']} ({summary['wavelength_angstrom']:.5f} Å)",
        f"source: {summary['source']}, seed {summary['seed']}, xrdnet {summary['xrdnet_version']}",
        "",
        "crystal system   structures",
    ]
    for name, n in summary["crystal_systems"].items():
        lines.append(f"  {name:14s} {n:10d}")
    unique = summary.get("unique_compound_space_group") or {}
    if unique:
        lines[-len(summary["crystal_systems"]) - 1] = "crystal system   structures   distinct (compound, space group)"
        base = len(lines) - len(summary["crystal_systems"])
        for i, (name, n) in enumerate(summary["crystal_systems"].items()):
            lines[base + i] = f"  {name:14s} {n:10d}   {unique.get(name, 0):10d}"
    if summary.get("sources") and len(summary["sources"]) > 1:
        lines.append("sources: " + ", ".join(f"{k} {v}" for k, v in summary["sources"].items()))
    lines.append(f"space groups present: {summary['n_space_groups']} of 230; structure types: "
                 f"{summary['n_structure_types']}")
    groups = sorted(summary["space_groups"].items(), key=lambda kv: -kv[1])
    lines.append("most common: " + ", ".join(f"{k} ({v})" for k, v in groups[:10]))
    for kind, counts in summary["splits_structures"].items():
        lines.append(f"split by {kind}: " + ", ".join(f"{k} {v}" for k, v in counts.items()) + " structures")
    gen = summary.get("generation") or {}
    if gen:
        shown = {k: v for k, v in gen.items() if k != "seconds"}
        lines.append("generation: " + ", ".join(f"{k} {v}" for k, v in shown.items()))
    if summary["n_skipped_files"]:
        lines.append(f"skipped files: {summary['n_skipped_files']} (see /skipped in the file)")
    return "\n".join(lines)
