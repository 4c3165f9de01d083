"""Does broadening a measured scan before the models see it pay? Measured on labelled scans.

    python scripts/ablate_test_time_broadening.py --real ../shared/data/rruff \
        [--checkpoint RUN] [--sigmas 0,0.01,0.02,0.03,0.05,0.08] [--out bench_results/test_time_broadening.json]

Measured laboratory lines are about half as wide as the training patterns' (FWHM median 0.07° against
0.14°, ``scripts/bench_line_widths.py``) and their counting noise is about 2.7 times the training noise.
Training on measured-like widths did not pay, so this asks the opposite question: convolve each
measured row (on the model grid, exactly as ``predict`` hands it to the models) with a normalised
Gaussian of standard deviation σ (degrees 2θ), which widens the lines towards the training widths
(FWHM² adds: σ = 0.05° takes 0.07° to about 0.14°) and averages the noise away, then answer it with the
shipped predictor (networks, forest pool, prior) and with the networks alone. The measured span is kept:
points outside it stay zero. Crystal-system accuracy, balanced accuracy and space-group accuracy per σ,
beside the constant answer. Validation figures on the measured validation set.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def broadened(rows: np.ndarray, step_deg: float, sigma_deg: float) -> np.ndarray:
    """``rows [R, G]`` convolved with a unit-area Gaussian of ``sigma_deg``, zero outside each row's measured span."""
    import scipy.ndimage
    import torch

    from xrdnet.simulate.coverage import measured_span

    if sigma_deg <= 0:
        return rows
    span = measured_span(torch.from_numpy(np.ascontiguousarray(rows))).numpy()  # [R, G] bool
    out = scipy.ndimage.gaussian_filter1d(rows.astype(np.float64), sigma_deg / step_deg, axis=1, mode="constant")
    out = np.where(span, out, 0.0)
    peak = out.max(axis=1, keepdims=True)
    return (out / np.where(peak > 0, peak, 1.0)).astype(rows.dtype)  # scaled to max 1, as predict scales


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from ablate_forest_pool import predicted_rows
    from ablate_test_time_shifts import figures

    from xrdnet.api import Predictor, default_checkpoint
    from xrdnet.symmetry import crystal_system_index

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, required=True, help="folder of labelled scans (labels.csv)")
    parser.add_argument("--checkpoint", default=None, help="checkpoint folder (default: the shipped one)")
    parser.add_argument("--sigmas", default="0,0.01,0.02,0.03,0.05,0.08", help="Gaussian σ values, degrees 2θ")
    parser.add_argument("--out", type=Path, default=Path("bench_results/test_time_broadening.json"))
    args = parser.parse_args(argv)
    sigmas = [float(s) for s in args.sigmas.split(",")]
    predictor = Predictor(args.checkpoint or default_checkpoint(), combine_indexing=False)
    _, _, rows, sg_true = predicted_rows(predictor, args.real)
    cs_true = np.array([crystal_system_index(int(g)) for g in sg_true])
    step = float(np.median(np.diff(predictor.grid)))
    pool = predictor.forest_pool
    constant = float(np.mean(cs_true == np.bincount(cs_true, minlength=7).argmax()))
    report = {"set": args.real.name, "n": int(len(rows)), "constant_cs_acc": constant, "step_deg": step, "rows": []}
    print(f"{args.real.name}: n = {len(rows)}, constant {100 * constant:.1f} %\n\n"
          "| σ (°) | CS acc | CS bal | SG acc | networks CS | networks bal |\n|---:|---:|---:|---:|---:|---:|")
    for sigma in sigmas:
        x = broadened(rows, step, sigma)
        predictor.forest_pool = pool
        full = figures(*predictor.probabilities(x), cs_true, sg_true)
        predictor.forest_pool = None
        nets = figures(*predictor.probabilities(x), cs_true, sg_true)
        report["rows"].append({"sigma_deg": sigma, "pooled": full, "networks": nets})
        print(f"| {sigma:.3f} | {100 * full['cs_acc']:.1f} | {100 * full['cs_bal']:.1f} | {100 * full['sg_acc']:.1f} "
              f"| {100 * nets['cs_acc']:.1f} | {100 * nets['cs_bal']:.1f} |", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
