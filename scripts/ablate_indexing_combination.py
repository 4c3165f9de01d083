"""Does mixing a confident indexing cell into the network's answer pay? Measured on labelled scans.

    python scripts/ablate_indexing_combination.py --real ../shared/data/rruff \
        [--checkpoint RUN ...] [--out bench_results/indexing_combination.json]

Every file is answered exactly as ``xrdnet predict`` answers it, with the combination switched off
(``Predictor(combine_indexing=False)``, ``force=True``), so the network's calibrated probabilities and the
best indexing cell are both at hand; the combination (``xrdnet.indexing.combine_with_systems``) is then
applied for a grid of confidence thresholds (M, indexed share). Reported per checkpoint: crystal-system
accuracy and balanced accuracy, space-group accuracy and the crystal-system ECE of the network alone and
combined, the share of scans with a confident cell and how often that cell is right (the trust), beside
the constant answer. On the measured validation set these are validation figures (the thresholds and
the trust are chosen on it); more than one checkpoint shows that the choice does not hang on one network.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

MERITS = (5.0, 8.0, 10.0, 15.0, 20.0, 30.0)
SHARES = (0.8, 0.85, 0.9, 0.95, 1.0)


def answer_files(checkpoint: str | None, folder: Path) -> dict:
    """Network probabilities ``cs [R, 7]``, ``sg [R, 230]``, best cells and labels of ``folder``'s files."""
    from xrdnet.api import Predictor
    from xrdnet.patterns_io import read_many
    from xrdnet.symmetry import crystal_system_index

    with (folder / "labels.csv").open(newline="") as handle:
        labels = {row["file"]: int(row["space_group"]) for row in csv.DictReader(handle)}
    predictor = Predictor(checkpoint, combine_indexing=False)
    predictor.forest_pool = None  # the networks alone, as before the checkpoint had a pool
    patterns, errors = read_many([folder / name for name in labels], None)
    results = predictor.predict_patterns(patterns, force=True)
    keep = [i for i, r in enumerate(results) if len(r.crystal_system_proba)]
    sg_true = np.array([labels[patterns[i].path.name] for i in keep])
    return {"name": predictor.info.name, "n_unreadable": len(errors) + len(results) - len(keep),
            "cs": np.stack([results[i].crystal_system_proba for i in keep]),
            "sg": np.stack([results[i].space_group_proba for i in keep]),
            "cells": [results[i].cell for i in keep], "sg_true": sg_true,
            "cs_true": np.array([crystal_system_index(int(g)) for g in sg_true])}


def scores(cs: np.ndarray, sg: np.ndarray, cs_true: np.ndarray, sg_true: np.ndarray) -> dict:
    from xrdnet.calibration import decode, expected_calibration_error
    from xrdnet.evaluate import balanced_accuracy

    cs_pred, sg_pred, _ = decode(cs, sg)
    return {"cs_acc": float(np.mean(cs_pred == cs_true)), "cs_bal": balanced_accuracy(cs_true, cs_pred),
            "sg_acc": float(np.mean(sg_pred == sg_true)),
            "cs_ece": float(expected_calibration_error(cs, cs_true))}


def combined(data: dict, min_merit: float, min_share: float, trust: float | None):
    """The combination at thresholds (M, share); ``trust`` None weighs each cell by its kind's
    ``xrdnet.indexing.TRUST_BY_CELL`` (hexagonal P / R kept apart), a number weighs all alike."""
    from xrdnet.indexing import TRUST_BY_CELL, combine_with_systems
    from xrdnet.indexing.evidence import cell_kind, systems_of
    from xrdnet.symmetry import CRYSTAL_SYSTEMS

    cs, sg = data["cs"].copy(), data["sg"].copy()
    confident, right = [], []
    for i, cell in enumerate(data["cells"]):
        ok = cell is not None and cell["figure_of_merit"] >= min_merit and cell["indexed_fraction"] >= min_share
        confident.append(ok)
        if ok:
            systems = systems_of(cell["family"], cell["centring"], cell["crystal_system"])
            right.append(CRYSTAL_SYSTEMS[data["cs_true"][i]] in systems)
            weight = TRUST_BY_CELL[cell_kind(cell["family"], cell["centring"])] if trust is None else trust
            cs[i], sg[i] = combine_with_systems(cs[i], sg[i], systems, weight)
    return cs, sg, float(np.mean(confident)), float(np.mean(right)) if right else float("nan")


def main(argv: list[str] | None = None) -> int:
    from xrdnet.indexing import CONFIDENT_MIN_MERIT, CONFIDENT_MIN_SHARE, INDEXING_TRUST

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, required=True, help="folder of labelled scans (labels.csv)")
    parser.add_argument("--checkpoint", action="append", default=None, help="run folder (repeat; default shipped)")
    parser.add_argument("--out", type=Path, default=Path("bench_results/indexing_combination.json"))
    args = parser.parse_args(argv)
    report = {"set": args.real.name, "trust": INDEXING_TRUST, "checkpoints": []}
    for checkpoint in args.checkpoint or [None]:
        data = answer_files(checkpoint, args.real)
        constant = np.bincount(data["cs_true"], minlength=7).argmax()
        entry = {"checkpoint": data["name"], "n": int(len(data["cs_true"])),
                 "constant_cs_acc": float(np.mean(data["cs_true"] == constant)),
                 "network": scores(data["cs"], data["sg"], data["cs_true"], data["sg_true"]), "sweep": []}
        for merit in MERITS:
            for share in SHARES:
                cs, sg, covered, right = combined(data, merit, share, INDEXING_TRUST)
                entry["sweep"].append({"min_merit": merit, "min_share": share, "confident_share": covered,
                                       "cell_right": right,
                                       **scores(cs, sg, data["cs_true"], data["sg_true"])})
        chosen = next(s for s in entry["sweep"]
                      if (s["min_merit"], s["min_share"]) == (CONFIDENT_MIN_MERIT, CONFIDENT_MIN_SHARE))
        entry["chosen"] = chosen
        cs, sg, covered, right = combined(data, CONFIDENT_MIN_MERIT, CONFIDENT_MIN_SHARE, None)
        entry["in_force"] = {"trust": "TRUST_BY_CELL", "confident_share": covered, "cell_right": right,
                             **scores(cs, sg, data["cs_true"], data["sg_true"])}
        report["checkpoints"].append(entry)
        net = entry["network"]
        print(f"\n{data['name']} on {args.real.name} (n = {entry['n']}; constant {100 * entry['constant_cs_acc']:.1f} %)")
        print("| | confident | cell right | CS acc | CS bal | SG acc | CS ECE |\n|---|---:|---:|---:|---:|---:|---:|")
        print(f"| network alone | – | – | {100 * net['cs_acc']:.1f} | {100 * net['cs_bal']:.1f} | "
              f"{100 * net['sg_acc']:.1f} | {net['cs_ece']:.3f} |")
        f = entry["in_force"]
        print(f"| M ≥ {CONFIDENT_MIN_MERIT:.0f}, share ≥ {CONFIDENT_MIN_SHARE:.2f}, trust by kind of cell **(in force)** | "
              f"{100 * f['confident_share']:.0f} % | {100 * f['cell_right']:.0f} % | {100 * f['cs_acc']:.1f} | "
              f"{100 * f['cs_bal']:.1f} | {100 * f['sg_acc']:.1f} | {f['cs_ece']:.3f} |")
        for s in entry["sweep"]:
            mark = f" (trust {INDEXING_TRUST:.2f} for all)" if s is chosen else ""
            print(f"| M ≥ {s['min_merit']:.0f}, share ≥ {s['min_share']:.2f}{mark} | {100 * s['confident_share']:.0f} % | "
                  f"{100 * s['cell_right']:.0f} % | {100 * s['cs_acc']:.1f} | {100 * s['cs_bal']:.1f} | "
                  f"{100 * s['sg_acc']:.1f} | {s['cs_ece']:.3f} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
