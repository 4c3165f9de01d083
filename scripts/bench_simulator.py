"""Benchmark: pymatgen's XRDCalculator vs xrdnet sticks and full profiles, side by side in one run.

On the same structures (the seeded random crystals of ``tests/data/reference_structures.json.gz``,
filtered by atom count) it times pymatgen's ``get_pattern``, ``XRDSimulator.peaks`` and
``XRDSimulator.patterns`` on the CPU (and CUDA when present), prints a table of patterns/s and
ratios against pymatgen, a breakdown of where xrdnet's time goes, and peak memory of two stress
cases (a 1000-atom cell, a batch of 4096 small cells), and writes everything as JSON.

    python scripts/bench_simulator.py [--max-atoms 64] [--n 240] [--repeat 3] [--out bench_results/simulator.json]

Targets (issue 2): sticks >= 20x pymatgen and profiles >= 10x pymatgen's stick rate on a 2-core CPU;
>= 100,000 profile patterns/s on an H100 for structures up to 64 atoms.
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing as mp
import platform
import resource
import sys
import time
import warnings
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def load_structures(path: Path, max_atoms: int, n: int):
    from pymatgen.core import Structure

    with gzip.open(path, "rt") as fh:
        records = json.load(fh)
    out = [Structure.from_dict(r["structure"]) for r in records]
    return [s for s in out if len(s) <= max_atoms][:n]


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def best_time(fn, repeat: int, device: str) -> float:
    """Smallest wall time of ``repeat`` runs (after one warm-up), the least noisy estimate."""
    fn()
    sync(device)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return min(times)


def breakdown(structures, device: str, repeat: int) -> dict:
    """Seconds spent in each stage of one full-profile pass over ``structures``."""
    from xrdnet.simulate import XRDSimulator
    from xrdnet.simulate.profiles import render_patterns
    from xrdnet.simulate.reflections import enumerate_reflections, g_limits
    from xrdnet.simulate.sticks import compute_sticks
    from xrdnet.structures.batch import StructureBatch

    sim = XRDSimulator(device=device)
    t0 = time.perf_counter()
    batch = StructureBatch.from_structures(structures).to(device)
    sync(device)
    t_pack = time.perf_counter() - t0
    lam = sim._stick_wavelength()
    g_min, g_max = g_limits(sim.two_theta_range, lam)
    refl = enumerate_reflections(batch.lattice, g_min, g_max)
    t_enum = best_time(lambda: enumerate_reflections(batch.lattice, g_min, g_max), repeat, device)
    args = (batch.frac_coords, batch.atomic_number, batch.occupancy, batch.b_iso, batch.site_mask, lam)
    sticks = compute_sticks(refl, *args)
    t_sf = best_time(lambda: compute_sticks(refl, *args), repeat, device)
    grid = sim.two_theta_deg()
    ids = torch.arange(len(structures), device=device)
    t_render = best_time(
        lambda: render_patterns(sticks, batch.lattice, grid, sim.radiation, sim.profile, 0, ids, 1), repeat, device
    )
    return {"pack_structures_s": t_pack, "enumerate_reflections_s": t_enum,
            "structure_factors_and_merge_s": t_sf, "render_profiles_s": t_render,
            "reflections_per_structure": float(refl.mask.sum(1).float().mean()),
            "peaks_per_structure": float(sticks.peak_mask.sum(1).float().mean())}


def _memory_case(case: str, queue) -> None:
    warnings.filterwarnings("ignore")
    from pymatgen.core import Lattice, Structure

    from xrdnet.simulate import XRDSimulator

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    t0 = time.perf_counter()
    if case == "1000-atom cell, sticks":
        XRDSimulator().peaks([nacl * (5, 5, 5)])
    elif case == "4096 small cells, profiles":
        XRDSimulator().patterns([nacl] * 4096)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put({"case": case, "seconds": time.perf_counter() - t0, "peak_rss_gb": after / 1e6,
               "growth_gb": (after - before) / 1e6})


def memory_cases() -> list[dict]:
    """Peak resident memory of the stress cases, each in a fresh process so the peaks don't mix."""
    ctx = mp.get_context("spawn")
    results = []
    for case in ("1000-atom cell, sticks", "4096 small cells, profiles"):
        queue = ctx.Queue()
        proc = ctx.Process(target=_memory_case, args=(case, queue))
        proc.start()
        results.append(queue.get())
        proc.join()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--structures", default=str(ROOT / "tests/data/reference_structures.json.gz"))
    parser.add_argument("--max-atoms", type=int, default=64)
    parser.add_argument("--n", type=int, default=240)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pymatgen-n", type=int, default=0, help="time pymatgen on this many (0 = all)")
    parser.add_argument("--gpu-copies", type=int, default=64,
                        help="on CUDA, also time the structures repeated this many times (GPU-sized batches)")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "bench_results/simulator.json"))
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    from pymatgen.analysis.diffraction.xrd import XRDCalculator

    from xrdnet.simulate import XRDSimulator

    structures = load_structures(Path(args.structures), args.max_atoms, args.n)
    n = len(structures)
    atoms = [len(s) for s in structures]
    print(f"{n} structures, {min(atoms)}-{max(atoms)} sites (mean {sum(atoms) / n:.1f}); "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")

    calc = XRDCalculator("CuKa")
    pm_structs = structures[: args.pymatgen_n] if args.pymatgen_n else structures
    t0 = time.perf_counter()
    for s in pm_structs:
        calc.get_pattern(s, two_theta_range=(5, 90))
    pm_rate = len(pm_structs) / (time.perf_counter() - t0)

    rows = [{"method": "pymatgen get_pattern (sticks)", "device": "cpu", "patterns_per_s": pm_rate}]
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    breakdowns = {}
    for device in devices:
        sim = XRDSimulator(device=device)
        from xrdnet.structures.batch import StructureBatch

        batch = StructureBatch.from_structures(structures)
        t = best_time(lambda: sim.peaks(batch), args.repeat, device)
        rows.append({"method": "xrdnet peaks (sticks)", "device": device, "patterns_per_s": n / t})
        t = best_time(lambda: sim.patterns(batch, seed=0), args.repeat, device)
        rows.append({"method": "xrdnet patterns (profiles)", "device": device, "patterns_per_s": n / t})
        if device == "cuda" and args.gpu_copies > 1:
            big = StructureBatch.concatenate([batch] * args.gpu_copies)
            t = best_time(lambda: sim.patterns(big, seed=0), args.repeat, device)
            rows.append({"method": f"xrdnet patterns, batch {len(big)}", "device": device, "patterns_per_s": len(big) / t})
            t = best_time(lambda: sim.patterns(batch, seed=0, patterns_per_structure=args.gpu_copies), args.repeat,
                          device)
            rows.append({"method": f"xrdnet patterns, K={args.gpu_copies} per structure", "device": device,
                         "patterns_per_s": n * args.gpu_copies / t})
        breakdowns[device] = breakdown(structures, device, args.repeat)

    for row in rows:
        row["x_pymatgen_sticks"] = row["patterns_per_s"] / pm_rate
    print()
    print(f"{'method':44s} {'device':6s} {'patterns/s':>12s} {'x pymatgen':>11s}")
    for row in rows:
        print(f"{row['method']:44s} {row['device']:6s} {row['patterns_per_s']:12.1f} {row['x_pymatgen_sticks']:11.1f}")
    print()
    for device, parts in breakdowns.items():
        print(f"where the time goes ({device}, one pass over {n} structures, 1 pattern each):")
        for key, value in parts.items():
            print(f"  {key:34s} {value:10.4f}")
    memory = [] if args.skip_memory else memory_cases()
    if memory:
        print()
        print(f"{'memory case':34s} {'seconds':>8s} {'peak RSS GB':>12s}")
        for m in memory:
            print(f"{m['case']:34s} {m['seconds']:8.2f} {m['peak_rss_gb']:12.2f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "n_structures": n, "max_atoms": args.max_atoms, "mean_sites": sum(atoms) / n,
        "torch": torch.__version__, "threads": torch.get_num_threads(), "python": sys.version.split()[0],
        "cuda_device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "rows": rows, "breakdown": breakdowns, "memory": memory,
    }, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
