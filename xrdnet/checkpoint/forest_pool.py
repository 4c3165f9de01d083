"""The forest a checkpoint pools its networks with: ``forest_pool.json`` and the forest run folder it names.

    {"format_version": 1, "forest": "forest", "forest_weight": 0.5, "combine_indexing": false,
     "chosen_on": "RRUFF validation scans (scripts/ablate_forest_pool.py)",
     "calibration": {"cs_temperature": 0.7, "fitted_on": {...}}}

``forest`` is a forest run folder inside the checkpoint (relative, no ``..``: as ``xrdnet train`` writes it,
read through ``models.forest_store``'s allow-list, never unpickled); ``forest_weight`` is ``w`` of
``xrdnet.inference.pooling.log_linear_pool``. ``combine_indexing`` is whether a confident indexing cell is
still mixed into the pooled answer by default (``Predictor(combine_indexing=None)``): the forest already reads
the indexing features, and mixing the cell in again counts that evidence twice (on the RRUFF validation scans
67.4 % against 70.0 % at w = 0.5, scripts/ablate_forest_combination.py). ``calibration`` (written by
``xrdnet calibrate``, optional) is the temperature of the pooled crystal-system probabilities, fitted on the
simulated validation split like every other temperature here: two calibrated opinions pooled with weights
summing to one are under-confident where they agree. Without the file a checkpoint answers with its networks
alone. A file that is there but cannot be read is refused with one line naming it: answering without
the forest would give other answers than the card's figures describe, silently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

POOL_FILE = "forest_pool.json"
POOL_FORMAT_VERSION = 1


@dataclass
class ForestPool:
    """A loaded forest and its weight in the pool (see the module docstring)."""

    folder: Path
    run: object = field(repr=False)
    forest_weight: float
    chosen_on: str = ""
    combine_indexing: bool = False
    temperature: float = 1.0
    """Of the pooled crystal-system probabilities (``xrdnet.calibration.apply_temperature``); 1 = none fitted."""
    fitted_on: dict = field(default_factory=dict)

    def forest_crystal_systems(self, rows: np.ndarray, grid_two_theta_deg: np.ndarray,
                               wavelength_angstrom: float) -> np.ndarray:
        """The forest's crystal-system probabilities ``[P, 7]`` of ``rows [P, G]`` on the grid at λ."""
        return np.asarray(self.run.predict(rows, grid_two_theta_deg, wavelength_angstrom).cs_proba, np.float64)

    def combine(self, cs: np.ndarray, sg: np.ndarray, forest_cs: np.ndarray,
                temperature: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The networks' ``(cs [P, 7], sg [P, 230])`` pooled with the forest's ``forest_cs [P, 7]``, tempered by
        ``temperature`` (default: the pool's own); the space groups keep the networks' order within a system."""
        from xrdnet.calibration import apply_temperature
        from xrdnet.inference.pooling import log_linear_pool, rescale_space_groups
        from xrdnet.symmetry import space_group_to_crystal_system_table

        pooled = log_linear_pool(cs, forest_cs, self.forest_weight)
        temperature = self.temperature if temperature is None else float(temperature)
        if temperature != 1.0:
            pooled = apply_temperature(pooled, temperature)
        return pooled, rescale_space_groups(sg, cs, pooled, space_group_to_crystal_system_table()[1:])

    def pool(self, cs: np.ndarray, sg: np.ndarray, rows: np.ndarray, grid_two_theta_deg: np.ndarray,
             wavelength_angstrom: float) -> tuple[np.ndarray, np.ndarray]:
        """The networks' ``(cs [P, 7], sg [P, 230])`` of ``rows [P, G]`` pooled with the forest's answer."""
        return self.combine(cs, sg, self.forest_crystal_systems(rows, grid_two_theta_deg, wavelength_angstrom))


def load_forest_pool(folder: str | Path, device: str = "cpu") -> ForestPool | None:
    """The checked forest pool of checkpoint ``folder``, None without ``forest_pool.json``."""
    from xrdnet.models.runs import load_run, run_folder_inside

    folder = Path(folder)
    found = read_pool_record(folder / POOL_FILE, POOL_FORMAT_VERSION)
    if found is None:
        return None
    record, data = found
    name = data.get("forest")
    if not isinstance(name, str) or not name:
        raise ValueError(f"{record}: 'forest' must name a folder inside the checkpoint, got {name!r}")
    weight = pool_weight(data, "forest_weight", record)
    combine = data.get("combine_indexing", False)
    if not isinstance(combine, bool):
        raise ValueError(f"{record}: 'combine_indexing' must be true or false, got {combine!r}")
    temperature, fitted_on = pool_calibration(data.get("calibration"), record)
    forest_dir = run_folder_inside(folder, name, record, "forest")
    run = load_run(forest_dir, device=device)
    if run.kind != "forest":
        raise ValueError(f"{record}: {name!r} is a {run.kind} run, not a forest")
    return ForestPool(forest_dir, run, weight, str(data.get("chosen_on", "")), combine, temperature, fitted_on)


# ------------------------------------------------------------- a pool record (this file's, and match_pool.json)


def read_pool_record(record: Path, format_version: int) -> tuple[Path, dict] | None:
    """``(record, its JSON object)`` of a checkpoint's pool file, checked to be of ``format_version``; None
    without the file. An unreadable file is a ValueError naming it."""
    if not record.is_file():
        return None
    try:
        data = json.loads(record.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{record}: unreadable ({type(exc).__name__}: {exc})") from exc
    if not isinstance(data, dict) or data.get("format_version") != format_version:
        raise ValueError(f"{record}: format_version must be {format_version}")
    return record, data


def pool_weight(data: dict, key: str, record: Path) -> float:
    """The pool weight ``data[key]``, a number in 0..1 (ValueError naming ``record`` otherwise)."""
    weight = data.get(key)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0.0 <= float(weight) <= 1.0:
        raise ValueError(f"{record}: '{key}' must be a number in 0..1, got {weight!r}")
    return float(weight)


def write_pool_record(record: Path, data: dict, temperature: float | None, fitted_on: dict | None) -> None:
    """Write a pool file: ``data`` with the ``calibration`` entry when a ``temperature`` was fitted."""
    if temperature is not None:
        data = {**data, "calibration": {"cs_temperature": float(temperature), "fitted_on": dict(fitted_on or {})}}
    record.write_text(json.dumps(data, indent=2) + "\n")


def pool_calibration(entry, record: Path) -> tuple[float, dict]:
    """``(temperature, fitted_on)`` of a pool record's ``calibration`` entry; (1, {}) without one."""
    if entry is None:
        return 1.0, {}
    temperature = entry.get("cs_temperature") if isinstance(entry, dict) else None
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not 0.0 < temperature < 1e3:
        raise ValueError(f"{record}: 'calibration' needs a positive cs_temperature, got {temperature!r}")
    return float(temperature), dict(entry.get("fitted_on") or {})


def write_forest_pool(folder: str | Path, forest: str, forest_weight: float, chosen_on: str,
                      combine_indexing: bool = False, temperature: float | None = None,
                      fitted_on: dict | None = None) -> Path:
    """Write ``forest_pool.json`` into checkpoint ``folder`` (``forest`` relative to it); returns the file.

    ``temperature`` (with ``fitted_on``, what it was fitted on) is the pooled probabilities' calibration."""
    record = Path(folder) / POOL_FILE
    write_pool_record(record, {"format_version": POOL_FORMAT_VERSION, "forest": forest,
                               "forest_weight": float(forest_weight), "combine_indexing": bool(combine_indexing),
                               "chosen_on": chosen_on}, temperature, fitted_on)
    load_forest_pool(folder)  # what is written must read back
    return record
