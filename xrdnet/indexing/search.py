"""Index a powder pattern's strongest lines: the best cell of each lattice family, with its evidence.

What a crystallographer does before trusting a symmetry, done by exhaustive trial in the manner of
TREOR and ITO (Werner et al., J. Appl. Cryst. 18, 367, 1985):

1. **Lines**: the ``n_lines`` lowest-angle peaks (or the strongest), as 1/d² (Å⁻²). Each gets a tolerance in
   1/d² from the tolerance in 2θ: d(1/d²)/d(2θ) = 2 sin(2θ) / λ² per radian, so a fixed angular
   error weighs less at low angle, where 1/d² is small.
2. **Trial cells**: for each family (``xrdnet.indexing.families``) with n parameters, every choice of n
   of the first ``n_seed_lines`` lines, given every choice of n distinct low-index reflections, fixes
   the parameters p by one linear solve. Positive, distinct p survive.
3. **Fast test**: each trial cell indexes each line when some reflection lies within
   ``FAST_TOLERANCE_FACTOR`` tolerances (loose: no zero shift is fitted yet); the best
   ``n_refine`` by a figure-of-merit estimate go on.
4. **Refinement**: the lines are matched to the cell's reflections and p and the zero shift z of the
   diffractometer are fitted together by weighted least squares. z enters linearly as well:
   2θ_true = 2θ_obs − z, so 1/d²_obs ≈ x(hkl)·p + (2 sin 2θ / λ²)·z.
5. **Evidence**: the indexed share of the lines, the centring (the most restrictive lattice centring
   that the indexed reflections obey), and de Wolff's figure of merit (J. Appl. Cryst. 1, 108, 1968)
   M = Q_N / (2 ε̄ N_calc): Q_N the 1/d² of the last indexed line, ε̄ the mean |Δ(1/d²)|, N_calc
   the distinct lines the centred cell allows up to Q_N. On 20 lines this is M20; M20 > 10 with
   every line indexed is the classical mark of a right cell, and M falls for a too-large cell
   (N_calc grows) as for a wrong one (ε̄ grows).

Every family reports its best cell; the best family is the one with the highest score
M·f^``SHARE_POWER`` (f the indexed share: an unindexed strong line counts heavily against a cell),
preferring higher symmetry within ``SYMMETRY_PREFERENCE`` of the best, because a cell of lower
symmetry always fits at least as well.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import asdict, dataclass, field

import numpy as np

from xrdnet.indexing.families import ALL_FAMILIES, CENTRING_CONDITIONS, FAMILIES, Family

FAST_TOLERANCE_FACTOR = 3.0
"""The fast test accepts a line within this many tolerances: trial cells come from unrefined lines
with an unfitted zero shift, so the right cell is still a little off."""

FAST_VOLUME_POWER = 0.5
"""Exponent of the cell volume in the fast ranking (``_fast_rank``)."""

REFINE_TOLERANCE_FACTORS = (2.5, 1.5, 1.0)
"""Match windows, in tolerances, of the successive refinement rounds: wide first, then the final one."""

SHARE_POWER = 4
"""Exponent of the indexed share in the ranking score M·f^k: with k = 4 a cell that leaves 2 of 20
strong lines unindexed needs a 1.5× higher M to beat one that indexes them all."""

SYMMETRY_PREFERENCE = 0.7
"""The best family is the most symmetric one whose score is at least this share of the top score: a
lower-symmetry cell reproduces a higher-symmetry one (a tetragonal cell with c ≈ a indexes a cubic
pattern) and scores about as high, never reliably higher."""

EPSILON_FLOOR = 0.2
"""Floor on the mean line discrepancy ε̄ of M, as a share of the lines' mean tolerance. Below it a
smaller discrepancy says nothing about the cell (the positions are not known that well), and a cell
of more parameters than a few lines can support would win by fitting them exactly: with the floor,
such cells compete on their line density alone, which favours the more symmetric one."""

MAX_CELL_VOLUME_ANGSTROM3 = 4000.0
"""Trial cells larger than this are dropped: 20 lines cannot support them (their line density indexes
any pattern), and no family here needs them for the minerals and compounds this tool sees."""

MIN_AXIS_ANGSTROM = 2.0
"""Trial cells with an axis shorter than this are dropped: no crystal has one (bond lengths)."""


LINE_SELECTIONS = ("strongest", "first")


@dataclass(frozen=True)
class IndexingConfig:
    """Settings of the search (see the module docstring for each step).

    Attributes:
        n_lines: peaks used (de Wolff's M20 is defined on 20).
        line_selection: ``strongest`` (the n_lines strongest) or ``first`` (the n_lines lowest-angle
            ones), among peaks of at least ``min_relative_intensity`` of the strongest.
        tolerance_two_theta_deg: angular tolerance of a line after the zero shift is fitted.
        max_zero_shift_deg: largest zero shift fitted; a bigger one is held at this bound.
        n_seed_lines: lowest-angle lines that trial cells are built from, per number of parameters.
        n_refine: trial cells refined per family.
        min_lines: fewer lines than this index nothing.
    """

    n_lines: int = 20
    line_selection: str = "first"
    min_relative_intensity: float = 0.0
    tolerance_two_theta_deg: float = 0.05
    max_zero_shift_deg: float = 0.3
    n_seed_lines: tuple[int, int, int, int] = (4, 6, 5, 5)
    n_refine: int = 6
    min_lines: int = 4

    def __post_init__(self) -> None:
        if self.n_lines < self.min_lines or self.min_lines < 4:
            raise ValueError(f"indexing needs n_lines >= min_lines >= 4, got {self.n_lines}, {self.min_lines}")
        if self.line_selection not in LINE_SELECTIONS:
            raise ValueError(f"line_selection must be one of {LINE_SELECTIONS}, got {self.line_selection!r}")
        if not self.tolerance_two_theta_deg > 0:
            raise ValueError("tolerance_two_theta_deg must be positive")
        most = max(f.n_params for f in ALL_FAMILIES.values())
        if len(self.n_seed_lines) < most or any(int(n) < k + 1 for k, n in enumerate(self.n_seed_lines)):
            raise ValueError(f"n_seed_lines needs an entry for 1..{most} parameters, each at least the number of "
                             f"parameters, got {self.n_seed_lines}")


@dataclass(frozen=True)
class Cell:
    """The best cell of one lattice family for one pattern.

    Attributes:
        family: ``cubic``, ``tetragonal``, ``hexagonal``, ``orthorhombic``, ``monoclinic``.
        centring: lattice centring letter (P, I, F, C, A, B, R) the indexed reflections obey.
        a, b, c: axes in Å; alpha, beta, gamma: angles in degrees.
        volume_angstrom3: cell volume.
        figure_of_merit: de Wolff's M on the indexed lines (M20 for 20 lines).
        indexed_fraction: share of the lines indexed within the tolerance.
        n_lines: lines the search used.
        zero_shift_deg: fitted zero shift (2θ_true = 2θ_obs − zero_shift).
        score: the ranking score M'·f^``SHARE_POWER``, where M' is M with ε̄ scaled by
            n / (n − k) for n indexed lines and k fitted parameters (zero shift included): with few
            lines a family of more parameters otherwise wins by fitting the noise.
        hkl: ``[n_lines]`` index of each line (by 2θ), ``None`` where unindexed.
    """

    family: str
    centring: str
    a: float
    b: float
    c: float
    alpha: float
    beta: float
    gamma: float
    volume_angstrom3: float
    figure_of_merit: float
    indexed_fraction: float
    n_lines: int
    zero_shift_deg: float
    score: float = 0.0
    hkl: tuple = field(default=(), repr=False)

    @property
    def crystal_system(self) -> str:
        """The crystal system this cell stands for: a rhombohedral centring makes a hexagonal cell trigonal."""
        if self.family == "hexagonal":
            return "trigonal" if self.centring == "R" else "hexagonal"
        return self.family

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("hkl")
        d.pop("score")
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in d.items()}


@dataclass(frozen=True)
class IndexingResult:
    """Per family its best cell (``None`` where no trial cell survived), and the best family's cell."""

    cells: dict
    best: Cell | None

    def to_dict(self) -> dict:
        return {"best": None if self.best is None else self.best.to_dict(),
                "cells": {k: None if v is None else v.to_dict() for k, v in self.cells.items()}}


@dataclass
class _Lines:
    """The lines under test. All arrays ``[P]``, ascending in 2θ."""

    two_theta_deg: np.ndarray
    inv_d2: np.ndarray  # 1/d², Å⁻²
    slope: np.ndarray  # d(1/d²)/d(2θ) in Å⁻² per degree
    tolerance: np.ndarray  # Å⁻², the angular tolerance carried to 1/d²


def select_lines(two_theta_deg, intensity, wavelength_angstrom: float, config: IndexingConfig) -> _Lines:
    """The ``config.n_lines`` strongest finite peaks, sorted by position, with their tolerances."""
    tt = np.asarray(two_theta_deg, dtype=np.float64).ravel()
    inten = np.asarray(intensity, dtype=np.float64).ravel()
    if tt.shape != inten.shape:
        raise ValueError(f"two_theta_deg and intensity differ in length: {tt.shape} vs {inten.shape}")
    ok = np.isfinite(tt) & np.isfinite(inten) & (tt > 0) & (tt < 180)
    tt, inten = tt[ok], inten[ok]
    if len(tt):
        strong = inten >= config.min_relative_intensity * inten.max()
        tt, inten = tt[strong], inten[strong]
    if config.line_selection == "strongest":
        chosen = np.argsort(-inten, kind="stable")[: config.n_lines]
    else:
        chosen = np.argsort(tt, kind="stable")[: config.n_lines]
    tt = np.sort(tt[chosen])
    lam = float(wavelength_angstrom)
    theta = np.deg2rad(tt) / 2.0
    inv_d2 = (2.0 * np.sin(theta) / lam) ** 2
    slope = 2.0 * np.sin(2.0 * theta) / lam ** 2 * (np.pi / 180.0)
    return _Lines(tt, inv_d2, slope, slope * config.tolerance_two_theta_deg)


def drop_kalpha2_lines(two_theta_deg, intensity, kalpha1_angstrom: float, kalpha2_angstrom: float,
                       tolerance_two_theta_deg: float = 0.05, max_ratio: float = 0.8):
    """Peaks that are the Kα2 partner of a stronger peak removed: ``(two_theta_deg, intensity)``.

    A resolved Kα2 line sits at 2θ₂ = 2 arcsin((λ₂/λ₁) sin θ₁) at about half the Kα1 intensity. It
    is not a reflection of its own and would look like an impurity line to the indexer.
    """
    tt = np.asarray(two_theta_deg, dtype=np.float64)
    inten = np.asarray(intensity, dtype=np.float64)
    sin2 = np.sin(np.deg2rad(tt) / 2.0) * kalpha2_angstrom / kalpha1_angstrom
    partner = np.where(sin2 < 1, 2.0 * np.rad2deg(np.arcsin(np.clip(sin2, 0, 1))), np.nan)  # [P]
    near = np.abs(tt[None, :] - partner[:, None]) <= tolerance_two_theta_deg  # [i, j]: j at i's Kα2
    weaker = inten[None, :] <= max_ratio * inten[:, None]
    drop = (near & weaker).any(axis=0)
    return tt[~drop], inten[~drop]


def _seed_assignments(family: Family) -> np.ndarray:
    """``[H, n]`` rows of ``family.seed_hkl`` that the first lines of a trial cell are assumed to be."""
    n = family.n_params
    sets = np.array(list(itertools.permutations(range(len(family.seed_hkl)), n)))  # [H, n]
    if not family.symmetric_params:
        return sets
    # Permuting the axes permutes p: keep one assignment of each class under axis permutations.
    seen, keep = set(), []
    for i, rows in enumerate(sets):
        hkl = family.seed_hkl[rows]  # [n, 3]
        key = min(tuple(hkl[:, list(axes)].ravel()) for axes in itertools.permutations(range(3)))
        if key not in seen:
            seen.add(key)
            keep.append(i)
    return sets[keep]


@functools.lru_cache(maxsize=None)
def _seed_inverses(family: Family) -> np.ndarray:
    """``[H, n, n]`` inverses of the design matrices of the family's non-singular seed assignments:
    they depend on the family alone, so they are inverted once."""
    x = family.design(family.seed_hkl)[_seed_assignments(family)]  # [H, n, n]
    return np.linalg.inv(x[np.abs(np.linalg.det(x)) > 1e-9])


def _trial_params(family: Family, lines: _Lines, n_seed_lines: int) -> np.ndarray:
    """``[C, n]`` parameters of every trial cell (step 2), deduplicated and physically sensible."""
    n = family.n_params
    seeds = range(min(n_seed_lines, len(lines.inv_d2)))
    line_sets = np.array(list(itertools.combinations(seeds, n)))  # [L, n]
    y = lines.inv_d2[line_sets]  # [L, n]
    params = np.einsum("hij,lj->lhi", _seed_inverses(family), y).reshape(-1, n)  # [L·H, n]
    params = params[(params > 0).all(axis=1)]
    params = params[family.plausible(params)]
    if len(params) == 0:
        return params
    vol = family.volume_angstrom3(params)
    axes_ok = (params <= 1.0 / MIN_AXIS_ANGSTROM ** 2).all(axis=1)
    params = family.canonical(params[(vol <= MAX_CELL_VOLUME_ANGSTROM3) & axes_ok])
    key = np.sort(params, axis=1) if family.symmetric_params else params
    _, first = np.unique(np.round(np.log(key), 3), axis=0, return_index=True)
    return params[np.sort(first)]


def _fast_rank(family: Family, params: np.ndarray, lines: _Lines, n_keep: int) -> np.ndarray:
    """Indices of the ``n_keep`` most promising trial cells (step 3). A family with many trial cells
    (``family.prescreen``: (lines, cells kept)) first keeps the cells that do best on its first lines."""
    if family.prescreen is not None and len(params) > family.prescreen[1]:
        n_lines, n_cells = family.prescreen
        first = _Lines(*(v[:n_lines] for v in (lines.two_theta_deg, lines.inv_d2, lines.slope, lines.tolerance)))
        kept = _fast_rank_all(family, params, first, n_cells)
        return kept[_fast_rank_all(family, params[kept], lines, n_keep)]
    return _fast_rank_all(family, params, lines, n_keep)


def _fast_rank_all(family: Family, params: np.ndarray, lines: _Lines, n_keep: int) -> np.ndarray:
    dev = family.deviation(params, lines.inv_d2) / lines.tolerance  # [C, P], in tolerances
    hit = dev <= FAST_TOLERANCE_FACTOR
    share = hit.mean(axis=1)
    eps = np.where(hit, dev, 0).sum(axis=1) / np.maximum(hit.sum(axis=1), 1)
    # M is inversely proportional to the line count, which grows with the cell volume; but the
    # fast test knows no centring (a centred cell has 2-4x fewer lines than its volume says) and
    # no extinctions, so the volume is given a weaker say than in M itself.
    volume = family.volume_angstrom3(params)
    estimate = share ** SHARE_POWER / (volume ** FAST_VOLUME_POWER * np.maximum(eps, 0.3))
    return np.argsort(-estimate, kind="stable")[:n_keep]


def _distinct_lines(family: Family, params: np.ndarray, inv_d2_max: float, resolution: float):
    """The cell's reflections up to ``inv_d2_max``: (hkl ``[R, 3]``, line ``[R]`` group of each, line
    positions ``[N]`` ascending). Reflections closer than ``resolution`` (Å⁻²) form one line."""
    hkl = family.hkl_box(params, inv_d2_max)
    if len(hkl) == 0:
        return hkl, np.zeros(0, dtype=np.int64), np.zeros(0)
    q = family.design(hkl) @ params
    order = np.argsort(q, kind="stable")
    hkl, q = hkl[order], q[order]
    line = np.concatenate([[0], np.cumsum(np.diff(q) > resolution)])
    positions = np.bincount(line, weights=q) / np.bincount(line)
    return hkl, line, positions


def _match(positions: np.ndarray, inv_d2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest calculated line of each observed one: (index ``[P]``, |Δ(1/d²)| ``[P]``)."""
    if len(positions) == 0:
        return np.zeros(len(inv_d2), dtype=np.int64), np.full(len(inv_d2), np.inf)
    right = np.clip(np.searchsorted(positions, inv_d2), 0, len(positions) - 1)
    left = np.clip(right - 1, 0, len(positions) - 1)
    pick = np.where(np.abs(positions[left] - inv_d2) <= np.abs(positions[right] - inv_d2), left, right)
    return pick, np.abs(positions[pick] - inv_d2)


def _refine(family: Family, params: np.ndarray, lines: _Lines, config: IndexingConfig):
    """Least-squares p and zero shift from the lines the cell indexes (step 4): (params, zero_deg, k)
    with k the number of parameters fitted (the zero shift counts when it was fitted)."""
    zero, n_fitted = 0.0, family.n_params
    inv_d2_max = lines.inv_d2.max() * 1.05
    for factor in REFINE_TOLERANCE_FACTORS:
        hkl = family.hkl_box(params, inv_d2_max)
        if len(hkl) == 0:
            break
        q_calc = family.design(hkl) @ params
        corrected = lines.inv_d2 - lines.slope * zero
        nearest = np.abs(corrected[:, None] - q_calc[None, :]).argmin(axis=1)  # [P]
        dev = np.abs(corrected - q_calc[nearest])
        use = dev <= factor * lines.tolerance
        if use.sum() < family.n_params + 1:
            break
        x = family.design(hkl[nearest[use]])  # [U, n]
        w = 1.0 / lines.slope[use]  # residuals in degrees of 2θ
        fit_zero = use.sum() >= family.n_params + 3
        a = np.hstack([x, lines.slope[use, None]]) if fit_zero else x
        sol, *_ = np.linalg.lstsq(a * w[:, None], lines.inv_d2[use] * w, rcond=None)
        new_zero = float(sol[-1]) if fit_zero else 0.0
        if abs(new_zero) > config.max_zero_shift_deg:
            new_zero = math.copysign(config.max_zero_shift_deg, new_zero)
            sol, *_ = np.linalg.lstsq(x * w[:, None], (lines.inv_d2[use] - lines.slope[use] * new_zero) * w,
                                      rcond=None)
        new_params = sol[: family.n_params]
        if not (new_params > 0).all() or not family.plausible(new_params[None])[0]:
            break
        params, zero, n_fitted = new_params, new_zero, family.n_params + int(fit_zero)
    return params, zero, n_fitted


def _evaluate(family: Family, params: np.ndarray, zero: float, n_fitted: int, lines: _Lines) -> Cell | None:
    """The evidence of one refined cell (step 5)."""
    corrected = lines.inv_d2 - lines.slope * zero
    resolution = 0.2 * float(lines.tolerance.min())
    hkl, line_of, positions = _distinct_lines(family, params, corrected.max() * 1.02, resolution)
    if len(positions) == 0:
        return None
    pick, dev = _match(positions, corrected)
    indexed = dev <= lines.tolerance
    if indexed.sum() < family.n_params + 1:
        return None
    # the centring: the most restrictive one under which every indexed line keeps a reflection
    used = np.unique(pick[indexed])
    best_centring, best_allowed = "P", np.ones(len(positions), dtype=bool)
    for letter in family.centrings:
        allowed = np.bincount(line_of, weights=CENTRING_CONDITIONS[letter](hkl), minlength=len(positions)) > 0
        if allowed[used].all() and allowed.sum() < best_allowed.sum():
            best_centring, best_allowed = letter, allowed
    q_last = corrected[indexed].max()
    n_calc = int((best_allowed & (positions <= q_last + lines.tolerance.max())).sum())
    eps = max(float(dev[indexed].mean()), EPSILON_FLOOR * float(lines.tolerance[indexed].mean()))
    merit = q_last / (2.0 * eps * max(n_calc, 1))
    n_indexed = int(indexed.sum())
    score = merit * (n_indexed - n_fitted) / n_indexed * float(indexed.mean()) ** SHARE_POWER if n_indexed > n_fitted else 0.0
    axes, centring = family.standard_axes(params, best_centring)
    labels = []
    for i in range(len(corrected)):
        if not indexed[i]:
            labels.append(None)
            continue
        members = np.flatnonzero((line_of == pick[i]) & CENTRING_CONDITIONS[best_centring](hkl))
        labels.append(tuple(int(hkl[members[0]][j]) for j in axes) if len(members) else None)
    if family.symmetric_params:
        params = params[axes]
    a, b, c, alpha, beta, gamma = family.cell(params)
    return Cell(family=family.name, centring=centring, a=a, b=b, c=c, alpha=alpha, beta=beta,
                gamma=gamma, volume_angstrom3=float(family.volume_angstrom3(params[None])[0]),
                figure_of_merit=float(merit), indexed_fraction=float(indexed.mean()),
                n_lines=len(corrected), zero_shift_deg=float(zero), score=float(score), hkl=tuple(labels))


def index_family(family: Family, lines: _Lines, config: IndexingConfig) -> Cell | None:
    """The best cell of one family for ``lines``, or ``None`` when no trial cell survives."""
    params = _trial_params(family, lines, config.n_seed_lines[family.n_params - 1])
    if len(params) == 0:
        return None
    best = None
    for i in _fast_rank(family, params, lines, config.n_refine):
        refined, zero, n_fitted = _refine(family, params[i], lines, config)
        cell = _evaluate(family, refined, zero, n_fitted, lines)
        if cell is not None and (best is None or cell.score > best.score):
            best = cell
    return best


def choose_family(cells: dict) -> Cell | None:
    """The most symmetric family within ``SYMMETRY_PREFERENCE`` of the top score (``ALL_FAMILIES`` order)."""
    found = [cells[name] for name in ALL_FAMILIES if cells.get(name) is not None]
    if not found:
        return None
    top = max(cell.score for cell in found)
    return next(cell for cell in found if cell.score >= SYMMETRY_PREFERENCE * top)


def index_peaks(two_theta_deg, intensity, wavelength_angstrom: float,
                config: IndexingConfig = IndexingConfig(), families=None) -> IndexingResult:
    """Index peak positions ``two_theta_deg [P]`` (intensities ``[P]``, measured at λ in Å).

    Returns the best cell of each family in ``families`` (default: all of ``FAMILIES``; any of
    ``ALL_FAMILIES`` by name) and the
    best family's cell; every cell is ``None`` when fewer than ``config.min_lines`` lines are given.
    """
    names = list(FAMILIES) if families is None else list(families)
    unknown = [n for n in names if n not in ALL_FAMILIES]
    if unknown:
        raise ValueError(f"unknown lattice families {unknown}; known: {sorted(ALL_FAMILIES)}")
    lines = select_lines(two_theta_deg, intensity, wavelength_angstrom, config)
    if len(lines.inv_d2) < config.min_lines:
        return IndexingResult({n: None for n in names}, None)
    cells = {n: index_family(ALL_FAMILIES[n], lines, config) for n in names}
    return IndexingResult(cells, choose_family(cells))
