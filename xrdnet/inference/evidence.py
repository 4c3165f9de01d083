"""How an indexed cell bears on an answer: the cell records on the result and the finding that says so.

The indexing (``xrdnet.indexing.evidence``) runs on the sharp peaks the checks counted; a confident
cell either moved the answer (``answer_from_indexing``, when combined) or disagrees with it
(``indexing_disagrees``). The cell's trust is measured on the measured validation scans.
"""

from __future__ import annotations

from xrdnet.checks.finding import ANSWER_FROM_INDEXING, INDEXING_DISAGREES, PredictionWarning
from xrdnet.indexing.evidence import (CONFIDENT_MIN_MERIT, CONFIDENT_MIN_SHARE, FAMILY_OF_SYSTEM, agrees,
                                      cell_record, describe_axes, is_confident, trust_of_cell)
from xrdnet.inference.result import PredictionResult


def record_indexing(indexing, result: PredictionResult, answer: str) -> None:
    """Set ``cell``, ``cell_of_predicted_system`` and the finding on how the cell bears on ``answer``.

    ``answer_from_indexing`` when combining moved the answer away from the network's,
    ``indexing_disagrees`` when a confident cell of another system was not combined.
    """
    if indexing is None:
        return
    best = indexing.best
    result.cell = cell_record(best)
    family = FAMILY_OF_SYSTEM.get(answer)
    result.cell_of_predicted_system = cell_record(indexing.cells.get(family)) if family else None
    if not is_confident(best):
        return
    cell_text = (f"the peaks index on a {best.crystal_system} {best.centring} cell, "
                 f"{describe_axes(best.family, best.a, best.b, best.c)} (M{best.n_lines} = "
                 f"{best.figure_of_merit:.0f}, {100 * best.indexed_fraction:.0f} % of {best.n_lines} lines, "
                 f"zero shift {best.zero_shift_deg:+.3f}°)")
    network = result.network_crystal_system
    if result.combined_with_indexing and network is not None and not agrees(best, network.name):
        result.warnings.append(PredictionWarning(
            ANSWER_FROM_INDEXING, f"{cell_text}; the network alone answers {network.name} "
            f"({100 * network.probability:.0f} %), and such a cell is right {100 * trust_of_cell(best):.0f} % of "
            f"the time on measured validation scans, so the answer is {answer}"))
    elif not agrees(best, answer):
        result.warnings.append(PredictionWarning(
            INDEXING_DISAGREES, f"{cell_text}, not on a {answer} one: on measured validation scans such a "
            f"cell (M ≥ {CONFIDENT_MIN_MERIT:.0f}, ≥ {100 * CONFIDENT_MIN_SHARE:.0f} % indexed) names the "
            f"right crystal system {100 * trust_of_cell(best):.0f} % of the time"))
