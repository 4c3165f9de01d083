"""``XRDSimulator``: stick patterns identical to pymatgen and rendered profiles, batched in torch.

One object holds the radiation, the 2θ grid, the profile settings and the device; ``peaks`` gives
pymatgen-equivalent stick patterns and ``patterns`` renders them onto the grid with instrument and
sample effects (see ``xrdnet.simulate.profiles``). Work is chunked over structures (sorted by size so
padding stays small) and, inside the structure-factor kernel, over reflections, so memory stays
bounded by ``max_entries`` whatever the batch holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from xrdnet.simulate.profiles import ProfileConfig, render_patterns
from xrdnet.simulate.reflections import box_sizes, enumerate_reflections, g_limits, index_bounds
from xrdnet.simulate.scattering import check_atomic_numbers
from xrdnet.simulate.sticks import PeakList, Sticks, compute_sticks
from xrdnet.simulate.wavelengths import Radiation, resolve_radiation
from xrdnet.structures.batch import StructureBatch


@dataclass(frozen=True)
class SimulatorConfig:
    """Radiation, grid and profile ranges of a simulation (the ``simulator:`` section of a config).

    ``wavelength`` is a pymatgen name or Å as text/number; the default grid is 2θ = 5..90° by 0.01°
    (8501 points), Cu Kα, as in Vecsei et al. 2019, Schopmans et al. 2023 and Salgado et al. 2023.
    """

    wavelength: str | float = "CuKa"
    two_theta_range: tuple[float, float] = (5.0, 90.0)
    step: float = 0.01
    profile: ProfileConfig = field(default_factory=ProfileConfig)


def as_batch(structures) -> StructureBatch:
    """Accept a ``StructureBatch`` or a sequence of pymatgen ``Structure`` and return a batch."""
    if isinstance(structures, StructureBatch):
        return structures
    if hasattr(structures, "lattice") and hasattr(structures, "sites"):
        structures = [structures]
    return StructureBatch.from_structures(list(structures))


class XRDSimulator:
    """Batched powder-XRD simulator (CPU or CUDA, same code).

    Args:
        wavelength: a pymatgen radiation name ("CuKa", "MoKa1", ...) or a wavelength in Å.
        two_theta_range: (min, max) 2θ in degrees of the grid and of the stick window.
        step: grid step in degrees (default grid 5..90° by 0.01° = 8501 points).
        device: torch device for the computation.
        profile: ``ProfileConfig`` of per-pattern effect ranges for ``patterns``.
        max_entries: memory bound, in tensor entries, of the largest intermediate (phase matrix,
            profile window block); results do not depend on it.
    """

    def __init__(
        self,
        wavelength: str | float = "CuKa",
        two_theta_range: tuple[float, float] = (5.0, 90.0),
        step: float = 0.01,
        device: str | torch.device = "cpu",
        profile: ProfileConfig | None = None,
        max_entries: int = 1 << 24,
    ) -> None:
        self.radiation: Radiation = resolve_radiation(wavelength)
        lo, hi = float(two_theta_range[0]), float(two_theta_range[1])
        g_limits((lo, hi), self.radiation.wavelength_angstrom)  # validates the range
        if step <= 0 or step > (hi - lo):
            raise ValueError(f"step must be in (0, {hi - lo}], got {step}")
        self.two_theta_range = (lo, hi)
        self.step = float(step)
        self.device = torch.device(device)
        self.profile = profile if profile is not None else ProfileConfig()
        self.max_entries = int(max_entries)

    @classmethod
    def from_config(cls, config: SimulatorConfig, device: str | torch.device = "cpu", **kwargs) -> "XRDSimulator":
        """Simulator for a ``SimulatorConfig`` on ``device``."""
        return cls(config.wavelength, config.two_theta_range, config.step, device, config.profile, **kwargs)

    # ------------------------------------------------------------------ grid
    @property
    def wavelength_angstrom(self) -> float:
        return self.radiation.wavelength_angstrom

    @property
    def n_points(self) -> int:
        """G, the number of grid points (both ends included)."""
        lo, hi = self.two_theta_range
        return int(round((hi - lo) / self.step)) + 1

    def two_theta_deg(self) -> torch.Tensor:
        """``[G]`` float64 grid of 2θ in degrees on the simulator's device."""
        return self.two_theta_range[0] + self.step * torch.arange(self.n_points, dtype=torch.float64, device=self.device)

    # ------------------------------------------------------------------ chunking
    def _structure_chunks(self, batch: StructureBatch, g_max: float) -> list[torch.Tensor]:
        """Index groups of structures whose padded work fits in ``max_entries``, small ones together."""
        boxes = box_sizes(index_bounds(batch.lattice.to(torch.float64).cpu(), g_max))
        cost = boxes * batch.site_mask.sum(dim=1).cpu().clamp(min=8)
        order = torch.argsort(cost, stable=True)
        chunks, current, current_max, current_min = [], [], 0, 0
        for idx in order.tolist():
            c = int(cost[idx])
            # Also start a new chunk when padding to the largest would more than double the
            # smallest member's work: padded entries cost as much as real ones.
            if current and (max(current_max, c) * (len(current) + 1) > self.max_entries or c > 2 * current_min):
                chunks.append(torch.tensor(current))
                current, current_max = [], 0
            if not current:
                current_min = c
            current.append(idx)
            current_max = max(current_max, c)
        if current:
            chunks.append(torch.tensor(current))
        return chunks

    # ------------------------------------------------------------------ sticks
    def sticks(self, batch: StructureBatch, wavelength_angstrom: float | None = None) -> Sticks:
        """Unmerged reflections and merged peaks of one chunk-sized batch, on the device.

        Use ``peaks`` for arbitrary numbers of structures; this is the building block, and does
        not chunk over structures (it does chunk the structure-factor sums over reflections).
        """
        lam = self.wavelength_angstrom if wavelength_angstrom is None else float(wavelength_angstrom)
        g_min, g_max = g_limits(self.two_theta_range, lam)
        batch = batch.to(self.device)
        check_atomic_numbers(batch.atomic_number, batch.site_mask)
        refl = enumerate_reflections(batch.lattice, g_min, g_max)
        return compute_sticks(
            refl,
            batch.frac_coords,
            batch.atomic_number,
            batch.occupancy,
            batch.b_iso,
            batch.site_mask,
            lam,
            self.max_entries,
        )

    def peaks(self, structures: Sequence | StructureBatch) -> list[PeakList]:
        """Stick patterns equal to pymatgen's ``XRDCalculator(wavelength).get_pattern(s, two_theta_range=...)``.

        Args:
            structures: pymatgen ``Structure`` objects or a ``StructureBatch`` (B of them).

        Returns:
            B ``PeakList`` with ``two_theta_deg``, ``intensity`` (max 100), ``d_angstrom``, ``hkl``.
        """
        batch = as_batch(structures)
        _, g_max = g_limits(self.two_theta_range, self.wavelength_angstrom)
        out: list[PeakList | None] = [None] * len(batch)
        for idx in self._structure_chunks(batch, g_max):
            for i, peaks in zip(idx.tolist(), self.sticks(batch[idx]).to_peak_lists()):
                out[i] = peaks
        return out  # type: ignore[return-value]

    # ------------------------------------------------------------------ profiles
    def patterns(
        self,
        structures: Sequence | StructureBatch,
        seed: int = 0,
        patterns_per_structure: int = 1,
        pattern_ids: torch.Tensor | Sequence[int] | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> torch.Tensor:
        """Rendered powder patterns on the grid, each with its own sampled profile effects.

        Pattern p of structure b is row ``b * K + p`` (K = ``patterns_per_structure``). Every random
        draw of a pattern is a pure function of ``(seed, pattern_id)`` (a counter-based generator),
        so results do not depend on batch size, chunking, worker count or resumption. By default
        pattern ids are ``0 .. B·K-1``; data-set writers pass global ids.

        Returns:
            ``[B·K, G]`` tensor on the device, each row normalised to max = 1.
        """
        batch = as_batch(structures)
        k = int(patterns_per_structure)
        if k < 1:
            raise ValueError("patterns_per_structure must be >= 1")
        n_patterns = len(batch) * k
        if pattern_ids is None:
            ids = torch.arange(n_patterns, dtype=torch.int64)
        else:
            ids = torch.as_tensor(pattern_ids, dtype=torch.int64).reshape(-1).cpu()
            if len(ids) != n_patterns:
                raise ValueError(f"pattern_ids has {len(ids)} entries, expected B*K = {n_patterns}")
        lam = self._stick_wavelength()
        _, g_max = g_limits(self.two_theta_range, lam)
        out = torch.empty(n_patterns, self.n_points, dtype=dtype, device=self.device)
        grid = self.two_theta_deg()
        for idx in self._structure_chunks(batch, g_max):
            sticks = self.sticks(batch[idx], wavelength_angstrom=lam)
            sub = batch[idx].to(self.device)
            rows = (idx.to(self.device).unsqueeze(1) * k + torch.arange(k, device=self.device)).reshape(-1)
            out[rows] = render_patterns(
                sticks,
                sub.lattice,
                grid,
                self.radiation,
                self.profile,
                seed=seed,
                pattern_ids=ids.to(self.device)[rows],
                patterns_per_structure=k,
                max_entries=self.max_entries,
            ).to(dtype)
        return out

    def _stick_wavelength(self) -> float:
        """Kα1 when the doublet is rendered (Kα2 is placed from it), else the named line."""
        if self.profile.kalpha2 and self.radiation.has_doublet:
            return float(self.radiation.kalpha1_angstrom)
        return self.wavelength_angstrom


def two_theta_grid(two_theta_range: tuple[float, float] = (5.0, 90.0), step: float = 0.01) -> np.ndarray:
    """``[G]`` float64 numpy grid, the same as ``XRDSimulator.two_theta_deg()``."""
    lo, hi = two_theta_range
    return lo + step * np.arange(int(round((hi - lo) / step)) + 1)
