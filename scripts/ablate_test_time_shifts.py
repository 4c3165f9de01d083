"""Does averaging over shifted copies of a pattern (test-time augmentation) pay? Measured on labelled scans.

    python scripts/ablate_test_time_shifts.py --real ../shared/data/rruff \
        [--checkpoint RUN ...] [--shifts -8,-4,-2,0,2,4,8] [--out bench_results/test_time_shifts.json]

Each scan is put on the model grid as ``predict`` puts it (``xrdnet.compare.load_labelled_patterns``), then
shifted by k grid points (zero filled at the end it leaves: a zero error of k grid steps, 0.01° each on
the shipped grid), answered by the calibrated network alone, and the calibrated probabilities are averaged
over the sets of shifts below. Crystal-system accuracy, balanced accuracy and space-group accuracy per
single shift and per averaged set, beside the constant answer. Validation figures on the measured
validation set.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from xrdnet.search_match import shifted  # rows moved by k grid points, zero filled where nothing moved in

SHIFT_SETS = ((0,), (-2, 0, 2), (-4, -2, 0, 2, 4), (-8, -4, -2, 0, 2, 4, 8))


def figures(cs: np.ndarray, sg: np.ndarray, cs_true: np.ndarray, sg_true: np.ndarray) -> dict:
    from xrdnet.calibration import decode
    from xrdnet.evaluate import balanced_accuracy

    cs_pred, sg_pred, _ = decode(cs, sg)
    return {"cs_acc": float(np.mean(cs_pred == cs_true)), "cs_bal": balanced_accuracy(cs_true, cs_pred),
            "sg_acc": float(np.mean(sg_pred == sg_true))}


def main(argv: list[str] | None = None) -> int:
    from xrdnet.api import default_checkpoint
    from xrdnet.calibration import Calibration
    from xrdnet.compare import load_labelled_patterns
    from xrdnet.models.runs import load_run

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, required=True, help="folder of labelled scans (labels.csv)")
    parser.add_argument("--checkpoint", action="append", default=None, help="run folder (repeat; default shipped)")
    parser.add_argument("--out", type=Path, default=Path("bench_results/test_time_shifts.json"))
    args = parser.parse_args(argv)
    report = {"set": args.real.name, "checkpoints": []}
    for checkpoint in args.checkpoint or [str(default_checkpoint())]:
        run, cal = load_run(Path(checkpoint)), Calibration.load(Path(checkpoint))
        grid, lam = run.grid_two_theta_deg, run.wavelength_angstrom
        real = load_labelled_patterns(args.real, grid, lam)
        rows = real["patterns"].astype(np.float32)
        cs_true, sg_true = real["crystal_system"], real["space_group"]
        probs = {}
        for k in sorted({k for s in SHIFT_SETS for k in s}):
            pred = run.predict(shifted(rows, k), grid, lam, batch_size=256)
            raw = np.asarray(pred.cs_proba, np.float64), np.asarray(pred.sg_proba, np.float64)
            probs[k] = cal.apply(*raw) if cal is not None else raw  # a run without calibration.json: raw
        constant = np.bincount(cs_true, minlength=7).argmax()
        entry = {"checkpoint": run.info.get("name") or run.name, "n": int(len(cs_true)),
                 "constant_cs_acc": float(np.mean(cs_true == constant)),
                 "single": {str(k): figures(*probs[k], cs_true, sg_true) for k in probs},
                 "averaged": [{"shifts": list(s), **figures(np.mean([probs[k][0] for k in s], 0),
                                                            np.mean([probs[k][1] for k in s], 0), cs_true, sg_true)}
                              for s in SHIFT_SETS]}
        report["checkpoints"].append(entry)
        print(f"\n{entry['checkpoint']} on {args.real.name} (n = {entry['n']}; constant "
              f"{100 * entry['constant_cs_acc']:.1f} %)\n\n| shifts (grid points) | CS acc | CS bal | SG acc |\n|---|---:|---:|---:|")
        for k, f in entry["single"].items():
            print(f"| {k} alone | {100 * f['cs_acc']:.1f} | {100 * f['cs_bal']:.1f} | {100 * f['sg_acc']:.1f} |")
        for f in entry["averaged"]:
            print(f"| mean over {f['shifts']} | {100 * f['cs_acc']:.1f} | {100 * f['cs_bal']:.1f} | {100 * f['sg_acc']:.1f} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
