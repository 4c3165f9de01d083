"""Benchmark: end-to-end data-set generation (``xrdnet simulate``) and where the time goes.

Two runs per device, side by side:

1. ``synthetic``: pyxtal structures (worker processes) -> K patterns each -> HDF5, the full job;
2. ``re-render``: the same structures read back from that file and rendered again with new profiles
   (``--structures-from``), i.e. the throughput once structures exist (the simulator + HDF5 writes).

For each it prints patterns/s and structures/s end to end and the seconds spent in structure
generation, simulation, writing chunks and assembling the file, and writes everything as JSON.

    python scripts/bench_generate.py [--n 512] [--k 8] [--workers 2] [--out bench_results/generate.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import tempfile
import time
import warnings
from dataclasses import replace
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=None, help="YAML simulate config (default: built-in defaults)")
    parser.add_argument("--n", type=int, default=512, help="structures (generation indices)")
    parser.add_argument("--k", type=int, default=8, help="patterns per structure")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rerender-k", type=int, default=32, help="patterns per structure in the re-render run")
    parser.add_argument("--out", default=str(ROOT / "bench_results/generate.json"))
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    from xrdnet.config import load_config
    from xrdnet.data import SimulateConfig, build_dataset

    base = load_config(args.config, SimulateConfig) if args.config else SimulateConfig()
    base = replace(base, n_structures=args.n, patterns_per_structure=args.k, workers=args.workers)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"{args.n} structures x K={args.k}; torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{platform.processor() or platform.machine()}, {args.workers} pyxtal workers")
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="xrdnet-bench-"))
    try:
        for device in devices:
            first = tmp / f"synthetic-{device}.h5"
            t0 = time.perf_counter()
            report = build_dataset(replace(base, device=device), first, progress=False)
            wall = time.perf_counter() - t0
            rows.append(_row("synthetic (pyxtal + simulate + write)", device, report, wall, first))
            second = tmp / f"rerender-{device}.h5"
            config = replace(base, device=device, source="hdf5", structures_file=str(first), n_structures=0,
                             patterns_per_structure=args.rerender_k, seed=base.seed + 1)
            t0 = time.perf_counter()
            report = build_dataset(config, second, progress=False)
            wall = time.perf_counter() - t0
            rows.append(_row(f"re-render stored structures, K={args.rerender_k}", device, report, wall, second))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print()
    print(f"{'run':44s} {'device':6s} {'patterns/s':>11s} {'struct/s':>9s} {'wall s':>8s}  "
          f"{'structures':>10s} {'simulate':>9s} {'write':>7s} {'assemble':>9s}  MB")
    for r in rows:
        s = r["seconds"]
        print(f"{r['run']:44s} {r['device']:6s} {r['patterns_per_s']:11.1f} {r['structures_per_s']:9.1f} "
              f"{r['wall_s']:8.2f}  {s.get('structures', 0):10.2f} {s.get('simulate', 0):9.2f} "
              f"{s.get('write', 0):7.2f} {s.get('assemble', 0):9.2f}  {r['file_mb']:.1f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "n": args.n, "k": args.k, "workers": args.workers, "torch": torch.__version__,
        "threads": torch.get_num_threads(), "python": sys.version.split()[0],
        "cuda_device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None, "rows": rows,
    }, indent=2))
    print(f"\nwrote {out}")


def _row(name: str, device: str, report, wall: float, path: Path) -> dict:
    return {
        "run": name,
        "device": device,
        "wall_s": wall,
        "n_structures": report.n_structures,
        "n_patterns": report.n_patterns,
        "patterns_per_s": report.n_patterns / wall,
        "structures_per_s": report.n_structures / wall,
        "seconds": {k: round(v, 3) for k, v in report.seconds.items()},
        "generation": report.generation,
        "file_mb": path.stat().st_size / 1e6,
    }


if __name__ == "__main__":
    main()
