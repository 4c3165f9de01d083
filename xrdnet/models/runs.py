"""Load a trained run folder of any registered kind (``models.registry``) behind one prediction interface.

``compare`` and ``predict`` never care which kind of model a run holds: ``load_run(folder)``
returns a ``LoadedRun`` whose ``predict`` maps patterns to crystal-system and space-group
probabilities and (consistent, for the CNN) predictions. Everything kind-specific is asked of the
run's registered kind; this module never branches on its name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from xrdnet.models import registry
from xrdnet.models.prediction import Prediction

__all__ = ["LoadedRun", "Prediction", "checkpoint_members", "ensemble_calibration", "load_run",
           "write_ensemble_calibration"]


@dataclass
class LoadedRun:
    """A run folder's model plus its record (``run.json``); ``model`` is the kind's own object."""

    path: Path
    kind: str
    info: dict
    model: object = field(repr=False)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def model_kind(self) -> registry.Model:
        """The registered kind this run is (``models.registry``)."""
        return registry.get(self.kind, self.path / "run.json")

    @property
    def size_mb(self) -> float:
        f = self.path / self.info.get("model_file", "")
        return f.stat().st_size / 1e6 if f.is_file() else float("nan")

    @property
    def two_theta_deg(self) -> np.ndarray | None:
        """The grid the model reads its input on (CNN), else None (the forest works on peaks)."""
        return self.model_kind.input_grid(self.model)

    @property
    def grid_two_theta_deg(self) -> np.ndarray | None:
        """The 2θ grid of the patterns the model was trained on (CNN: its input; forest: its training data)."""
        return self.model_kind.training_grid(self.model)

    @property
    def wavelength_angstrom(self) -> float:
        """The wavelength (Kα1 for a Kα source) of the training patterns' 2θ grid.

        Every 2θ the model sees is converted to this wavelength, so a run that does not state it is
        refused (ValueError naming the run) rather than read as Cu Kα1: a Mo-trained model given Cu
        positions answers nonsense without a word.
        """
        lam, where = self.model_kind.wavelength(self.model, self.path, self.info)
        if not lam:
            raise ValueError(f"run {self.path}: states no wavelength for its training patterns in {where}; "
                             "retrain it with xrdnet train (which records the data set's), no default is assumed")
        return float(lam)

    def predict(self, patterns: np.ndarray, two_theta_deg: np.ndarray, wavelength_angstrom: float,
                batch_size: int = 512) -> Prediction:
        """Predictions for ``[P, G]`` patterns sampled on ``two_theta_deg`` at ``wavelength_angstrom``.

        A kind with its own input grid (the CNN) interpolates other grids onto it (zero outside the
        measured range). Wavelength conversion for measured patterns happens before this call.
        """
        patterns = np.asarray(patterns, dtype=np.float32)
        return self.model_kind.predict_patterns(self.model, patterns, two_theta_deg, wavelength_angstrom, batch_size)


def load_run(path: str | Path, device: str = "cpu") -> LoadedRun:
    """Open run folder ``path`` written by ``xrdnet train`` (clear errors for anything else)."""
    path = Path(path)
    record = path / "run.json"
    if not record.is_file():
        raise FileNotFoundError(f"{path}: not a run folder (no run.json; make one with xrdnet train)")
    info = json.loads(record.read_text())
    kind = info.get("kind")
    model = registry.get(kind, record).load(path, info, device)
    return LoadedRun(path, kind, info, model)


MEMBERS_FILE = "members.json"
MEMBERS_FORMAT_VERSION = 1


def checkpoint_members(path: str | Path) -> list[Path]:
    """The run folders a checkpoint folder stands for: itself, then the further members of an ensemble.

    A checkpoint folder that ships an ensemble keeps its first network in the folder itself and lists
    the others in ``members.json``: ``{"format_version": 1, "members": ["members/seed1", ...]}``, paths
    relative to the folder and inside it. Their calibrated probabilities are averaged (then tempered by
    the file's own ``calibration``, :func:`ensemble_calibration`); the card, rules and mixture detector of
    the folder describe the ensemble. Without the file: ``[path]``.
    """
    path = Path(path)
    data = _members_record(path)
    if data is None:
        return [path]
    record = path / MEMBERS_FILE
    names = data.get("members")
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise ValueError(f"{record}: 'members' must be a list of folder names relative to {path}")
    members = [path]
    for name in names:
        members.append(run_folder_inside(path, name, record, "member"))
    return members


def run_folder_inside(path: Path, name: str, record: Path, what: str) -> Path:
    """``path / name``, checked to be a run folder inside checkpoint ``path`` (relative, no ``..``, with a
    ``run.json``); ``record`` (the file naming it) and ``what`` it is name the problem in the one-line error."""
    relative = Path(name)
    if relative.is_absolute() or ".." in relative.parts:
        raise ValueError(f"{record}: {what} {name!r} must be a folder inside the checkpoint (relative, no '..')")
    folder = path / relative
    if not (folder / "run.json").is_file():
        raise FileNotFoundError(f"{record}: {what} {name!r} is not a run folder (no {folder / 'run.json'})")
    return folder


def _members_record(path: Path) -> dict | None:
    """The checked content of ``path/members.json``, or None without one."""
    record = path / MEMBERS_FILE
    if not record.is_file():
        return None
    try:
        data = json.loads(record.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{record}: unreadable ensemble list ({type(exc).__name__}: {exc})") from exc
    version = data.get("format_version") if isinstance(data, dict) else None
    if version != MEMBERS_FORMAT_VERSION:
        raise ValueError(f"{record}: format_version {version!r}, this xrdnet reads {MEMBERS_FORMAT_VERSION}")
    return data


def ensemble_calibration(path: str | Path):
    """The temperatures applied to an ensemble's averaged probabilities (``members.json`` ``calibration``:
    ``{"cs_temperature", "sg_temperature", "fitted_on"}``), or None for a single network or none stored.

    Averaging members that are each calibrated leaves the average under-confident (their errors differ),
    so ``xrdnet calibrate`` fits one more temperature per head on the averaged validation probabilities.
    """
    from xrdnet.calibration import Calibration

    data = _members_record(Path(path))
    entry = None if data is None else data.get("calibration")
    if entry is None:
        return None
    try:
        return Calibration(float(entry["cs_temperature"]), float(entry["sg_temperature"]),
                           fitted_on=dict(entry.get("fitted_on") or {}))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{Path(path) / MEMBERS_FILE}: 'calibration' needs cs_temperature and sg_temperature "
                         f"({type(exc).__name__}: {exc})") from exc


def write_ensemble_calibration(path: str | Path, calibration) -> Path:
    """Store ``calibration``'s temperatures in ``path/members.json``, keeping its members."""
    path = Path(path)
    data = _members_record(path)
    if data is None:
        raise FileNotFoundError(f"{path}: no {MEMBERS_FILE}; only an ensemble folder takes an ensemble calibration")
    data["calibration"] = {"cs_temperature": calibration.cs_temperature, "sg_temperature": calibration.sg_temperature,
                           "fitted_on": calibration.fitted_on}
    record = path / MEMBERS_FILE
    record.write_text(json.dumps(data, indent=2) + "\n")
    return record
