"""Lattice families for indexing: 1/d² as a linear function of a few metric parameters.

For every lattice the squared reciprocal spacing of reflection hkl is a quadratic form in h, k, l,

    1/d²(hkl) = h² a*² + k² b*² + l² c*² + 2hk a*·b* + 2hl a*·c* + 2kl b*·c*,

and each family of higher symmetry pins most of its six coefficients, leaving a form that is
*linear* in one to three parameters p (Å⁻²):

| family | 1/d² | p |
|---|---|---|
| cubic | (h² + k² + l²) p₀ | 1/a² |
| tetragonal | (h² + k²) p₀ + l² p₁ | 1/a², 1/c² |
| hexagonal (trigonal in hexagonal axes) | (h² + hk + k²) p₀ + l² p₁ | 4/(3a²), 1/c² |
| orthorhombic | h² p₀ + k² p₁ + l² p₂ | 1/a², 1/b², 1/c² |

Linearity is what makes indexing cheap: n lines with assumed indices fix p by one linear solve
(``Family.design`` gives the rows), and a zero shift of the diffractometer enters linearly too
(``xrdnet.indexing.search``). A family is one subclass of ``Family`` registered in ``FAMILIES``.

Lattice centrings are tested on the indices a cell assigns: each centring letter is a condition on
hkl (``CENTRING_CONDITIONS``, International Tables Vol. A, Table 2.2.13.1), and a cell's centring is
the most restrictive one that every indexed line obeys.
"""

from __future__ import annotations

import itertools
import math
from typing import Callable

import numpy as np

CENTRING_CONDITIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    # hkl [R, 3] int -> [R] bool: reflections the centring allows.
    "P": lambda hkl: np.ones(len(hkl), dtype=bool),
    "I": lambda hkl: hkl.sum(axis=1) % 2 == 0,
    "F": lambda hkl: (hkl % 2 == hkl[:, :1] % 2).all(axis=1),
    "C": lambda hkl: (hkl[:, 0] + hkl[:, 1]) % 2 == 0,
    "A": lambda hkl: (hkl[:, 1] + hkl[:, 2]) % 2 == 0,
    "B": lambda hkl: (hkl[:, 0] + hkl[:, 2]) % 2 == 0,
    # Rhombohedral lattice in hexagonal axes, obverse setting. The reverse setting (h - k + l = 3n)
    # gives the same set of 1/d² values (swap h and k), so the lines cannot tell them apart.
    "R": lambda hkl: (-hkl[:, 0] + hkl[:, 1] + hkl[:, 2]) % 3 == 0,
}

MAX_INDEX = 40
"""No index beyond this is enumerated: a cell that needs it is far larger than any an indexing of
20 lines can support (its line density would index anything)."""


def _squares_sums(n_terms: int, limit: int) -> np.ndarray:
    """``[limit + 1]`` bool: which integers 0..limit are sums of ``n_terms`` squares."""
    top = int(math.isqrt(limit)) + 1
    values = {sum(t * t for t in combo) for combo in itertools.product(range(top), repeat=n_terms)}
    allowed = np.zeros(limit + 1, dtype=bool)
    allowed[[v for v in values if v <= limit]] = True
    return allowed


def _loeschian(limit: int) -> np.ndarray:
    """``[limit + 1]`` bool: which integers are h² + hk + k² (h, k ≥ 0): 0, 1, 3, 4, 7, 9, 12, 13, ..."""
    top = int(math.isqrt(limit)) + 1
    values = {h * h + h * k + k * k for h in range(top) for k in range(top)}
    allowed = np.zeros(limit + 1, dtype=bool)
    allowed[[v for v in values if v <= limit]] = True
    return allowed


class Family:
    """A lattice family whose 1/d² is linear in ``n_params`` metric parameters (see module docstring).

    Subclasses set the class attributes and implement ``design``, ``cell`` and ``deviation``.

    Attributes:
        name: ``cubic``, ``tetragonal``, ``hexagonal``, ``orthorhombic``.
        crystal_systems: the crystal systems a cell of this family stands for.
        n_params: length of p.
        centrings: the lattice centrings that are distinct in this family, most general first.
        seed_hkl: ``[F, 3]`` low-index reflections that candidate cells assume the first lines to be.
        symmetric_params: True when permuting p (with the indices) gives the same lattice, so
            candidates are deduplicated on sorted p.
        prescreen: (lines, cells) for a family with many trial cells: the fast test first ranks them on
            their first ``lines`` lines and keeps ``cells`` of them (``None``: every cell is tested on all).
    """

    name: str = ""
    crystal_systems: tuple[str, ...] = ()
    n_params: int = 0
    centrings: tuple[str, ...] = ("P",)
    seed_hkl: np.ndarray = np.zeros((0, 3), dtype=np.int64)
    symmetric_params: bool = False
    prescreen: tuple[int, int] | None = None

    def design(self, hkl: np.ndarray) -> np.ndarray:
        """``[R, n_params]`` rows x(hkl) with 1/d² = x · p."""
        raise NotImplementedError

    def cell(self, params: np.ndarray) -> tuple[float, float, float, float, float, float]:
        """(a, b, c in Å, α, β, γ in degrees) of parameters ``params [n_params]``."""
        raise NotImplementedError

    def deviation(self, params: np.ndarray, inv_d2: np.ndarray) -> np.ndarray:
        """``[C, P]`` distance in 1/d² (Å⁻²) from each line ``inv_d2 [P]`` to the nearest reflection of
        each primitive candidate cell ``params [C, n_params]``: the fast test every candidate gets."""
        raise NotImplementedError

    def volume_angstrom3(self, params: np.ndarray) -> np.ndarray:
        """``[C]`` cell volume of ``params [C, n_params]``."""
        raise NotImplementedError

    def plausible(self, params: np.ndarray) -> np.ndarray:
        """``[C]`` bool: trial cells ``params [C, n_params]`` that are a lattice at all (all here)."""
        return np.ones(len(params), dtype=bool)

    def canonical(self, params: np.ndarray) -> np.ndarray:
        """``[C, n_params]`` the trial cells in the setting the search keeps (default: as solved; families with
        ``symmetric_params`` are deduplicated on sorted p by the search itself)."""
        return params

    def hkl_box(self, params: np.ndarray, inv_d2_max: float) -> np.ndarray:
        """``[R, 3]`` every reflection of one half of reciprocal space with 1/d² ≤ ``inv_d2_max``."""
        limits = self._index_limits(params, inv_d2_max)
        h = np.arange(-limits[0], limits[0] + 1)
        k = np.arange(-limits[1], limits[1] + 1)
        l = np.arange(0, limits[2] + 1)
        hkl = np.stack(np.meshgrid(h, k, l, indexing="ij"), axis=-1).reshape(-1, 3)
        # one of each Friedel pair: l > 0, or l = 0 with k > 0, or l = k = 0 with h > 0
        keep = (hkl[:, 2] > 0) | ((hkl[:, 2] == 0) & ((hkl[:, 1] > 0) | ((hkl[:, 1] == 0) & (hkl[:, 0] > 0))))
        hkl = hkl[keep]
        inv_d2 = self.design(hkl) @ params
        return hkl[inv_d2 <= inv_d2_max * (1 + 1e-9)]

    def _index_limits(self, params: np.ndarray, inv_d2_max: float) -> tuple[int, int, int]:
        raise NotImplementedError

    def standard_axes(self, params: np.ndarray, centring: str) -> tuple[list[int], str]:
        """(order of the axes, centring letter) of the standard setting: identity unless a family's
        axes are interchangeable (``symmetric_params``)."""
        return [0, 1, 2], centring


def _limit(inv_d2_max: float, per_index: float) -> int:
    return int(min(MAX_INDEX, math.floor(math.sqrt(inv_d2_max / max(per_index, 1e-12)) + 1e-9)))


class _AllowedIntegers:
    """Distance from reals to the nearest member of a set of non-negative integers, by two lookups."""

    def __init__(self, allowed: np.ndarray):
        values = np.flatnonzero(allowed)
        n = np.arange(len(allowed) + 1)
        # largest member <= n and smallest member >= n (inf where none)
        self._below = np.concatenate([[-np.inf], values.astype(np.float64)])[np.searchsorted(values, n, side="right")]
        self._above = np.concatenate([values.astype(np.float64), [np.inf]])[np.searchsorted(values, n, side="left")]

    def distance(self, x: np.ndarray) -> np.ndarray:
        n0 = np.clip(np.floor(x), 0, len(self._below) - 2).astype(np.int64)
        return np.minimum(np.abs(x - self._below[n0]), np.abs(self._above[n0 + 1] - x))


class Cubic(Family):
    name = "cubic"
    crystal_systems = ("cubic",)
    n_params = 1
    centrings = ("P", "I", "F")
    # One reflection per h² + k² + l² up to 16: the first line of a P, I or F cell, or of a cell whose
    # first lines are systematically weak.
    seed_hkl = np.array([[1, 0, 0], [1, 1, 0], [1, 1, 1], [2, 0, 0], [2, 1, 0], [2, 1, 1], [2, 2, 0],
                         [3, 0, 0], [3, 1, 0], [3, 1, 1], [2, 2, 2], [3, 2, 0], [3, 2, 1], [4, 0, 0]])
    _ALLOWED = _AllowedIntegers(_squares_sums(3, 3 * MAX_INDEX ** 2))

    def design(self, hkl):
        return (hkl ** 2).sum(axis=1, keepdims=True).astype(np.float64)

    def cell(self, params):
        a = 1.0 / math.sqrt(params[0])
        return a, a, a, 90.0, 90.0, 90.0

    def volume_angstrom3(self, params):
        return params[:, 0] ** -1.5

    def deviation(self, params, inv_d2):
        p0 = params[:, :1]  # [C, 1]
        return self._ALLOWED.distance(inv_d2[None, :] / p0) * p0

    def _index_limits(self, params, inv_d2_max):
        n = _limit(inv_d2_max, params[0])
        return n, n, n


class _Uniaxial(Family):
    """Tetragonal and hexagonal: 1/d² = m(h, k) p₀ + l² p₁ with m an integer from a known set."""

    n_params = 2
    _ALLOWED_M: _AllowedIntegers
    MAX_L_FAST = 12  # the fast test looks at l = 0..12; longer c axes are checked in refinement

    def _m(self, hkl):
        raise NotImplementedError

    def design(self, hkl):
        return np.stack([self._m(hkl), hkl[:, 2] ** 2], axis=1).astype(np.float64)

    def deviation(self, params, inv_d2):
        p0, p1 = params[:, :1, None], params[:, 1:2, None]  # [C, 1, 1]
        l2 = (np.arange(self.MAX_L_FAST + 1) ** 2)[None, None, :]  # [1, 1, L]
        rest = inv_d2[None, :, None] - p1 * l2  # [C, P, L]
        dist = np.where(rest >= -p0 * 0.5, self._ALLOWED_M.distance(rest / p0) * p0, np.inf)
        return dist.min(axis=2)


class Tetragonal(_Uniaxial):
    name = "tetragonal"
    crystal_systems = ("tetragonal",)
    centrings = ("P", "I")
    seed_hkl = np.array([[1, 0, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1], [1, 1, 1], [2, 0, 0], [0, 0, 2],
                         [1, 0, 2], [2, 1, 0], [2, 1, 1], [1, 1, 2], [2, 0, 1], [0, 0, 3], [1, 0, 3]])
    _ALLOWED_M = _AllowedIntegers(_squares_sums(2, 2 * MAX_INDEX ** 2))

    def _m(self, hkl):
        return hkl[:, 0] ** 2 + hkl[:, 1] ** 2

    def cell(self, params):
        a, c = 1.0 / math.sqrt(params[0]), 1.0 / math.sqrt(params[1])
        return a, a, c, 90.0, 90.0, 90.0

    def volume_angstrom3(self, params):
        return 1.0 / (params[:, 0] * np.sqrt(params[:, 1]))

    def _index_limits(self, params, inv_d2_max):
        n = _limit(inv_d2_max, params[0])
        return n, n, _limit(inv_d2_max, params[1])


class Hexagonal(_Uniaxial):
    name = "hexagonal"
    crystal_systems = ("hexagonal", "trigonal")
    centrings = ("P", "R")
    seed_hkl = np.array([[1, 0, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1], [1, 1, 1], [2, 0, 0], [0, 0, 2],
                         [1, 0, 2], [2, 0, 1], [1, 1, 2], [0, 0, 3], [1, 0, 3], [0, 1, 2], [0, 0, 6],
                         [1, 0, 4], [1, 1, 3]])
    _ALLOWED_M = _AllowedIntegers(_loeschian(3 * MAX_INDEX ** 2))

    def _m(self, hkl):
        return hkl[:, 0] ** 2 + hkl[:, 0] * hkl[:, 1] + hkl[:, 1] ** 2

    def cell(self, params):
        a, c = math.sqrt(4.0 / (3.0 * params[0])), 1.0 / math.sqrt(params[1])
        return a, a, c, 90.0, 90.0, 120.0

    def volume_angstrom3(self, params):
        a2 = 4.0 / (3.0 * params[:, 0])
        return a2 * math.sqrt(3.0) / 2.0 / np.sqrt(params[:, 1])

    def _index_limits(self, params, inv_d2_max):
        # 1/d² ≥ (3/4)·h²·p₀ for any k, so |h|, |k| ≤ sqrt(4·max / (3·p₀))
        n = _limit(inv_d2_max, 0.75 * params[0])
        return n, n, _limit(inv_d2_max, params[1])


class Orthorhombic(Family):
    name = "orthorhombic"
    crystal_systems = ("orthorhombic",)
    n_params = 3
    centrings = ("P", "C", "A", "B", "I", "F")
    symmetric_params = True
    # every hkl with indices 0..2 and h + k + l <= 3, up to the order of the axes
    seed_hkl = np.array([hkl for hkl in itertools.product(range(3), repeat=3) if 0 < sum(hkl) <= 3])
    MAX_KL_FAST = 8  # indices looped over by the fast test on the two shorter reciprocal axes

    def design(self, hkl):
        return (hkl ** 2).astype(np.float64)

    def cell(self, params):
        a, b, c = (1.0 / math.sqrt(p) for p in params)
        return a, b, c, 90.0, 90.0, 90.0

    def volume_angstrom3(self, params):
        return 1.0 / np.sqrt(params.prod(axis=1))

    def deviation(self, params, inv_d2):
        # Solve for the index of the longest axis (smallest p) and loop over the other two, which
        # have the fewest indices below the largest 1/d².
        order = np.argsort(params, axis=1)
        p = np.take_along_axis(params, order, axis=1)[:, :, None, None]  # [C, 3, 1, 1], ascending
        k2 = (np.arange(self.MAX_KL_FAST + 1) ** 2)[None, None, :]  # [1, 1, K]
        best = np.full((len(params), len(inv_d2)), np.inf)
        for l in range(self.MAX_KL_FAST + 1):
            rest = inv_d2[None, :, None] - p[:, 1] * k2 - p[:, 2] * (l * l)  # [C, P, K]
            h = np.rint(np.sqrt(np.clip(rest / p[:, 0], 0.0, None)))
            best = np.minimum(best, np.abs(rest - p[:, 0] * h * h).min(axis=2))
        return best

    def _index_limits(self, params, inv_d2_max):
        return tuple(_limit(inv_d2_max, p) for p in params)

    # the axis perpendicular to the centred face, for one-face centrings
    _FACE_NORMAL = {"A": 0, "B": 1, "C": 2}

    def standard_axes(self, params, centring):
        """a < b < c for P, I and F cells (the search's axes have no order); a one-face centred cell
        is put in its C setting (International Tables): the centred face is ab, with a < b."""
        lengths = 1.0 / np.sqrt(np.asarray(params, dtype=np.float64))
        if centring not in self._FACE_NORMAL:
            return [int(i) for i in np.argsort(lengths, kind="stable")], centring
        normal = self._FACE_NORMAL[centring]
        face = sorted((i for i in range(3) if i != normal), key=lambda i: lengths[i])
        return [*face, normal], "C"


class Monoclinic(Family):
    """Monoclinic, b the unique axis: 1/d² = h² p₀ + k² p₁ + l² p₂ + hl p₃ with p₀ = a*², p₁ = b*²,
    p₂ = c*², p₃ = 2 a* c* cos β*. The sign of p₃ is that of the h axis, so p₃ > 0 is kept (β > 90°, the
    usual setting); a and c are interchangeable (h ↔ l), so candidates are deduplicated with p₀ ≤ p₂."""

    name = "monoclinic"
    crystal_systems = ("monoclinic",)
    n_params = 4
    centrings = ("P", "C", "A", "I")
    # the reflections with indices 0..1 (h of both signs where l ≠ 0) and the three axial 2nd orders
    seed_hkl = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [0, 1, 1], [1, 0, 1], [-1, 0, 1],
                         [1, 1, 1], [-1, 1, 1], [2, 0, 0], [0, 2, 0], [0, 0, 2]])
    MAX_COS_BETA_STAR = 0.6
    """β* ≥ 53°, β ≤ 127°: the reduced monoclinic cell has β within 90-120°, and a wider limit only
    admits oblique cells that index anything."""
    MAX_KL_FAST = 4  # k and l looped over by the fast test; h is solved for
    prescreen = (10, 400)  # thousands of trial cells: the first 10 lines thin them out

    def design(self, hkl):
        return np.stack([hkl[:, 0] ** 2, hkl[:, 1] ** 2, hkl[:, 2] ** 2, hkl[:, 0] * hkl[:, 2]], axis=1).astype(np.float64)

    def _cos_beta_star(self, params):
        params = np.atleast_2d(params)
        return params[:, 3] / (2.0 * np.sqrt(params[:, 0] * params[:, 2]))

    def plausible(self, params):
        return self._cos_beta_star(params) < self.MAX_COS_BETA_STAR

    def canonical(self, params):
        swap = params[:, 0] > params[:, 2]
        out = params.copy()
        out[swap, 0], out[swap, 2] = params[swap, 2], params[swap, 0]
        return out

    def cell(self, params):
        cos_bs = float(self._cos_beta_star(params)[0])
        sin_bs = math.sqrt(1.0 - cos_bs ** 2)
        a = 1.0 / (math.sqrt(params[0]) * sin_bs)
        c = 1.0 / (math.sqrt(params[2]) * sin_bs)
        return a, 1.0 / math.sqrt(params[1]), c, 90.0, 180.0 - math.degrees(math.acos(cos_bs)), 90.0

    def volume_angstrom3(self, params):
        # V* = b* · a* c* sin β*, with (a* c* sin β*)² = p₀ p₂ − p₃²/4
        return 1.0 / (np.sqrt(params[:, 1]) * np.sqrt(np.clip(params[:, 0] * params[:, 2] - params[:, 3] ** 2 / 4.0,
                                                                1e-300, None)))

    def deviation(self, params, inv_d2):
        # loop over k and l ≥ 0 and solve p₀ h² + (l p₃) h = rest for h (both signs): nearest integer roots
        p0, p1, p2, p3 = (params[:, i, None] for i in range(4))  # [C, 1]
        best = np.full((len(params), len(inv_d2)), np.inf)
        for k in range(self.MAX_KL_FAST + 1):
            for l in range(self.MAX_KL_FAST + 1):
                rest = inv_d2[None, :] - p1 * (k * k) - p2 * (l * l)  # [C, P]
                lin = p3 * l
                root = np.sqrt(np.clip(lin * lin + 4.0 * p0 * rest, 0.0, None))
                for h in (np.rint((-lin + root) / (2.0 * p0)), np.rint((-lin - root) / (2.0 * p0))):
                    best = np.minimum(best, np.abs(rest - p0 * h * h - lin * h))
        return best

    def _index_limits(self, params, inv_d2_max):
        sin2 = 1.0 - float(self._cos_beta_star(params)[0]) ** 2
        return (_limit(inv_d2_max, params[0] * sin2), _limit(inv_d2_max, params[1]),
                _limit(inv_d2_max, params[2] * sin2))


FAMILIES: dict[str, Family] = {f.name: f for f in (Cubic(), Hexagonal(), Tetragonal(), Orthorhombic())}
"""Every lattice family the indexer tries by default, highest symmetry first (ties go to the first)."""

ALL_FAMILIES: dict[str, Family] = {**FAMILIES, "monoclinic": Monoclinic()}
"""The default families and those asked for by name (``index_peaks(..., families=[...])``), in order of
symmetry. The monoclinic search is not a default: on the measured validation scans its cell does not
tell monoclinic from triclinic patterns (a confident cell for 35 % of monoclinic and 30 % of triclinic
RRUFF scans), and as a feature it moved the pooled forest by +0.4 points, within the seeds' spread;
it costs ~30 ms a pattern."""
