"""Ablation: should the pool's forest be trained on scan-range crops, as the networks are?

The shipped pool's forest was trained on full-range patterns and reads the first peaks, so a scan that
starts late costs it most (RRUFF cut to 30–90°: 40 % alone, the pool 2 points below the networks). Here the
same 4,000 training patterns (the first of the ``ablate_forest_pool`` seeded permutation, ``--train-seed``)
are featurised twice: whole, and cropped to laboratory scan ranges with the networks' own
``xrdnet.simulate.coverage`` draws (``--full-fraction``, start 5–25°, end 55–90°: the
``train_real_fresh_cpu`` coverage). Crystal-system extra-trees with the shipped forest's settings
(``--trees``, ``--leaf``) are fitted on each, at two seeds, and pooled (w = ``--weight``) with the shipped
networks' calibrated probabilities on the RRUFF validation scans and on seeded held-out compounds, whole and
cut to each of ``LABORATORY_SCAN_RANGES_DEG``. RRUFF figures are validation figures.

    python scripts/ablate_forest_crops.py --real ../shared/data/rruff --data data/real.h5 \
        [--max-test 500] [--seeds 0,1] [--out bench_results/forest_crops.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--max-train", type=int, default=4000)
    parser.add_argument("--train-seed", type=int, default=0)
    parser.add_argument("--max-test", type=int, default=500)
    parser.add_argument("--full-fraction", type=float, default=0.3)
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--leaf", type=int, default=10)
    parser.add_argument("--weight", type=float, default=0.5)
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--out", type=Path, default=ROOT / "bench_results/forest_crops.json")
    args = parser.parse_args(argv)
    import torch
    from sklearn.ensemble import ExtraTreesClassifier

    from xrdnet.data.datamodule import sample_weights
    from xrdnet.data.reader import PatternDataset
    from xrdnet.evaluate import balanced_accuracy
    from xrdnet.inference import Predictor
    from xrdnet.inference.pooling import log_linear_pool
    from xrdnet.simulate.coverage import LABORATORY_SCAN_RANGES_DEG, CoverageConfig, crop_patterns, crop_to_range, \
        draw_ranges

    sys.path.insert(0, str(Path(__file__).parent))
    from ablate_forest_pool_ranges import measured_rows

    predictor = Predictor(args.checkpoint)
    if predictor.forest_pool is None:
        raise SystemExit("the checkpoint has no forest pool: nothing to featurise with")
    shipped = predictor.forest_pool.run.model
    predictor.forest_pool = None  # the networks alone below
    grid, lam = predictor.grid, predictor.wavelength_angstrom
    coverage = CoverageConfig(args.full_fraction, (5.0, 25.0), (55.0, 90.0))
    sets = {"RRUFF": measured_rows(predictor, args.real)}
    with PatternDataset(args.data) as ds:
        if not np.allclose(ds.two_theta_deg, grid):
            raise ValueError(f"{args.data}: its grid is not the networks'")
        test = ds.indices("test", "compound")
        test = np.sort(np.random.default_rng(0).choice(test, min(args.max_test, len(test)), replace=False))
        sets["held-out compounds"] = (ds.read_patterns(test).astype(np.float32), ds.pattern_crystal_system()[test])
        train = ds.indices("train", "compound")
        train = np.sort(np.random.default_rng(args.train_seed).permutation(train)[: args.max_train])
        rows = ds.read_patterns(train).astype(np.float32)
        y = ds.pattern_crystal_system()[train]
        structure = ds.structure_index[train]
        weight = sample_weights("compound_sqrt_system", [ds.formula[i] for i in structure],
                                ds.space_group[structure], ds.crystal_system[structure])
    start, end = draw_ranges(coverage, args.train_seed, torch.from_numpy(train.astype(np.int64)),
                             (float(grid[0]), float(grid[-1])))
    cropped = crop_patterns(torch.from_numpy(rows), torch.from_numpy(np.asarray(grid, np.float64)), start, end).numpy()
    train_x = {"whole": shipped.featurize(rows, grid, lam), "cropped": shipped.featurize(cropped, grid, lam)}
    del rows, cropped
    share = ((start > grid[0]) | (end < grid[-1])).double().mean().item()
    print(f"training features: {len(train)} patterns, {100 * share:.0f} % cropped in the cropped set", flush=True)
    ranges = [(float(grid[0]), float(grid[-1]))] + [tuple(r) for r in LABORATORY_SCAN_RANGES_DEG]
    tests = {}
    for name, (rows, truth) in sets.items():
        for lo, hi in ranges:
            cut = crop_to_range(rows, grid, lo, hi)
            net, _ = predictor.probabilities(cut)
            tests[(name, lo, hi)] = (net, shipped.featurize(cut, grid, lam), truth)
        print(f"{name}: features of {len(ranges)} ranges", flush=True)
    seeds = [int(s) for s in args.seeds.split(",")]
    report = {"weight": args.weight, "trees": args.trees, "leaf": args.leaf, "full_fraction": args.full_fraction,
              "n_train": int(len(train)), "rows": []}
    head = " | ".join(f"{v} s{s}" for v in train_x for s in seeds)
    print(f"\n| set | 2θ range | networks | {head} |\n|---|---|---:|" + "---:|" * (len(train_x) * len(seeds)))
    forests = {}
    for variant, x in train_x.items():
        for seed in seeds:
            clf = ExtraTreesClassifier(n_estimators=args.trees, max_depth=shipped.config.cs_max_depth,
                                       max_features=shipped.config.resolved_max_features("cs", x.shape[1]),
                                       min_samples_leaf=args.leaf, n_jobs=-1, random_state=seed)
            forests[(variant, seed)] = clf.fit(x, y, sample_weight=weight)
    for (name, lo, hi), (net, x, truth) in tests.items():
        def score(p: np.ndarray) -> tuple[float, float]:
            return float(np.mean(p.argmax(1) == truth)), balanced_accuracy(truth, p.argmax(1))

        cells, row = [], {"set": name, "two_theta_range_deg": [lo, hi], "networks": score(net), "pooled": {}}
        for (variant, seed), clf in forests.items():
            forest = np.zeros_like(net)
            forest[:, clf.classes_] = clf.predict_proba(x)
            acc = score(log_linear_pool(net, forest, args.weight))
            row["pooled"][f"{variant}/{seed}"] = acc
            cells.append(f"{100 * acc[0]:.1f} ({100 * acc[1]:.1f})")
        report["rows"].append(row)
        print(f"| {name} | {lo:.0f}–{hi:.0f}° | {100 * row['networks'][0]:.1f} ({100 * row['networks'][1]:.1f}) | "
              + " | ".join(cells) + " |", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
