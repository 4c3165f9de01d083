"""Mixtures of finished single-phase patterns: the simplest way to make a two- or three-phase pattern.

``make_mixtures`` adds 2-3 finished patterns (max = 1 each) with Dirichlet fractions and rescales the sum to
max = 1, as the simulator scales a single pattern. Each finished pattern carries its own instrument (zero
shift, widths) and background, so such mixtures differ from single phases in ways a real sample does not
(two zero shifts, averaged noise): the mix's background is the fraction-weighted mean of the phases'
backgrounds and its relative noise about ``sqrt(Σ f²)`` of a single pattern's. A detector trained on them
learns those differences; they serve as a test set and as an alternative training material (``patterns``),
while the recipe trains on specimens rendered with one instrument each (``xrdnet.simulate.mixtures``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass
class Mixtures:
    """``n`` mixed patterns and how they were made.

    ``patterns [n, G]`` float32 (each row max = 1); ``members [n, 3]`` rows of the input patterns
    (-1 where a mixture has two phases); ``fractions [n, 3]`` (sum 1 per row, 0 for absent phases);
    ``n_phases [n]``.
    """

    patterns: np.ndarray
    members: np.ndarray
    fractions: np.ndarray
    n_phases: np.ndarray


def draw_fractions(rng: np.random.Generator, n: int, k: int, min_fraction: float, alpha: float = 2.0) -> np.ndarray:
    """``[n, k]`` fractions from Dirichlet(alpha, ..., alpha), each ≥ ``min_fraction`` (rejection)."""
    if not 0 <= min_fraction * k < 1:
        raise ValueError(f"min_fraction {min_fraction} is impossible for {k} phases")
    out = np.empty((n, k))
    filled = 0
    while filled < n:
        draw = rng.dirichlet(np.full(k, alpha), size=max(16, 2 * (n - filled)))
        draw = draw[draw.min(axis=1) >= min_fraction][: n - filled]
        out[filled : filled + len(draw)] = draw
        filled += len(draw)
    return out


def draw_members(rng: np.random.Generator, compound: np.ndarray, n: int, k: int) -> np.ndarray:
    """``[n, k]`` rows of distinct compounds (``compound[row]`` all different within a mixture)."""
    compound = np.asarray(compound)
    if len(np.unique(compound)) < k:
        raise ValueError(f"need at least {k} different compounds to mix {k} phases")
    members = rng.integers(0, len(compound), size=(n, k))
    for j in range(1, k):
        while True:
            clash = np.zeros(n, dtype=bool)
            for i in range(j):
                clash |= compound[members[:, j]] == compound[members[:, i]]
            if not clash.any():
                break
            members[clash, j] = rng.integers(0, len(compound), size=int(clash.sum()))
    return members


def make_mixtures(patterns: np.ndarray, compound: Sequence, n: int, seed: int,
                  phase_probabilities: Sequence[float] = (0.6, 0.4), min_fraction: float = 0.2,
                  alpha: float = 2.0) -> Mixtures:
    """``n`` mixtures of 2 or 3 rows of ``patterns [N, G]`` (see the module docstring).

    ``compound [N]``: a compound key per row (any hashable, e.g. reduced formula or its index);
    phases of one mixture are different compounds. ``phase_probabilities``: probabilities of 2 and
    3 phases. ``min_fraction``: every phase's fraction is at least this. Same inputs and ``seed`` →
    the same mixtures.
    """
    patterns = np.asarray(patterns)
    if patterns.ndim != 2:
        raise ValueError(f"patterns must be [N, G], got shape {patterns.shape}")
    _, compound_ids = np.unique(np.asarray(compound), return_inverse=True)
    if len(compound_ids) != len(patterns):
        raise ValueError("compound needs one entry per pattern row")
    probs = np.asarray(phase_probabilities, dtype=np.float64)
    if len(probs) != 2 or probs.min() < 0 or not math.isclose(probs.sum(), 1.0, abs_tol=1e-9):
        raise ValueError("phase_probabilities are the probabilities of 2 and 3 phases (sum 1)")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x6D1C]))
    n_phases = np.where(rng.random(n) < probs[0], 2, 3)
    members = np.full((n, 3), -1, dtype=np.int64)
    fractions = np.zeros((n, 3), dtype=np.float64)
    for k in (2, 3):
        rows = np.flatnonzero(n_phases == k)
        if len(rows):
            members[rows, :k] = draw_members(rng, compound_ids, len(rows), k)
            fractions[rows, :k] = draw_fractions(rng, len(rows), k, min_fraction, alpha)
    mixed = np.zeros((n, patterns.shape[1]), dtype=np.float32)
    for j in range(3):
        used = members[:, j] >= 0
        if used.any():
            mixed[used] += fractions[used, j, None].astype(np.float32) * patterns[members[used, j]].astype(np.float32)
    peak = mixed.max(axis=1, keepdims=True)
    mixed /= np.where(peak > 0, peak, 1.0)
    return Mixtures(mixed, members, fractions, n_phases)
