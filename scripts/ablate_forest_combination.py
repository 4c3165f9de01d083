"""Does pooling the network with a forest on peak and indexing features pay? Measured on labelled scans.

    python scripts/ablate_forest_combination.py --real ../shared/data/rruff --data data/real.h5 \
        --forest runs/et-suzuki-indexing-s0 --forest runs/et-suzuki-indexing-s1 \
        [--checkpoint RUN] [--max-test 1000] [--out bench_results/forest_combination.json]

The network (the shipped ensemble by default) and each forest answer every file exactly as
``xrdnet predict`` answers it (``Predictor(..., combine_indexing=False)``, ``force=True``): same reader,
same checks, same grid row. Their crystal-system and space-group probabilities are pooled log-linearly,

    p(c) ∝ p_net(c)^(1 - w) · p_forest(c)^w,

for a grid of forest weights ``w`` (0 = the network alone, 1 = the forest alone); the confident indexing
cell is then mixed in as ``predict`` does (``ablate_indexing_combination.combined``, trust by kind of cell).
The same pooling is measured on the held-out compounds of ``--data`` (its compound test split, a seeded
subset of ``--max-test``). On the measured validation set these are validation figures: ``w`` is chosen
there, and the forests of two seeds show that the choice does not hang on one forest.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
from pathlib import Path

import numpy as np

WEIGHTS = tuple(round(0.05 * i, 2) for i in range(21))
_EPS = 1e-6  # floor for a forest's zero votes, so that the log-linear pool is defined


def _sibling(name: str):
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pool(p_net: np.ndarray, p_forest: np.ndarray, w: float) -> np.ndarray:
    """Log-linear pool of two probability tables ``[P, C]`` with forest weight ``w``; rows sum to 1."""
    logp = (1.0 - w) * np.log(np.clip(p_net, _EPS, 1.0)) + w * np.log(np.clip(p_forest, _EPS, 1.0))
    logp -= logp.max(axis=1, keepdims=True)
    p = np.exp(logp)
    return p / p.sum(axis=1, keepdims=True)


def measured_answers(checkpoint, folder: Path) -> dict:
    """``predict``'s probabilities (no indexing mixed in) and cells for the labelled files of ``folder``."""
    from xrdnet.api import Predictor
    from xrdnet.patterns_io import read_many
    from xrdnet.symmetry import crystal_system_index

    with (folder / "labels.csv").open(newline="") as handle:
        labels = {row["file"]: int(row["space_group"]) for row in csv.DictReader(handle)}
    predictor = Predictor(checkpoint, combine_indexing=False)
    predictor.forest_pool = None  # the networks alone, as before the checkpoint had a pool
    patterns, _ = read_many([folder / name for name in labels], None)
    results = predictor.predict_patterns(patterns, force=True)
    keep = [i for i, r in enumerate(results) if len(r.crystal_system_proba)]
    sg_true = np.array([labels[patterns[i].path.name] for i in keep])
    return {"name": predictor.info.name, "files": [patterns[i].path.name for i in keep],
            "cs": np.stack([results[i].crystal_system_proba for i in keep]),
            "sg": np.stack([results[i].space_group_proba for i in keep]),
            "cells": [results[i].cell for i in keep], "sg_true": sg_true,
            "cs_true": np.array([crystal_system_index(int(g)) for g in sg_true])}


def held_out_answers(checkpoint, data: Path, max_test: int, seed: int = 0) -> dict:
    """Probabilities on a seeded subset of the compound test split of ``data`` (rows on its grid)."""
    from xrdnet.api import Predictor
    from xrdnet.data.reader import PatternDataset

    predictor = Predictor(checkpoint, combine_indexing=False)
    predictor.forest_pool = None  # the networks alone, as before the checkpoint had a pool

    with PatternDataset(data) as ds:
        test = ds.indices("test", "compound")
        if max_test and len(test) > max_test:
            test = np.sort(np.random.default_rng(seed).choice(test, max_test, replace=False))
        rows = ds.read_patterns(test).astype(np.float32)
        cs_true, sg_true = ds.pattern_crystal_system()[test], ds.pattern_space_group()[test]
        if not np.allclose(ds.two_theta_deg, predictor.grid):
            raise ValueError(f"{data}: its grid is not the grid of {predictor.info.name}")
    cs, sg = predictor.probabilities(rows)
    return {"name": predictor.info.name, "cs": cs, "sg": sg, "cs_true": cs_true, "sg_true": sg_true}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, required=True, help="folder of labelled scans (labels.csv)")
    parser.add_argument("--data", type=Path, help="data set whose compound test split is also measured")
    parser.add_argument("--forest", action="append", required=True, help="forest run folder (repeat)")
    parser.add_argument("--checkpoint", default=None, help="network checkpoint (default: the shipped one)")
    parser.add_argument("--max-test", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=Path("bench_results/forest_combination.json"))
    args = parser.parse_args(argv)
    indexing = _sibling("ablate_indexing_combination")

    net = measured_answers(args.checkpoint, args.real)
    held_net = held_out_answers(args.checkpoint, args.data, args.max_test) if args.data else None
    constant = np.bincount(net["cs_true"], minlength=7).argmax()
    report = {"set": args.real.name, "network": net["name"], "n": int(len(net["cs_true"])),
              "constant_cs_acc": float(np.mean(net["cs_true"] == constant)), "forests": []}
    print(f"network {net['name']} on {args.real.name} (n = {report['n']}; constant "
          f"{100 * report['constant_cs_acc']:.1f} %, balanced 16.7 %)")
    for forest_path in args.forest:
        forest = measured_answers(forest_path, args.real)
        if forest["files"] != net["files"]:
            raise ValueError(f"{forest_path}: answered other files than the network")
        held_forest = held_out_answers(forest_path, args.data, args.max_test) if args.data else None
        rows = []
        for w in WEIGHTS:
            data = dict(net, cs=pool(net["cs"], forest["cs"], w), sg=pool(net["sg"], forest["sg"], w))
            plain = indexing.scores(data["cs"], data["sg"], data["cs_true"], data["sg_true"])
            cs, sg, _, _ = indexing.combined(data, 10.0, 0.9, None)
            with_cell = indexing.scores(cs, sg, data["cs_true"], data["sg_true"])
            row = {"w": w, "real": plain, "real_with_indexing": with_cell}
            if held_net is not None:
                row["held_out"] = indexing.scores(pool(held_net["cs"], held_forest["cs"], w),
                                                  pool(held_net["sg"], held_forest["sg"], w),
                                                  held_net["cs_true"], held_net["sg_true"])
            rows.append(row)
        report["forests"].append({"forest": forest["name"], "rows": rows})
        print(f"\n+ {forest['name']}\n| w | RRUFF CS (bal.) | SG | with indexing CS (bal.) | SG | held-out CS (bal.) | SG |")
        print("|---:|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            h = r.get("held_out")
            held = f"{100 * h['cs_acc']:.1f} ({100 * h['cs_bal']:.1f}) | {100 * h['sg_acc']:.1f}" if h else "– | –"
            print(f"| {r['w']:.2f} | {100 * r['real']['cs_acc']:.1f} ({100 * r['real']['cs_bal']:.1f}) | "
                  f"{100 * r['real']['sg_acc']:.1f} | {100 * r['real_with_indexing']['cs_acc']:.1f} "
                  f"({100 * r['real_with_indexing']['cs_bal']:.1f}) | {100 * r['real_with_indexing']['sg_acc']:.1f} | "
                  f"{held} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
