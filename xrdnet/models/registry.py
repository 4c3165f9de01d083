"""Model kinds by the ``kind`` a run folder's ``run.json`` records: one way to add a model.

``xrdnet train``, ``load_run`` (compare, predict, rules, checkpoints) and the ``xrdnet`` command look a
kind up here instead of branching on its name. A kind is an object satisfying :class:`Model` (how it
trains into a run folder, what that folder holds, how it loads and predicts), registered by its own
module at import with :func:`register`. Adding a kind is that module, its test, and its module name in
:data:`KIND_MODULES`; nothing else changes.

Kind modules are imported on the first lookup, not when this module is, and they import their heavy
libraries (torch, scikit-learn) inside their functions, so asking for the forest never loads Lightning.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from xrdnet.models.prediction import Prediction

KIND_MODULES = ("xrdnet.models.cnn_run", "xrdnet.models.forest_run", "xrdnet.models.search_match_run")
"""Modules that register a model kind (the one line a new kind adds)."""


@runtime_checkable
class Model(Protocol):
    """A model kind: everything xrdnet needs to train, store, load and use one kind of run.

    Attributes:
        kind: the name in ``run.json`` ``kind``, ``TrainConfig.model`` and ``xrdnet train --model``.
        model_file: the file in the run folder that holds the trained model.
        run_files: what a finished run folder holds (besides files every run has: ``run.json``,
            ``config.yaml``, ``training_set.tsv.gz``).
        resume_file: the file a run cut short (``--max-time``) resumes from; None = fitted in one go.
    """

    kind: str
    model_file: str
    run_files: tuple[str, ...]
    resume_file: str | None

    def train(self, config, data_path: Path, out: Path, max_seconds: float | None, resume: bool) -> dict:
        """Train on ``data_path`` into ``out``; the ``run.json`` fields measured (plus ``train_rows`` and
        ``is_global_zero``; optionally ``_model``, the trained model in memory)."""

    def load(self, folder: Path, info: dict, device: str) -> object:
        """The trained model of run ``folder`` (``info`` = its ``run.json``), loaded without running code."""

    def predict_patterns(self, model, patterns: np.ndarray, two_theta_deg: np.ndarray, wavelength_angstrom: float,
                         batch_size: int) -> Prediction:
        """Predictions for float32 ``[P, G]`` patterns on ``two_theta_deg`` at ``wavelength_angstrom``."""

    def input_grid(self, model) -> np.ndarray | None:
        """The 2θ grid the model reads its input on, or None when it takes any grid."""

    def training_grid(self, model) -> np.ndarray | None:
        """The 2θ grid of the patterns it was trained on (None if not recorded)."""

    def wavelength(self, model, folder: Path, info: dict) -> tuple[float | None, str]:
        """``(wavelength of the training grid or None, where it is recorded)`` for the error naming the run."""


_KINDS: dict[str, Model] = {}
_loaded = False


def register(model: Model) -> Model:
    """Register kind ``model`` under ``model.kind`` (TypeError if it misses part of :class:`Model`)."""
    if not isinstance(model, Model):
        raise TypeError(f"{model!r} does not implement xrdnet.models.registry.Model")
    if model.kind in _KINDS and type(_KINDS[model.kind]) is not type(model):
        raise ValueError(f"model kind {model.kind!r} is registered twice ({_KINDS[model.kind]!r}, {model!r})")
    _KINDS[model.kind] = model
    return model


def _load_kinds() -> None:
    global _loaded
    if not _loaded:
        for name in KIND_MODULES:
            importlib.import_module(name)
        _loaded = True


def kind_names() -> tuple[str, ...]:
    """The registered kinds, in :data:`KIND_MODULES` order (kinds registered from elsewhere last)."""
    _load_kinds()

    def rank(name: str) -> int:
        module = type(_KINDS[name]).__module__
        return KIND_MODULES.index(module) if module in KIND_MODULES else len(KIND_MODULES)

    return tuple(sorted(_KINDS, key=rank))


def get(kind: str, where: str | Path | None = None) -> Model:
    """The registered kind ``kind``; ValueError naming ``where`` (a file) and the known kinds otherwise."""
    _load_kinds()
    if kind not in _KINDS:
        prefix = f"{where}: " if where is not None else ""
        raise ValueError(f"{prefix}unknown model kind {kind!r} (known: {', '.join(kind_names())})")
    return _KINDS[kind]
