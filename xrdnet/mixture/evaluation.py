"""The material a mixture detector is trained, thresholded and measured on, drawn from one data set.

Everything comes from the compound split of the data set (``compound`` split: the one the symmetry
network was trained on): training compounds make the training specimens, validation compounds choose
the threshold, test compounds give the reported simulated figures. Three kinds of simulated test:

* finished patterns of test compounds, single and mixed by ``make_mixtures`` (every fraction ≥ 0.2);
* specimens of test compounds rendered from the cached sticks exactly like the training specimens
  (``specimen_set``);
* an independent set (``independent_set``): specimens of test compounds, one structure per compound,
  rendered by the same renderer with instrument ranges that differ from the training set's
  (``INDEPENDENT_PROFILE``: narrower widths, smaller shifts, more counts, no real-sample effects).

Measured files are read exactly as ``xrdnet predict`` reads them (``measured_patterns``); a file that
states no wavelength is not given one, it is reported as unreadable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from xrdnet.mixture.detector import pool_patterns
from xrdnet.simulate.profiles import ProfileConfig

# Instrument ranges of the independent test: a different diffractometer from the training set's
# (the `real` preset), so a detector that learnt the training instrument would show it here.
INDEPENDENT_PROFILE = ProfileConfig(
    eta=(0.2, 0.8), caglioti_u_deg2=(0.0, 0.02), caglioti_v_deg2=(-0.006, 0.0), caglioti_w_deg2=(0.001, 0.006),
    crystallite_size_nm=(30.0, 800.0), zero_shift_deg=(-0.05, 0.05), sample_displacement_mm=(-0.1, 0.1),
    march_dollase_r=(0.8, 1.2), background_level=(0.02, 0.15), peak_counts=(1000.0, 31623.0))

SPLIT_CODES = {"train": 0, "val": 1, "test": 2}
EVALUATION_BATCH = 256  # specimens per rendered evaluation batch


def split_compounds(data: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``(split code per structure [S], compound key per structure [S])`` of the compound split."""
    from xrdnet.data.reader import PatternDataset
    from xrdnet.data.splits import compound_key

    with PatternDataset(data) as ds:
        split = ds.structure_split("compound")
        keys = np.array([compound_key(f) for f in ds.formula])
    return split, keys


def load_split_patterns(data: str | Path, pool: int, n_eval: int, seed: int) -> dict:
    """Pooled training patterns, full-grid val/test patterns (``n_eval`` each at most), compound ids.

    Returns ``train [N, ceil(G / pool)]`` float16 (max-pooled), ``val`` / ``test`` ``[≤ n_eval, G]``
    float16, ``*_compound`` (compound ids of those rows), ``n_train_compounds`` and ``grid [G]``.
    """
    from xrdnet.data.reader import PatternDataset
    from xrdnet.data.splits import compound_key

    with PatternDataset(data) as ds:
        split = ds.structure_split("compound")[ds.structure_index]
        keys = np.array([compound_key(f) for f in ds.formula])
        _, key_id = np.unique(keys, return_inverse=True)
        compound = key_id[ds.structure_index]
        rng = np.random.default_rng(seed)
        chosen = {}
        for name in ("val", "test"):
            rows = np.flatnonzero(split == SPLIT_CODES[name])
            chosen[name] = np.sort(rows if len(rows) <= n_eval else rng.choice(rows, n_eval, replace=False))
        train_rows = np.flatnonzero(split == SPLIT_CODES["train"])
        pooled = np.zeros((len(train_rows), -(-ds.n_points // pool)), np.float16)
        full = {name: np.zeros((len(r), ds.n_points), np.float16) for name, r in chosen.items()}
        block = 4096
        train_pos = np.searchsorted(train_rows, np.arange(len(ds)))
        for start in range(0, len(ds), block):
            rows = np.arange(start, min(len(ds), start + block))
            x = ds.patterns[start : rows[-1] + 1]
            is_train = split[rows] == 0
            if is_train.any():
                pooled[train_pos[rows[is_train]]] = pool_patterns(x[is_train], pool)
            for name, r in chosen.items():
                hit = np.isin(rows, r)
                if hit.any():
                    full[name][np.searchsorted(r, rows[hit])] = x[hit]
        grid = ds.two_theta_deg.copy()
    return {"train": pooled, "train_compound": compound[train_rows], "val": full["val"],
            "val_compound": compound[chosen["val"]], "test": full["test"], "test_compound": compound[chosen["test"]],
            "n_train_compounds": int(len(np.unique(compound[train_rows]))), "grid": grid}


def specimen_sources(data: str | Path, recipe) -> dict:
    """``SpecimenBatches`` of the compound split's train, val and test structures (specimen ids kept apart).

    The training source draws like the recipe (its batch size, ``min_fraction``, pooled by ``pool``); the
    val and test sources draw "similar amounts" (every fraction ≥ 0.2) on the full grid.
    """
    from xrdnet.data.specimen_batches import SpecimenBatches

    c = recipe.detector
    split, keys = split_compounds(data)
    sources = {}
    for name, code in SPLIT_CODES.items():
        rows = np.flatnonzero(split == code)
        train = name == "train"
        sources[name] = SpecimenBatches(
            data, rows, keys[rows], batch_size=c.batch_size if train else EVALUATION_BATCH,
            mixture_share=c.mixture_share if train else 0.5, phase_probabilities=c.phase_probabilities,
            min_fraction=c.min_fraction if train else 0.2, alpha=c.alpha, seed=recipe.seed, first_id=code << 50,
            size_spread=recipe.size_spread, pool=c.pool if train else 1)
    return sources


def specimen_set(source, n: int, first_step: int = 0) -> dict:
    """At least ``n`` mixtures and ``n`` single phases of ``source`` (full grid).

    Returns ``patterns [M, G]`` float32, ``is_mixture [M]`` bool and ``n_phases [M]``.
    """
    patterns, label, n_phases = [], [], []
    step = first_step
    while sum(int(x.sum()) for x in label) < n or sum(int((~x).sum()) for x in label) < n:
        members, fractions, is_mix = source.draw(step)
        patterns.append(source.render(members, fractions, source.specimen_ids(step)).numpy())
        label.append(is_mix > 0)
        n_phases.append((members >= 0).sum(axis=1))
        step += 1
    return {"patterns": np.concatenate(patterns), "is_mixture": np.concatenate(label),
            "n_phases": np.concatenate(n_phases)}


def independent_set(data: str | Path, n: int, seed: int, profile: ProfileConfig = INDEPENDENT_PROFILE) -> dict:
    """``n`` mixtures and ``n`` single phases of test compounds, one structure each, other instrument ranges."""
    from xrdnet.data.specimen_batches import SpecimenBatches

    split, keys = split_compounds(data)
    test = np.flatnonzero(split == SPLIT_CODES["test"])
    _, first = np.unique(keys[test], return_index=True)  # one structure per compound
    rows = np.sort(test[first])
    source = SpecimenBatches(data, rows, keys[rows], batch_size=EVALUATION_BATCH, mixture_share=0.5,
                             min_fraction=0.2, seed=seed + 404, first_id=3 << 50, profile=profile, pool=1)
    return specimen_set(source, n)


def measured_patterns(files: Sequence[str | Path], grid: np.ndarray, wavelength_angstrom: float):
    """Files read as ``xrdnet predict`` reads them: ``(names, [R, G] float32 patterns, errors)``.

    ``errors`` lists ``(path, message)`` of files that could not be read or put on the model's grid,
    including a 2θ file that states no wavelength (none is assumed).
    """
    from xrdnet.io import read_many, to_model_grid

    patterns, errors = read_many([Path(f) for f in files], None)
    names, rows = [], []
    for p in patterns:
        if p.wavelength_angstrom is None and p.x_unit == "2theta":
            errors.append((str(p.path), f"{p.path}: the file states no wavelength; none is assumed"))
            continue
        try:
            row, _ = to_model_grid(p, grid, wavelength_angstrom)
        except ValueError as exc:
            errors.append((str(p.path), str(exc)))
            continue
        names.append(p.path.name)
        rows.append(row)
    return names, (np.stack(rows).astype(np.float32) if rows else np.zeros((0, len(grid)), np.float32)), errors
