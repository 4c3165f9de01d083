"""Does averaging over copies of a scan with every d-spacing scaled (test-time augmentation) pay? Labelled scans.

    python scripts/ablate_test_time_scales.py --real ../shared/data/rruff \
        [--checkpoint RUN] [--scales -0.01,-0.005,0,0.005,0.01] [--out bench_results/test_time_scales.json]

Natural minerals are solid solutions and strained: their lines sit where a cell a little larger or smaller than
the reference structure's puts them. A copy of the measured row with every d-spacing (1 + s) times larger is the
row such a cell would give: with Bragg's law λ = 2 d sin θ, the value at 2θ′ is the measured value at 2θ with
sin θ = (1 + s) sin θ′ (linear interpolation on the model grid; zero where the copy leaves the measured span).
Each copy is answered by the shipped predictor (networks, forest pool, prior) and by its networks alone, and the
probabilities are averaged over the sets of scales below. Crystal-system accuracy, balanced accuracy and
space-group accuracy per single scale and per averaged set, beside the constant answer. Validation figures on
the measured validation set.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

SCALE_SETS = ((0.0,), (-0.005, 0.0, 0.005), (-0.01, -0.005, 0.0, 0.005, 0.01))


def d_scaled(rows: np.ndarray, two_theta_deg: np.ndarray, s: float) -> np.ndarray:
    """``rows [R, G]`` on ``two_theta_deg [G]`` as a cell with every d-spacing ``(1 + s)`` times larger gives them."""
    if s == 0.0:
        return rows
    sin_source = (1.0 + s) * np.sin(np.radians(two_theta_deg / 2.0))  # [G] sin θ of the measured point read
    source_deg = np.where(sin_source < 1.0, 2.0 * np.degrees(np.arcsin(np.clip(sin_source, 0.0, 1.0))), np.inf)
    return np.stack([np.interp(source_deg, two_theta_deg, row, left=0.0, right=0.0) for row in rows]).astype(rows.dtype)


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from ablate_forest_pool import predicted_rows
    from ablate_test_time_shifts import figures

    from xrdnet.api import Predictor, default_checkpoint
    from xrdnet.symmetry import crystal_system_index

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, required=True, help="folder of labelled scans (labels.csv)")
    parser.add_argument("--checkpoint", default=None, help="checkpoint folder (default: the shipped one)")
    parser.add_argument("--out", type=Path, default=Path("bench_results/test_time_scales.json"))
    args = parser.parse_args(argv)
    predictor = Predictor(args.checkpoint or default_checkpoint(), combine_indexing=False)
    _, _, rows, sg_true = predicted_rows(predictor, args.real)
    cs_true = np.array([crystal_system_index(int(g)) for g in sg_true])
    pool = predictor.forest_pool
    probs = {}  # scale -> {"pooled": (cs, sg), "networks": (cs, sg)}
    for s in sorted({s for group in SCALE_SETS for s in group}):
        x = d_scaled(rows, predictor.grid, s)
        predictor.forest_pool = pool
        pooled = predictor.probabilities(x)
        predictor.forest_pool = None
        probs[s] = {"pooled": pooled, "networks": predictor.probabilities(x)}
    predictor.forest_pool = pool
    constant = float(np.mean(cs_true == np.bincount(cs_true, minlength=7).argmax()))

    def averaged(group, kind):
        return figures(np.mean([probs[s][kind][0] for s in group], 0), np.mean([probs[s][kind][1] for s in group], 0),
                       cs_true, sg_true)

    report = {"set": args.real.name, "n": int(len(rows)), "constant_cs_acc": constant,
              "single": {str(s): {k: figures(*probs[s][k], cs_true, sg_true) for k in ("pooled", "networks")}
                         for s in probs},
              "averaged": [{"scales": list(g), "pooled": averaged(g, "pooled"), "networks": averaged(g, "networks")}
                           for g in SCALE_SETS]}
    print(f"{args.real.name}: n = {len(rows)}, constant {100 * constant:.1f} %\n\n"
          "| d scale(s) | CS acc | CS bal | SG acc | networks CS | networks bal |\n|---|---:|---:|---:|---:|---:|")
    lines = [(f"{float(s):+.3f} alone", f) for s, f in report["single"].items()]
    lines += [(f"mean over {len(e['scales'])} scales {e['scales']}", e) for e in report["averaged"]]
    for name, f in lines:
        a, b = f["pooled"], f["networks"]
        print(f"| {name} | {100 * a['cs_acc']:.1f} | {100 * a['cs_bal']:.1f} | {100 * a['sg_acc']:.1f} "
              f"| {100 * b['cs_acc']:.1f} | {100 * b['cs_bal']:.1f} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
