"""How many networks should the shipped checkpoint average? Every subset of its members, pooled as shipped.

    python scripts/ablate_ensemble_size.py --real ../shared/data/rruff --data data/real.h5 \
        [--checkpoint xrdnet/checkpoints/xrdnet-cnn-real] [--max-test 2000] [--out bench_results/ensemble_size.json]

Each member of the checkpoint answers once, with its own calibration (``calibration.json``, fitted by
``xrdnet calibrate`` on simulated validation patterns), on the labelled scans of ``--real`` (read as
``predict`` reads them: the rows its models are handed) and on a seeded subset of the held-out compounds
of ``--data``. For every non-empty subset of members their calibrated probabilities are averaged, tempered
by the checkpoint's ensemble temperatures (fitted for the whole ensemble: an approximation for the smaller
subsets), and pooled with the checkpoint's forest as ``predict`` pools them (``ForestPool.combine``).
Printed per subset: crystal system (balanced) and space group, networks alone and pooled, on both sets.
RRUFF figures are validation figures: the number of members is chosen there; subsets of equal size show
the spread between seeds.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from ablate_forest_pool import predicted_rows  # noqa: E402


def _scores(cs, sg, cs_true, sg_true) -> dict:
    from xrdnet.calibration import decode
    from xrdnet.evaluate import balanced_accuracy

    cs_pred, sg_pred, _ = decode(cs, sg)
    return {"cs": float(np.mean(cs_pred == cs_true)), "cs_bal": float(balanced_accuracy(cs_true, cs_pred)),
            "sg": float(np.mean(sg_pred == sg_true))}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--checkpoint", default=None, help="checkpoint folder (default: the shipped one)")
    parser.add_argument("--max-test", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench_results/ensemble_size.json")
    args = parser.parse_args(argv)
    from xrdnet.api import Predictor
    from xrdnet.data.reader import PatternDataset
    from xrdnet.symmetry import crystal_system_index

    predictor = Predictor(args.checkpoint, combine_indexing=False)
    pool, ensemble = predictor.forest_pool, predictor.ensemble_calibration
    grid, lam = predictor.grid, predictor.wavelength_angstrom
    _, _, real_rows, real_sg = predicted_rows(predictor, args.real)  # the rows predict hands its models
    rows, sg_true = {"real": real_rows}, {"real": real_sg}
    with PatternDataset(args.data) as ds:
        if not np.allclose(ds.two_theta_deg, grid):
            raise SystemExit(f"{args.data}: its grid is not the checkpoint's")
        test = ds.indices("test", "compound")
        test = np.sort(np.random.default_rng(0).choice(test, min(args.max_test, len(test)), replace=False))
        rows["held"] = ds.read_patterns(test).astype(np.float32)
        sg_true["held"] = ds.pattern_space_group()[test]
    cs_true = {k: np.array([crystal_system_index(int(g)) for g in v]) for k, v in sg_true.items()}
    members = {}  # member -> set -> (cs, sg) calibrated
    for path, run, cal in zip(predictor.paths, predictor.runs, predictor.calibrations):
        name = Path(path).name
        members[name] = {}
        for split, r in rows.items():
            pred = run.predict(r, grid, lam)
            cs, sg = np.asarray(pred.cs_proba, np.float64), np.asarray(pred.sg_proba, np.float64)
            members[name][split] = cal.apply(cs, sg) if cal is not None else (cs, sg)
        print(f"member {name}: answered", flush=True)
    forest_cs = {split: pool.forest_crystal_systems(r, grid, lam) for split, r in rows.items()} if pool else None
    names = list(members)
    report = {"checkpoint": predictor.info.name, "members": names, "n_real": len(rows["real"]),
              "n_held": len(rows["held"]), "subsets": []}
    print("\n| members | RRUFF networks CS (bal.) / SG | RRUFF pooled CS (bal.) / SG | held-out networks | held-out pooled |")
    print("|---|---|---|---|---|")
    for k in range(1, len(names) + 1):
        for subset in itertools.combinations(names, k):
            entry = {"members": list(subset)}
            for split in rows:
                cs = np.mean([members[m][split][0] for m in subset], axis=0)
                sg = np.mean([members[m][split][1] for m in subset], axis=0)
                if ensemble is not None:
                    cs, sg = ensemble.apply(cs, sg)
                entry[f"{split}_networks"] = _scores(cs, sg, cs_true[split], sg_true[split])
                if pool is not None:
                    pcs, psg = pool.combine(cs, sg, forest_cs[split])
                    entry[f"{split}_pooled"] = _scores(pcs, psg, cs_true[split], sg_true[split])
            report["subsets"].append(entry)

            def cell(s):
                return f"{100 * s['cs']:.1f} ({100 * s['cs_bal']:.1f}) / {100 * s['sg']:.1f}" if s else "–"

            print(f"| {' + '.join(subset)} | {cell(entry['real_networks'])} | {cell(entry.get('real_pooled'))} | "
                  f"{cell(entry['held_networks'])} | {cell(entry.get('held_pooled'))} |", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
