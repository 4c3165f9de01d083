"""Search-match as a model kind (``kind: search_match``): the training structures as a reference library.

Registers :class:`SearchMatchKind` with ``models.registry``, so ``xrdnet train --model search_match`` builds a
library of the training split's structures (their peak lists from the data set's stick cache,
``xrdnet.search_match.ReferenceLibrary``) and ``xrdnet compare`` measures it beside the networks and forests on
the same test patterns: the crystallographer's lookup as a baseline. The run folder holds ``library.npz`` (read
with ``allow_pickle=False``); ``search_match`` in the train config holds its ``MatchSettings``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from xrdnet.models.prediction import Prediction
from xrdnet.models.registry import register

MODEL_FILE = "library.npz"


def build_library(data_path: str | Path, rows: np.ndarray, settings, source: str = ""):
    """The ``ReferenceLibrary`` of the structures of data set rows ``rows`` (patterns; each structure once)."""
    from xrdnet.data.reader import PatternDataset
    from xrdnet.data.stick_cache import StickCache
    from xrdnet.search_match import ReferenceLibrary
    from xrdnet.units import q_inv_angstrom_from_two_theta

    cache = StickCache.for_dataset(data_path)
    with PatternDataset(data_path) as ds:
        chosen = np.unique(ds.structure_index[np.asarray(rows, np.int64)])
        cs, sg = ds.crystal_system[chosen], ds.space_group[chosen]
        ids = np.asarray(ds.source, dtype=str)[chosen]
        formulas = np.asarray(ds.formula, dtype=str)[chosen]
    starts, counts = cache.peak_start[chosen], cache.peak_count[chosen]
    take = (np.concatenate([np.arange(a, a + n) for a, n in zip(starts, counts)]) if len(chosen)
            else np.zeros(0, np.int64))
    q = q_inv_angstrom_from_two_theta(cache.peak_two_theta_deg[take], cache.stick_wavelength_angstrom)
    return ReferenceLibrary.from_lines(q, cache.peak_intensity[take], counts, cs, sg, ids, formulas, settings, source)


def train_search_match(config, data_path: str | Path, out: Path) -> dict:
    """Build the library of the training split's structures (``data.split_kind``, ``data.include_sources``)
    and measure it on the validation split."""
    from xrdnet.data.reader import PatternDataset
    from xrdnet.evaluate import evaluate

    data_path = Path(data_path)
    with PatternDataset(data_path) as ds:
        train = ds.indices("train", config.data.split_kind, config.data.include_sources)
        val = ds.indices("val", config.data.split_kind)
        if len(train) == 0:
            raise ValueError(f"{data_path}: the {config.data.split_kind} split has no training patterns")
        grid = ds.two_theta_deg
        lam = float(ds.attrs.get("kalpha1_angstrom") or ds.attrs.get("wavelength_angstrom"))
        cs, sg = ds.pattern_crystal_system(), ds.pattern_space_group()
        t0 = time.perf_counter()
        n_train_structures = len(np.unique(ds.structure_index[train]))
        library = build_library(data_path, train, config.search_match,
                                f"{data_path.name}: the {n_train_structures} training structures (split by "
                                f"{config.data.split_kind})")
        seconds = time.perf_counter() - t0
        val_metrics = {}
        if len(val):
            block = 2048
            parts = [library.probabilities(library.match_patterns(ds.read_patterns(val[a:a + block]), grid, lam))
                     for a in range(0, len(val), block)]
            full = evaluate(cs[val], sg[val], np.concatenate([p[0] for p in parts]),
                            np.concatenate([p[1] for p in parts]))
            val_metrics = {k: full[k] for k in ("cs_accuracy", "sg_accuracy", "sg_top5") if k in full}
    library.save(out / MODEL_FILE)
    return {"train_seconds": seconds, "n_train": int(len(train)), "n_val": int(len(val)), "train_rows": train,
            "n_reference_structures": int(len(library)), "val_metrics": val_metrics, "model_file": MODEL_FILE,
            "wavelength_angstrom": lam, "is_global_zero": True}


class SearchMatchKind:
    """``models.registry.Model`` for search-match (see the module docstring)."""

    kind = "search_match"
    model_file = MODEL_FILE
    run_files = (MODEL_FILE,)
    resume_file = None

    def train(self, config, data_path: Path, out: Path, max_seconds: float | None, resume: bool) -> dict:
        return train_search_match(config, data_path, out)

    def load(self, folder: Path, info: dict, device: str):
        from xrdnet.search_match import ReferenceLibrary

        return ReferenceLibrary.load(Path(folder) / MODEL_FILE)

    def predict_patterns(self, model, patterns: np.ndarray, two_theta_deg: np.ndarray, wavelength_angstrom: float,
                         batch_size: int) -> Prediction:
        cs_p, sg_p = model.probabilities(model.match_patterns(patterns, two_theta_deg, wavelength_angstrom))
        return Prediction(cs_p, sg_p, cs_p.argmax(1), sg_p.argmax(1) + 1)

    def input_grid(self, model) -> None:
        return None  # peak lists in Q: any grid

    def training_grid(self, model) -> None:
        return None

    def wavelength(self, model, folder: Path, info: dict) -> tuple[float | None, str]:
        # lines are stored in Q; the wavelength recorded is that of the data set the run was measured on
        return info.get("wavelength_angstrom"), f"{folder}/run.json (wavelength_angstrom)"


register(SearchMatchKind())
