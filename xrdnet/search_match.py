"""Search-match: the measured peak list against a library of reference peak lists, whatever the cell's size.

What a crystallographer does first with an unknown powder pattern is look it up: which known phase has these
lines? xrdnet's reference library is the peak lists of the structures its networks were trained on (never a
validation or test compound), and the match reads one more thing than a plain lookup: **the isotropic size of
the cell**. A natural mineral, a solid solution or a sample measured warm has the lines of its reference
structure, all moved by the same factor in d.

Physics. Bragg's law in Q = 4π sinθ / λ = 2π / d: a cell scaled by s in every length has every d times s, so
every Q divided by s and every ln Q moved by the same −ln s. On a grid uniform in **ln Q** an isotropic change of
size is a translation, and the best match over sizes is the largest of a few shifted dot products (shifts of
one grid step = a scale change of ``step_ln_q``, 0.2 %). Anisotropic changes (c/a, β) are not followed; they
lower the similarity.

Representation. Each line i (position Q_i, intensity I_i relative to the strongest) is a normalised Gaussian on
the ln Q grid with weight I_i ** ``intensity_power`` (0.5: texture, extinction and the peak finder's heights err
most on the strongest lines) and width

    σ_i = sqrt(width_floor_ln_q² + (δ(2θ) / (2 tan θ_i))²),    since  d ln Q = d(2θ) / (2 tan θ),

with δ(2θ) = ``position_error_deg`` the error of a measured line position in 2θ (θ at the library's reference
wavelength, Cu Kα1, so the width is a function of Q alone): a constant error in 2θ is a large one in ln Q at
low angle. A pattern's vector is the sum of its lines, scaled to unit length over the query's measured span.
The similarity of a query and a reference is the cosine of their vectors, the largest over shifts of ±
``max_scale_change``; ``d_scale`` reports the sample's d over the reference's at that shift.

From matches to probabilities (``vote``): the k best references vote for their crystal system and space group
with weights exp((s − s_best) / τ), and the vote is trusted in proportion to how much the best match stands out:
the **contrast** c = s_best − s_50 (the 50th best's similarity; ``trust_measure: contrast``), λ = clip((c −
trust_from) / (trust_full − trust_from), 0, 1) · ``MAX_TRUST``, p = λ · vote + (1 − λ) · uniform. The contrast and
not s_best itself, because on a short scan (20–60°, a handful of broad low-angle lines) nearly every reference
is similar (the 50th best of a RRUFF scan cut to 20–60° has a median similarity of 0.82, over 5–90° 0.49): a high
s_best there says little. A match that does not stand out gives a flat opinion that moves nothing when pooled.
All settings were chosen on the RRUFF validation scans, full and cut to laboratory ranges, and the simulated
held-out compounds (``scripts/ablate_search_match.py``).

The library file (``ReferenceLibrary.save``, an ``.npz`` read with ``allow_pickle=False``) holds the lines as
codes: ln Q on a 1e-4 grid (uint16) and √I on 0..255 (uint8), per structure its crystal system, space group,
database id and formula.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

LIBRARY_FORMAT_VERSION = 1
REFERENCE_WAVELENGTH_ANGSTROM = 1.54056
"""Cu Kα1: the wavelength at which ``position_error_deg`` (a width in 2θ) is turned into a width in ln Q."""
LN_Q_CODE_STEP = 1e-4
"""Resolution of a stored line position in ln Q (0.01 % in d), far below any line width used."""
LN_Q_CODE_ORIGIN = math.log(0.05)
"""ln Q (1/Å) of code 0; uint16 codes reach ln Q = ln 0.05 + 6.55, Q ≈ 35 1/Å (d ≈ 0.18 Å)."""
INTENSITY_CODE_MAX = 255
"""√(relative intensity) is stored as round(255 · √I): 1 % is code 26, resolved to ±2 %."""
GAUSSIAN_HALF_WIDTH_SIGMAS = 4.0
"""A rendered line is cut at ±4 σ (its weight beyond is 6e-5 of the peak's)."""
MAX_TRUST = 0.98
"""The most a perfect match's vote is trusted: even an identical pattern leaves 2 % to the other systems."""
TRUST_MEASURES = ("contrast", "similarity")
MAX_CACHED_SPANS = 64
"""Measured spans whose reference lengths a library keeps (136 kB each for 34k references)."""
RENDER_BLOCK = 4096
"""Structures rendered at a time (bounded memory: 4096 × ~1500 bins of float64)."""
SHIFTED_ROWS_PER_PRODUCT = 1024
"""Shifted query copies multiplied with the library at once: one matrix product reads the library once (a
[1024, S] float32 table, 140 MB for 34k references), where one product per shift would read it 41 times."""


@dataclass(frozen=True)
class MatchSettings:
    """How line lists become vectors and how matches become probabilities (see the module docstring).

    Attributes:
        step_ln_q: grid step in ln Q (0.002 = a scale change of 0.2 % per step).
        q_min_inv_angstrom, q_max_inv_angstrom: the grid's span (Cu Kα1 4°..92° 2θ by default).
        width_floor_ln_q: the smallest line width σ in ln Q.
        position_error_deg: the error of a measured line position, in 2θ at Cu Kα1 (widens low-angle lines).
        intensity_power: a line's weight is I ** power (I relative to the strongest line).
        max_scale_change: isotropic scale changes searched, ± (0.04 = d × 0.96..1.04).
        min_relative_intensity: reference lines weaker than this (of the strongest) are not stored.
        neighbours: how many best references vote.
        vote_temperature: τ of the vote weights exp((s − s_best) / τ).
        trust_measure: what the trust is read from: ``contrast`` (s_best − s at rank ``contrast_rank``) or
            ``similarity`` (s_best).
        contrast_rank: the rank whose similarity the best one is compared with (the last one searched when a
            library holds fewer references).
        trust_from, trust_full: the value of the trust measure at which the vote starts to count and counts fully.
    """

    step_ln_q: float = 0.002
    q_min_inv_angstrom: float = 0.2849  # 2θ = 4° at Cu Kα1
    q_max_inv_angstrom: float = 5.8310  # 2θ = 92° at Cu Kα1
    width_floor_ln_q: float = 0.002
    position_error_deg: float = 0.08
    intensity_power: float = 0.5
    max_scale_change: float = 0.04
    min_relative_intensity: float = 0.01
    neighbours: int = 5
    vote_temperature: float = 0.03
    trust_measure: str = "contrast"
    contrast_rank: int = 50
    trust_from: float = 0.0
    trust_full: float = 0.3

    def __post_init__(self) -> None:
        positive = ("step_ln_q", "q_min_inv_angstrom", "width_floor_ln_q", "intensity_power", "vote_temperature")
        for name in positive:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        if not self.q_max_inv_angstrom > self.q_min_inv_angstrom:
            raise ValueError(f"q_max_inv_angstrom ({self.q_max_inv_angstrom}) must exceed q_min_inv_angstrom "
                             f"({self.q_min_inv_angstrom})")
        for name in ("position_error_deg", "max_scale_change", "min_relative_intensity"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a number >= 0, got {value!r}")
        if self.max_scale_change >= 0.5:
            raise ValueError(f"max_scale_change is a fraction of d (0.04 = ±4 %), got {self.max_scale_change}")
        for name in ("neighbours", "contrast_rank"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if self.trust_measure not in TRUST_MEASURES:
            raise ValueError(f"trust_measure must be one of {TRUST_MEASURES}, got {self.trust_measure!r}")
        if not 0.0 <= self.trust_from < self.trust_full <= 1.0:
            raise ValueError(f"need 0 <= trust_from < trust_full <= 1, got {self.trust_from}, {self.trust_full}")

    @property
    def n_bins(self) -> int:
        return int(math.ceil(math.log(self.q_max_inv_angstrom / self.q_min_inv_angstrom) / self.step_ln_q))

    @property
    def search_depth(self) -> int:
        """How many best references a search keeps: the voters and the contrast's rank."""
        return max(self.neighbours, self.contrast_rank if self.trust_measure == "contrast" else 1)

    @property
    def max_shift_bins(self) -> int:
        return int(round(math.log1p(self.max_scale_change) / self.step_ln_q))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "MatchSettings":
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown search-match settings {sorted(unknown)}")
        return cls(**data)


# --------------------------------------------------------------------------- pure functions on line lists


def line_width_ln_q(q_inv_angstrom: np.ndarray, settings: MatchSettings) -> np.ndarray:
    """``[M]`` σ in ln Q of lines at ``q_inv_angstrom [M]`` (the module docstring's formula)."""
    sin_theta = np.clip(q_inv_angstrom * REFERENCE_WAVELENGTH_ANGSTROM / (4 * math.pi), 1e-6, 1 - 1e-9)
    tan_theta = sin_theta / np.sqrt(1 - sin_theta ** 2)
    spread = math.radians(settings.position_error_deg) / (2 * tan_theta)
    return np.sqrt(settings.width_floor_ln_q ** 2 + spread ** 2)


def render(owner: np.ndarray, q_inv_angstrom: np.ndarray, relative_intensity: np.ndarray, n_rows: int,
           settings: MatchSettings) -> np.ndarray:
    """``[n_rows, B]`` float32 vectors on the ln Q grid, each of unit length (all-zero rows stay zero).

    Line m (``q_inv_angstrom [M]``, ``relative_intensity [M]`` in 0..1) belongs to row ``owner [M]``. Lines
    outside the grid contribute only their part inside it.
    """
    owner = np.asarray(owner, np.int64)
    q = np.asarray(q_inv_angstrom, np.float64)
    weight = np.clip(np.asarray(relative_intensity, np.float64), 0.0, None) ** settings.intensity_power
    n_bins, step = settings.n_bins, settings.step_ln_q
    out = np.zeros((n_rows, n_bins), np.float32)
    ok = (q > 0) & (weight > 0) & (owner >= 0) & (owner < n_rows)
    owner, q, weight = owner[ok], q[ok], weight[ok]
    if len(q) == 0:
        return out
    x = (np.log(q) - math.log(settings.q_min_inv_angstrom)) / step - 0.5  # bin b's centre sits at x = b
    sigma = line_width_ln_q(q, settings) / step  # [M] in bins
    half = np.ceil(GAUSSIAN_HALF_WIDTH_SIGMAS * sigma).astype(np.int64)
    order = np.argsort(owner, kind="stable")
    owner, x, sigma, half, weight = owner[order], x[order], sigma[order], half[order], weight[order]
    bounds = np.searchsorted(owner, np.arange(0, n_rows + RENDER_BLOCK, RENDER_BLOCK))
    for block, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        if a == b:
            continue
        first = block * RENDER_BLOCK
        rows_here = min(RENDER_BLOCK, n_rows - first)
        span = 2 * half[a:b] + 1
        line = np.repeat(np.arange(a, b), span)
        offset = np.arange(len(line)) - np.repeat(np.cumsum(span) - span, span) - half[line]
        bins = np.rint(x[line]).astype(np.int64) + offset
        inside = (bins >= 0) & (bins < n_bins)
        line, bins = line[inside], bins[inside]
        value = weight[line] * np.exp(-0.5 * ((bins - x[line]) / sigma[line]) ** 2) / sigma[line]
        flat = np.bincount((owner[line] - first) * n_bins + bins, value, minlength=rows_here * n_bins)
        out[first:first + rows_here] = flat.reshape(rows_here, n_bins)
    norm = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norm > 0, norm, 1.0)


def bin_span(q_lo_inv_angstrom: float, q_hi_inv_angstrom: float, settings: MatchSettings) -> tuple[int, int]:
    """The grid bins ``[first, last + 1)`` inside the measured span Q_lo..Q_hi."""
    x = (np.log([q_lo_inv_angstrom, q_hi_inv_angstrom]) - math.log(settings.q_min_inv_angstrom)) / settings.step_ln_q
    return int(np.clip(np.floor(x[0]), 0, settings.n_bins)), int(np.clip(np.ceil(x[1]), 0, settings.n_bins))


def shifted(vectors: np.ndarray, k: int) -> np.ndarray:
    """``vectors [P, B]`` moved by ``k`` points along axis 1 (to higher ln Q here; k < 0: lower), zero where nothing
    moved in. Also the zero error of k grid steps in ``scripts/ablate_test_time_shifts.py``."""
    out = np.roll(vectors, k, axis=1)
    if k > 0:
        out[:, :k] = 0.0
    elif k < 0:
        out[:, k:] = 0.0
    return out


def measured_spans(patterns: np.ndarray, two_theta_deg: np.ndarray, wavelength_angstrom: float) -> list:
    """``[(Q_lo, Q_hi)] * P`` in 1/Å: each of ``patterns [P, G]`` from its first to its last point above zero
    (a scan cut short is zero outside what it measured); the whole grid for a pattern with none."""
    from xrdnet.units import q_inv_angstrom_from_two_theta

    grid = np.asarray(two_theta_deg, np.float64)
    positive = np.asarray(patterns) > 0
    seen = positive.any(axis=1)
    first = np.where(seen, positive.argmax(axis=1), 0)
    last = np.where(seen, positive.shape[1] - 1 - positive[:, ::-1].argmax(axis=1), positive.shape[1] - 1)
    lo = q_inv_angstrom_from_two_theta(grid[first], wavelength_angstrom)
    hi = q_inv_angstrom_from_two_theta(grid[last], wavelength_angstrom)
    return list(zip(np.atleast_1d(lo).tolist(), np.atleast_1d(hi).tolist()))


@dataclass(frozen=True)
class Matches:
    """The best references of P queries, best first.

    Attributes:
        index: ``[P, k]`` int64 rows of the library.
        similarity: ``[P, k]`` float32 cosine, 0..1, at the best scale.
        d_scale: ``[P, k]`` float64 the query's d over the reference's at that scale (1.01: the sample's cell
            is 1 % larger).
    """

    index: np.ndarray
    similarity: np.ndarray
    d_scale: np.ndarray

    def __len__(self) -> int:
        return len(self.index)


def span_lengths(references: np.ndarray, span: tuple[int, int]) -> np.ndarray:
    """``[S]`` float32 1 / (each reference's length over the bins ``span``), 0 where it has none there."""
    lo, hi = span
    length = np.sqrt(np.einsum("sb,sb->s", references[:, lo:hi], references[:, lo:hi]))
    return np.where(length > 0, 1.0 / np.maximum(length, 1e-12), 0.0).astype(np.float32)


def search(queries: np.ndarray, spans: list[tuple[int, int]], references: np.ndarray, settings: MatchSettings,
           k: int, inverse_lengths=span_lengths) -> Matches:
    """The ``k`` best of ``references [S, B]`` for every one of ``queries [P, B]`` (unit vectors).

    ``spans [P]`` (``bin_span``) are the bins each query was measured over: a reference is compared over the
    same bins (its length there, ``inverse_lengths(references, span)``), so lines a scan could not see neither
    help nor hurt.
    """
    queries = np.asarray(queries, np.float32)
    n, k = len(queries), int(min(k, len(references)))
    index = np.zeros((n, k), np.int64)
    similarity = np.zeros((n, k), np.float32)
    shift = np.zeros((n, k), np.int64)
    shifts = range(-settings.max_shift_bins, settings.max_shift_bins + 1)
    for span in sorted(set(spans)):
        members = np.flatnonzero([s == span for s in spans])
        inverse = inverse_lengths(references, span)
        block = max(1, SHIFTED_ROWS_PER_PRODUCT // len(shifts))
        for start in range(0, len(members), block):
            rows = members[start:start + block]
            q = queries[rows]
            copies = np.concatenate([shifted(q, s) for s in shifts])  # [n_shifts · b, B], shift-major
            best = (copies @ references.T).reshape(len(shifts), len(rows), len(references)).max(axis=0)
            best *= inverse
            top = np.argpartition(-best, k - 1, axis=1)[:, :k]
            top = np.take_along_axis(top, np.argsort(-np.take_along_axis(best, top, 1), axis=1, kind="stable"), 1)
            # the scale of each of the k winners: its dot product at every shift
            per_shift = np.stack([np.einsum("pb,pkb->pk", shifted(q, s), references[top]) for s in shifts])
            index[rows], similarity[rows] = top, np.clip(np.take_along_axis(best, top, 1), 0.0, 1.0)
            shift[rows] = np.asarray(list(shifts))[per_shift.argmax(axis=0)]
    # the query moved up by s bins matches the reference: its ln Q is lower by s·step, its d larger by e^(s·step)
    return Matches(index, similarity, np.exp(shift * settings.step_ln_q))


def vote(matches: Matches, crystal_system: np.ndarray, space_group: np.ndarray,
         settings: MatchSettings) -> tuple[np.ndarray, np.ndarray]:
    """``(cs [P, 7], sg [P, 230])`` probabilities from the matches (module docstring: vote, then trust)."""
    k = min(settings.neighbours, matches.index.shape[1])
    sim = matches.similarity[:, :k].astype(np.float64)
    best = sim[:, :1]
    weight = np.exp((sim - best) / settings.vote_temperature)  # [P, k]
    rows = np.repeat(np.arange(len(sim)), k)
    cs = np.zeros((len(sim), 7))
    np.add.at(cs, (rows, crystal_system[matches.index[:, :k]].ravel()), weight.ravel())
    sg = np.zeros((len(sim), 230))
    np.add.at(sg, (rows, space_group[matches.index[:, :k]].ravel() - 1), weight.ravel())
    cs /= cs.sum(axis=1, keepdims=True)
    sg /= sg.sum(axis=1, keepdims=True)
    if settings.trust_measure == "contrast":
        rank = min(settings.contrast_rank, matches.similarity.shape[1])
        measure = best - matches.similarity[:, rank - 1:rank].astype(np.float64)
    else:
        measure = best
    trust = MAX_TRUST * np.clip((measure - settings.trust_from) / (settings.trust_full - settings.trust_from), 0, 1)
    return trust * cs + (1 - trust) / 7, trust * sg + (1 - trust) / 230


# --------------------------------------------------------------------------- the library


@dataclass
class ReferenceLibrary:
    """Reference line lists, per structure its labels, id and formula; vectors rendered on first use.

    Attributes:
        settings: ``MatchSettings`` the library was built and is searched with.
        line_start, line_count: ``[S]`` int64 structure s owns lines start..start+count.
        ln_q_code: ``[M]`` uint16 (ln Q − ``LN_Q_CODE_ORIGIN``) / ``LN_Q_CODE_STEP``.
        intensity_code: ``[M]`` uint8 round(255 · √(I / I_strongest)).
        crystal_system: ``[S]`` int8 0 triclinic .. 6 cubic.
        space_group: ``[S]`` int16 1..230.
        ids: ``[S]`` str database ids (``mp_structures:mp-1``, ``amcsd_minerals:0012345``).
        formulas: ``[S]`` str reduced formulas.
        source: one line on where the structures came from and which were left out.
    """

    settings: MatchSettings
    line_start: np.ndarray
    line_count: np.ndarray
    ln_q_code: np.ndarray
    intensity_code: np.ndarray
    crystal_system: np.ndarray
    space_group: np.ndarray
    ids: np.ndarray
    formulas: np.ndarray
    source: str = ""
    _vectors: np.ndarray | None = field(default=None, repr=False)
    _inverse_lengths: dict = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.line_count)

    @classmethod
    def from_lines(cls, q_inv_angstrom: np.ndarray, intensity: np.ndarray, line_count: np.ndarray,
                   crystal_system: np.ndarray, space_group: np.ndarray, ids, formulas,
                   settings: MatchSettings = MatchSettings(), source: str = "") -> "ReferenceLibrary":
        """A library from every structure's lines (``q_inv_angstrom [M]``, ``intensity [M]`` any scale, grouped by
        structure in the order of ``line_count [S]``); lines weaker than ``min_relative_intensity`` are dropped."""
        line_count = np.asarray(line_count, np.int64)
        q = np.asarray(q_inv_angstrom, np.float64)
        intensity = np.asarray(intensity, np.float64)
        if len(q) != line_count.sum() or len(intensity) != len(q):
            raise ValueError(f"{len(q)} positions and {len(intensity)} intensities for {line_count.sum()} lines")
        owner = np.repeat(np.arange(len(line_count)), line_count)
        strongest = np.zeros(len(line_count))
        np.maximum.at(strongest, owner, intensity)
        relative = intensity / np.where(strongest > 0, strongest, 1.0)[owner]
        keep = (relative >= settings.min_relative_intensity) & (q > 0)
        codes = np.rint((np.log(np.where(keep, q, 1.0)) - LN_Q_CODE_ORIGIN) / LN_Q_CODE_STEP)
        keep &= (codes >= 0) & (codes <= np.iinfo(np.uint16).max)
        counts = np.bincount(owner[keep], minlength=len(line_count))
        return cls(settings, np.cumsum(counts) - counts, counts, codes[keep].astype(np.uint16),
                   np.rint(INTENSITY_CODE_MAX * np.sqrt(np.clip(relative[keep], 0, 1))).astype(np.uint8),
                   np.asarray(crystal_system, np.int8), np.asarray(space_group, np.int16),
                   np.asarray(ids, dtype=str), np.asarray(formulas, dtype=str), source)

    # ------------------------------------------------------------------ lines and vectors
    def lines(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """``(q_inv_angstrom [m], relative_intensity [m])`` of structure ``row`` as stored."""
        a, n = int(self.line_start[row]), int(self.line_count[row])
        q = np.exp(LN_Q_CODE_ORIGIN + LN_Q_CODE_STEP * self.ln_q_code[a:a + n].astype(np.float64))
        return q, (self.intensity_code[a:a + n].astype(np.float64) / INTENSITY_CODE_MAX) ** 2

    @property
    def vectors(self) -> np.ndarray:
        """``[S, B]`` float32 unit vectors of every reference (rendered once, ~2 s for 34k structures)."""
        if self._vectors is None:
            owner = np.repeat(np.arange(len(self)), self.line_count)
            q = np.exp(LN_Q_CODE_ORIGIN + LN_Q_CODE_STEP * self.ln_q_code.astype(np.float64))
            relative = (self.intensity_code.astype(np.float64) / INTENSITY_CODE_MAX) ** 2
            self._vectors = render(owner, q, relative, len(self), self.settings)
        return self._vectors

    # ------------------------------------------------------------------ queries
    def match_lines(self, lines: list[tuple[np.ndarray, np.ndarray]], spans_q: list[tuple[float, float]],
                    k: int | None = None) -> Matches:
        """The best references of query line lists ``[(q_inv_angstrom [m], height [m]), ...]`` measured over
        ``spans_q [(Q_lo, Q_hi), ...]`` (1/Å)."""
        owner = np.repeat(np.arange(len(lines)), np.array([len(q) for q, _ in lines], np.int64))
        q = np.concatenate([np.zeros(0)] + [np.asarray(q, np.float64) for q, _ in lines])
        height = np.concatenate([np.zeros(0)] + [np.asarray(h, np.float64) for _, h in lines])
        # heights on any scale: each rendered row is scaled to unit length, so no "relative to the strongest"
        queries = render(owner, q, height, len(lines), self.settings)
        spans = [bin_span(lo, hi, self.settings) for lo, hi in spans_q]
        return search(queries, spans, self.vectors, self.settings, k or self.settings.search_depth,
                      self._span_lengths)

    def _span_lengths(self, references: np.ndarray, span: tuple[int, int]) -> np.ndarray:
        """``span_lengths`` of this library's vectors, kept per span: most scans of an instrument share one."""
        if span not in self._inverse_lengths:
            if len(self._inverse_lengths) >= MAX_CACHED_SPANS:
                self._inverse_lengths.clear()
            self._inverse_lengths[span] = span_lengths(references, span)
        return self._inverse_lengths[span]

    def match_patterns(self, patterns: np.ndarray, two_theta_deg: np.ndarray, wavelength_angstrom: float,
                       k: int | None = None) -> Matches:
        """The best references of ``patterns [P, G]`` sampled on ``two_theta_deg [G]`` at λ: the shared peak
        finder's lines, each pattern compared over its measured span (``measured_spans``)."""
        from xrdnet.peak_finder import find_peaks_batch
        from xrdnet.units import q_inv_angstrom_from_two_theta

        patterns = np.atleast_2d(np.asarray(patterns))
        peaks = find_peaks_batch(patterns, two_theta_deg)
        lines = [(q_inv_angstrom_from_two_theta(p.two_theta_deg, wavelength_angstrom), p.height) for p in peaks]
        return self.match_lines(lines, measured_spans(patterns, two_theta_deg, wavelength_angstrom), k)

    def probabilities(self, matches: Matches) -> tuple[np.ndarray, np.ndarray]:
        """``(cs [P, 7], sg [P, 230])`` of ``matches`` (``vote``)."""
        return vote(matches, self.crystal_system.astype(np.int64), self.space_group.astype(np.int64), self.settings)

    # ------------------------------------------------------------------ file
    def save(self, path: str | Path) -> Path:
        """Write the library as a compressed ``.npz`` (no pickled object inside); returns the path."""
        import json

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            np.savez_compressed(handle, format_version=np.int64(LIBRARY_FORMAT_VERSION),
                                settings=np.str_(json.dumps(self.settings.to_dict())), source=np.str_(self.source),
                                line_count=self.line_count, ln_q_code=self.ln_q_code,
                                intensity_code=self.intensity_code, crystal_system=self.crystal_system,
                                space_group=self.space_group, ids=self.ids, formulas=self.formulas)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "ReferenceLibrary":
        """Read a library written by ``save``; every problem is one ValueError naming the file."""
        import json
        import zipfile

        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
        except FileNotFoundError:
            raise FileNotFoundError(f"{path}: reference library not found") from None
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
            raise ValueError(f"{path}: not a readable reference library ({type(exc).__name__}: {exc})") from None
        needed = ("format_version", "settings", "line_count", "ln_q_code", "intensity_code", "crystal_system",
                  "space_group", "ids", "formulas")
        missing = [name for name in needed if name not in arrays]
        if missing:
            raise ValueError(f"{path}: not a reference library (missing {', '.join(missing)})")
        if int(arrays["format_version"]) != LIBRARY_FORMAT_VERSION:
            raise ValueError(f"{path}: reference library format {int(arrays['format_version'])}, this xrdnet reads "
                             f"{LIBRARY_FORMAT_VERSION}")
        try:
            settings = MatchSettings.from_dict(json.loads(str(arrays["settings"])))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{path}: bad search-match settings ({exc})") from None
        count = arrays["line_count"].astype(np.int64)
        n = len(count)
        if (count < 0).any() or count.sum() != len(arrays["ln_q_code"]) or len(arrays["intensity_code"]) != count.sum():
            raise ValueError(f"{path}: line counts do not add up to the stored lines")
        for name in ("crystal_system", "space_group", "ids", "formulas"):
            if len(arrays[name]) != n:
                raise ValueError(f"{path}: {name} has {len(arrays[name])} entries for {n} structures")
        cs, sg = arrays["crystal_system"], arrays["space_group"]
        if n and (cs.min() < 0 or cs.max() > 6 or sg.min() < 1 or sg.max() > 230):
            raise ValueError(f"{path}: crystal systems must be 0..6 and space groups 1..230")
        return cls(settings, np.cumsum(count) - count, count, arrays["ln_q_code"].astype(np.uint16),
                   arrays["intensity_code"].astype(np.uint8), cs.astype(np.int8), sg.astype(np.int16),
                   arrays["ids"].astype(str), arrays["formulas"].astype(str), str(arrays.get("source", "")))
