"""One structure with its space-group label and provenance, as every structure source yields it.

``LabelledStructure`` is the unit that flows from a source (pyxtal, a CIF folder, ...) into
``StructureBatch`` and the simulator. The space group is the spglib label at ``symprec``; the
Wyckoff sequence and anonymous formula are kept for the structure-type split (same space group +
Wyckoff sequence + anonymous formula = same prototype), and are computed lazily because most
consumers never look at them.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import NamedTuple

from pymatgen.core import Structure

from xrdnet.symmetry import crystal_system_index


@lru_cache(maxsize=1)
def xray_scattering_elements() -> frozenset[str]:
    """Element symbols that have X-ray scattering parameters in pymatgen's own data file.

    The simulator reads the same file (``atomic_scattering_params.json``), so a structure with an
    element outside this set cannot be simulated and sources reject it up front.
    """
    import pymatgen.analysis.diffraction as diffraction

    path = Path(diffraction.__file__).parent / "atomic_scattering_params.json"
    return frozenset(json.loads(path.read_text()))


class SpglibLabel(NamedTuple):
    """What one spglib analysis of a structure gives: the ITA number and the Wyckoff sequence."""

    space_group: int
    wyckoff_sequence: str | None


def wyckoff_sequence_of(symbols: list[str]) -> str:
    """Canonical Wyckoff sequence from per-orbit symbols such as ``["4b", "4a", "24e"]``.

    Orbits are sorted by letter (then multiplicity, for robustness) and concatenated, so
    ``["4b", "4a"]`` -> ``"4a4b"``; repeated orbits stay repeated (``"4e4e"``), because two
    independent orbits on the same Wyckoff position are a different structure type than one.
    """

    def key(symbol: str) -> tuple[str, int]:
        digits = "".join(ch for ch in symbol if ch.isdigit())
        letters = "".join(ch for ch in symbol if not ch.isdigit())
        return (letters, int(digits) if digits else 0)

    return "".join(sorted(symbols, key=key))


def spglib_label(structure: Structure, symprec: float) -> SpglibLabel:
    """Space group and Wyckoff sequence of ``structure`` from spglib at ``symprec`` (Å).

    Runs pymatgen's ``SpacegroupAnalyzer`` once and reads both labels from the same symmetry
    data set, so the Wyckoff sequence is almost free once the space group is known. Raises
    whatever spglib raises when it cannot find a symmetry (callers decide whether to skip);
    a failure of only the Wyckoff part gives ``wyckoff_sequence=None``.
    """
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    with warnings.catch_warnings():
        # spglib/pymatgen warn about near-degenerate settings; labels are checked by the caller.
        warnings.simplefilter("ignore")
        analyzer = SpacegroupAnalyzer(structure, symprec=symprec)
        number = int(analyzer.get_space_group_number())
        try:
            symbols = analyzer.get_symmetrized_structure().wyckoff_symbols
            sequence: str | None = wyckoff_sequence_of(list(symbols))
        except Exception:  # noqa: BLE001 - the Wyckoff sequence is optional metadata
            sequence = None
    return SpglibLabel(number, sequence)


@dataclass(frozen=True, eq=False)
class LabelledStructure:
    """A pymatgen ``Structure`` with its ITA space group (1..230), source name and index.

    ``source`` names where it came from (a CIF path relative to its folder, or ``"pyxtal"``),
    ``index`` is its position in that source, and ``symprec`` the tolerance the label was taken
    at. Equality is identity (``eq=False``): comparing structures is a job for
    ``StructureMatcher``, not for ``==``.
    """

    structure: Structure
    space_group: int
    source: str
    index: int
    symprec: float = 0.1

    def __post_init__(self) -> None:
        if not 1 <= int(self.space_group) <= 230:
            raise ValueError(f"{self.source}[{self.index}]: space group {self.space_group} is not in 1..230")

    @classmethod
    def from_label(
        cls, structure: Structure, label: SpglibLabel, source: str, index: int, symprec: float
    ) -> LabelledStructure:
        """Build from an already computed ``SpglibLabel``, pre-filling the cached Wyckoff sequence."""
        item = cls(structure, label.space_group, source, index, symprec)
        # cached_property reads the instance __dict__ first, so this spares a second spglib run.
        item.__dict__["wyckoff_sequence"] = label.wyckoff_sequence
        return item

    @property
    def crystal_system(self) -> int:
        """Crystal-system index 0..6 (triclinic .. cubic) of the space group."""
        return crystal_system_index(self.space_group)

    @property
    def formula(self) -> str:
        """Reduced formula, e.g. ``"NaCl"``."""
        return self.structure.composition.reduced_formula

    @cached_property
    def anonymous_formula(self) -> str:
        """Anonymised formula (``"AB"`` for NaCl and CsCl alike), one part of the structure type."""
        return self.structure.composition.anonymized_formula

    @cached_property
    def wyckoff_sequence(self) -> str | None:
        """Sorted Wyckoff orbits such as ``"4a4b"`` at ``symprec``, or ``None`` if spglib fails."""
        try:
            return spglib_label(self.structure, self.symprec).wyckoff_sequence
        except Exception:  # noqa: BLE001 - optional metadata; None tells the caller it is unknown
            return None

    @property
    def structure_type(self) -> tuple[int, str | None, str]:
        """``(space_group, wyckoff_sequence, anonymous_formula)``: equal tuples = same prototype."""
        return (self.space_group, self.wyckoff_sequence, self.anonymous_formula)
