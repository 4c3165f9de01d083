"""Indexing of powder lines: the best cell of each lattice family and the evidence for it.

``index_peaks(two_theta_deg, intensity, wavelength_angstrom)`` is the entry point; the lattice
families live in ``families`` (one class each, registered in ``FAMILIES``), the search in ``search``.
"""

from xrdnet.indexing.evidence import (CONFIDENT_MIN_MERIT, CONFIDENT_MIN_SHARE, INDEXING_TRUST, TRUST_BY_CELL, agrees, cell_record,
                                      combine_with_cell, combine_with_systems, index_measured_peaks, is_confident, systems_of_cell,
                                      trust_of_cell)
from xrdnet.indexing.families import CENTRING_CONDITIONS, FAMILIES, Family
from xrdnet.indexing.search import (Cell, IndexingConfig, IndexingResult, choose_family, drop_kalpha2_lines,
                                    index_peaks)

__all__ = ["CENTRING_CONDITIONS", "FAMILIES", "Family", "Cell", "IndexingConfig", "IndexingResult",
           "choose_family", "drop_kalpha2_lines", "index_peaks", "CONFIDENT_MIN_MERIT", "CONFIDENT_MIN_SHARE", "agrees", "cell_record",
           "index_measured_peaks", "is_confident", "INDEXING_TRUST", "combine_with_cell", "combine_with_systems",
           "systems_of_cell", "TRUST_BY_CELL", "trust_of_cell"]
