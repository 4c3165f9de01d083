"""The forest baseline as a model kind (``kind: forest``): fitted in one go, stored without pickles.

Registers :class:`ForestKind` with ``models.registry``. A forest run folder holds ``forest.skops`` (the
classifiers and fitted state, read back through ``forest_store``'s allow-list) and ``forest_config.yaml``
(the human-readable settings). scikit-learn is imported inside the functions.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from xrdnet.models.forest import CONFIG_FILE, MODEL_FILE
from xrdnet.models.prediction import Prediction
from xrdnet.models.registry import register

RENDER_BLOCK = 256  # fresh patterns rendered per call: the renderer's scratch stays small


def crop_training_patterns(patterns: np.ndarray, rows: np.ndarray, two_theta_deg: np.ndarray, coverage,
                           seed: int) -> np.ndarray:
    """``patterns [P, G]`` (data set rows ``rows [P]``) cropped to the scan ranges ``coverage`` draws for them
    (``xrdnet.simulate.coverage``: the same draws, per (seed, row), as the network's crops); unchanged when
    ``coverage`` is not active."""
    import torch

    from xrdnet.simulate.coverage import crop_patterns, draw_ranges

    if not coverage.active:
        return patterns
    grid = torch.from_numpy(np.asarray(two_theta_deg, np.float64))
    start, end = draw_ranges(coverage, seed, torch.from_numpy(np.asarray(rows, np.int64)),
                             (float(grid[0]), float(grid[-1])))
    return crop_patterns(torch.from_numpy(np.ascontiguousarray(patterns)), grid, start, end).numpy()


class StoredTrainingPatterns:
    """The stored patterns of the training rows, cropped to laboratory scan ranges when ``data.coverage`` is on."""

    def __init__(self, data) -> None:
        self.data = data

    def __call__(self, ds, rows: np.ndarray, start: int, stop: int) -> np.ndarray:
        return crop_training_patterns(ds.read_patterns(rows[start:stop]), rows[start:stop], ds.two_theta_deg,
                                      self.data.coverage, self.data.seed)


class FreshTrainingPatterns:
    """``data.fresh``: one pattern per training row rendered anew from the cached sticks with the training
    profile (the data set's, or ``data.profile_overrides``), as the network's fresh batches are (the same
    renderer, the first epoch's draw ids), then cropped by ``data.coverage``: a forest trained on the line
    widths and scan ranges the network is trained on, without another data set."""

    def __init__(self, data_path, ds, data, rows: np.ndarray) -> None:
        from xrdnet.data.datamodule import training_simulator_config
        from xrdnet.data.fresh import FreshPatternRows

        self.source = FreshPatternRows(data_path, rows, profile=training_simulator_config(ds, data).profile,
                                       coverage=data.coverage, seed=data.seed)

    def __call__(self, ds, rows: np.ndarray, start: int, stop: int) -> np.ndarray:
        from xrdnet.data.fresh import draw_ids

        structure = ds.structure_index[rows[start:stop]]
        ids = draw_ids(0, start, stop - start)
        return np.concatenate([self.source.render(structure[a:a + RENDER_BLOCK], ids[a:a + RENDER_BLOCK]).numpy()
                               for a in range(0, len(ids), RENDER_BLOCK)])


def train_forest(config, data_path: str | Path, out: Path) -> dict:
    """Fit the forest on the training split (all patterns or ``data.max_train``): the stored patterns, or with
    ``data.fresh`` patterns rendered anew with the training profile; cropped to laboratory scan ranges when
    ``data.coverage`` is active (the validation patterns stay stored and whole, as the network's do)."""
    from xrdnet.data.datamodule import sample_weights
    from xrdnet.data.reader import PatternDataset
    from xrdnet.evaluate import evaluate
    from xrdnet.models.forest import ForestModel
    from xrdnet.models.provenance import data_provenance

    block = 4096  # patterns featurised at a time: the full pattern matrix never sits in memory
    with PatternDataset(data_path) as ds:
        split_rows = {s: ds.indices(s, config.data.split_kind, config.data.include_sources) for s in ("train", "val")}
        train, val = split_rows["train"], split_rows["val"]
        if config.data.max_train and len(train) > config.data.max_train:
            rng = np.random.default_rng(config.data.seed)
            train = np.sort(rng.choice(train, config.data.max_train, replace=False))
        if len(train) == 0:
            raise ValueError(f"{data_path}: the {config.data.split_kind} split has no training patterns")
        lam = float(ds.attrs.get("kalpha1_angstrom") or ds.attrs.get("wavelength_angstrom"))
        cs, sg = ds.pattern_crystal_system(), ds.pattern_space_group()
        model = ForestModel(config.forest)
        training_patterns = (FreshTrainingPatterns(data_path, ds, config.data, train) if config.data.fresh
                             else StoredTrainingPatterns(config.data))

        def features(rows):
            return np.concatenate([model.featurize(training_patterns(ds, rows, a, min(a + block, len(rows))),
                                                   ds.two_theta_deg, lam) for a in range(0, len(rows), block)])

        weight = None
        if config.data.sample_weights != "none":
            structure = ds.structure_index[train]
            weight = sample_weights(config.data.sample_weights, [ds.formula[i] for i in structure],
                                    ds.space_group[structure], ds.crystal_system[structure])
        t0 = time.perf_counter()
        model.fit_features(features(train), ds.two_theta_deg, lam, cs[train], sg[train], sample_weight=weight)
        seconds = time.perf_counter() - t0
        model.fit_seconds = seconds
        model.provenance = data_provenance(config, data_path, train)
        val_metrics = {}
        if len(val):
            parts = [model.predict_proba(ds.read_patterns(val[a:a + block]), ds.two_theta_deg, lam)
                     for a in range(0, len(val), block)]
            full = evaluate(cs[val], sg[val], np.concatenate([p[0] for p in parts]),
                            np.concatenate([p[1] for p in parts]))
            val_metrics = {k: full[k] for k in ("cs_accuracy", "sg_accuracy", "sg_top5") if k in full}
    model.save(out)
    return {"train_seconds": seconds, "n_train": int(len(train)), "n_val": int(len(val)), "train_rows": train,
            "val_metrics": val_metrics, "model_file": MODEL_FILE, "is_global_zero": True}


class ForestKind:
    """``models.registry.Model`` for the forest (see the module docstring)."""

    kind = "forest"
    model_file = MODEL_FILE
    run_files = (MODEL_FILE, CONFIG_FILE)
    resume_file = None

    def train(self, config, data_path: Path, out: Path, max_seconds: float | None, resume: bool) -> dict:
        return train_forest(config, data_path, out)

    def load(self, folder: Path, info: dict, device: str):
        from xrdnet.models.forest import ForestModel

        return ForestModel.load(folder)

    def predict_patterns(self, model, patterns: np.ndarray, two_theta_deg: np.ndarray, wavelength_angstrom: float,
                         batch_size: int) -> Prediction:
        cs_p, sg_p = model.predict_proba(patterns, two_theta_deg, wavelength_angstrom)
        return Prediction(cs_p, sg_p, cs_p.argmax(1), sg_p.argmax(1) + 1)

    def input_grid(self, model) -> None:
        return None  # peak features: any grid

    def training_grid(self, model) -> np.ndarray | None:
        grid = getattr(model, "two_theta_deg_", None)
        return None if grid is None else np.asarray(grid, dtype=np.float64)

    def wavelength(self, model, folder: Path, info: dict) -> tuple[float | None, str]:
        return getattr(model, "wavelength_angstrom_", None), f"{folder} (the forest's wavelength_angstrom)"


register(ForestKind())
