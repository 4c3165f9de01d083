"""The reference library a checkpoint pools its answer with: ``match_pool.json`` and the library file it names.

    {"format_version": 1, "library": "reference/library.npz", "weight": 0.5,
     "chosen_on": "RRUFF validation scans and simulated held-out compounds (scripts/ablate_search_match.py)",
     "calibration": {"cs_temperature": 0.8, "fitted_on": {...}}}

``library`` is a ``xrdnet.search_match.ReferenceLibrary`` file inside the checkpoint (relative, no ``..``; read
with ``allow_pickle=False``). ``weight`` is ``w`` of ``xrdnet.inference.pooling.log_linear_pool``: the answer so
far (networks, pooled with the forest) and the library's vote are pooled as p ∝ p^(1−w) · p_match^w, the
crystal systems and the space groups alike, and the space groups are then scaled within each system to the
pooled system's probability. ``calibration`` (optional) is the temperature of the pooled crystal-system
probabilities, fitted on the simulated validation split (compounds the library does not hold). Without the file
a checkpoint answers without search-match; a file that is there but cannot be read is refused with one line
naming it, because answering without it would give other answers than the card's figures describe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from xrdnet.checkpoint.forest_pool import pool_calibration, pool_weight, read_pool_record, write_pool_record

POOL_FILE = "match_pool.json"
POOL_FORMAT_VERSION = 1


@dataclass
class MatchPool:
    """A loaded reference library and its weight in the pool (see the module docstring)."""

    library: object = field(repr=False)
    weight: float
    chosen_on: str = ""
    temperature: float = 1.0
    fitted_on: dict = field(default_factory=dict)
    path: Path | None = None

    def matches(self, rows: np.ndarray, grid_two_theta_deg: np.ndarray, wavelength_angstrom: float, k: int | None = None):
        """``search_match.Matches`` of ``rows [P, G]`` (on the grid at λ, as predict hands them to the models).

        The query lines are the shared peak finder's; each row is compared over its measured span (first to
        last point above zero)."""
        return self.library.match_patterns(rows, grid_two_theta_deg, wavelength_angstrom, k)

    def combine(self, cs: np.ndarray, sg: np.ndarray, matches, temperature: float | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
        """``(cs [P, 7], sg [P, 230])`` pooled with the library's vote on ``matches``, tempered by ``temperature``
        (default: the pool's own)."""
        from xrdnet.calibration import apply_temperature
        from xrdnet.inference.pooling import log_linear_pool, rescale_space_groups
        from xrdnet.symmetry import space_group_to_crystal_system_table

        match_cs, match_sg = self.library.probabilities(matches)
        pooled_cs = log_linear_pool(cs, match_cs, self.weight)
        temperature = self.temperature if temperature is None else float(temperature)
        if temperature != 1.0:
            pooled_cs = apply_temperature(pooled_cs, temperature)
        table = space_group_to_crystal_system_table()[1:]
        pooled_sg = log_linear_pool(sg, match_sg, self.weight)
        sums = np.zeros_like(pooled_cs)
        np.add.at(sums.T, table, pooled_sg.T)  # [P, 7]: each system's share of the pooled groups
        return pooled_cs, rescale_space_groups(pooled_sg, sums, pooled_cs, table)

    def pool(self, cs: np.ndarray, sg: np.ndarray, rows: np.ndarray, grid_two_theta_deg: np.ndarray,
             wavelength_angstrom: float, matches=None) -> tuple[np.ndarray, np.ndarray]:
        """``(cs, sg)`` of ``rows`` pooled with the library's vote (``matches`` when already searched)."""
        if matches is None:
            matches = self.matches(rows, grid_two_theta_deg, wavelength_angstrom)
        return self.combine(cs, sg, matches)

    def describe(self, matches, row: int, n: int = 3) -> list[dict]:
        """The ``n`` best references of query ``row`` as plain dicts (``PredictionResult.reference_matches``)."""
        from xrdnet.symmetry import CRYSTAL_SYSTEMS, space_group_symbol

        lib = self.library
        out = []
        for j in range(min(n, matches.index.shape[1])):
            i = int(matches.index[row, j])
            sg = int(lib.space_group[i])
            out.append({"id": str(lib.ids[i]), "formula": str(lib.formulas[i]),
                        "crystal_system": CRYSTAL_SYSTEMS[int(lib.crystal_system[i])], "space_group": sg,
                        "space_group_symbol": space_group_symbol(sg),
                        "similarity": float(matches.similarity[row, j]), "d_scale": float(matches.d_scale[row, j])})
        return out


def load_match_pool(folder: str | Path) -> MatchPool | None:
    """The checked match pool of checkpoint ``folder``, None without ``match_pool.json``."""
    from xrdnet.search_match import ReferenceLibrary

    folder = Path(folder)
    found = read_pool_record(folder / POOL_FILE, POOL_FORMAT_VERSION)
    if found is None:
        return None
    record, data = found
    name = data.get("library")
    if not isinstance(name, str) or not name or Path(name).is_absolute() or ".." in Path(name).parts:
        raise ValueError(f"{record}: 'library' must name a file inside the checkpoint, got {name!r}")
    weight = pool_weight(data, "weight", record)
    temperature, fitted_on = pool_calibration(data.get("calibration"), record)
    library = ReferenceLibrary.load(folder / name)
    return MatchPool(library, weight, str(data.get("chosen_on", "")), temperature, fitted_on, folder / name)


def write_match_pool(folder: str | Path, library: str, weight: float, chosen_on: str,
                     temperature: float | None = None, fitted_on: dict | None = None) -> Path:
    """Write ``match_pool.json`` into checkpoint ``folder`` (``library`` relative to it); returns the file."""
    record = Path(folder) / POOL_FILE
    write_pool_record(record, {"format_version": POOL_FORMAT_VERSION, "library": library, "weight": float(weight),
                               "chosen_on": chosen_on}, temperature, fitted_on)
    load_match_pool(folder)  # what is written must read back
    return record
