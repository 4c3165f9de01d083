"""``StructureRecords``: labelled structures as flat numpy arrays, the form they take in an HDF5 file.

A data set keeps its structures, not only its patterns, so patterns can be re-rendered with new
profiles (or on the fly during training). Sites are ragged, so they are stored flat: structure ``s``
owns slots ``site_start[s] : site_start[s] + site_count[s]`` of the ``/sites/*`` arrays, one slot per
(site, species) exactly as in ``StructureBatch``, so disorder and per-atom B survive the round trip
bit for bit (coordinates and lattice stay float64).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from xrdnet.structures.batch import StructureBatch
from xrdnet.symmetry import space_group_to_crystal_system_table


def structure_type_key(space_group: int, wyckoff_sequence: str | None, anonymous_formula: str, fallback: str) -> str:
    """Text key of a structure type: space group + Wyckoff sequence + anonymous formula.

    Two structures with equal keys are the same prototype (NaCl and KBr are both ``225|4a4b|AB``).
    When spglib could not give a Wyckoff sequence the structure is its own type (``fallback``), which
    errs on the side of a stricter split.
    """
    if wyckoff_sequence is None:
        return f"{space_group}|?|{anonymous_formula}|{fallback}"
    return f"{space_group}|{wyckoff_sequence}|{anonymous_formula}"


@dataclass
class StructureRecords:
    """S labelled structures with T (site, species) slots in total, as numpy arrays.

    Attributes:
        lattice: ``[S, 3, 3]`` float64 Å (rows a, b, c).
        site_start, site_count: ``[S]`` int64 slot range of each structure.
        frac_coords: ``[T, 3]`` float64; atomic_number ``[T]`` int16; occupancy, b_iso ``[T]`` float64
            (B in Å²); site_index ``[T]`` int32 (site of the source structure, shared by the species
            of a disordered site).
        space_group: ``[S]`` int16 ITA number (the label, from spglib).
        source_index: ``[S]`` int64 position of the structure in its source (generation index,
            CIF file position, row of an earlier data set): what pattern ids and splits hang on.
        formula, source, structure_type: ``S`` strings.
        name: ``S`` strings, the mineral or compound name a source gives ("" when it gives none).
    """

    lattice: np.ndarray
    site_start: np.ndarray
    site_count: np.ndarray
    frac_coords: np.ndarray
    atomic_number: np.ndarray
    occupancy: np.ndarray
    b_iso: np.ndarray
    site_index: np.ndarray
    space_group: np.ndarray
    source_index: np.ndarray
    formula: list[str]
    source: list[str]
    structure_type: list[str]
    name: list[str] | None = None

    def __post_init__(self) -> None:
        if self.name is None:
            self.name = [""] * len(self.space_group)

    def __len__(self) -> int:
        return int(len(self.space_group))

    # ------------------------------------------------------------------ construction
    @classmethod
    def empty(cls) -> "StructureRecords":
        return cls(
            lattice=np.zeros((0, 3, 3)),
            site_start=np.zeros(0, np.int64),
            site_count=np.zeros(0, np.int64),
            frac_coords=np.zeros((0, 3)),
            atomic_number=np.zeros(0, np.int16),
            occupancy=np.zeros(0),
            b_iso=np.zeros(0),
            site_index=np.zeros(0, np.int32),
            space_group=np.zeros(0, np.int16),
            source_index=np.zeros(0, np.int64),
            formula=[],
            source=[],
            structure_type=[],
            name=[],
        )

    @classmethod
    def from_labelled(cls, items: Sequence, names: Sequence[str] | None = None) -> "StructureRecords":
        """Records of ``LabelledStructure`` items (their structure, spglib label, source and index)."""
        if len(items) == 0:
            return cls.empty()
        batch = StructureBatch.from_structures([it.structure for it in items])
        records = cls.from_batch(
            batch,
            space_group=[it.space_group for it in items],
            source_index=[it.index for it in items],
            source=[it.source for it in items],
        )
        records.structure_type = [
            structure_type_key(it.space_group, it.wyckoff_sequence, it.anonymous_formula, f"{it.source}#{it.index}")
            for it in items
        ]
        if names is not None:
            records.name = [str(n) for n in names]
        return records

    @classmethod
    def from_batch(
        cls,
        batch: StructureBatch,
        space_group: Sequence[int],
        source_index: Sequence[int],
        source: Sequence[str],
        structure_type: Sequence[str] | None = None,
    ) -> "StructureRecords":
        """Flatten a padded ``StructureBatch`` (on any device) into records."""
        mask = batch.site_mask.cpu().numpy()
        count = mask.sum(axis=1).astype(np.int64)
        start = np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.int64)
        n = len(batch)
        return cls(
            lattice=batch.lattice.cpu().numpy().astype(np.float64),
            site_start=start,
            site_count=count,
            frac_coords=batch.frac_coords.cpu().numpy()[mask].astype(np.float64),
            atomic_number=batch.atomic_number.cpu().numpy()[mask].astype(np.int16),
            occupancy=batch.occupancy.cpu().numpy()[mask].astype(np.float64),
            b_iso=batch.b_iso.cpu().numpy()[mask].astype(np.float64),
            site_index=batch.site_index.cpu().numpy()[mask].astype(np.int32),
            space_group=np.asarray(space_group, dtype=np.int16).reshape(n),
            source_index=np.asarray(source_index, dtype=np.int64).reshape(n),
            formula=list(batch.formula),
            source=list(source),
            structure_type=list(structure_type) if structure_type is not None else [""] * n,
        )

    @classmethod
    def concatenate(cls, parts: Sequence["StructureRecords"]) -> "StructureRecords":
        """Join records end to end (slot ranges re-based)."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        offsets = np.cumsum([0] + [len(p.atomic_number) for p in parts[:-1]])
        return cls(
            lattice=np.concatenate([p.lattice for p in parts]),
            site_start=np.concatenate([p.site_start + o for p, o in zip(parts, offsets)]),
            site_count=np.concatenate([p.site_count for p in parts]),
            frac_coords=np.concatenate([p.frac_coords for p in parts]),
            atomic_number=np.concatenate([p.atomic_number for p in parts]),
            occupancy=np.concatenate([p.occupancy for p in parts]),
            b_iso=np.concatenate([p.b_iso for p in parts]),
            site_index=np.concatenate([p.site_index for p in parts]),
            space_group=np.concatenate([p.space_group for p in parts]),
            source_index=np.concatenate([p.source_index for p in parts]),
            formula=[f for p in parts for f in p.formula],
            source=[s for p in parts for s in p.source],
            structure_type=[t for p in parts for t in p.structure_type],
            name=[n for p in parts for n in p.name],
        )

    # ------------------------------------------------------------------ derived labels
    @property
    def crystal_system(self) -> np.ndarray:
        """``[S]`` int8 crystal-system index 0..6."""
        return space_group_to_crystal_system_table()[self.space_group.astype(np.int64)].astype(np.int8)

    def lattice_abc_deg(self) -> np.ndarray:
        """``[S, 6]`` float32 a, b, c (Å), α, β, γ (degrees) from the lattice matrices."""
        lengths = np.linalg.norm(self.lattice, axis=2)  # [S, 3]

        def angle(i: int, j: int) -> np.ndarray:
            cos = np.einsum("sk,sk->s", self.lattice[:, i], self.lattice[:, j]) / (lengths[:, i] * lengths[:, j])
            return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))

        return np.concatenate([lengths, np.stack([angle(1, 2), angle(0, 2), angle(0, 1)], 1)], 1).astype(np.float32)

    # ------------------------------------------------------------------ conversion
    def select(self, rows: Sequence[int] | np.ndarray) -> "StructureRecords":
        """The records of ``rows`` (in that order)."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        slots = [np.arange(self.site_start[r], self.site_start[r] + self.site_count[r]) for r in rows]
        slot_idx = np.concatenate(slots) if slots else np.zeros(0, np.int64)
        count = self.site_count[rows]
        return StructureRecords(
            lattice=self.lattice[rows],
            site_start=np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.int64) if len(rows) else count,
            site_count=count,
            frac_coords=self.frac_coords[slot_idx],
            atomic_number=self.atomic_number[slot_idx],
            occupancy=self.occupancy[slot_idx],
            b_iso=self.b_iso[slot_idx],
            site_index=self.site_index[slot_idx],
            space_group=self.space_group[rows],
            source_index=self.source_index[rows],
            formula=[self.formula[r] for r in rows],
            source=[self.source[r] for r in rows],
            structure_type=[self.structure_type[r] for r in rows],
            name=[self.name[r] for r in rows],
        )

    def to_batch(self) -> StructureBatch:
        """Padded ``StructureBatch`` (CPU) of all records, ready for ``XRDSimulator``."""
        n = len(self)
        if n == 0:
            raise ValueError("no structures to batch")
        n_max = max(int(self.site_count.max()), 1)
        row = np.repeat(np.arange(n), self.site_count)
        col = np.arange(len(self.atomic_number)) - np.repeat(self.site_start, self.site_count)
        frac = np.zeros((n, n_max, 3))
        z = np.zeros((n, n_max), np.int64)
        occ = np.zeros((n, n_max))
        biso = np.zeros((n, n_max))
        mask = np.zeros((n, n_max), bool)
        site_idx = np.full((n, n_max), -1, np.int64)
        frac[row, col] = self.frac_coords
        z[row, col] = self.atomic_number
        occ[row, col] = self.occupancy
        biso[row, col] = self.b_iso
        mask[row, col] = True
        site_idx[row, col] = self.site_index
        return StructureBatch(
            lattice=torch.from_numpy(np.ascontiguousarray(self.lattice, dtype=np.float64)),
            frac_coords=torch.from_numpy(frac),
            atomic_number=torch.from_numpy(z),
            occupancy=torch.from_numpy(occ),
            b_iso=torch.from_numpy(biso),
            site_mask=torch.from_numpy(mask),
            site_index=torch.from_numpy(site_idx),
            space_group=torch.from_numpy(self.space_group.astype(np.int64)),
            formula=list(self.formula),
            source=list(self.source),
        )

    def to_structures(self) -> list:
        """pymatgen ``Structure`` objects (disordered sites regrouped; B as site property ``b_iso``)."""
        return self.to_batch().to_structures() if len(self) else []
