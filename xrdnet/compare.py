"""``xrdnet compare``: every run evaluated on the same test patterns by the same code.

For each run folder: load the model, predict the test split of the data set (split by structure or
by structure type), time inference, and compute the shared metrics of ``xrdnet.evaluate``. Writes
``comparison.md``, ``comparison.csv``, ``comparison.json``, confusion matrices (crystal system
and space group, PNG) and a reliability diagram (``reliability_<run>.png``: crystal-system accuracy
against confidence on the simulated test patterns and, with ``--real``, the measured ones) per model.
A run's stored calibration (``calibration.json``) is applied first; ``cs_ece`` is then the calibrated
expected calibration error, ``cs_ece_uncalibrated`` the raw one.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from xrdnet.symmetry import CRYSTAL_SYSTEMS


def compare_runs(
    runs: Sequence[str | Path],
    data_path: str | Path,
    out: str | Path,
    split_kind: str = "structure",
    max_test: int = 0,
    seed: int = 0,
    title: str | None = None,
    extra_md: str = "",
    real_dir: str | Path | None = None,
    real_background: bool = False,
) -> dict:
    """Evaluate ``runs`` on the test split of ``data_path``; write the comparison into ``out``.

    ``max_test`` caps the test patterns (a seeded subset, 0 = all). ``real_dir`` adds real-data
    columns: a folder of measured patterns with a ``labels.csv`` (``file,space_group`` columns),
    read through the same readers and grid conversion as ``xrdnet predict`` (evaluation only).
    Returns the paths written and the rows of the table.
    """
    from xrdnet.calibration import Calibration
    from xrdnet.data.reader import PatternDataset
    from xrdnet.evaluate import (
        confusion_matrix_figure,
        evaluate,
        reliability_figure,
        space_group_confusion_figure,
        write_comparison,
    )
    from xrdnet.models.runs import load_run

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    runs = [Path(r) for r in runs]
    for r in runs:  # fail on a bad folder before any work; models are loaded one at a time below
        if not (r / "run.json").is_file():
            load_run(r)
    with PatternDataset(data_path) as ds:
        test = ds.indices("test", split_kind)
        if len(test) == 0:
            raise ValueError(f"{data_path}: the {split_kind} split has no test patterns")
        if max_test and len(test) > max_test:
            test = np.sort(np.random.default_rng(seed).choice(test, max_test, replace=False))
        patterns = ds.read_patterns(test)
        cs_true, sg_true = ds.pattern_crystal_system()[test], ds.pattern_space_group()[test]
        grid = ds.two_theta_deg
        lam = float(ds.attrs.get("kalpha1_angstrom") or ds.attrs.get("wavelength_angstrom"))
        data_name = Path(data_path).name

    real = load_labelled_patterns(real_dir, grid, lam, real_background) if real_dir else None
    rows = []
    for run_path in runs:
        # One model in memory at a time: a space-group forest can take gigabytes.
        run = load_run(run_path)
        trained_on = run.info.get("split_kind")
        if trained_on and trained_on != split_kind:
            warnings.warn(f"{run.name} was trained on the {trained_on} split and is tested on the {split_kind} "
                          "split: its test patterns may overlap its training data", stacklevel=2)
        run.predict(patterns[: min(8, len(patterns))], grid, lam)  # warm-up (lazy init, caches)
        t0 = time.perf_counter()
        pred = run.predict(patterns, grid, lam)
        seconds = time.perf_counter() - t0
        calibration = Calibration.load(run.path)
        pred_cal = _calibrated(pred, calibration)
        metrics = evaluate(cs_true, sg_true, pred_cal.cs_proba, pred_cal.sg_proba,
                           crystal_system_pred=pred_cal.cs_pred, space_group_pred=pred_cal.sg_pred)
        metrics["cs_ece_uncalibrated"] = evaluate(cs_true, sg_true, pred.cs_proba, pred.sg_proba,
                                                  crystal_system_pred=pred.cs_pred,
                                                  space_group_pred=pred.sg_pred)["cs_ece"]
        metrics["calibrated"] = calibration is not None
        curves = {f"simulated test ({data_name})": (cs_true, pred_cal.cs_proba, pred_cal.cs_pred)}
        label = f"{run.name} ({run.kind})"
        confusion_matrix_figure(cs_true, pred.cs_pred, list(CRYSTAL_SYSTEMS), f"{label}: crystal system",
                                out / f"confusion_cs_{run.name}.png")
        space_group_confusion_figure(sg_true, pred.sg_pred, out / f"confusion_sg_{run.name}.png",
                                     f"{label}: space group")
        real_metrics = {}
        if real is not None:
            real_pred = _calibrated(run.predict(real["patterns"], grid, lam), calibration)
            m = evaluate(real["crystal_system"], real["space_group"], real_pred.cs_proba, real_pred.sg_proba,
                         crystal_system_pred=real_pred.cs_pred, space_group_pred=real_pred.sg_pred)
            real_metrics = {"real_cs_accuracy": m["cs_accuracy"], "real_sg_accuracy": m["sg_accuracy"],
                            "real_sg_top5": m["sg_top5"], "real_n": m["n"],
                            "real_cs_balanced_accuracy": m["cs_balanced_accuracy"],
                            "real_cs_per_class_accuracy": m["cs_per_class_accuracy"],
                            "real_cs_ece": m["cs_ece"], "real_sg_ece": m["sg_ece"]}
            curves[f"real ({Path(real_dir).name})"] = (real["crystal_system"], real_pred.cs_proba, real_pred.cs_pred)
        reliability_figure(curves, out / f"reliability_{run.name}.png",
                           f"{label}: crystal system" + (", calibrated" if calibration is not None else ""))
        rows.append({
            "model": run.name,
            "kind": run.kind,
            "split": split_kind,
            **metrics,
            "inference_patterns_per_s": len(patterns) / max(seconds, 1e-9),
            "model_size_mb": run.size_mb,
            "train_seconds": float(run.info.get("train_seconds", float("nan"))),
            **real_metrics,
        })
        del run
    header = title or f"Comparison on {data_name}, test split by {split_kind} ({len(test)} patterns)"
    if real is not None:
        counts = np.bincount(real["crystal_system"], minlength=len(CRYSTAL_SYSTEMS))
        majority = int(counts.argmax())
        extra_md = (f"Real data: {real['n']} measured patterns from {real_dir} ({real['n_skipped']} files "
                    "unreadable or unlabelled, skipped); evaluation only, never used for training or tuning. "
                    f"For scale: always answering the commonest system ({CRYSTAL_SYSTEMS[majority]}) would score "
                    f"{100 * counts[majority] / counts.sum():.1f}% crystal-system accuracy and "
                    f"{100 / np.count_nonzero(counts):.1f}% balanced accuracy.\n\n" + extra_md)
    paths = write_comparison(rows, out, header, extra_md)
    return {"paths": paths, "rows": rows, "n_test": int(len(test))}


def _calibrated(pred, calibration):
    """``pred`` with the run's stored calibration applied (temperature scaling keeps every answer)."""
    if calibration is None:
        return pred
    from xrdnet.calibration import decode
    from xrdnet.models.runs import Prediction

    cs, sg = calibration.apply(pred.cs_proba, pred.sg_proba)
    if pred.cs_pred is not None and np.array_equal(np.asarray(pred.cs_pred), cs.argmax(axis=1)):
        return Prediction(cs, sg, pred.cs_pred, pred.sg_pred)
    cs_pred, sg_pred, _ = decode(cs, sg)
    return Prediction(cs, sg, cs_pred, sg_pred)


MAX_FILES_NAMED = 5
"""Files named in the one-line warning about measured files without a wavelength (the rest are counted)."""


def load_labelled_patterns(folder: str | Path, grid: np.ndarray, wavelength_angstrom: float,
                           subtract_background: bool = False) -> dict:
    """Measured patterns of ``folder`` (listed in its ``labels.csv``) on the model grid, with labels.

    Returns ``patterns [R, G]`` float32, ``crystal_system [R]``, ``space_group [R]``, ``files``,
    ``n`` and ``n_skipped`` (files missing, unreadable or with a label outside 1..230).
    """
    import csv

    from xrdnet.patterns_io import read_many, to_model_grid
    from xrdnet.simulate.wavelengths import describe_wavelength
    from xrdnet.symmetry import crystal_system_index

    folder = Path(folder)
    labels_file = folder / "labels.csv"
    if not labels_file.is_file():
        raise FileNotFoundError(f"{folder}: no labels.csv (columns file,space_group) for the real-data evaluation")
    labels = {}
    with labels_file.open(newline="") as handle:
        for row in csv.DictReader(handle):
            try:
                number = int(row["space_group"])
            except (KeyError, TypeError, ValueError):
                continue
            if 1 <= number <= 230:
                labels[row["file"]] = number
    patterns, errors = read_many([folder / name for name in labels], None)
    rows, sgs, files = [], [], []
    unstated = [p.path.name for p in patterns if p.wavelength_angstrom is None]
    if unstated:  # said, not silent: a file measured with another anode would be misplaced in 2θ
        shown = ", ".join(unstated[:MAX_FILES_NAMED]) + (f" and {len(unstated) - MAX_FILES_NAMED} more"
                                                        if len(unstated) > MAX_FILES_NAMED else "")
        warnings.warn(f"{folder}: {len(unstated)} measured file(s) state no wavelength ({shown}); assumed the "
                      f"model's {describe_wavelength(wavelength_angstrom)}", stacklevel=2)
    for pattern in patterns:
        if pattern.wavelength_angstrom is None:
            pattern.wavelength_angstrom = wavelength_angstrom  # assumed, and warned above
        try:
            row, _ = to_model_grid(pattern, grid, wavelength_angstrom, subtract_background=subtract_background)
        except ValueError:
            continue
        rows.append(row)
        sgs.append(labels[pattern.path.name])
        files.append(pattern.path.name)
    if not rows:
        raise ValueError(f"{folder}: no readable labelled pattern")
    sg = np.asarray(sgs, dtype=np.int64)
    return {"patterns": np.stack(rows).astype(np.float32), "space_group": sg,
            "crystal_system": np.array([crystal_system_index(g) for g in sg]), "files": files,
            "n": len(rows), "n_skipped": len(labels) - len(rows)}
