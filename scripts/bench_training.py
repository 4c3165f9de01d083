"""Training and inference throughput of the CNN configs and the forest baselines, side by side.

    python scripts/bench_training.py [--data data/real.h5] [--batch 64] [--steps 6] [--out bench_results/training.json]
    python scripts/bench_training.py --data data/real.h5 --fresh [--fresh-steps 60]   # + fresh patterns

For every CNN config in ``configs/`` that trains a CNN (and the stride-4 / stride-8 pair that chose
the shipped recipe), on this machine's threads: training patterns/s split into forward, backward
and optimizer step; inference patterns/s; parameters. For the forests: Suzuki peak features per
second (the peak finder is their cost) and extra-trees fit / predict rates on those features.
Everything runs in one process, one config after the other, so the ratios are comparable even on
a noisy machine. With ``--data`` the batches are real stored patterns (and the data-loading cost of
an in-memory epoch is measured); without it, random patterns of the default grid.

``--fresh`` (with ``--data``) adds the fresh-pattern path of ``configs/train_fresh_cpu.yaml``: the
renderer's patterns/s from cached sticks on one thread (profiles alone, with scan-range crops, and with the
structure-level augmentation of ``configs/train_real_fresh_aug_cpu.yaml`` on top),
and training patterns/s of the same network and optimizer fed (a) from stored in-memory patterns and
(b) by a DataLoader worker rendering every batch anew, measured one after the other in this process.
The ratio (b)/(a) is the cost of never showing a pattern twice.
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


def bench_fresh(data: str, batch: int, steps: int) -> dict:
    """Renderer and training throughput with fresh patterns against stored ones (module docstring)."""
    from torch.utils.data import DataLoader

    from xrdnet.data.datamodule import BlockShuffleBatchSampler, training_simulator_config
    from xrdnet.data.fresh import FreshPatternRows, single_thread_worker
    from xrdnet.data.reader import PatternDataset
    from xrdnet.simulate.coverage import CoverageConfig

    config = load_stage_config(REPO / "configs" / "train_fresh_cpu.yaml", TrainConfig, "train")
    with PatternDataset(data) as ds:
        rows = ds.indices("train", "compound")
    fresh = FreshPatternRows(data, rows, coverage=CoverageConfig(0.3, (5.0, 25.0), (55.0, 90.0)))
    plain = FreshPatternRows(data, rows, cache=fresh.cache)
    # the structure-level augmentation of configs/train_real_fresh_aug_cpu.yaml on top of the crops
    aug_config = load_stage_config(REPO / "configs" / "train_real_fresh_aug_cpu.yaml", TrainConfig, "train")
    with PatternDataset(data) as ds:
        aug_profile = training_simulator_config(ds, aug_config.data).profile
    augmented = FreshPatternRows(data, rows, aug_profile, coverage=aug_config.data.coverage)
    rng = np.random.default_rng(1)
    out: dict = {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    for name, dataset in (("render_profiles_1_thread", plain), ("render_profiles_and_crops_1_thread", fresh),
                          ("render_profiles_crops_and_structure_augmentation_1_thread", augmented)):
        t0 = time.perf_counter()
        n = 0
        for i in range(8):
            pos = rng.choice(len(rows), batch)
            dataset.__getitems__([(int(p), 10_000 + i * batch + j) for j, p in enumerate(pos)])
            n += batch
        out[name + "_patterns_per_s"] = n / (time.perf_counter() - t0)
    torch.set_num_threads(threads)

    net = XRDNet(config.cnn)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)

    def step(batch_: dict) -> None:
        loss = torch.nn.functional.cross_entropy(net(batch_["pattern"]), batch_["space_group"])
        opt.zero_grad()
        loss.backward()
        opt.step()

    with PatternDataset(data) as ds:
        stored_rows = np.sort(rng.choice(rows, batch * 4, replace=False))
        stored = torch.from_numpy(ds.read_patterns(stored_rows))
        labels = torch.from_numpy(ds.space_group[ds.structure_index[stored_rows]] - 1)
    for i in range(2):
        step({"pattern": stored[:batch], "space_group": labels[:batch]})
    t0 = time.perf_counter()
    for i in range(steps):
        a = (i % 4) * batch
        step({"pattern": stored[a:a + batch], "space_group": labels[a:a + batch]})
    out["train_stored_patterns_per_s"] = steps * batch / (time.perf_counter() - t0)
    sampler = BlockShuffleBatchSampler(rows, 1, batch, True, 0, weights=np.full(len(rows), 1.0 / len(rows)),
                                       epoch_size=batch * (steps + 4), draw_ids=True)
    loader = DataLoader(fresh, batch_sampler=sampler, collate_fn=lambda b: b, num_workers=1,
                        worker_init_fn=single_thread_worker, prefetch_factor=4)
    it = iter(loader)
    for i in range(2):
        step(next(it))
    t0 = time.perf_counter()
    for i in range(steps):
        step(next(it))
    out["train_fresh_patterns_per_s"] = steps * batch / (time.perf_counter() - t0)
    out["fresh_over_stored"] = out["train_fresh_patterns_per_s"] / out["train_stored_patterns_per_s"]
    out["config"] = "configs/train_fresh_cpu.yaml (cnn), crops 30 % full, start 5-25°, end 55-90°"
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="xrdnet data set to take real patterns from")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--forest-patterns", type=int, default=2000)
    parser.add_argument("--out", default="bench_results/training.json")
    parser.add_argument("--fresh", action="store_true", help="also time fresh patterns from cached sticks (needs --data)")
    parser.add_argument("--fresh-steps", type=int, default=60)
    args = parser.parse_args()
    if args.fresh and not args.data:
        parser.error("--fresh needs --data (the structures whose sticks are rendered)")

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
    if args.fresh:
        results["fresh"] = fr = bench_fresh(args.data, args.batch, args.fresh_steps)
        print(f"\nfresh patterns ({fr['config']}):")
        print("| path | patterns/s |\n|---|---:|")
        for key in ("render_profiles_1_thread_patterns_per_s", "render_profiles_and_crops_1_thread_patterns_per_s",
                    "render_profiles_crops_and_structure_augmentation_1_thread_patterns_per_s",
                    "train_stored_patterns_per_s", "train_fresh_patterns_per_s"):
            print(f"| {key.replace('_patterns_per_s', '').replace('_', ' ')} | {fr[key]:.0f} |")
        print(f"fresh / stored training throughput: {fr['fresh_over_stored']:.2f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
