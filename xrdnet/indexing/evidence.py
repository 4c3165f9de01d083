"""Indexing as evidence for an answer: measured peaks in, the best cells and whether they agree.

``predict`` indexes the sharp peaks it has already found, after dropping resolved Kα2 partners of the
model's Kα1 line, and reports the best cell beside the network's answer. A confident cell of another
crystal system is a disagreement worth a warning: the LaB6 line standard that the network calls
monoclinic indexes on a cubic P cell with every line.

The thresholds come from the measured validation scans (454 RRUFF patterns, ``scripts/bench_indexing.py
--measured``): a best cell with M ≥ ``CONFIDENT_MIN_MERIT`` indexing ≥ ``CONFIDENT_MIN_SHARE`` of its
lines names the right crystal system for 74 % of the 43 % of scans that have one, against 64 % for
the network (``runs/cnn-real-fresh``) on the same scans; answering the indexed system there lifts the
network's 60.8 % to 65.0 % (balanced 55.9 → 64.8 %), and the gain holds for M from 8 to 30 and shares
from 0.85 to 0.95 (63–65 %). Validation figures: the thresholds were chosen on the same scans.

``predict`` therefore mixes a confident cell into the network's probabilities by default
(:func:`combine_with_cell`, weight ``INDEXING_TRUST`` = 0.75; since then the weight of each kind of cell,
:data:`TRUST_BY_CELL`, which keeps these accuracies and lowers the ECE to 0.067): on RRUFF the shipped checkpoint goes from
60.8 % to 64.8 % crystal system (balanced 55.9 → 64.3 %, space group 35.7 → 36.6 %), the previous one
from 55.5 % to 60.6 %; the crystal-system ECE rises from 0.057 to 0.085
(``scripts/ablate_indexing_combination.py``).
"""

from __future__ import annotations

import numpy as np

from xrdnet.indexing.families import FAMILIES
from xrdnet.indexing.search import Cell, IndexingConfig, IndexingResult, drop_kalpha2_lines, index_peaks

CONFIDENT_MIN_MERIT = 10.0
"""de Wolff M at or above which a best cell counts as confident (with ``CONFIDENT_MIN_SHARE``)."""

CONFIDENT_MIN_SHARE = 0.9
"""Indexed share of the lines at or above which a best cell counts as confident."""

INDEXING_TRUST = 0.75
"""How often a confident best cell named the right crystal system on the measured validation scans
(see the module docstring); the weight of the cell's evidence in :func:`combine_with_cell`."""

TRUST_PSEUDOCOUNT = 10.0
"""Scans of prior weight ``INDEXING_TRUST`` added to each kind of cell's count in :data:`TRUST_BY_CELL`,
so a kind seen on few scans (5 R cells) keeps a trust near the overall one."""

_RIGHT_OF_CONFIDENT = {"cubic": (57, 59), "tetragonal": (20, 27), "hexagonal P": (24, 43), "hexagonal R": (0, 5),
                       "orthorhombic": (43, 60)}
"""(right, confident cells) of each kind on the 454 measured validation scans (RRUFF; right: the true
crystal system is one the cell stands for, :func:`systems_of_cell`)."""

TRUST_BY_CELL = {kind: (right + TRUST_PSEUDOCOUNT * INDEXING_TRUST) / (n + TRUST_PSEUDOCOUNT)
                 for kind, (right, n) in _RIGHT_OF_CONFIDENT.items()}
"""How often a confident cell of each kind names the right crystal system, shrunk toward
``INDEXING_TRUST`` (cubic 0.93, tetragonal 0.74, orthorhombic 0.72, hexagonal P 0.59, hexagonal R 0.50).
Used as the weight of a cell's evidence: on the validation scans the crystal-system accuracy of the
combination is the same as with one trust for all (64.8 %, 2-fold cross-validation ×20: 64.8 % both),
and its ECE falls from 0.085 to 0.067 (cross-validated 0.098 → 0.093; the previous checkpoint 0.115 → 0.103)."""

FAMILY_OF_SYSTEM = {system: family.name for family in FAMILIES.values() for system in family.crystal_systems}
"""The lattice family whose cell stands for each crystal system; monoclinic and triclinic have none here."""


def kalpha2_partner(kalpha1_angstrom: float) -> float | None:
    """The Kα2 wavelength of the anode whose Kα1 line is ``kalpha1_angstrom`` (pymatgen's table), or None."""
    from xrdnet.simulate.wavelengths import line_name, resolve_radiation

    name = line_name(kalpha1_angstrom)
    return resolve_radiation(name).kalpha2_angstrom if name is not None and name.endswith("Ka1") else None


def describe_axes(family: str, a: float, b: float, c: float) -> str:
    """The free axes of a cell of ``family`` for a message: ``a = 4.1570 Å`` for a cubic one."""
    if family == "cubic":
        return f"a = {a:.4f} Å"
    if family == "orthorhombic":
        return f"a = {a:.4f}, b = {b:.4f}, c = {c:.4f} Å"
    return f"a = {a:.4f}, c = {c:.4f} Å"


def without_kalpha2_partners(two_theta_deg: np.ndarray, heights: np.ndarray, wavelength_angstrom: float,
                             tolerance_two_theta_deg: float = IndexingConfig.tolerance_two_theta_deg):
    """Measured peaks ``(two_theta_deg, heights)`` without the resolved Kα2 partners of a Kα1 wavelength
    (unchanged for any other wavelength)."""
    partner = kalpha2_partner(wavelength_angstrom)
    if partner is not None and len(two_theta_deg):
        return drop_kalpha2_lines(two_theta_deg, heights, wavelength_angstrom, partner, tolerance_two_theta_deg)
    return two_theta_deg, heights


def index_measured_peaks(two_theta_deg: np.ndarray, heights: np.ndarray, wavelength_angstrom: float,
                         config: IndexingConfig = IndexingConfig()) -> IndexingResult:
    """Index measured peak positions ``[P]`` at λ (Å), without the Kα2 partners of a Kα1 wavelength."""
    two_theta_deg, heights = without_kalpha2_partners(two_theta_deg, heights, wavelength_angstrom,
                                                      config.tolerance_two_theta_deg)
    return index_peaks(two_theta_deg, heights, wavelength_angstrom, config)


def is_confident(cell: Cell | None) -> bool:
    """True for a cell whose M and indexed share both reach the confident thresholds."""
    return (cell is not None and cell.figure_of_merit >= CONFIDENT_MIN_MERIT
            and cell.indexed_fraction >= CONFIDENT_MIN_SHARE)


def cell_kind(family: str, centring: str) -> str:
    """The kind of cell the trust and the systems depend on: the family, hexagonal split into P and R."""
    if family == "hexagonal":
        return "hexagonal R" if centring == "R" else "hexagonal P"
    return family


def systems_of(family: str, centring: str, crystal_system: str) -> tuple[str, ...]:
    """The crystal systems a cell of ``family`` and ``centring`` (its ``crystal_system``) stands for.
    A P hexagonal cell stands for trigonal P groups too (P3₂21 quartz), so it names both; an R cell only
    trigonal; every other family its own system. Takes the fields so a cell record serves as well."""
    if cell_kind(family, centring) == "hexagonal P":
        return ("hexagonal", "trigonal")
    return (crystal_system,)


def systems_of_cell(cell: Cell) -> tuple[str, ...]:
    """The crystal systems an indexed cell stands for (:func:`systems_of`)."""
    return systems_of(cell.family, cell.centring, cell.crystal_system)


def agrees(cell: Cell, crystal_system: str) -> bool:
    """Whether an indexed cell is consistent with a crystal system (one of :func:`systems_of_cell`)."""
    return crystal_system in systems_of_cell(cell)


def combine_with_systems(cs_proba: np.ndarray, sg_proba: np.ndarray, systems: tuple[str, ...],
                         trust: float = INDEXING_TRUST) -> tuple[np.ndarray, np.ndarray]:
    """The network's ``(cs_proba [7], sg_proba [230])`` with the statement "the lattice is one of
    ``systems``" mixed in, a statement that is right with probability ``trust``.

    The combined distribution is the mixture of the two cases: with probability ``trust`` the
    statement holds and the network's own probabilities, conditioned on it, share that mass;
    otherwise the network stands::

        p'(x) = trust · p(x | x ∈ A) + (1 − trust) · p(x)          for each head, A = ``systems``

    Each head still sums to 1, the order within A and within the rest is the network's, and for
    trust ≥ 0.5 the most probable system lies in A.
    """
    from xrdnet.symmetry import CRYSTAL_SYSTEMS, space_group_to_crystal_system_table

    if not 0.0 <= float(trust) <= 1.0:
        raise ValueError(f"trust must be in 0..1, got {trust}")
    cs, sg = np.asarray(cs_proba, np.float64), np.asarray(sg_proba, np.float64)
    allowed = np.isin(np.arange(len(CRYSTAL_SYSTEMS)), [CRYSTAL_SYSTEMS.index(s) for s in systems])  # [7]
    in_allowed = allowed[space_group_to_crystal_system_table()[1:]]  # [230]: the group's system is in A

    def mix(p: np.ndarray, mask: np.ndarray) -> np.ndarray:
        inside = float(p[mask].sum())
        # a network that gives A no mass at all: the statement's share is spread evenly over A
        conditioned = np.where(mask, p / inside, 0.0) if inside > 0 else mask / mask.sum()
        return trust * conditioned + (1.0 - trust) * p

    return mix(cs, allowed), mix(sg, in_allowed)


def trust_of_cell(cell: Cell) -> float:
    """How often a confident cell like ``cell`` names the right crystal system (:data:`TRUST_BY_CELL`)."""
    return float(TRUST_BY_CELL.get(cell_kind(cell.family, cell.centring), INDEXING_TRUST))


def combine_with_cell(cs_proba: np.ndarray, sg_proba: np.ndarray, cell: Cell | None,
                      trust: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`combine_with_systems` with a confident cell's systems, weighted by ``trust`` (default: the
    cell kind's :func:`trust_of_cell`); unchanged without a confident cell."""
    if not is_confident(cell):
        return np.asarray(cs_proba, np.float64), np.asarray(sg_proba, np.float64)
    return combine_with_systems(cs_proba, sg_proba, systems_of_cell(cell),
                                trust_of_cell(cell) if trust is None else trust)


def cell_record(cell: Cell | None) -> dict | None:
    """The JSON form of a cell for ``PredictionResult`` (None when nothing indexes)."""
    if cell is None:
        return None
    record = cell.to_dict()
    record["crystal_system"] = cell.crystal_system
    record["confident"] = is_confident(cell)
    return record
