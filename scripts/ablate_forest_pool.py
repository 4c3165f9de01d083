"""How large a forest, pooled with the network, pays on measured scans? Training size × leaf size × seeds.

    python scripts/ablate_forest_pool.py --real ../shared/data/rruff --data data/real.h5 \
        --cache bench_results/forest_pool_cache.npz --sizes 4000,8000,16000,24000 --leaves 1,2,5 --seeds 0,1

First (once; kept in ``--cache``): the network's probabilities as ``predict`` gives them (no indexing
mixed in) on the labelled scans and on a seeded subset of held-out compounds, and the forest features
(``--features``, default ``suzuki_indexing``) of those rows and of a seeded subset of the training split
(the first n of one seeded permutation make the training set of size n, so sizes are nested). The
measured scans' rows are exactly the rows ``predict`` hands a model.

Then, per (size, leaf, seed), a crystal-system extra-trees classifier is fitted with the settings of
``xrdnet.models.forest.ForestConfig`` and the sample weights of ``--sample-weights``, and pooled
log-linearly with the network's crystal-system probabilities (``ablate_forest_combination.pool``) at a
grid of forest weights. Printed: RRUFF crystal system (balanced) and space group (the network's space
groups decoded within the pooled system), held-out compounds the same, the forest's size on disk. RRUFF
figures are validation figures: the size, leaf and weight are chosen there, the seeds show the spread.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

WEIGHTS = (0.0, 0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7, 1.0)


class _RowKeeper:
    """Wraps a Predictor so that the rows it hands its models are kept (the rows ``predict`` uses)."""

    def __init__(self, predictor):
        self.predictor, self.rows = predictor, []
        original = predictor.probabilities

        def keep(rows, *more):
            self.rows.append(np.array(rows, copy=True))
            return original(rows, *more)

        predictor.probabilities = keep


def predicted_rows(predictor, real: Path):
    """The labelled measured scans of ``real`` (``labels.csv``) answered by ``predictor`` (forced):
    ``(patterns, results, rows [N, G], space groups [N])``, ``rows`` exactly what predict hands its models.

    Raises ValueError when a labelled file cannot be read or is not answered."""
    import csv

    from xrdnet.patterns_io import read_many

    with (real / "labels.csv").open(newline="") as handle:
        labels = {row["file"]: int(row["space_group"]) for row in csv.DictReader(handle)}
    patterns, errors = read_many([real / name for name in labels], None)
    if errors:
        raise ValueError(f"{real}: {len(errors)} labelled files unreadable")
    keeper = _RowKeeper(predictor)
    results = predictor.predict_patterns(patterns, force=True)
    rows = np.concatenate(keeper.rows)
    if len(rows) != len(results) or any(not len(r.crystal_system_proba) for r in results):
        raise ValueError(f"{real}: not every labelled file was answered")
    return patterns, results, rows, np.array([labels[p.path.name] for p in patterns])


def build_cache(args) -> dict:
    from xrdnet.api import Predictor
    from xrdnet.data.datamodule import sample_weights
    from xrdnet.data.reader import PatternDataset
    from xrdnet.models.forest import ForestConfig, ForestModel
    from xrdnet.symmetry import crystal_system_index

    forest = ForestModel(ForestConfig(features=args.features, n_jobs=-1))
    predictor = Predictor(args.checkpoint, combine_indexing=False)
    predictor.forest_pool = None  # the networks alone, as before the checkpoint had a pool
    grid, lam = predictor.grid, predictor.wavelength_angstrom
    _, results, rows, real_sg = predicted_rows(predictor, args.real)
    cache = {"real_cs": np.stack([r.crystal_system_proba for r in results]),
             "real_sg": np.stack([r.space_group_proba for r in results]),
             "real_x": forest.featurize(rows, grid, lam), "real_sg_true": real_sg,
             "real_cs_true": np.array([crystal_system_index(int(g)) for g in real_sg])}
    print(f"measured scans: {len(rows)} rows, features {cache['real_x'].shape}", flush=True)
    with PatternDataset(args.data) as ds:
        if not np.allclose(ds.two_theta_deg, grid):
            raise ValueError(f"{args.data}: its grid is not the network's")
        rng = np.random.default_rng(0)
        test = ds.indices("test", "compound")
        test = np.sort(rng.choice(test, min(args.max_test, len(test)), replace=False))
        rows = ds.read_patterns(test).astype(np.float32)
        cache["held_cs"], cache["held_sg"] = predictor.probabilities(rows)
        cache["held_x"] = forest.featurize(rows, grid, lam)
        cache["held_cs_true"] = ds.pattern_crystal_system()[test]
        cache["held_sg_true"] = ds.pattern_space_group()[test]
        print(f"held-out compounds: {len(test)}", flush=True)
        train = ds.indices("train", "compound")
        train = np.random.default_rng(args.train_seed).permutation(train)[: args.max_train]
        parts = []
        for a in range(0, len(train), 4096):
            block = np.sort(train[a:a + 4096])
            order = np.argsort(np.argsort(train[a:a + 4096]))  # back to the permutation's order
            parts.append(forest.featurize(ds.read_patterns(block), grid, lam)[order])
            print(f"training features {a + len(block)} / {len(train)}", flush=True)
        cache["train_x"] = np.concatenate(parts)
        cache["train_cs"] = ds.pattern_crystal_system()[train]
        structure = ds.structure_index[train]
        cache["train_structure"] = structure
        cache["train_weight"] = sample_weights(args.sample_weights, [ds.formula[i] for i in structure],
                                               ds.space_group[structure], ds.crystal_system[structure])
    return cache


def scores(cs: np.ndarray, sg: np.ndarray, cs_true: np.ndarray, sg_true: np.ndarray) -> tuple[float, float, float]:
    from xrdnet.calibration import decode
    from xrdnet.evaluate import balanced_accuracy

    cs_pred, sg_pred, _ = decode(cs, sg)
    return float(np.mean(cs_pred == cs_true)), balanced_accuracy(cs_true, cs_pred), float(np.mean(sg_pred == sg_true))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--cache", type=Path, default=Path("bench_results/forest_pool_cache.npz"))
    parser.add_argument("--features", default="suzuki_indexing")
    parser.add_argument("--sample-weights", default="compound_sqrt_system")
    parser.add_argument("--max-test", type=int, default=2000)
    parser.add_argument("--max-train", type=int, default=24000)
    parser.add_argument("--train-seed", type=int, default=0)
    parser.add_argument("--sizes", default="4000,8000,16000,24000")
    parser.add_argument("--leaves", default="1,2,5")
    parser.add_argument("--trees", type=int, default=500)
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--out", type=Path, default=Path("bench_results/forest_pool.json"))
    args = parser.parse_args(argv)
    from sklearn.ensemble import ExtraTreesClassifier

    from xrdnet.models.forest import ForestConfig
    from xrdnet.symmetry import CRYSTAL_SYSTEMS

    if args.cache.is_file():
        cache = dict(np.load(args.cache))
    else:
        cache = build_cache(args)
        args.cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(args.cache, **cache)
    from importlib.util import module_from_spec, spec_from_file_location

    spec = spec_from_file_location("afc", Path(__file__).with_name("ablate_forest_combination.py"))
    afc = module_from_spec(spec)
    spec.loader.exec_module(afc)
    n_features = cache["train_x"].shape[1]
    config = ForestConfig(features=args.features)
    rows = []
    print("| train n | leaf | seed | forest MB | fit s | w | RRUFF CS (bal.) | RRUFF SG | held-out CS (bal.) | held-out SG |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size in (int(s) for s in args.sizes.split(",")):
        x, y, weight = cache["train_x"][:size], cache["train_cs"][:size], cache["train_weight"][:size]
        for leaf in (int(v) for v in args.leaves.split(",")):
            for seed in (int(v) for v in args.seeds.split(",")):
                t0 = time.perf_counter()
                tree = ExtraTreesClassifier(n_estimators=args.trees, max_depth=config.cs_max_depth,
                                            max_features=config.resolved_max_features("cs", n_features),
                                            min_samples_leaf=leaf, n_jobs=-1, random_state=seed)
                tree.fit(x, y, sample_weight=weight)
                fit_s = time.perf_counter() - t0
                mb = sum(e.tree_.node_count for e in tree.estimators_) * (7 * 8 + 8 * 7) / 1e6  # values + node record
                full = np.zeros((1, len(CRYSTAL_SYSTEMS)))
                for name in ("real", "held"):
                    p = tree.predict_proba(cache[f"{name}_x"])
                    full = np.zeros((len(p), len(CRYSTAL_SYSTEMS)))
                    full[:, tree.classes_] = p
                    cache[f"_{name}_forest"] = full
                for w in WEIGHTS:
                    entry = {"n": size, "leaf": leaf, "seed": seed, "mb_estimate": mb, "fit_s": fit_s, "w": w}
                    for name in ("real", "held"):
                        cs = afc.pool(cache[f"{name}_cs"], cache[f"_{name}_forest"], w)
                        entry[name] = scores(cs, cache[f"{name}_sg"], cache[f"{name}_cs_true"],
                                             cache[f"{name}_sg_true"])
                    rows.append(entry)
                    r, h = entry["real"], entry["held"]
                    print(f"| {size} | {leaf} | {seed} | {mb:.0f} | {fit_s:.0f} | {w:.2f} | {100 * r[0]:.1f} "
                          f"({100 * r[1]:.1f}) | {100 * r[2]:.1f} | {100 * h[0]:.1f} ({100 * h[1]:.1f}) | "
                          f"{100 * h[2]:.1f} |", flush=True)
    constant = np.bincount(cache["real_cs_true"], minlength=7).argmax()
    report = {"constant_real_cs_acc": float(np.mean(cache["real_cs_true"] == constant)),
              "constant_held_cs_acc": float(np.mean(cache["held_cs_true"] ==
                                                    np.bincount(cache["held_cs_true"], minlength=7).argmax())),
              "n_real": int(len(cache["real_cs_true"])), "n_held": int(len(cache["held_cs_true"])), "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"constant: RRUFF {100 * report['constant_real_cs_acc']:.1f} %, held-out "
          f"{100 * report['constant_held_cs_acc']:.1f} %; wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
