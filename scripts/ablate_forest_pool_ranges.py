"""Ablation: does pooling with the forest still help on scans shorter than the model's range?

The forest of a checkpoint's pool (``forest_pool.json``) reads peak positions and counts, which a shorter scan
changes more than it changes the network's view (the networks were trained on laboratory scan ranges, the
forest on full-range patterns). So the measured RRUFF validation scans, and seeded simulated patterns of
held-out compounds, are cut to each of ``LABORATORY_SCAN_RANGES_DEG`` (zero outside, renormalised: what
``predict`` makes of a shorter scan) and answered by the networks alone (calibrated, as ``predict``),
by the forest alone, and pooled at several weights. Crystal-system accuracy (balanced in brackets).

    python scripts/ablate_forest_pool_ranges.py --real ../shared/data/rruff --data data/real.h5 \
        [--checkpoint xrdnet/checkpoints/xrdnet-cnn-real] [--weights 0,0.25,0.5] [--out bench_results/forest_pool_ranges.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def measured_rows(predictor, folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """The labelled scans of ``folder`` on the model grid as ``predict`` puts them ``[R, G]``, and their systems."""
    from xrdnet.patterns_io import read_many
    from xrdnet.symmetry import crystal_system_index

    with open(folder / "labels.csv", newline="") as handle:
        labels = {row["file"]: int(row["space_group"]) for row in csv.DictReader(handle)}
    patterns, errors = read_many([folder / name for name in labels], None)
    if errors:
        raise ValueError(f"{folder}: {len(errors)} labelled files unreadable, first {errors[0]}")
    kept, original = [], predictor.probabilities

    def keep(rows, *more):  # the rows predict hands its models: read, checked, on the model grid
        kept.append(np.array(rows, copy=True))
        return original(rows, *more)

    predictor.probabilities = keep
    try:
        results = predictor.predict_patterns(patterns, force=True)
    finally:
        predictor.probabilities = original
    rows = np.concatenate(kept).astype(np.float32)
    if len(rows) != len(results) or len(rows) != len(patterns):
        raise ValueError(f"{folder}: not every labelled file was answered")
    return rows, np.array([crystal_system_index(labels[p.path.name]) for p in patterns])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--max-test", type=int, default=1000)
    parser.add_argument("--weights", default="0,0.25,0.5")
    parser.add_argument("--out", type=Path, default=ROOT / "bench_results/forest_pool_ranges.json")
    args = parser.parse_args(argv)
    from xrdnet.data.reader import PatternDataset
    from xrdnet.evaluate import balanced_accuracy
    from xrdnet.inference import Predictor
    from xrdnet.inference.pooling import log_linear_pool
    from xrdnet.simulate.coverage import LABORATORY_SCAN_RANGES_DEG, crop_to_range

    predictor = Predictor(args.checkpoint)
    pool = predictor.forest_pool
    if pool is None:
        raise SystemExit(f"{args.checkpoint or 'the shipped checkpoint'} has no forest pool (forest_pool.json)")
    predictor.forest_pool = None  # the networks' own calibrated probabilities below
    grid, lam = predictor.grid, predictor.wavelength_angstrom
    sets = {"RRUFF": measured_rows(predictor, args.real)}
    if args.data is not None:
        with PatternDataset(args.data) as ds:
            test = ds.indices("test", "compound")
            test = np.sort(np.random.default_rng(0).choice(test, min(args.max_test, len(test)), replace=False))
            sets["held-out compounds"] = (ds.read_patterns(test).astype(np.float32), ds.pattern_crystal_system()[test])
    weights = [float(w) for w in args.weights.split(",")]
    ranges = [(float(grid[0]), float(grid[-1]))] + [tuple(r) for r in LABORATORY_SCAN_RANGES_DEG]
    report = {"checkpoint": str(args.checkpoint or "shipped"), "weights": weights, "rows": []}
    head = " | ".join(f"w = {w:.2f}" for w in weights)
    print(f"| set | 2θ range | networks | forest | {head} |\n|---|---|---:|---:|" + "---:|" * len(weights))
    for name, (rows, truth) in sets.items():
        for lo, hi in ranges:
            cut = crop_to_range(rows, grid, lo, hi)
            net, _ = predictor.probabilities(cut)
            forest = pool.forest_crystal_systems(cut, grid, lam)

            def score(p: np.ndarray) -> tuple[float, float]:
                return float(np.mean(p.argmax(1) == truth)), balanced_accuracy(truth, p.argmax(1))

            pooled = {w: score(log_linear_pool(net, forest, w)) for w in weights}
            row = {"set": name, "two_theta_range_deg": [lo, hi], "n": len(truth), "networks": score(net),
                   "forest": score(forest), "pooled": {str(w): v for w, v in pooled.items()}}
            report["rows"].append(row)
            cells = " | ".join(f"{100 * a:.1f} ({100 * b:.1f})" for a, b in pooled.values())
            print(f"| {name} | {lo:.0f}–{hi:.0f}° | {100 * row['networks'][0]:.1f} ({100 * row['networks'][1]:.1f}) | "
                  f"{100 * row['forest'][0]:.1f} ({100 * row['forest'][1]:.1f}) | {cells} |", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
