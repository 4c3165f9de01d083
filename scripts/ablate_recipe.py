"""Ablation of the training recipe for measured patterns, several seeds per variant, judged on measured data.

Every variant is the base train config (``--base``) with a few settings changed (``VARIANTS``
below); each trains with every seed of ``--seeds`` on the same data set and split, for the same
number of presentations. Every run is then scored, with the same code, on:

* ``rruff``: the measured validation scans of ``--real`` (labels.csv), full range;
* ``rruff 10-70`` / ``rruff 20-80``: the same scans cut to a shorter laboratory range (the points
  outside are dropped before the pattern is renormalised, as a shorter scan would be);
* ``sim test``: ``--n-sim`` patterns of compounds held out of training (the test split), full range
  and cut to 10-70°.

Each figure is crystal-system accuracy with the balanced accuracy beside it (space-group top-1 in
the JSON), the mean and spread over seeds, and the constant answer (the commonest crystal system
of the set) on every line. Runs live in ``OUT/runs/<variant>-s<seed>`` and results in
``OUT/results/``; a finished run is never retrained and an unfinished one (a leg cut by
``--max-time``) is resumed, so the ablation itself runs in legs across sittings.

    python scripts/ablate_recipe.py --data data/real.h5 --real ../shared/data/rruff --out reports/recipe \\
        [--base configs/train_fresh_cpu.yaml] [--variants stored,fresh,amcsd4,crop] [--seeds 0,1] [--max-time 50]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]

# variant -> (what it changes, overrides by section). The base is the recipe under test; each
# variant changes one decision so the difference is what that decision buys.
VARIANTS: dict[str, tuple[str, dict]] = {
    "fresh": ("base: fresh patterns from sticks every presentation, full range", {}),
    "stored": ("the data set's 2 stored patterns per structure instead of fresh ones",
               {"data": {"fresh": False, "num_workers": 0}}),
    "amcsd4": ("AMCSD structures drawn 4x as often (data mix)", {"data": {"source_weights": {"amcsd_minerals": 4.0}}}),
    "crop": ("AMCSD 4x + laboratory scan ranges (start 5-25°, end 55-90°, 30 % full) and a measured-span channel",
             {"data": {"source_weights": {"amcsd_minerals": 4.0},
                       "coverage": {"full_range_fraction": 0.3, "start_deg": [5.0, 25.0], "end_deg": [55.0, 90.0]}},
              "cnn": {"coverage_channel": True}}),
    "mp_only": ("Materials Project structures only (the unseen-mineral model)",
                {"data": {"include_sources": ["mp_structures"]}}),
    "mp_stored": ("Materials Project only, the 2 stored patterns per structure (fresh vs stored without AMCSD)",
                  {"data": {"include_sources": ["mp_structures"], "fresh": False, "num_workers": 0}}),
    "crop_mp": ("the crop recipe on Materials Project structures only: RRUFF's minerals unseen",
                {"data": {"include_sources": ["mp_structures"],
                          "coverage": {"full_range_fraction": 0.3, "start_deg": [5.0, 25.0], "end_deg": [55.0, 90.0]}},
                 "cnn": {"coverage_channel": True}}),
    "struct_aug": ("crop + structure-level augmentation keeping the symmetry: free conventional edges ±3 %, "
                   "monoclinic/triclinic angles ±1.5°, overall ΔB -0.5..1.5 Å²",
                   {"data": {"source_weights": {"amcsd_minerals": 4.0},
                             "coverage": {"full_range_fraction": 0.3, "start_deg": [5.0, 25.0], "end_deg": [55.0, 90.0]},
                             "profile_overrides": {"anisotropic_strain": [-0.03, 0.03],
                                                   "cell_angle_change_deg": [-1.5, 1.5],
                                                   "b_iso_change_A2": [-0.5, 1.5]}},
                    "cnn": {"coverage_channel": True}}),
}
CUTS_DEG = {"10-70": (10.0, 70.0), "20-80": (20.0, 80.0)}


def _override(config, changes: dict):
    from xrdnet.config import config_from_dict, config_to_dict

    data = config_to_dict(config)
    for section, values in changes.items():
        data[section] = {**(data.get(section) or {}), **values}
    return config_from_dict(type(config), data, "ablation")


def _cut(rows: np.ndarray, grid: np.ndarray, lo: float, hi: float) -> np.ndarray:
    from xrdnet.simulate.coverage import crop_to_range

    return crop_to_range(rows, grid, lo, hi)


def _scores(model, patterns: np.ndarray, cs: np.ndarray, sg: np.ndarray) -> dict:
    from xrdnet.evaluate import balanced_accuracy as _balanced

    _, sg_p, cs_pred, sg_pred = model.predict_patterns(torch.from_numpy(patterns))
    top5 = torch.topk(sg_p, 5, dim=1).indices.numpy() + 1
    constant = np.bincount(cs, minlength=7).argmax()
    return {"n": int(len(cs)), "cs_acc": float(np.mean(cs_pred.numpy() == cs)),
            "cs_bal": _balanced(cs, cs_pred.numpy()),
            "sg_acc": float(np.mean(sg_pred.numpy() == sg)), "sg_top5": float(np.mean((top5 == sg[:, None]).any(1))),
            "constant_cs_acc": float(np.mean(cs == constant)), "constant_cs_bal": 1.0 / len(np.unique(cs))}


def evaluation_sets(data: Path, real: Path, n_sim: int, grid: np.ndarray, lam: float) -> dict:
    from xrdnet.compare import load_labelled_patterns
    from xrdnet.data.reader import PatternDataset

    sets = {}
    measured = load_labelled_patterns(real, grid, lam)
    sets["rruff"] = (measured["patterns"], measured["crystal_system"], measured["space_group"])
    for name, (lo, hi) in CUTS_DEG.items():
        sets[f"rruff {name}"] = (_cut(measured["patterns"], grid, lo, hi), *sets["rruff"][1:])
    with PatternDataset(data) as ds:
        test = ds.indices("test", "compound")
        rows = np.sort(np.random.default_rng(0).choice(test, min(n_sim, len(test)), replace=False))
        patterns = ds.read_patterns(rows)
        s = ds.structure_index[rows]
        sets["sim test"] = (patterns, ds.crystal_system[s], ds.space_group[s])
    sets["sim test 10-70"] = (_cut(sets["sim test"][0], grid, 10.0, 70.0), *sets["sim test"][1:])
    return sets


def run_one(name: str, seed: int, base, data: Path, out: Path, max_seconds: float | None) -> dict | None:
    from xrdnet.train import LAST_CHECKPOINT, resume_run, train

    run = out / "runs" / f"{name}-s{seed}"
    if (run / "run.json").is_file() and not (run / LAST_CHECKPOINT).is_file():
        return json.loads((run / "run.json").read_text())
    if (run / LAST_CHECKPOINT).is_file():
        info = resume_run(run, data, max_seconds)
    else:
        config = replace(_override(base, VARIANTS[name][1]), seed=seed)
        info = train(config, data, run, max_seconds=max_seconds)
    return info if info.get("complete", True) else None


def summarise(results: list[dict], set_names: list[str]) -> str:
    lines = ["| variant | what changes | seeds | " + " | ".join(set_names) + " |",
             "| --- | --- | ---: | " + " | ".join("---:" for _ in set_names) + " |"]
    by_variant: dict[str, list[dict]] = {}
    for r in results:
        by_variant.setdefault(r["variant"], []).append(r)
    for name, rs in by_variant.items():
        cells = []
        for s in set_names:
            acc = np.array([r["scores"][s]["cs_acc"] for r in rs]) * 100
            bal = np.array([r["scores"][s]["cs_bal"] for r in rs]) * 100
            cells.append(f"{acc.mean():.1f} ± {acc.std():.1f} (bal. {bal.mean():.1f})")
        lines.append(f"| {name} | {VARIANTS[name][0]} | {len(rs)} | " + " | ".join(cells) + " |")
    first = results[0]["scores"]
    lines.append("| constant | always the commonest system of the set | – | " + " | ".join(
        f"{100 * first[s]['constant_cs_acc']:.1f} (bal. {100 * first[s]['constant_cs_bal']:.1f})" for s in set_names)
        + " |")
    return "\n".join(lines)


def main() -> None:
    from xrdnet.config import load_stage_config
    from xrdnet.models.cnn import CNNClassifier
    from xrdnet.train import TrainConfig

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--real", type=Path, required=True, help="labelled measured validation patterns")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--base", type=Path, default=ROOT / "configs" / "train_fresh_cpu.yaml")
    parser.add_argument("--variants", default="fresh,stored,amcsd4,crop")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--n-sim", type=int, default=2000)
    parser.add_argument("--max-time", type=float, default=None,
                        help="minutes for this sitting: runs stop in legs and resume on the next call")
    args = parser.parse_args()

    base = load_stage_config(args.base, TrainConfig, "train")
    names = [v for v in args.variants.split(",") if v]
    unknown = [v for v in names if v not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variant(s) {unknown}; known: {sorted(VARIANTS)}")
    seeds = [int(s) for s in args.seeds.split(",")]
    (args.out / "results").mkdir(parents=True, exist_ok=True)
    deadline = None if args.max_time is None else time.monotonic() + 60.0 * args.max_time
    sets = None
    results = []
    for seed in seeds:  # seed-major: a sitting cut short still has every variant at the first seed
        for name in names:
            result_file = args.out / "results" / f"{name}-s{seed}.json"
            if result_file.is_file():
                results.append(json.loads(result_file.read_text()))
                continue
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left < 120:
                print(f"out of time for this sitting before {name}-s{seed}; rerun to continue")
                break
            info = run_one(name, seed, base, args.data, args.out, left)
            if info is None:
                print(f"{name}-s{seed}: leg ended on time; rerun to continue")
                break
            model = CNNClassifier.from_checkpoint(args.out / "runs" / f"{name}-s{seed}" / "model.ckpt")
            grid = np.asarray(model.hparams["two_theta_deg"])
            if sets is None:
                sets = evaluation_sets(args.data, args.real, args.n_sim, grid, float(model.hparams["wavelength_angstrom"]))
            scores = {s: _scores(model, *v) for s, v in sets.items()}
            result = {"variant": name, "seed": seed, "what": VARIANTS[name][0], "scores": scores,
                      "train_seconds": info.get("train_seconds"), "epochs": info.get("epochs"),
                      "real_validation_curve": info.get("real_validation")}
            result_file.write_text(json.dumps(result, indent=2))
            results.append(result)
            print(f"{name}-s{seed}: " + ", ".join(f"{s} {100 * v['cs_acc']:.1f}%" for s, v in scores.items()))
        else:
            continue
        break
    if results:
        set_names = list(results[0]["scores"])
        table = summarise(results, set_names)
        (args.out / "ablation.md").write_text(table + "\n")
        (args.out / "ablation.json").write_text(json.dumps(results, indent=2))
        print(table)


if __name__ == "__main__":
    main()
