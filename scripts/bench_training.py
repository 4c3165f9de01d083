"""Training and inference throughput of the CNN configs and the forest baselines, side by side.

    python scripts/bench_training.py [--data data/real.h5] [--batch 64] [--steps 6] [--out bench_results/training.json]

For every CNN config in ``configs/`` that trains a CNN (and the stride-4 / stride-8 pair that chose
the shipped recipe), on this machine's threads: training patterns/s split into forward, backward
and optimizer step; inference patterns/s; parameters. For the forests: Suzuki peak features per
second (the peak finder is their cost) and extra-trees fit / predict rates on those features.
Everything runs in one process, one config after the other, so the ratios are comparable even on
a noisy machine. With ``--data`` the batches are real stored patterns (and the data-loading cost of
an in-memory epoch is measured); without it, random patterns of the default grid.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from xrdnet.config import load_stage_config
from xrdnet.models.cnn import CNNConfig, XRDNet
from xrdnet.train import TrainConfig

REPO = Path(__file__).resolve().parents[1]


def cnn_configs() -> dict[str, CNNConfig]:
    configs = {"default (stride 4)": CNNConfig()}
    for name in ("train_cpu", "train_real_cpu"):
        configs[name] = load_stage_config(REPO / "configs" / f"{name}.yaml", TrainConfig, "train").cnn
    configs["train_cpu at stride 8"] = CNNConfig(channels=(24, 32, 48, 64, 96, 128), hidden=256, stem_stride=8,
                                                 stem_kernel=17)
    return configs


def time_cnn(config: CNNConfig, patterns: torch.Tensor, labels: torch.Tensor, steps: int) -> dict:
    net = XRDNet(config)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    parts = {"forward": 0.0, "backward": 0.0, "step": 0.0}
    n = len(patterns)
    for i in range(steps + 2):
        t0 = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(net(patterns), labels)
        t1 = time.perf_counter()
        opt.zero_grad()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        if i >= 2:  # the first steps allocate and pick kernels
            parts["forward"] += t1 - t0
            parts["backward"] += t2 - t1
            parts["step"] += t3 - t2
    total = sum(parts.values())
    net.eval()
    with torch.no_grad():
        net(patterns)
        t0 = time.perf_counter()
        for _ in range(steps):
            net(patterns)
        infer = (time.perf_counter() - t0) / steps
    return {
        "train_patterns_per_s": n * steps / total,
        "inference_patterns_per_s": n / infer,
        "share_forward": parts["forward"] / total,
        "share_backward": parts["backward"] / total,
        "share_optimizer": parts["step"] / total,
        "parameters": sum(p.numel() for p in net.parameters()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="xrdnet data set to take real patterns from")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--forest-patterns", type=int, default=2000)
    parser.add_argument("--out", default="bench_results/training.json")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    lam = 1.5406
    grid = np.linspace(5.0, 90.0, 8501)
    loading = None
    if args.data:
        from xrdnet.data.reader import PatternDataset

        with PatternDataset(args.data) as ds:
            rows = np.sort(rng.choice(len(ds), max(args.batch, args.forest_patterns), replace=False))
            t0 = time.perf_counter()
            stored = ds.read_patterns(rows, np.float16)
            loading = len(rows) / (time.perf_counter() - t0)
            grid = ds.two_theta_deg
            lam = float(ds.attrs.get("kalpha1_angstrom") or ds.wavelength_angstrom)
            labels_all = ds.pattern_space_group()[rows] - 1
        # The in-memory loader's per-batch cost: index a float16 cache, convert to float32.
        t0 = time.perf_counter()
        for start in range(0, len(stored) - args.batch + 1, args.batch):
            stored[start : start + args.batch].astype(np.float32)
        conversion = (len(stored) // args.batch * args.batch) / (time.perf_counter() - t0)
    else:
        stored = rng.random((max(args.batch, args.forest_patterns), len(grid))).astype(np.float16)
        labels_all = rng.integers(0, 230, len(stored))
        conversion = None
    patterns = torch.from_numpy(stored[: args.batch].astype(np.float32))
    labels = torch.from_numpy(np.asarray(labels_all[: args.batch], np.int64))

    results = {"threads": torch.get_num_threads(), "batch": args.batch, "n_points": len(grid), "cnn": {}}
    rows = []
    for name, config in cnn_configs().items():
        r = time_cnn(config, patterns, labels, args.steps)
        results["cnn"][name] = r
        rows.append((name, r))

    from xrdnet.features import suzuki_features
    from xrdnet.models.forest import ForestConfig, ForestModel

    block = stored[: args.forest_patterns].astype(np.float32)
    t0 = time.perf_counter()
    features = suzuki_features(block, grid, lam)
    feat_rate = len(block) / (time.perf_counter() - t0)
    forest = ForestModel(ForestConfig(cs_n_estimators=100, sg_n_estimators=50))
    from xrdnet.symmetry import space_group_to_crystal_system_table

    sg = np.asarray(labels_all[: len(block)], np.int64) + 1
    cs = space_group_to_crystal_system_table()[sg]
    t0 = time.perf_counter()
    forest.fit_features(features, grid, lam, cs, sg)
    fit_rate = len(block) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    forest.cs_classifier_.predict_proba(features)
    forest.sg_classifier_.predict_proba(features)
    predict_rate = len(block) / (time.perf_counter() - t0)
    results["forest"] = {"suzuki_features_per_s": feat_rate, "extra_trees_fit_patterns_per_s": fit_rate,
                         "extra_trees_predict_patterns_per_s": predict_rate,
                         "note": "fit/predict with 100 + 50 trees on Suzuki features"}
    results["data"] = {"hdf5_random_rows_per_s": loading, "float16_to_float32_batches_patterns_per_s": conversion}

    print(f"threads {results['threads']}, batch {args.batch}, {len(grid)} points, "
          f"{'stored patterns of ' + args.data if args.data else 'random patterns'}")
    print(f"| {'CNN config':26s} | train pat/s | infer pat/s | forward | backward | optimizer | params |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, r in rows:
        print(f"| {name:26s} | {r['train_patterns_per_s']:11.0f} | {r['inference_patterns_per_s']:11.0f} | "
              f"{r['share_forward']:7.0%} | {r['share_backward']:8.0%} | {r['share_optimizer']:9.0%} | "
              f"{r['parameters'] / 1e6:5.2f} M |")
    f = results["forest"]
    print(f"\nforest: Suzuki features {f['suzuki_features_per_s']:.0f} patterns/s (peak finder), extra-trees fit "
          f"{f['extra_trees_fit_patterns_per_s']:.0f} patterns/s, predict {f['extra_trees_predict_patterns_per_s']:.0f} patterns/s")
    if loading is not None:
        print(f"data: HDF5 random rows {loading:.0f} patterns/s; in-memory batch conversion {conversion:.0f} patterns/s")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
