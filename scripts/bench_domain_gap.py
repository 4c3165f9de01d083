"""The gap between simulated and measured patterns: accuracy side by side, and what the peak finder sees.

    python scripts/bench_domain_gap.py RUN [RUN ...] --data data/real.h5 --split-kind compound \
        --real ../shared/data/rruff [--known FILE:FORMULA ...] [--structures FILE.jsonl.gz ...] \
        [--out bench_results/domain_gap]

1. Every run on the simulated test split (compounds never seen in training) beside the measured
   patterns of ``--real`` (evaluation only): the drop from one column to the other is the domain gap.
2. Peak statistics of the same shared peak finder on simulated test patterns and on the measured
   patterns: peaks per pattern, d of the strongest peak. Reported, never used to choose anything.
3. ``--known FILE:FORMULA`` (measured files whose phase is known, e.g. the instrument files of
   ``../shared/data/formats``; never the evaluation set): the structures of that compound in
   ``--structures`` are simulated with the clean profile and their peaks matched against the
   measured ones: the share of the ten strongest simulated peaks with a measured peak within 0.1°,
   and the ratio of peak counts. A two-phase file takes ``FILE:FORMULA+FORMULA``.

Prints a table and writes ``domain_gap.json`` and ``domain_gap.md`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from xrdnet.compare import compare_runs, load_labelled_patterns
from xrdnet.data.reader import PatternDataset
from xrdnet.peak_finder import PeakFinderConfig, find_peaks

MATCH_TOLERANCE_DEG = 0.1  # a simulated and a measured peak closer than this are the same reflection
N_STRONGEST = 10


def peak_statistics(patterns: np.ndarray, grid: np.ndarray, wavelength_angstrom: float) -> dict:
    counts, d_strongest = [], []
    config = PeakFinderConfig()
    for pattern in patterns:
        peaks = find_peaks(np.asarray(pattern, np.float64), grid, config)
        counts.append(len(peaks))
        if len(peaks):
            tt = peaks.two_theta_deg[int(np.argmax(peaks.height))]
            d_strongest.append(wavelength_angstrom / (2 * np.sin(np.radians(tt / 2))))
    q = lambda v, p: float(np.percentile(v, p)) if len(v) else float("nan")  # noqa: E731
    return {"n": len(counts), "peaks_median": q(counts, 50), "peaks_p10": q(counts, 10), "peaks_p90": q(counts, 90),
            "d_strongest_median_angstrom": q(d_strongest, 50)}


def known_phase_agreement(spec: str, structure_files: list[str], grid: np.ndarray, lam: float) -> dict:
    from xrdnet.data.splits import compound_key
    from xrdnet.patterns_io import read_pattern, to_model_grid
    from xrdnet.simulate import XRDSimulator
    from xrdnet.structures.jsonl import iter_raw_records, label_record

    file, formulas = spec.rsplit(":", 1)
    wanted = {compound_key(f) for f in formulas.split("+")}
    measured = read_pattern(file)
    if measured.wavelength_angstrom is None:
        return {"file": file, "error": "no wavelength in the file"}
    row, _ = to_model_grid(measured, grid, lam)
    measured_peaks = find_peaks(row.astype(np.float64), grid)
    found = []
    for raw in iter_raw_records(structure_files):
        try:  # the record's own formula field picks the candidates; only those are parsed
            formula = str(json.loads(raw.text).get("formula", "")).replace(" ", "")
        except (ValueError, AttributeError):
            continue
        if compound_key(formula) in wanted:
            _, records, _ = label_record(raw, 0.1)
            if records is not None:
                found.append(records)
    if not found:
        return {"file": file, "error": f"no structure of {formulas} in the structure files"}
    sim = XRDSimulator(two_theta_range=(float(grid[0]), float(grid[-1])), step=float(grid[1] - grid[0]))
    results = []
    for records in found:
        peaks = sim.peaks(records.to_batch())[0]
        strongest = np.argsort(-peaks.intensity)[:N_STRONGEST]
        matched = [np.min(np.abs(measured_peaks.two_theta_deg - peaks.two_theta_deg[i])) <= MATCH_TOLERANCE_DEG
                   if len(measured_peaks) else False for i in strongest]
        results.append({"structure": records.source[0], "space_group": int(records.space_group[0]),
                        "strongest_matched": float(np.mean(matched)),
                        "peak_ratio_measured_over_simulated": len(measured_peaks) / max(1, len(peaks.two_theta_deg))})
    best = max(results, key=lambda r: r["strongest_matched"])
    return {"file": file, "formulas": formulas, "n_measured_peaks": len(measured_peaks), "best": best,
            "candidates": len(results)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--data", required=True)
    parser.add_argument("--split-kind", default="compound")
    parser.add_argument("--real", required=True, help="measured patterns with labels.csv (evaluation only)")
    parser.add_argument("--known", nargs="*", default=[], help="FILE:FORMULA[+FORMULA] of known phases")
    parser.add_argument("--structures", nargs="*", default=["bundled"])
    parser.add_argument("--max-test", type=int, default=4000)
    parser.add_argument("--out", default="bench_results/domain_gap")
    args = parser.parse_args()

    out = Path(args.out)
    result = compare_runs(args.runs, args.data, out / "comparison", split_kind=args.split_kind,
                          max_test=args.max_test, real_dir=args.real)
    with PatternDataset(args.data) as ds:
        test = ds.indices("test", args.split_kind)
        test = np.sort(np.random.default_rng(0).choice(test, min(len(test), 1000), replace=False))
        grid = ds.two_theta_deg
        lam = float(ds.attrs.get("kalpha1_angstrom") or ds.wavelength_angstrom)
        simulated = ds.read_patterns(test)
    real = load_labelled_patterns(args.real, grid, lam)
    stats = {"simulated_test": peak_statistics(simulated, grid, lam), "measured": peak_statistics(real["patterns"], grid, lam)}
    from xrdnet.structures.jsonl import resolve_structure_files

    files = [str(p) for p in resolve_structure_files(args.structures)]
    known = [known_phase_agreement(spec, files, grid, lam) for spec in args.known]

    lines = ["| model | simulated test CS | measured CS | measured CS balanced | simulated SG | measured SG | measured SG top-5 |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in result["rows"]:
        lines.append(f"| {r['model']} | {r['cs_accuracy']:.1%} | {r['real_cs_accuracy']:.1%} | "
                     f"{r['real_cs_balanced_accuracy']:.1%} | {r['sg_accuracy']:.1%} | {r['real_sg_accuracy']:.1%} | "
                     f"{r['real_sg_top5']:.1%} |")
    lines += ["", "| patterns | n | peaks (median) | peaks (10-90 %) | d of strongest peak (median, Å) |", "|---|---:|---:|---:|---:|"]
    for name, s in stats.items():
        lines.append(f"| {name} | {s['n']} | {s['peaks_median']:.0f} | {s['peaks_p10']:.0f}-{s['peaks_p90']:.0f} | "
                     f"{s['d_strongest_median_angstrom']:.2f} |")
    if known:
        lines += ["", "| known-phase file | phases | measured peaks | best structure | 10 strongest matched | peak ratio |",
                  "|---|---|---:|---|---:|---:|"]
        for k in known:
            if "error" in k:
                lines.append(f"| {Path(k['file']).name} | – | – | {k['error']} | – | – |")
                continue
            b = k["best"]
            lines.append(f"| {Path(k['file']).name} | {k['formulas']} | {k['n_measured_peaks']} | {b['structure']} "
                         f"(SG {b['space_group']}) | {b['strongest_matched']:.0%} | {b['peak_ratio_measured_over_simulated']:.2f} |")
    text = "\n".join(lines)
    print(text)
    out.mkdir(parents=True, exist_ok=True)
    (out / "domain_gap.md").write_text(text + "\n")
    (out / "domain_gap.json").write_text(json.dumps({"models": result["rows"], "peak_statistics": stats,
                                                      "known_phases": known}, indent=2, default=str))


if __name__ == "__main__":
    main()
