"""Indexing features: what the best cell of each lattice family says about a pattern, as numbers.

The forests' feature set ``indexing`` (issue 20): a pattern's sharp peaks are found as ``predict`` finds
them (``xrdnet.signal.peak_measurements``), resolved Kα2 partners dropped, and indexed
(``index_measured_peaks``); per family (cubic, tetragonal, hexagonal, orthorhombic) the share of the lines
its best cell indexes and de Wolff's M of that cell, then the best family's crystal system, centring and
zero shift, whether it is confident, and the number of lines. A family with no cell, or a pattern with
too few peaks, gives NaN (scikit-learn's trees route missing values). Indexing costs ~0.15 s a pattern
on one core, so ``indexing_features`` spreads the patterns over worker processes.
"""

from __future__ import annotations

import hashlib
import struct
from collections import OrderedDict

import numpy as np

from xrdnet.features import FeatureSpec
from xrdnet.indexing.evidence import index_measured_peaks, is_confident
from xrdnet.symmetry import CRYSTAL_SYSTEMS

FAMILY_ORDER = ("cubic", "tetragonal", "hexagonal", "orthorhombic")
CENTRING_CODES = {"P": 0, "A": 1, "B": 1, "C": 1, "I": 2, "F": 3, "R": 4}
"""Centring as a number a tree can split on: primitive, one-face, body, all-face, rhombohedral."""
CENTRING_NAMES = ("P", "A/B/C", "I", "F", "R")
"""The names of the codes of ``CENTRING_CODES``, in code order."""


def indexing_feature_specs() -> list[FeatureSpec]:
    """The columns of ``indexing_features``, in order."""
    specs = []
    for family in FAMILY_ORDER:
        specs.append(FeatureSpec(f"{family}_indexed_share", "1",
                                 f"share of the lines indexed by the best {family} cell", f"f({family})"))
        specs.append(FeatureSpec(f"{family}_m20", "1", f"de Wolff's M of the best {family} cell", f"M({family})"))
    specs += [
        FeatureSpec("best_cell_system", "1", "crystal system of the best cell (index 0-6; trigonal: an R cell)",
                    "best cell's system", categories=CRYSTAL_SYSTEMS),
        FeatureSpec("best_cell_centring", "1", "centring of the best cell (0 P, 1 A/B/C, 2 I, 3 F, 4 R)",
                    "best cell's centring", categories=CENTRING_NAMES),
        FeatureSpec("best_cell_zero_shift_deg", "deg", "zero shift fitted with the best cell", "zero shift"),
        FeatureSpec("best_cell_confident", "1", "1 when the best cell's M and indexed share are confident",
                    "confident cell", categories=("no", "yes")),
        FeatureSpec("indexing_lines", "count", "lines the search used (at most 20)", "indexed lines"),
    ]
    return specs


def features_of_peaks(two_theta_deg: np.ndarray, heights: np.ndarray, wavelength_angstrom: float) -> np.ndarray:
    """``[F]`` float32 indexing features of one pattern's peaks (positions in 2θ at λ, their heights)."""
    out = np.full(len(FAMILY_ORDER) * 2 + 5, np.nan, dtype=np.float32)
    if len(two_theta_deg) < 4:
        out[-1] = float(len(two_theta_deg))
        return out
    result = index_measured_peaks(np.asarray(two_theta_deg, np.float64), np.asarray(heights, np.float64),
                                  float(wavelength_angstrom))
    n_lines = 0
    for i, family in enumerate(FAMILY_ORDER):
        cell = result.cells.get(family)
        if cell is not None:
            out[2 * i], out[2 * i + 1] = cell.indexed_fraction, cell.figure_of_merit
            n_lines = max(n_lines, cell.n_lines)
    best = result.best
    j = 2 * len(FAMILY_ORDER)
    if best is not None:
        out[j] = CRYSTAL_SYSTEMS.index(best.crystal_system)
        out[j + 1] = CENTRING_CODES.get(best.centring, np.nan)
        out[j + 2] = best.zero_shift_deg
        out[j + 3] = float(is_confident(best))
    out[j + 4] = float(n_lines)
    return out


WORKER_CHUNK = 16
"""Rows handed to a worker process at a time; fewer rows than one chunk per worker means fewer workers."""


_RECENT_ROWS = 8192
"""Rows whose features this process remembers (a 16-byte key and 13 numbers each): ``predict`` asks for a
pattern's features twice (the pooled forest, then the surrogate rule) and ``xrdnet rules --answers predict``
a block's, and indexing is the slow part of both. Keyed on the row's bytes, the grid and λ."""
_recent: "OrderedDict[bytes, np.ndarray]" = OrderedDict()


def forget_recent_rows() -> None:
    """Empty this process's memory of recently indexed rows (benchmarks time a pattern's first visit)."""
    _recent.clear()


def _row_key(row: np.ndarray, grid_key: bytes) -> bytes:
    return hashlib.blake2b(np.ascontiguousarray(row, np.float64).tobytes() + grid_key, digest_size=16).digest()


def _features_of_row(args) -> np.ndarray:
    from xrdnet.signal import peak_measurements

    row, grid, wavelength_angstrom = args
    tt, heights, _ = peak_measurements(np.asarray(row, np.float64), grid)
    return features_of_peaks(tt, heights, wavelength_angstrom)


def indexing_features(patterns: np.ndarray, two_theta_deg: np.ndarray, wavelength_angstrom: float,
                      n_jobs: int = 1, progress: bool = False) -> np.ndarray:
    """``[P, F]`` float32 indexing features of ``patterns [P, G]`` (max = 1) on ``two_theta_deg [G]`` at λ.

    ``n_jobs`` worker processes (forked; 1 = in this process); ``progress`` shows a bar. Rows indexed
    recently in this process (``_RECENT_ROWS``) are not indexed again.
    """
    patterns = np.asarray(patterns)
    if patterns.ndim != 2:
        raise ValueError(f"patterns must be [P, G], got shape {patterns.shape}")
    grid = np.asarray(two_theta_deg, np.float64)
    if patterns.shape[1] != len(grid):
        raise ValueError(f"patterns have {patterns.shape[1]} points, the grid {len(grid)}")
    if len(patterns) == 0:
        return np.zeros((0, len(indexing_feature_specs())), np.float32)
    grid_key = grid.tobytes() + struct.pack("<d", float(wavelength_angstrom))
    keys = [_row_key(row, grid_key) for row in patterns]
    known = {k: _recent[k] for k in keys if k in _recent}
    todo, queued = [], set()
    for i, k in enumerate(keys):
        if k not in known and k not in queued:  # a repeated row is indexed once
            queued.add(k)
            todo.append(i)
    jobs = ((patterns[i], grid, float(wavelength_angstrom)) for i in todo)
    # a worker pays for its fork only with a chunk of rows to do: one pattern (predict) stays in this process
    n_jobs = max(1, min(int(n_jobs), -(-len(todo) // WORKER_CHUNK)))
    if n_jobs == 1:
        rows = map(_features_of_row, jobs)
        pool = None
    else:
        import multiprocessing as mp

        pool = mp.get_context("fork").Pool(n_jobs)
        rows = pool.imap(_features_of_row, jobs, chunksize=WORKER_CHUNK)
    if progress:
        from tqdm import tqdm

        rows = tqdm(rows, total=len(todo), desc="indexing features", unit="pattern")
    try:
        for i, features in zip(todo, rows):
            known[keys[i]] = features
            _recent[keys[i]] = features
            if len(_recent) > _RECENT_ROWS:
                _recent.popitem(last=False)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    for k in known:
        if k in _recent:
            _recent.move_to_end(k)
    return np.stack([known[k] for k in keys]).astype(np.float32)
