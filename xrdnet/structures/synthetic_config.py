"""Settings of random pyxtal crystals: ``SyntheticConfig``, its default elements, and the
space-group distribution its ``space_groups`` names (``space_group_probabilities``).

Generation itself (seeding, attempts, workers) is in ``xrdnet.structures.synthetic``.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xrdnet.structures.labelled import xray_scattering_elements

# Common elements, all with pymatgen X-ray scattering parameters and pyxtal radii. Hydrogen and
# noble gases are left out: they hardly scatter X-rays or rarely sit in ordered inorganic crystals.
DEFAULT_ELEMENTS: tuple[str, ...] = (
    "Li", "Na", "K", "Rb", "Cs",
    "Be", "Mg", "Ca", "Sr", "Ba",
    "B", "Al", "Ga", "In",
    "C", "Si", "Ge", "Sn", "Pb",
    "N", "P", "As", "Sb", "Bi",
    "O", "S", "Se", "Te",
    "F", "Cl", "Br", "I",
    "Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn",
    "Y", "Zr", "Nb", "Mo", "Ag", "Cd",
    "La", "Ce", "Hf", "W", "Pt", "Au",
)  # fmt: skip


@dataclass(frozen=True)
class SyntheticConfig:
    """Settings for random pyxtal crystals; the defaults suit a laptop.

    ``space_groups`` is ``"uniform"`` (each of the 230 groups alike), ``"crystal_system"`` (each of
    the 7 crystal systems alike, split evenly over its groups) or the path of a weights file (CSV
    ``space_group,weight`` rows or a YAML mapping ``number: weight``; groups not listed get weight
    0). Uniform over groups makes 55 % of the structures tetragonal or orthorhombic and 1 % triclinic,
    so a classifier learns that prior; ``crystal_system`` is the neutral choice for models meant for
    real samples, where monoclinic and triclinic are common. ``n_species`` is the
    inclusive range of distinct elements, ``max_atoms_per_cell`` bounds the conventional cell,
    ``volume_factor`` is the range of pyxtal's volume ``factor``, ``time_limit_s`` the CPU-time
    limit of one attempt, ``max_attempts`` the attempts at one space group before the index draws
    another group (at most ``max_redraws`` times, then ``GenerationError``), and
    ``symprec`` (Å) the spglib tolerance of the label check. With probability ``anion_probability``
    one species is drawn from ``anions`` (and the others from the remaining ``elements``): most
    real inorganic crystals are oxides, halides or chalcogenides, whose light, numerous anions
    shape the intensities differently from random mixtures of metals.
    """

    space_groups: str = "uniform"
    elements: tuple[str, ...] = DEFAULT_ELEMENTS
    n_species: tuple[int, int] = (1, 3)
    anions: tuple[str, ...] = ()
    anion_probability: float = 0.0
    max_atoms_per_cell: int = 64
    volume_factor: tuple[float, float] = (0.9, 1.3)
    time_limit_s: float = 2.0
    max_attempts: int = 10
    max_redraws: int = 5
    symprec: float = 0.1
    # pyxtal's own inner retries per attempt; small, because a fresh seed is a better retry.
    pyxtal_max_count: int = 5

    def __post_init__(self) -> None:
        lo, hi = self.n_species
        if not 1 <= lo <= hi:
            raise ValueError(f"n_species must satisfy 1 <= min <= max, got {self.n_species}")
        if hi > len(set(self.elements)):
            raise ValueError(f"n_species max {hi} exceeds the {len(set(self.elements))} distinct elements given")
        vlo, vhi = self.volume_factor
        if not 0 < vlo <= vhi:
            raise ValueError(f"volume_factor must satisfy 0 < min <= max, got {self.volume_factor}")
        if self.max_atoms_per_cell < 1:
            raise ValueError(f"max_atoms_per_cell must be >= 1, got {self.max_atoms_per_cell}")
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if self.max_redraws < 0:
            raise ValueError(f"max_redraws must be >= 0, got {self.max_redraws}")
        # Upper bounds only a typo reaches (a 1e9-atom cell or an infinite time limit hangs a run).
        for name, limit in (("max_atoms_per_cell", 10_000), ("max_attempts", 1_000_000), ("max_redraws", 229),
                            ("pyxtal_max_count", 1000), ("time_limit_s", 1e5), ("symprec", 5.0)):
            if not getattr(self, name) <= limit:
                raise ValueError(f"{name} must be <= {limit}, got {getattr(self, name)}")
        if not vhi <= 100:
            raise ValueError(f"volume_factor must be <= 100, got {self.volume_factor}")
        if not self.time_limit_s > 0:
            raise ValueError(f"time_limit_s must be > 0, got {self.time_limit_s}")
        if not self.symprec > 0:
            raise ValueError(f"symprec must be > 0, got {self.symprec}")
        if self.pyxtal_max_count < 1:
            raise ValueError(f"pyxtal_max_count must be >= 1, got {self.pyxtal_max_count}")
        if not 0.0 <= self.anion_probability <= 1.0:
            raise ValueError(f"anion_probability must be in [0, 1], got {self.anion_probability}")
        if self.anion_probability > 0:
            if not self.anions:
                raise ValueError("anion_probability > 0 needs a list of anions")
            if hi > 1 and len(set(self.elements) - set(self.anions)) < hi - 1:
                raise ValueError(f"n_species max {hi} needs at least {hi - 1} elements besides the anions")
        missing = [e for e in (*self.elements, *self.anions) if e not in xray_scattering_elements()]
        if missing:
            raise ValueError(f"elements without pymatgen X-ray scattering parameters: {missing}")


# ----------------------------------------------------------------------------------------------
# Space-group distribution


def space_group_probabilities(spec: str) -> np.ndarray:
    """Probabilities ``[230]`` (entry k is space group k+1) from ``"uniform"`` or a weights file.

    A CSV file holds ``space_group,weight`` rows (a header row is allowed); a YAML file holds a
    mapping ``number: weight``. Groups not listed get weight 0. Errors name the file and the row.
    """
    if spec == "uniform":
        return np.full(230, 1.0 / 230)
    if spec == "crystal_system":
        from xrdnet.symmetry import N_CRYSTAL_SYSTEMS, crystal_system_index

        systems = np.array([crystal_system_index(g) for g in range(1, 231)])
        per_system = np.bincount(systems, minlength=N_CRYSTAL_SYSTEMS)
        return 1.0 / (N_CRYSTAL_SYSTEMS * per_system[systems])
    path = Path(spec)
    if not path.is_file():
        raise FileNotFoundError(f"space-group weights file {path} not found "
                                "(or use space_groups: uniform / crystal_system)")
    weights = np.zeros(230)
    pairs: list[tuple[Any, Any]]
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        data = yaml.safe_load(path.read_text())
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping space_group -> weight")
        pairs = list(data.items())
    else:
        with path.open(newline="") as handle:
            rows = [row for row in csv.reader(handle) if row and not row[0].lstrip().startswith("#")]
        if rows and not rows[0][0].strip().lstrip("-").isdigit():
            rows = rows[1:]  # header
        pairs = []
        for number, row in enumerate(rows, 1):
            if len(row) < 2:
                raise ValueError(f"{path}: data row {number} {row!r} needs two columns, space_group,weight")
            pairs.append((row[0].strip(), row[1].strip()))
    for key, value in pairs:
        try:
            number, weight = int(key), float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{path}: cannot read {key!r}: {value!r} as space_group: weight") from None
        if not 1 <= number <= 230:
            raise ValueError(f"{path}: space group {number} is not in 1..230")
        if not (math.isfinite(weight) and weight >= 0):
            raise ValueError(f"{path}: weight of space group {number} must be finite and >= 0, got {weight}")
        weights[number - 1] += weight
    if weights.sum() <= 0:
        raise ValueError(f"{path}: all space-group weights are zero")
    return weights / weights.sum()
