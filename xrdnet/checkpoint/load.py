"""The checkpoint as one typed object: ``Checkpoint.load(name_or_path)``.

A checkpoint folder (``format``) holds one network or a shipped ensemble (``members.json``: the folder's
own network first, then its members), the calibration of each network and of their average, the card
(``card.ModelCard``), the surrogate rules, the mixture detector, the forest the networks are pooled with
(``forest_pool``), the reference library its answer is pooled with (``match_pool``) and the training set the
prior is taken from. ``Predictor`` used to assemble these by hand from six files; here they are read once, each through
the module that owns its format, so the predictor only asks for what it needs.

Networks load weights-only (``models.safe_load``, through ``models.runs.load_run``): opening a
downloaded checkpoint never runs code; a forest run loads through ``models.forest_store``'s allow-list (no unpickling).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from xrdnet.checkpoint.card import ModelCard
from xrdnet.checkpoint.forest_pool import load_forest_pool
from xrdnet.checkpoint.format import read_format_version
from xrdnet.checkpoint.match_pool import load_match_pool
from xrdnet.checkpoint.parts import load_mixture, load_rules
from xrdnet.checkpoint.registry import resolve


@dataclass
class Checkpoint:
    """Everything one checkpoint folder answers with (see the module docstring).

    Attributes:
        path: the folder.
        members: the run folders it stands for: ``path`` itself, then the ensemble's further members.
        runs: one ``LoadedRun`` per member (same order).
        calibrations: each member's ``calibration.json`` (None: not calibrated, or ``calibrate=False``).
        ensemble_calibration: the temperatures of the members' averaged probabilities (``members.json``).
        card: the measured figures (``card.json``); empty without one.
        tree: the checked surrogate tree (``rules/tree.json``) or None.
        mixture: the mixture detector or None; ``mixture_problem`` says why when it failed to load.
        forest_pool: the forest the networks' crystal-system probabilities are pooled with
            (``forest_pool.json``, ``checkpoint.forest_pool``) or None.
        match_pool: the search-match reference library the pooled answer is pooled with once more
            (``match_pool.json``, ``checkpoint.match_pool``) or None.
        format_version: the folder's checked layout version.
    """

    path: Path
    members: tuple[Path, ...]
    runs: list = field(repr=False)
    calibrations: list
    ensemble_calibration: object | None = None
    card: ModelCard = field(default_factory=ModelCard)
    tree: dict | None = field(default=None, repr=False)
    mixture: object | None = field(default=None, repr=False)
    mixture_problem: str | None = None
    forest_pool: object | None = field(default=None, repr=False)
    match_pool: object | None = field(default=None, repr=False)
    format_version: int = 1

    @classmethod
    def load(cls, source: str | Path | None = None, device: str = "cpu", calibrate: bool = True,
             extras: bool = True) -> "Checkpoint":
        """Open checkpoint ``source``: a folder, a shipped name, or None for the default (``registry``).

        ``calibrate=False`` leaves the probabilities as the networks give them. ``extras=False`` reads only
        the networks and their calibrations (no card, rules or mixture detector): what a further folder of
        a several-folder ensemble contributes. Errors are one line naming the folder or file.
        """
        from xrdnet.calibration import Calibration
        from xrdnet.models.runs import checkpoint_members, ensemble_calibration, load_run

        path = resolve(source)
        if not (path / "run.json").is_file():
            raise FileNotFoundError(f"checkpoint {path} not found (no run.json); pass --checkpoint runs/<name>")
        version = read_format_version(path)
        members = tuple(checkpoint_members(path))
        runs = [load_run(p, device=device) for p in members]
        calibrations = [Calibration.load(p) if calibrate else None for p in members]
        checkpoint = cls(path, members, runs, calibrations,
                         ensemble_calibration=ensemble_calibration(path) if calibrate else None,
                         format_version=version)
        if extras:
            checkpoint.card = ModelCard.load(path)
            checkpoint.tree = load_rules(path)
            checkpoint.mixture, checkpoint.mixture_problem = load_mixture(path, stacklevel=4)
            checkpoint.forest_pool = load_forest_pool(path, device=device)
            checkpoint.match_pool = load_match_pool(path)
        return checkpoint

    @property
    def name(self) -> str:
        """The first network's recorded name (``run.json``), else the folder's."""
        first = self.runs[0]
        return first.info.get("name") or first.name

    @property
    def grid_two_theta_deg(self) -> np.ndarray | None:
        """The 2θ grid of the first network's training patterns (all members share it)."""
        return self.runs[0].grid_two_theta_deg

    @property
    def wavelength_angstrom(self) -> float:
        """The wavelength of the training patterns' 2θ grid (ValueError when the run states none)."""
        return self.runs[0].wavelength_angstrom

    def training_priors(self) -> list[np.ndarray]:
        """Each member's training prior ``[230]`` (from its ``training_set.tsv.gz``), members without one left out.

        The prior a user asks for re-weights by the ratio to this: what the networks saw in training.
        """
        from xrdnet.calibration import training_prior

        found = [training_prior(p) for p in self.members]
        return [t for t in found if t is not None]
