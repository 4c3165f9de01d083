"""Benchmark: does ``xrdnet.indexing`` find the true cell of real structures, and how fast?

Structures are drawn (seeded) from the real-structure collections, labelled by spglib (through
pymatgen's SpacegroupAnalyzer, symprec 0.1), and their conventional standard cells are the truth.
Their sticks come from pymatgen's ``XRDCalculator`` (Cu Kα1, 2θ 10–80°), and are made to look
measured: lines weaker than ``--min-intensity`` % are dropped (unobservable), every position gets
Gaussian noise (``--noise-deg``) and the whole pattern a uniform zero shift (±``--zero-deg``).

For each crystal system it reports the share of structures whose true cell is found within 1 %
in every axis **by the family of their own system** (trigonal in hexagonal axes), the share whose
**best family** is their own, and the indexing time per pattern; it prints a table and writes JSON.

    python scripts/bench_indexing.py [--per-system 60] [--seed 0] [--out bench_results/indexing.json]

Targets (issue 20): true cell found for >= 95 % of cubic, tetragonal and hexagonal structures and
>= 80 % of orthorhombic ones; predict under 0.2 s per file on one core.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import random
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from xrdnet.indexing import IndexingConfig, index_measured_peaks, index_peaks  # noqa: E402
from xrdnet.indexing.evidence import FAMILY_OF_SYSTEM as FAMILY_OF  # noqa: E402

SYSTEMS = ("cubic", "tetragonal", "hexagonal", "trigonal", "orthorhombic")
AXIS_TOLERANCE = 0.01


def draw_structures(paths: list[Path], per_system: int, seed: int, max_atoms: int):
    """Up to ``per_system`` (structure, crystal system, conventional lattice) per system, seeded."""
    from pymatgen.core import Structure
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    lines = []
    for path in paths:
        with gzip.open(path, "rt") as fh:
            lines.extend(fh)
    random.Random(seed).shuffle(lines)
    found = {s: [] for s in SYSTEMS}
    for line in lines:
        if all(len(v) >= per_system for v in found.values()):
            break
        record = json.loads(line)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                structure = Structure.from_str(record["cif"], fmt="cif")
                if len(structure) > max_atoms:
                    continue
                sga = SpacegroupAnalyzer(structure, symprec=0.1)
                system = sga.get_crystal_system()
                if system not in found or len(found[system]) >= per_system:
                    continue
                conventional = sga.get_conventional_standard_structure()
        except Exception as error:  # a CIF pymatgen cannot read is skipped, and said
            print(f"skipped a record: {type(error).__name__}: {error}", file=sys.stderr)
            continue
        found[system].append((structure, system, conventional.lattice))
    return found


def true_cell_found(cell, system: str, lattice) -> bool:
    if cell is None:
        return False
    found = np.array([cell.a, cell.b, cell.c])
    truth = np.array(lattice.abc)
    if system == "orthorhombic":
        found, truth = np.sort(found), np.sort(truth)
    return bool((np.abs(found / truth - 1) <= AXIS_TOLERANCE).all())


def measured_figures(folder: Path, checkpoint, config: IndexingConfig) -> dict:
    """Crystal system from indexing alone on labelled measured scans, with the time per scan.

    The scans are read and put on the model grid as ``predict`` does and their sharp peaks found by
    ``predict``'s own peak finder (``xrdnet.signal.peak_measurements``) and indexed as ``predict`` does
    (``index_measured_peaks``: resolved Kα2 partners dropped);
    the best family's crystal system (hexagonal cells: trigonal when R-centred) is the answer.
    Monoclinic and triclinic scans have no family here: they can only be wrong, and show how often
    a lower-symmetry pattern is mistaken for a higher one. Returns per scan the truth, the best cell
    and the seconds (peak finding + indexing).
    """
    from xrdnet.inference import Predictor
    from xrdnet.signal import peak_measurements
    from xrdnet.compare import load_labelled_patterns
    from xrdnet.symmetry import CRYSTAL_SYSTEMS

    predictor = Predictor(checkpoint)
    grid, wavelength = predictor.grid, predictor.wavelength_angstrom
    data = load_labelled_patterns(folder, grid, wavelength)
    rows = []
    for row, cs, name in zip(data["patterns"], data["crystal_system"], data["files"]):
        start = time.perf_counter()
        tt, heights, _ = peak_measurements(row.astype(np.float64), grid)
        result = index_measured_peaks(tt, heights, wavelength, config)
        rows.append({"file": str(Path(name).name), "truth": CRYSTAL_SYSTEMS[int(cs)], "n_peaks": int(len(tt)),
                     "seconds": time.perf_counter() - start,
                     "best": None if result.best is None else {**result.best.to_dict(),
                                                               "crystal_system": result.best.crystal_system}})
    return rows


def summarise_measured(rows: list[dict], min_merit: float, min_share: float) -> dict:
    """Accuracy of the best family's crystal system by true system, beside the constant answer; and
    the precision of confident calls (M >= ``min_merit``, indexed share >= ``min_share``)."""
    from collections import Counter

    truths = [r["truth"] for r in rows]
    answers = [r["best"]["crystal_system"] if r["best"] else "none" for r in rows]
    confident = [bool(r["best"]) and r["best"]["figure_of_merit"] >= min_merit
                 and r["best"]["indexed_fraction"] >= min_share for r in rows]
    by_system = {}
    for system in sorted(set(truths), key=truths.count, reverse=True):
        mine = [i for i, t in enumerate(truths) if t == system]
        by_system[system] = {"n": len(mine), "right": float(np.mean([answers[i] == system for i in mine])),
                             "answered": dict(Counter(answers[i] for i in mine).most_common(4))}
    right = np.array([a == t for a, t in zip(answers, truths)])
    indexable = np.array([t in FAMILY_OF for t in truths])
    conf = np.array(confident)
    recalls = [v["right"] for k, v in by_system.items() if k in FAMILY_OF]
    return {"n": len(rows), "accuracy": float(right.mean()),
            "constant_accuracy": max(truths.count(t) for t in set(truths)) / len(truths),
            "accuracy_on_indexable_systems": float(right[indexable].mean()),
            "balanced_accuracy_indexable": float(np.mean(recalls)) if recalls else float("nan"),
            "confident_share": float(conf.mean()),
            "confident_precision": float(right[conf].mean()) if conf.any() else float("nan"),
            "confident_rule": f"M >= {min_merit}, indexed share >= {min_share}",
            "median_ms": 1e3 * float(np.median([r["seconds"] for r in rows])),
            "p95_ms": 1e3 * float(np.percentile([r["seconds"] for r in rows], 95)),
            "by_system": by_system}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--structures", nargs="*", type=Path,
                        default=[ROOT.parent / "shared/data/structures/mp_structures.jsonl.gz",
                                 ROOT.parent / "shared/data/structures/amcsd_minerals.jsonl.gz"])
    parser.add_argument("--per-system", type=int, default=60)
    parser.add_argument("--max-atoms", type=int, default=80)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--noise-deg", type=float, default=0.01)
    parser.add_argument("--zero-deg", type=float, default=0.1)
    parser.add_argument("--min-intensity", type=float, default=1.0)
    parser.add_argument("--measured", type=Path, default=None,
                        help="also index labelled measured scans (a folder with labels.csv, e.g. ../shared/data/rruff)")
    parser.add_argument("--checkpoint", default=None, help="checkpoint whose grid and peak finder the scans go through")
    parser.add_argument("--min-merit", type=float, default=10.0)
    parser.add_argument("--min-share", type=float, default=0.9)
    parser.add_argument("--skip-simulated", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "bench_results/indexing.json")
    args = parser.parse_args()
    config = IndexingConfig()
    report = {"settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k != "structures"},
              "config": dataclasses.asdict(config)}
    if not args.skip_simulated:
        report.update(simulated_figures(args, config))
    if args.measured is not None:
        rows = measured_figures(args.measured, args.checkpoint, config)
        summary = summarise_measured(rows, args.min_merit, args.min_share)
        report["measured"] = {"summary": summary, "scans": rows}
        print(f"\nmeasured scans ({args.measured.name}, n = {summary['n']}): crystal system from indexing alone "
              f"{100 * summary['accuracy']:.1f} % (constant answer {100 * summary['constant_accuracy']:.1f} %); "
              f"on cubic/tetragonal/hexagonal/trigonal/orthorhombic scans {100 * summary['accuracy_on_indexable_systems']:.1f} % "
              f"(balanced {100 * summary['balanced_accuracy_indexable']:.1f} %)")
        print(f"confident calls ({summary['confident_rule']}): {100 * summary['confident_share']:.1f} % of scans, "
              f"{100 * summary['confident_precision']:.1f} % right; {summary['median_ms']:.0f} ms median per scan "
              f"(p95 {summary['p95_ms']:.0f})")
        for system, row in summary["by_system"].items():
            print(f"  {system:13s} n={row['n']:4d} right {100 * row['right']:5.1f} %  answered {row['answered']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")


def simulated_figures(args, config: IndexingConfig) -> dict:
    """True cell found and best family right on pymatgen sticks of real structures, per system."""
    from pymatgen.analysis.diffraction.xrd import XRDCalculator

    wavelength = 1.54056
    calculator = XRDCalculator("CuKa1")
    structures = draw_structures(args.structures, args.per_system, args.seed, args.max_atoms)
    rng = np.random.default_rng(args.seed)
    rows, failures = {}, []
    for system, items in structures.items():
        own, best_right, seconds = [], [], []
        for structure, _, lattice in items:
            pattern = calculator.get_pattern(structure, two_theta_range=(10, 80))
            keep = pattern.y >= args.min_intensity
            tt = pattern.x[keep] + rng.normal(0, args.noise_deg, keep.sum()) + rng.uniform(-args.zero_deg, args.zero_deg)
            start = time.perf_counter()
            result = index_peaks(tt, pattern.y[keep], wavelength, config)
            seconds.append(time.perf_counter() - start)
            ok = true_cell_found(result.cells[FAMILY_OF[system]], system, lattice)
            own.append(ok)
            best_right.append(result.best is not None and result.best.family == FAMILY_OF[system])
            if not ok:
                cell = result.cells[FAMILY_OF[system]]
                failures.append({"system": system, "formula": structure.composition.reduced_formula,
                                 "true_abc": [round(v, 3) for v in lattice.abc], "n_lines": int(keep.sum()),
                                 "found": None if cell is None else cell.to_dict()})
        rows[system] = {"n": len(items), "true_cell_found": float(np.mean(own)) if own else float("nan"),
                        "best_family_right": float(np.mean(best_right)) if own else float("nan"),
                        "median_ms": 1e3 * float(np.median(seconds)) if seconds else float("nan"),
                        "p95_ms": 1e3 * float(np.percentile(seconds, 95)) if seconds else float("nan")}
    print(f"{'system':14s} {'n':>4s} {'true cell':>10s} {'best family':>12s} {'median ms':>10s} {'p95 ms':>8s}")
    for system, row in rows.items():
        print(f"{system:14s} {row['n']:4d} {100 * row['true_cell_found']:9.1f}% {100 * row['best_family_right']:11.1f}% "
              f"{row['median_ms']:10.1f} {row['p95_ms']:8.1f}")
    return {"results": rows, "failures": failures}


if __name__ == "__main__":
    main()
