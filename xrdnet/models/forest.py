"""The scikit-learn baseline: extra-trees or random forest on peak features or the downsampled pattern.

Two independent classifiers, as in Suzuki et al. (2020, Sci. Rep. 10, 21790): one for the crystal
system (7 classes) and one for the space group (230 classes), each fitted on the same features.
Feature set ``suzuki`` is their vector (Q of the first 10 peaks + the peak count, from the shared
peak finder in ``xrdnet.peak_finder``); ``profile`` is the pattern block-max downsampled by
``profile_factor``. Probabilities always come back full width (``[P, 7]`` and ``[P, 230]``, column j
of the latter = space group j+1), zero for classes the training data never had, so the forest goes
through the same evaluation code as the CNN.

Unlike the CNN the two predictions are not forced to agree (a pattern may be predicted cubic and
P2_1/c); that is the published baseline, and ``evaluate`` reports both.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from xrdnet.config import config_from_dict, config_to_dict, load_config, save_config
from xrdnet.features import profile_feature_names, profile_features, suzuki_feature_names, suzuki_features
from xrdnet.peak_finder import PeakFinderConfig
from xrdnet.symmetry import N_CRYSTAL_SYSTEMS, N_SPACE_GROUPS
from xrdnet.units import q_inv_angstrom_from_two_theta, sin_theta_of_q, two_theta_deg_from_sin_theta

KINDS = ("extra_trees", "random_forest")
FEATURE_SETS = ("suzuki", "profile", "indexing", "suzuki_indexing")
PEAK_FEATURE_SETS = ("suzuki", "indexing", "suzuki_indexing")  # small sets: Suzuki's max_features applies
MODEL_FILE = "forest.skops"
LEGACY_MODEL_FILE = "forest.joblib"  # a pickle, written before 2026-12: refused (forest_store), convertible
CONFIG_FILE = "forest_config.yaml"
_FORMAT_VERSION = 2  # 1: forest.joblib (pickle); 2: forest.skops (allow-listed types, no unpickling)

# Suzuki et al.'s max_features, tuned for their 11 peak features; see ForestConfig.
SUZUKI_MAX_FEATURES = 9


def _positive_int(value, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _check_max_depth(value, name: str) -> None:
    if value is not None:
        _positive_int(value, name)


def _check_max_features(value, name: str) -> None:
    if value is None or value in ("sqrt", "log2"):
        return
    if isinstance(value, bool):
        raise ValueError(f"{name} must be null, a positive integer, a fraction in (0, 1] or 'sqrt'/'log2', got {value!r}")
    if isinstance(value, int) and value >= 1:
        return
    if isinstance(value, float) and 0 < value <= 1:
        return
    raise ValueError(f"{name} must be null, a positive integer, a fraction in (0, 1] or 'sqrt'/'log2', got {value!r}")


@dataclass(frozen=True)
class ForestConfig:
    """Settings of the forest baseline (the ``forest:`` section of a train config).

    The classifier settings default to Suzuki et al.'s published extra-trees: crystal system
    500 trees of depth <= 30, space group 200 trees of depth <= 25, 9 features tried per split.

    Attributes:
        kind: ``"extra_trees"`` (Suzuki et al.) or ``"random_forest"``.
        features: ``"suzuki"`` (first ``n_peaks`` peak Q + peak count), ``"profile"`` (pattern
            block-max downsampled by ``profile_factor``: 851 features on the default grid),
            ``"indexing"`` (the best cell of each lattice family: ``xrdnet.indexing.features``, ~0.15 s a
            pattern, spread over ``n_jobs`` processes) or ``"suzuki_indexing"`` (both peak sets side by side).
        n_peaks: peaks whose Q enter the ``suzuki`` features.
        profile_factor: grid points per ``profile`` feature.
        peak_finder: thresholds of the shared peak finder (``suzuki`` features).
        cs_n_estimators, cs_max_depth, cs_max_features, cs_min_samples_leaf: crystal-system
            classifier (depth null = unlimited).
        sg_n_estimators, sg_max_depth, sg_max_features, sg_min_samples_leaf: space-group classifier.
            A space-group tree stores 230 class fractions (1.8 kB) in every node, so fully grown
            trees on N patterns take ~N·3.7 kB each: 200 of them on 66,000 patterns are ~50 GB.
            ``sg_min_samples_leaf`` k divides that by about k; the real-data recipe uses 5.
        n_jobs: parallel jobs for fitting and prediction (-1 = all cores).
        seed: ``random_state`` of both classifiers.

    ``*_max_features`` null (the default) means "the right value for the feature set": 9 for
    ``suzuki`` (Suzuki et al.; capped at the number of features when ``n_peaks`` is small) and
    ``"sqrt"`` for ``profile``, where 9 of ~850 mostly-empty bins would make nearly every split
    random. An explicit integer, fraction or ``"sqrt"``/``"log2"`` is used as given.
    """

    kind: str = "extra_trees"
    features: str = "suzuki"
    n_peaks: int = 10
    profile_factor: int = 10
    peak_finder: PeakFinderConfig = field(default_factory=PeakFinderConfig)
    cs_n_estimators: int = 500
    cs_max_depth: int | None = 30
    cs_max_features: int | float | str | None = None
    sg_n_estimators: int = 200
    sg_max_depth: int | None = 25
    sg_max_features: int | float | str | None = None
    cs_min_samples_leaf: int = 1
    sg_min_samples_leaf: int = 1
    n_jobs: int = -1
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.features not in FEATURE_SETS:
            raise ValueError(f"features must be one of {FEATURE_SETS}, got {self.features!r}")
        _positive_int(self.n_peaks, "n_peaks")
        _positive_int(self.profile_factor, "profile_factor")
        if not isinstance(self.peak_finder, PeakFinderConfig):
            raise ValueError(f"peak_finder must be a PeakFinderConfig, got {self.peak_finder!r}")
        for prefix in ("cs", "sg"):
            _positive_int(getattr(self, f"{prefix}_n_estimators"), f"{prefix}_n_estimators")
            _check_max_depth(getattr(self, f"{prefix}_max_depth"), f"{prefix}_max_depth")
            _check_max_features(getattr(self, f"{prefix}_max_features"), f"{prefix}_max_features")
            _positive_int(getattr(self, f"{prefix}_min_samples_leaf"), f"{prefix}_min_samples_leaf")
        if isinstance(self.n_jobs, bool) or not isinstance(self.n_jobs, int) or self.n_jobs == 0:
            raise ValueError(f"n_jobs must be a non-zero integer (-1 = all cores), got {self.n_jobs!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < 2**32:
            raise ValueError(f"seed must be an integer in 0..2**32-1, got {self.seed!r}")

    def resolved_max_features(self, target: str, n_features: int | None = None) -> int | float | str:
        """``max_features`` handed to scikit-learn for ``target`` ("cs" or "sg"), null resolved per feature set.

        With ``n_features`` given, an integer is capped at it (scikit-learn rejects more).
        """
        if target not in ("cs", "sg"):
            raise ValueError(f"target must be 'cs' or 'sg', got {target!r}")
        value = getattr(self, f"{target}_max_features")
        if value is None:
            value = SUZUKI_MAX_FEATURES if self.features in PEAK_FEATURE_SETS else "sqrt"
        if isinstance(value, int) and n_features is not None:
            value = min(value, n_features)
        return value


def _labels(values, low: int, high: int, name: str, n: int) -> np.ndarray:
    """Integer labels ``[n]`` in low..high, or a ValueError naming ``name``."""
    array = np.asarray(values).reshape(-1)
    if len(array) != n:
        raise ValueError(f"{name} has {len(array)} labels for {n} patterns")
    if not np.issubdtype(array.dtype, np.integer):
        if not (np.issubdtype(array.dtype, np.floating) and np.all(np.isfinite(array)) and np.all(array == np.round(array))):
            raise ValueError(f"{name} must be integer labels, got dtype {array.dtype}")
    array = array.astype(np.int64)
    if n and (array.min() < low or array.max() > high):
        raise ValueError(f"{name} must be in {low}..{high}, got values {array.min()}..{array.max()}")
    return array


def _resample(patterns: np.ndarray, two_theta_deg: np.ndarray, wavelength_angstrom: float,
              grid_deg: np.ndarray, grid_wavelength_angstrom: float) -> np.ndarray:
    """``patterns [P, G]`` on ``two_theta_deg`` at λ, moved onto ``grid_deg [G']`` at λ' (zero outside).

    Positions are matched in Q, so a pattern measured with another anode lands where the same
    reflections sit at the training wavelength; points no reflection can reach at λ' are dropped.
    """
    q = q_inv_angstrom_from_two_theta(two_theta_deg, wavelength_angstrom)
    sin_theta = sin_theta_of_q(q, grid_wavelength_angstrom)
    keep = sin_theta <= 1.0
    x = two_theta_deg_from_sin_theta(sin_theta[keep])
    out = np.zeros((len(patterns), len(grid_deg)), dtype=np.float32)
    if len(x) < 2:
        return out
    for row, pattern in enumerate(patterns):
        out[row] = np.interp(grid_deg, x, pattern[keep], left=0.0, right=0.0)
    return out


class ForestModel:
    """Crystal-system and space-group forests with an sklearn-like interface (settings only in ``__init__``).

    Fitted attributes: ``cs_classifier_``, ``sg_classifier_`` (scikit-learn estimators),
    ``two_theta_deg_ [G]`` and ``wavelength_angstrom_`` (the training grid, needed to put other
    grids onto it for ``profile`` features), ``n_features_``, ``feature_names_`` and
    ``fit_seconds`` (featurisation plus both fits).
    """

    def __init__(self, config: ForestConfig = ForestConfig()) -> None:
        if not isinstance(config, ForestConfig):
            raise TypeError(f"config must be a ForestConfig, got {type(config).__name__}")
        self.config = config
        self.cs_classifier_ = None
        self.sg_classifier_ = None
        self.two_theta_deg_: np.ndarray | None = None
        self.wavelength_angstrom_: float | None = None
        self.n_features_: int | None = None
        self.feature_names_: tuple[str, ...] = ()
        self.fit_seconds: float | None = None

    def __repr__(self) -> str:
        state = "fitted" if self.is_fitted else "not fitted"
        return f"ForestModel({self.config.kind}, features={self.config.features}, {state})"

    @property
    def is_fitted(self) -> bool:
        return self.cs_classifier_ is not None and self.sg_classifier_ is not None

    # ------------------------------------------------------------------ features
    def featurize(self, patterns: np.ndarray, two_theta_deg: np.ndarray, wavelength_angstrom: float) -> np.ndarray:
        """Feature matrix ``[P, F]`` float32 of ``patterns [P, G]`` on ``two_theta_deg [G]`` at ``wavelength_angstrom``.

        ``suzuki``: ``[P, n_peaks + 1]`` (Q is wavelength-free, any grid works). ``profile``:
        ``[P, ceil(G_train / profile_factor)]``; once fitted, patterns on another grid or
        wavelength are first interpolated (in Q) onto the training grid, zero outside it.
        """
        c = self.config
        if c.features in PEAK_FEATURE_SETS:
            return self._peak_features(patterns, two_theta_deg, wavelength_angstrom)
        patterns = np.asarray(patterns)
        if self.two_theta_deg_ is not None:
            grid = np.asarray(two_theta_deg, dtype=np.float64)
            same_grid = grid.shape == self.two_theta_deg_.shape and np.allclose(grid, self.two_theta_deg_, atol=1e-6)
            same_lambda = math.isclose(float(wavelength_angstrom), self.wavelength_angstrom_, rel_tol=1e-6)
            if not (same_grid and same_lambda):
                if patterns.ndim != 2 or patterns.shape[1] != len(grid):
                    raise ValueError(f"patterns must be [P, {len(grid)}] to match two_theta_deg, got {patterns.shape}")
                if not np.all(np.isfinite(patterns)):
                    raise ValueError("patterns contain NaN or inf values")
                patterns = _resample(patterns, grid, float(wavelength_angstrom), self.two_theta_deg_,
                                     self.wavelength_angstrom_)
        return profile_features(patterns, c.profile_factor)

    def _peak_features(self, patterns: np.ndarray, two_theta_deg: np.ndarray, wavelength_angstrom: float) -> np.ndarray:
        """The peak-based sets: Suzuki's, the indexing features, or both side by side (any grid, any λ)."""
        from xrdnet.indexing.features import indexing_features

        c = self.config
        parts = []
        if c.features in ("suzuki", "suzuki_indexing"):
            parts.append(suzuki_features(patterns, two_theta_deg, wavelength_angstrom, c.n_peaks, c.peak_finder))
        if c.features in ("indexing", "suzuki_indexing"):
            jobs = (os.cpu_count() or 1) if c.n_jobs == -1 else max(1, c.n_jobs)
            parts.append(indexing_features(patterns, two_theta_deg, wavelength_angstrom, n_jobs=jobs,
                                           progress=len(patterns) >= 1000))
        return np.concatenate(parts, axis=1).astype(np.float32)

    def _feature_names(self, two_theta_deg: np.ndarray) -> tuple[str, ...]:
        from xrdnet.indexing.features import indexing_feature_specs

        c = self.config
        if c.features not in PEAK_FEATURE_SETS:
            return profile_feature_names(two_theta_deg, c.profile_factor)
        names = suzuki_feature_names(c.n_peaks) if c.features != "indexing" else ()
        if c.features != "suzuki":
            names = tuple(names) + tuple(s.name for s in indexing_feature_specs())
        return tuple(names)

    def _classifier(self, target: str, n_features: int):
        from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

        c = self.config
        cls = ExtraTreesClassifier if c.kind == "extra_trees" else RandomForestClassifier
        return cls(
            n_estimators=getattr(c, f"{target}_n_estimators"),
            max_depth=getattr(c, f"{target}_max_depth"),
            max_features=c.resolved_max_features(target, n_features),
            min_samples_leaf=getattr(c, f"{target}_min_samples_leaf"),
            n_jobs=c.n_jobs,
            random_state=c.seed,
        )

    # ------------------------------------------------------------------ fit / predict
    def fit(self, patterns: np.ndarray, two_theta_deg: np.ndarray, wavelength_angstrom: float,
            crystal_system: np.ndarray, space_group: np.ndarray) -> "ForestModel":
        """Fit both classifiers on ``patterns [P, G]`` with labels ``crystal_system [P]`` 0..6 and ``space_group [P]`` 1..230.

        The grid and wavelength are remembered (``profile`` features of other grids are mapped
        onto them). Returns ``self``.
        """
        patterns = np.asarray(patterns)
        if patterns.ndim != 2 or len(patterns) == 0:
            raise ValueError(f"patterns must be a non-empty [P, G] array, got shape {patterns.shape}")
        t0 = time.perf_counter()
        self.two_theta_deg_ = None  # featurise on the given grid as is
        x = self.featurize(patterns, np.asarray(two_theta_deg, dtype=np.float64), wavelength_angstrom)
        self.fit_features(x, two_theta_deg, wavelength_angstrom, crystal_system, space_group)
        self.fit_seconds = time.perf_counter() - t0
        return self

    def fit_features(self, x: np.ndarray, two_theta_deg: np.ndarray, wavelength_angstrom: float,
                     crystal_system: np.ndarray, space_group: np.ndarray,
                     sample_weight: np.ndarray | None = None) -> "ForestModel":
        """Fit both classifiers on features ``x [P, F]`` already made by ``featurize`` (on an unfitted model).

        Lets a caller featurise a data set too large for memory block by block; ``sample_weight``
        ``[P]`` weighs the patterns (as ``DataConfig.sample_weights`` does for the CNN).
        """
        t0 = time.perf_counter()
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 2 or len(x) == 0:
            raise ValueError(f"features must be a non-empty [P, F] array, got shape {x.shape}")
        n = len(x)
        cs = _labels(crystal_system, 0, N_CRYSTAL_SYSTEMS - 1, "crystal_system", n)
        sg = _labels(space_group, 1, N_SPACE_GROUPS, "space_group", n)
        grid = np.asarray(two_theta_deg, dtype=np.float64).copy()
        weight = None if sample_weight is None else np.asarray(sample_weight, np.float64) * (n / np.sum(sample_weight))
        cs_clf = self._classifier("cs", x.shape[1]).fit(x, cs, sample_weight=weight)
        sg_clf = self._classifier("sg", x.shape[1]).fit(x, sg, sample_weight=weight)
        self.cs_classifier_, self.sg_classifier_ = cs_clf, sg_clf
        self.two_theta_deg_ = grid
        self.wavelength_angstrom_ = float(wavelength_angstrom)
        self.n_features_ = int(x.shape[1])
        self.feature_names_ = self._feature_names(grid)
        self.fit_seconds = time.perf_counter() - t0
        return self

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise RuntimeError("ForestModel is not fitted: call fit() or ForestModel.load(folder) first")

    def predict_proba(self, patterns: np.ndarray, two_theta_deg: np.ndarray,
                      wavelength_angstrom: float) -> tuple[np.ndarray, np.ndarray]:
        """``(cs_proba [P, 7], sg_proba [P, 230])`` float64, rows summing to 1; column j of sg_proba is group j+1.

        Full width whatever classes the training data had: a class never seen in training gets
        probability 0 (the classifiers' ``classes_`` say where each of their columns goes).
        """
        self._check_fitted()
        x = self.featurize(patterns, two_theta_deg, wavelength_angstrom)
        cs_proba = np.zeros((len(x), N_CRYSTAL_SYSTEMS), dtype=np.float64)
        sg_proba = np.zeros((len(x), N_SPACE_GROUPS), dtype=np.float64)
        if len(x) == 0:
            return cs_proba, sg_proba
        cs_proba[:, self.cs_classifier_.classes_.astype(np.int64)] = self.cs_classifier_.predict_proba(x)
        sg_proba[:, self.sg_classifier_.classes_.astype(np.int64) - 1] = self.sg_classifier_.predict_proba(x)
        return cs_proba, sg_proba

    def predict(self, patterns: np.ndarray, two_theta_deg: np.ndarray,
                wavelength_angstrom: float) -> tuple[np.ndarray, np.ndarray]:
        """``(crystal_system [P] 0..6, space_group [P] 1..230)`` int64: the most probable class of each classifier."""
        cs_proba, sg_proba = self.predict_proba(patterns, two_theta_deg, wavelength_angstrom)
        return cs_proba.argmax(axis=1).astype(np.int64), sg_proba.argmax(axis=1).astype(np.int64) + 1

    # ------------------------------------------------------------------ persistence
    def save(self, folder: str | Path) -> Path:
        """Write ``forest.skops`` (classifiers + fitted state) and ``forest_config.yaml`` into ``folder``.

        Returns the path of ``forest.skops``. The YAML is the human-readable record; the skops file
        carries its own copy of the config, which ``load`` uses (the trees depend on it). The file is
        read back without unpickling (``forest_store``), so a forest run can be shared safely.
        """
        from xrdnet import __version__
        from xrdnet.models.forest_store import dump_state

        self._check_fitted()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state = {
            "format_version": _FORMAT_VERSION,
            "xrdnet_version": __version__,
            "config": config_to_dict(self.config),
            "cs_classifier": self.cs_classifier_,
            "sg_classifier": self.sg_classifier_,
            "two_theta_deg": self.two_theta_deg_,
            "wavelength_angstrom": self.wavelength_angstrom_,
            "n_features": self.n_features_,
            "feature_names": list(self.feature_names_),
            "fit_seconds": self.fit_seconds,
            "provenance": getattr(self, "provenance", None),  # data the forest was fitted on (xrdnet train)
        }
        path = dump_state(state, folder / MODEL_FILE)
        save_config(self.config, folder / CONFIG_FILE)
        return path

    @classmethod
    def load(cls, folder: str | Path) -> "ForestModel":
        """The model saved in ``folder`` by ``save``, read without unpickling (``forest_store``'s allow-list).

        An old ``forest.joblib`` (a pickle) is refused with one line saying how to re-save a trusted one.
        """
        from xrdnet.models.forest_store import legacy_refusal, load_state

        folder = Path(folder)
        path = folder / MODEL_FILE
        if not path.is_file():
            if (folder / LEGACY_MODEL_FILE).is_file():
                raise legacy_refusal(folder / LEGACY_MODEL_FILE, folder)
            raise FileNotFoundError(f"{folder}: no {MODEL_FILE} (save a fitted ForestModel there first)")
        state = load_state(path)
        if not isinstance(state, dict) or state.get("format_version") != _FORMAT_VERSION:
            raise ValueError(f"{path}: not a forest file of format {_FORMAT_VERSION}")
        model = cls.from_state(state, where=str(path))
        yaml_path = folder / CONFIG_FILE
        if yaml_path.is_file() and load_config(yaml_path, ForestConfig) != model.config:
            warnings.warn(f"{yaml_path} differs from the config stored in {path}; using the stored one "
                          "(the fitted trees depend on it)", stacklevel=2)
        return model

    @classmethod
    def from_state(cls, state: dict, where: str) -> "ForestModel":
        """The model a saved state dict describes (``save``'s keys; ``where`` names the file in errors)."""
        config = config_from_dict(ForestConfig, state["config"], where=where)
        model = cls(config)
        model.cs_classifier_ = state["cs_classifier"]
        model.sg_classifier_ = state["sg_classifier"]
        model.two_theta_deg_ = np.asarray(state["two_theta_deg"], dtype=np.float64)
        model.wavelength_angstrom_ = float(state["wavelength_angstrom"])
        model.n_features_ = state["n_features"]
        model.feature_names_ = tuple(state["feature_names"])
        model.fit_seconds = state["fit_seconds"]
        model.provenance = state.get("provenance")  # absent in files written before it was stored
        model.xrdnet_version = state.get("xrdnet_version")
        return model
