"""Can indexing tell a two-phase pattern from a single phase? The two-cell test, measured.

    python scripts/bench_two_cell_mixtures.py --data data/real.h5 --real ../shared/data/rruff \
        [--n 300] [--out bench_results/two_cell_mixtures.json]

A second phase shows itself as strong lines that no single lattice explains. The test: among the
``N_LINES`` strongest sharp peaks (found as ``predict`` finds them, Kα2 partners dropped), take the best
cell of each simple family (cubic, tetragonal, hexagonal: at most two axes), index the lines it leaves
over with the simple families again, and keep the pair that explains most lines, scored by
min(M₁, M₂) · share⁴. A pattern is flagged when no single confident cell explains it
(``xrdnet.indexing.is_confident``) but two cells with min(M₁, M₂) ≥ M explain at least a share S of
its lines.

Measured for a grid of (M, S) on simulated single phases and mixtures of 2-3 held-out compounds of
``--data`` (the test split: ``xrdnet.mixture.make_mixtures``) and on the single-phase measured
validation scans of ``--real`` (their flag rate is the false-alarm rate), beside the genuine TiO2 + ZnO
scan of ``../shared/data/formats``. Prints a table, writes JSON.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

N_LINES = 20
SIMPLE_FAMILIES = ("cubic", "tetragonal", "hexagonal")
MIN_SECOND_LINES = 4
MERITS = (10.0, 15.0, 20.0, 30.0)
SHARES = (0.85, 0.9, 0.95)
ROOT = Path(__file__).resolve().parents[1]
GENUINE_MIXTURE = ROOT.parent / "shared" / "data" / "formats" / "xrdml" / "dara_TiO2_0p4009-ZnO_0p6010--2min.xrdml"


def two_cell_evidence(two_theta_deg: np.ndarray, heights: np.ndarray, wavelength_angstrom: float) -> dict | None:
    """``{"single_confident", "merit", "share", "families"}`` of the best two-cell explanation, or None
    when fewer than 8 lines are found."""
    from xrdnet.indexing import FAMILIES, IndexingConfig, index_peaks, is_confident
    from xrdnet.indexing.evidence import without_kalpha2_partners
    from xrdnet.indexing.search import index_family, select_lines

    config = IndexingConfig(n_lines=N_LINES, line_selection="strongest")
    two_theta_deg, heights = without_kalpha2_partners(two_theta_deg, heights, wavelength_angstrom,
                                                      config.tolerance_two_theta_deg)
    lines = select_lines(two_theta_deg, heights, wavelength_angstrom, config)  # the lines index_peaks uses
    n = len(lines.inv_d2)
    if n < 8:
        return None
    indexing = index_peaks(two_theta_deg, heights, wavelength_angstrom, config)
    single = indexing.cells
    best = {"single_confident": bool(is_confident(indexing.best)), "merit": 0.0, "share": 0.0,
            "families": None, "key": -1.0}
    height_of = dict(zip(np.round(two_theta_deg, 6), heights))
    for first_name in SIMPLE_FAMILIES:
        first = single[first_name]
        if first is None:
            continue
        indexed = np.array([label is not None for label in first.hkl])
        if indexed.sum() < 4 or (~indexed).sum() < MIN_SECOND_LINES:
            continue
        rest = lines.two_theta_deg[~indexed]
        rest_config = IndexingConfig(n_lines=len(rest), line_selection="first", min_lines=MIN_SECOND_LINES)
        rest_lines = select_lines(rest, np.array([height_of.get(round(float(t), 6), 1.0) for t in rest]),
                                  wavelength_angstrom, rest_config)
        for second_name in SIMPLE_FAMILIES:
            second = index_family(FAMILIES[second_name], rest_lines, rest_config)
            if second is None:
                continue
            share = (indexed.sum() + second.indexed_fraction * len(rest)) / n
            merit = min(first.figure_of_merit, second.figure_of_merit)
            if merit * share ** 4 > best["key"]:
                best = {**best, "merit": float(merit), "share": float(share),
                        "families": [first_name, second_name], "key": float(merit * share ** 4)}
    return best


def flagged(evidence: dict | None, min_merit: float, min_share: float) -> bool:
    return (evidence is not None and not evidence["single_confident"] and evidence["merit"] >= min_merit
            and evidence["share"] >= min_share)


def peaks_of(two_theta_deg, intensity, grid, lam, wavelength_angstrom, metadata=None):
    from xrdnet.checks import check_pattern

    prep = check_pattern(two_theta_deg, intensity, grid, lam, wavelength_angstrom=wavelength_angstrom,
                         x_unit_source="argument", metadata=metadata)
    return prep.sharp_peaks


def main(argv: list[str] | None = None) -> int:
    from xrdnet.checkpoint import default_checkpoint
    from xrdnet.data.reader import PatternDataset
    from xrdnet.mixture import make_mixtures
    from xrdnet.models.runs import load_run
    from xrdnet.patterns_io import read_pattern

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="HDF5 data set (its test split is mixed)")
    parser.add_argument("--real", type=Path, required=True, help="single-phase measured scans (labels.csv)")
    parser.add_argument("--n", type=int, default=300, help="simulated single phases and mixtures each")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("bench_results/two_cell_mixtures.json"))
    args = parser.parse_args(argv)
    run = load_run(default_checkpoint())
    grid, lam = run.grid_two_theta_deg, run.wavelength_angstrom
    t0 = time.perf_counter()
    with PatternDataset(args.data) as ds:
        test = ds.indices("test", "compound")
        rows = np.sort(np.random.default_rng(args.seed).choice(test, min(5 * args.n, len(test)), replace=False))
        patterns = ds.read_patterns(rows).astype(np.float32)
        data_grid = ds.two_theta_deg
        compound = ds.structure_index[rows]
    mixtures = make_mixtures(patterns, compound, args.n, seed=args.seed)
    sets = {"simulated single phase": patterns[: args.n], "simulated mixture": mixtures.patterns}
    evidence: dict[str, list] = {}
    for name, block in sets.items():
        evidence[name] = []
        for y in block:
            peaks = peaks_of(data_grid, y.astype(np.float64), grid, lam, lam)
            evidence[name].append(None if peaks is None else two_cell_evidence(*peaks, lam))
        print(f"{name}: {len(block)} patterns ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    with (args.real / "labels.csv").open(newline="") as handle:
        files = [row["file"] for row in csv.DictReader(handle)]
    evidence["measured single phase (validation)"] = []
    for name in files:
        p = read_pattern(args.real / name)
        peaks = peaks_of(p.two_theta_deg, p.intensity, grid, lam, p.wavelength_angstrom or lam, p.metadata)
        evidence["measured single phase (validation)"].append(
            None if peaks is None else two_cell_evidence(*peaks, lam))
    genuine = None
    if GENUINE_MIXTURE.is_file():
        p = read_pattern(GENUINE_MIXTURE)
        peaks = peaks_of(p.two_theta_deg, p.intensity, grid, lam, p.wavelength_angstrom, p.metadata)
        genuine = None if peaks is None else two_cell_evidence(*peaks, lam)
    table = []
    for merit in MERITS:
        for share in SHARES:
            table.append({"min_merit": merit, "min_share": share,
                          **{name: float(np.mean([flagged(e, merit, share) for e in ev])) for name, ev in evidence.items()},
                          "genuine TiO2 + ZnO": None if genuine is None else flagged(genuine, merit, share)})
    names = list(evidence)
    print("| M ≥ | share ≥ | " + " | ".join(f"{n} flagged" for n in names) + " | genuine TiO2 + ZnO |")
    print("|---:|---:|" + "---:|" * len(names) + "---|")
    for row in table:
        print(f"| {row['min_merit']:.0f} | {row['min_share']:.2f} | "
              + " | ".join(f"{100 * row[n]:.1f} %" for n in names) + f" | {row['genuine TiO2 + ZnO']} |")
    if genuine is not None:
        print(f"\ngenuine TiO2 + ZnO: two cells {genuine['families']}, min M {genuine['merit']:.1f}, "
              f"share {genuine['share']:.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"n": {k: len(v) for k, v in evidence.items()}, "table": table,
                                    "genuine": genuine, "seconds": time.perf_counter() - t0}, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
