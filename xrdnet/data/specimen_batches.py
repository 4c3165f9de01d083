"""Mixture-detector batches rendered anew from a data set's cached sticks (``xrdnet.simulate.mixtures``).

The detector learns to tell specimens of two or three *different compounds* from single phases. Each
batch step draws, from the structures ``rows`` of one split: ``mixture_share`` specimens of 2 (with
probability ``phase_probabilities[0]``) or 3 phases of different compounds, and single-phase specimens
for the rest; fractions are Dirichlet(``alpha``) above ``min_fraction`` (``draw_fractions``); every
specimen goes through ``render_specimens`` with the data set's own profile ranges (or ``profile``), the
same renderer and the same cached sticks the symmetry network trains on. Specimen ids are
``first_id + step · batch_size + i``, so step s is the same batch however the run is split or resumed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


class SpecimenBatches:
    """``batches(step) -> (patterns [B, G] float32 max 1, is_mixture [B] float32)``; also ``pooled``.

    Args:
        path: the data set; its stick cache (``xrdnet.data.stick_cache``) is built beside it when missing.
        rows: structure rows the specimens are made of (one split).
        compound: ``[len(rows)]`` compound ids of those structures (phases of a mixture differ in compound).
        batch_size, mixture_share, phase_probabilities, min_fraction, alpha: the draws (module docstring).
        seed: seed of every draw; ``first_id``: the first specimen id (keep splits' ids apart).
        profile: profile ranges (default: the data set's); ``size_spread``: see ``render_specimens``.
        pool: max-pool factor of ``__call__``'s output (1 = the full grid).
    """

    def __init__(self, path: str | Path, rows: np.ndarray, compound: np.ndarray, batch_size: int = 128,
                 mixture_share: float = 0.5, phase_probabilities: tuple[float, float] = (0.6, 0.4),
                 min_fraction: float = 0.15, alpha: float = 2.0, seed: int = 0, first_id: int = 0, profile=None,
                 size_spread: float = 0.5, pool: int = 1, cache=None) -> None:
        from xrdnet.data.reader import PatternDataset
        from xrdnet.data.stick_cache import StickCache
        from xrdnet.simulate.wavelengths import resolve_radiation

        self.rows = np.asarray(rows, np.int64)
        _, self.compound = np.unique(np.asarray(compound), return_inverse=True)
        if len(self.rows) != len(self.compound):
            raise ValueError(f"rows ({len(self.rows)}) and compound ({len(self.compound)}) differ in length")
        if len(np.unique(self.compound)) < 3:
            raise ValueError("need structures of at least 3 different compounds to mix")
        with PatternDataset(path) as ds:
            self.two_theta_deg = torch.from_numpy(ds.two_theta_deg.copy())
            sim = ds.simulator_config()
        self.profile = profile if profile is not None else sim.profile
        self.radiation = resolve_radiation(sim.wavelength)
        self.cache = cache if cache is not None else StickCache.for_dataset(path)
        from xrdnet.data.fresh import needs_conventional_cells

        self.needs_cells = needs_conventional_cells(self.profile)
        self.batch_size, self.mixture_share = int(batch_size), float(mixture_share)
        self.phase_probabilities, self.min_fraction, self.alpha = phase_probabilities, min_fraction, alpha
        self.seed, self.first_id, self.size_spread, self.pool = int(seed), int(first_id), size_spread, int(pool)
        self.description = (f"{len(self.rows)} structures ({len(np.unique(self.compound))} compounds), rendered per "
                            "batch from cached sticks by xrdnet.simulate.mixtures.render_specimens")

    def draw(self, step: int) -> tuple[np.ndarray, torch.Tensor, np.ndarray]:
        """Members ``[B, 3]`` (positions in ``rows``, -1 absent), fractions ``[B, 3]`` and labels of ``step``."""
        from xrdnet.mixture.finished import draw_members
        from xrdnet.simulate.mixtures import draw_fractions

        b = self.batch_size
        n_mix = int(round(b * self.mixture_share))
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0x5BEC, int(step)]))
        n_phases = np.ones(b, np.int64)
        n_phases[:n_mix] = np.where(rng.random(n_mix) < self.phase_probabilities[0], 2, 3)
        members = np.full((b, 3), -1, np.int64)
        for k in (2, 3):
            at = np.flatnonzero(n_phases == k)
            if len(at):
                members[at, :k] = draw_members(rng, self.compound, len(at), k)
        single = np.flatnonzero(n_phases == 1)
        members[single, 0] = rng.integers(0, len(self.rows), len(single))
        fractions = draw_fractions(self.seed, self.specimen_ids(step), torch.from_numpy(n_phases), self.min_fraction,
                                   self.alpha)[:, :3]
        return members, fractions, (n_phases > 1).astype(np.float32)

    def specimen_ids(self, step: int) -> torch.Tensor:
        return self.first_id + int(step) * self.batch_size + torch.arange(self.batch_size, dtype=torch.int64)

    def render(self, members: np.ndarray, fractions, ids: torch.Tensor) -> torch.Tensor:
        """``[B, G]`` specimens of ``members`` (positions in ``rows``) on the data set's grid."""
        from xrdnet.simulate.mixtures import render_specimens

        used = np.unique(members[members >= 0])
        local = np.where(members >= 0, np.searchsorted(used, members), -1)  # rows of the sticks loaded below
        structure_rows = self.rows[used]
        sticks, lattice = self.cache.sticks(structure_rows)
        cells = self.cache.cells(structure_rows) if self.needs_cells else None
        return render_specimens(sticks, lattice, self.two_theta_deg, self.radiation, self.profile, self.seed, ids,
                                local, fractions, size_spread=self.size_spread, cells=cells)

    def patterns(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        """Full-grid ``(patterns [B, G] float32, is_mixture [B])`` of ``step``."""
        members, fractions, label = self.draw(step)
        return self.render(members, fractions, self.specimen_ids(step)).numpy(), label

    def __call__(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        """``(patterns pooled by pool, is_mixture)``: what ``xrdnet.mixture.fit`` takes as a batch source."""
        from xrdnet.mixture.detector import pool_patterns

        patterns, label = self.patterns(step)
        return pool_patterns(patterns, self.pool), label
