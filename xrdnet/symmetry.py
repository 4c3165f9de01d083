"""Space-group bookkeeping shared by every stage: ITA number -> crystal system, symbol, Bravais lattice.

Crystal systems are indexed 0..6 in the order of Suzuki et al. (2020) and the design document:
triclinic, monoclinic, orthorhombic, tetragonal, trigonal, hexagonal, cubic. Space groups are ITA
numbers 1..230. Symbols come from pymatgen's own space-group tables, so they agree with what
``SpacegroupAnalyzer`` reports.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

CRYSTAL_SYSTEMS: tuple[str, ...] = (
    "triclinic",
    "monoclinic",
    "orthorhombic",
    "tetragonal",
    "trigonal",
    "hexagonal",
    "cubic",
)
N_CRYSTAL_SYSTEMS = len(CRYSTAL_SYSTEMS)
N_SPACE_GROUPS = 230

# Last ITA number of each crystal system, in CRYSTAL_SYSTEMS order.
_LAST_SPACE_GROUP = (2, 15, 74, 142, 167, 194, 230)


def _check_space_group(number: int) -> int:
    number = int(number)
    if not 1 <= number <= N_SPACE_GROUPS:
        raise ValueError(f"space group number must be in 1..230, got {number}")
    return number


def crystal_system_index(space_group: int) -> int:
    """Crystal-system index 0..6 of an ITA space-group number 1..230."""
    number = _check_space_group(space_group)
    for index, last in enumerate(_LAST_SPACE_GROUP):
        if number <= last:
            return index
    raise AssertionError("unreachable")


def crystal_system_name(space_group: int) -> str:
    """Crystal-system name ("cubic", ...) of an ITA space-group number."""
    return CRYSTAL_SYSTEMS[crystal_system_index(space_group)]


def crystal_system_of_index(name: str) -> int:
    """Index 0..6 of a crystal-system name (case-insensitive)."""
    key = name.strip().lower()
    if key not in CRYSTAL_SYSTEMS:
        raise ValueError(f"unknown crystal system {name!r}; expected one of {CRYSTAL_SYSTEMS}")
    return CRYSTAL_SYSTEMS.index(key)


@lru_cache(maxsize=1)
def space_group_to_crystal_system_table() -> np.ndarray:
    """Lookup table ``[231]`` int64: entry n is the crystal-system index of space group n (entry 0 = -1).

    Used to turn space-group probabilities into crystal-system probabilities by summing over
    the groups of each system, so the two predictions are consistent by construction.
    """
    table = np.full(N_SPACE_GROUPS + 1, -1, dtype=np.int64)
    for n in range(1, N_SPACE_GROUPS + 1):
        table[n] = crystal_system_index(n)
    return table


@lru_cache(maxsize=1)
def _short_symbols() -> dict[int, str]:
    import spglib

    symbols: dict[int, str] = {}
    # Hall numbers 1..530 list every setting; the first one of each group is the ITA standard.
    for hall in range(1, 531):
        sg_type = spglib.get_spacegroup_type(hall)
        symbols.setdefault(sg_type.number, sg_type.international_short)
    return symbols


def space_group_symbol(space_group: int) -> str:
    """Short Hermann-Mauguin symbol (spglib's, standard setting, e.g. "P2_1/c", "Fm-3m")."""
    return _short_symbols()[_check_space_group(space_group)]


def bravais_lattice(space_group: int) -> str:
    """Bravais lattice symbol (e.g. "cF", "hR", "mC") of an ITA space-group number.

    The centring letter is the first letter of the Hermann-Mauguin symbol; trigonal groups
    with an R lattice are rhombohedral (hR), the other trigonal and hexagonal groups are hP.
    """
    system = crystal_system_index(space_group)
    centring = space_group_symbol(space_group)[0]
    prefix = "amothhc"[system]
    if centring in "AB":
        centring = "C"  # A/B-centred settings are the same Bravais type as C
    if system == 4:
        return "hR" if centring == "R" else "hP"
    if system == 0:
        return "aP"
    return prefix + centring
