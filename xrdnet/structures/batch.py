"""``StructureBatch``: B crystal structures as padded tensors, the simulator's input.

A structure with disordered sites becomes one padded slot per (site, species) with that species'
occupancy, which is exactly how pymatgen's ``XRDCalculator`` sums scattering over partially
occupied sites. Padded slots have ``site_mask = False`` and zero occupancy, so they scatter nothing
even when a kernel forgets the mask.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Iterable, Sequence

import numpy as np
import torch

# Site properties that carry an isotropic displacement parameter B (Å²), in order of preference.
_B_ISO_PROPERTIES = ("b_iso", "B_iso", "Biso")


@dataclass
class StructureBatch:
    """B structures as padded tensors (N = most slots in any structure of the batch).

    Attributes:
        lattice: ``[B, 3, 3]`` float64, Å, rows are the lattice vectors a, b, c.
        frac_coords: ``[B, N, 3]`` float64 fractional coordinates.
        atomic_number: ``[B, N]`` int64, 0 on padded slots.
        occupancy: ``[B, N]`` float64, 0 on padded slots.
        b_iso: ``[B, N]`` float64 isotropic Debye-Waller B in Å² (0 = no thermal damping).
        site_mask: ``[B, N]`` bool, True on real slots.
        site_index: ``[B, N]`` int64, the site of the source structure each slot came from
            (several slots share a site when it is disordered); -1 on padding.
        space_group: ``[B]`` int64 ITA number, 0 when unknown.
        formula: per-structure reduced formula.
        source: per-structure provenance (file path, generator id, ...).
    """

    lattice: torch.Tensor
    frac_coords: torch.Tensor
    atomic_number: torch.Tensor
    occupancy: torch.Tensor
    b_iso: torch.Tensor
    site_mask: torch.Tensor
    site_index: torch.Tensor
    space_group: torch.Tensor
    formula: list[str] = field(default_factory=list)
    source: list[str] = field(default_factory=list)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_structures(
        cls,
        structures: Sequence,
        space_groups: Sequence[int] | None = None,
        sources: Sequence[str] | None = None,
        b_iso: float | dict[str, float] | None = None,
    ) -> "StructureBatch":
        """Pack pymatgen ``Structure`` objects into padded tensors.

        ``b_iso`` sets isotropic B (Å²): a number for every atom, or a dict element symbol -> B
        (the same meaning as pymatgen's ``debye_waller_factors``). Without it, a site property
        ``b_iso``/``B_iso``/``Biso`` is used where present, else 0.
        """
        if len(structures) == 0:
            raise ValueError("StructureBatch needs at least one structure")
        rows = []
        for s_idx, structure in enumerate(structures):
            slots = []
            props = structure.site_properties
            site_b = next((props[k] for k in _B_ISO_PROPERTIES if k in props), None)
            for site_no, site in enumerate(structure):
                for species, occu in site.species.items():
                    symbol = getattr(species, "symbol", str(species))
                    if isinstance(b_iso, dict):
                        b_value = float(b_iso.get(symbol, 0.0))
                    elif b_iso is not None:
                        b_value = float(b_iso)
                    elif site_b is not None and site_b[site_no] is not None:
                        b_value = float(site_b[site_no])
                    else:
                        b_value = 0.0
                    slots.append((site.frac_coords, int(species.Z), float(occu), b_value, site_no))
            if not slots:
                raise ValueError(f"structure {s_idx} ({structure.composition.reduced_formula}) has no sites")
            rows.append(slots)
        batch_size, n_max = len(rows), max(len(r) for r in rows)
        frac = np.zeros((batch_size, n_max, 3))
        z = np.zeros((batch_size, n_max), dtype=np.int64)
        occ = np.zeros((batch_size, n_max))
        biso = np.zeros((batch_size, n_max))
        mask = np.zeros((batch_size, n_max), dtype=bool)
        site_idx = np.full((batch_size, n_max), -1, dtype=np.int64)
        for b, slots in enumerate(rows):
            n = len(slots)
            frac[b, :n] = np.array([s[0] for s in slots])
            z[b, :n] = [s[1] for s in slots]
            occ[b, :n] = [s[2] for s in slots]
            biso[b, :n] = [s[3] for s in slots]
            site_idx[b, :n] = [s[4] for s in slots]
            mask[b, :n] = True
        lattice = np.stack([np.asarray(s.lattice.matrix, dtype=np.float64) for s in structures])
        if space_groups is None:
            space_groups = [0] * batch_size
        return cls(
            lattice=torch.from_numpy(lattice),
            frac_coords=torch.from_numpy(frac),
            atomic_number=torch.from_numpy(z),
            occupancy=torch.from_numpy(occ),
            b_iso=torch.from_numpy(biso),
            site_mask=torch.from_numpy(mask),
            site_index=torch.from_numpy(site_idx),
            space_group=torch.as_tensor(list(space_groups), dtype=torch.int64),
            formula=[s.composition.reduced_formula for s in structures],
            source=list(sources) if sources is not None else [""] * batch_size,
        )

    @classmethod
    def concatenate(cls, batches: Iterable["StructureBatch"]) -> "StructureBatch":
        """Join batches along B, re-padding to the largest N."""
        batches = list(batches)
        n_max = max(b.n_slots for b in batches)

        def pad(t: torch.Tensor, value) -> torch.Tensor:
            extra = n_max - t.shape[1]
            if extra == 0:
                return t
            shape = (t.shape[0], extra) + tuple(t.shape[2:])
            return torch.cat([t, torch.full(shape, value, dtype=t.dtype, device=t.device)], dim=1)

        return cls(
            lattice=torch.cat([b.lattice for b in batches]),
            frac_coords=torch.cat([pad(b.frac_coords, 0.0) for b in batches]),
            atomic_number=torch.cat([pad(b.atomic_number, 0) for b in batches]),
            occupancy=torch.cat([pad(b.occupancy, 0.0) for b in batches]),
            b_iso=torch.cat([pad(b.b_iso, 0.0) for b in batches]),
            site_mask=torch.cat([pad(b.site_mask, False) for b in batches]),
            site_index=torch.cat([pad(b.site_index, -1) for b in batches]),
            space_group=torch.cat([b.space_group for b in batches]),
            formula=[f for b in batches for f in b.formula],
            source=[s for b in batches for s in b.source],
        )

    # ------------------------------------------------------------------ views
    def __len__(self) -> int:
        return int(self.lattice.shape[0])

    @property
    def n_slots(self) -> int:
        """N, the padded number of (site, species) slots."""
        return int(self.frac_coords.shape[1])

    @property
    def device(self) -> torch.device:
        return self.lattice.device

    def n_atoms(self) -> torch.Tensor:
        """``[B]`` int64 number of real slots per structure."""
        return self.site_mask.sum(dim=1)

    def __getitem__(self, index) -> "StructureBatch":
        """Sub-batch by slice, index tensor or list; trims padding to the sub-batch's largest N."""
        if isinstance(index, int):
            index = slice(index, index + 1)
        if isinstance(index, slice):
            picks = list(range(len(self)))[index]
        else:
            picks = torch.as_tensor(index).tolist()
        idx = torch.as_tensor(picks, dtype=torch.long, device=self.device)
        n_keep = int(self.site_mask[idx].sum(dim=1).max().item()) if len(picks) else 0
        n_keep = max(n_keep, 1)
        return StructureBatch(
            lattice=self.lattice[idx],
            frac_coords=self.frac_coords[idx, :n_keep],
            atomic_number=self.atomic_number[idx, :n_keep],
            occupancy=self.occupancy[idx, :n_keep],
            b_iso=self.b_iso[idx, :n_keep],
            site_mask=self.site_mask[idx, :n_keep],
            site_index=self.site_index[idx, :n_keep],
            space_group=self.space_group[idx],
            formula=[self.formula[i] for i in picks],
            source=[self.source[i] for i in picks],
        )

    def to(self, device: str | torch.device) -> "StructureBatch":
        """The same batch on ``device`` (tensors moved, metadata shared)."""
        moved = {
            f.name: getattr(self, f.name).to(device)
            for f in fields(self)
            if isinstance(getattr(self, f.name), torch.Tensor)
        }
        return replace(self, **moved)

    # ------------------------------------------------------------------ back to pymatgen
    def to_structures(self) -> list:
        """pymatgen ``Structure`` objects, one per row, disordered sites regrouped by ``site_index``.

        Slots with a nonzero B carry it back as the site property ``b_iso``.
        """
        from pymatgen.core import Element, Lattice, Structure

        out = []
        lattice = self.lattice.detach().cpu().numpy()
        frac = self.frac_coords.detach().cpu().numpy()
        z = self.atomic_number.detach().cpu().numpy()
        occ = self.occupancy.detach().cpu().numpy()
        biso = self.b_iso.detach().cpu().numpy()
        mask = self.site_mask.detach().cpu().numpy()
        site_idx = self.site_index.detach().cpu().numpy()
        for b in range(len(self)):
            sites: dict[int, dict] = {}
            for n in np.flatnonzero(mask[b]):
                entry = sites.setdefault(int(site_idx[b, n]), {"species": {}, "coords": frac[b, n], "b": biso[b, n]})
                symbol = Element.from_Z(int(z[b, n])).symbol
                entry["species"][symbol] = entry["species"].get(symbol, 0.0) + float(occ[b, n])
            ordered = [sites[k] for k in sorted(sites)]
            props = {"b_iso": [float(e["b"]) for e in ordered]} if np.any(biso[b][mask[b]]) else None
            out.append(
                Structure(
                    Lattice(lattice[b]),
                    [e["species"] for e in ordered],
                    [e["coords"] for e in ordered],
                    site_properties=props,
                )
            )
        return out
