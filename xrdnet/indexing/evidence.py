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
"""

from __future__ import annotations

import numpy as np

from xrdnet.indexing.families import FAMILIES
from xrdnet.indexing.search import Cell, IndexingConfig, IndexingResult, drop_kalpha2_lines, index_peaks

CONFIDENT_MIN_MERIT = 10.0
"""de Wolff M at or above which a best cell counts as confident (with ``CONFIDENT_MIN_SHARE``)."""

CONFIDENT_MIN_SHARE = 0.9
"""Indexed share of the lines at or above which a best cell counts as confident."""

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


def index_measured_peaks(two_theta_deg: np.ndarray, heights: np.ndarray, wavelength_angstrom: float,
                         config: IndexingConfig = IndexingConfig()) -> IndexingResult:
    """Index measured peak positions ``[P]`` at λ (Å), without the Kα2 partners of a Kα1 wavelength."""
    partner = kalpha2_partner(wavelength_angstrom)
    if partner is not None and len(two_theta_deg):
        two_theta_deg, heights = drop_kalpha2_lines(two_theta_deg, heights, wavelength_angstrom, partner,
                                                    config.tolerance_two_theta_deg)
    return index_peaks(two_theta_deg, heights, wavelength_angstrom, config)


def is_confident(cell: Cell | None) -> bool:
    """True for a cell whose M and indexed share both reach the confident thresholds."""
    return (cell is not None and cell.figure_of_merit >= CONFIDENT_MIN_MERIT
            and cell.indexed_fraction >= CONFIDENT_MIN_SHARE)


def agrees(cell: Cell, crystal_system: str) -> bool:
    """Whether an indexed cell is consistent with a crystal system. A P hexagonal cell stands for
    trigonal P groups too (P3₂21 quartz), so it agrees with both; an R cell only with trigonal."""
    if cell.family == "hexagonal" and cell.centring == "P":
        return crystal_system in ("hexagonal", "trigonal")
    return cell.crystal_system == crystal_system


def cell_record(cell: Cell | None) -> dict | None:
    """The JSON form of a cell for ``PredictionResult`` (None when nothing indexes)."""
    if cell is None:
        return None
    record = cell.to_dict()
    record["crystal_system"] = cell.crystal_system
    record["confident"] = is_confident(cell)
    return record
