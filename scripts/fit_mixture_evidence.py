"""Fit the mixture flag from evidence (``xrdnet.mixture.evidence``) and measure it beside the detector alone.

    python scripts/fit_mixture_evidence.py --data data/real.h5 --real ../shared/data/rruff \
        [--detector xrdnet/checkpoints/xrdnet-cnn-real/mixture] [--n 1000] [--seeds 0 1] [--jobs 2] \
        [--out bench_results/mixture_evidence] [--install]

1. Simulated specimens of the compound split's validation compounds (``n`` single phases and ``n``
   mixtures of 2-3 compounds, every fraction ≥ 0.2, rendered like the detector's training specimens):
   the detector's probability and the indexing evidence of each → the combiner is fitted on them.
2. The single-phase measured validation scans (``--real``, read as ``predict`` reads them): the combiner's
   threshold is chosen on them for at most ``--false-alarms`` flagged (a validation choice; they are never
   fitted on). The detector alone gets a threshold chosen the same way, for a comparison at equal false
   alarms.
3. Validation mixtures made of those measured scans (``make_mixtures`` of their rows on the model grid:
   2 or 3 scans of different space groups, every fraction ≥ 0.2; one draw per ``--seeds``): the share
   flagged, with real profiles and backgrounds, by both.
4. Simulated specimens of test compounds, the genuine mixture and the single-phase instrument files of
   ``../shared/data/formats``: reported, never used to choose.

Prints a table, writes ``figures.json`` and ``evidence.json`` (the combiner) into ``--out``; ``--install``
also copies ``evidence.json`` beside the detector, where ``xrdnet predict`` reads it.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FORMATS = ROOT.parent / "shared" / "data" / "formats"
GENUINE = [FORMATS / "xrdml" / "dara_TiO2_0p4009-ZnO_0p6010--2min.xrdml"]
SINGLE = [FORMATS / "bruker_raw_v2" / "pyxrd_brk_raw2_zincite.raw", FORMATS / "bruker_raw_v4" / "datalab_TiO2.raw",
          FORMATS / "brml" / "datalab_TiOF.brml"]
_GRID = _LAM = None


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _init(grid, lam) -> None:
    global _GRID, _LAM
    _GRID, _LAM = grid, lam


def _row_evidence(job) -> np.ndarray:
    from xrdnet.mixture.evidence import evidence_of_row

    row, probability = job
    return evidence_of_row(row, _GRID, _LAM, probability)


def _file_evidence(job) -> np.ndarray:
    """Evidence of a measured file exactly as predict computes it (peaks found on the file's own points)."""
    from xrdnet.checks import check_pattern
    from xrdnet.mixture.evidence import evidence_of_checked
    from xrdnet.patterns_io import read_pattern

    path, probability = job
    p = read_pattern(path)
    checked = check_pattern(p.two_theta_deg, p.intensity, _GRID, _LAM, wavelength_angstrom=p.wavelength_angstrom,
                            x_unit_source="argument", metadata=p.metadata)
    return evidence_of_checked(checked, _LAM, probability)


def evidence(fn, jobs, n_jobs: int, grid, lam) -> np.ndarray:
    if n_jobs <= 1:
        _init(grid, lam)
        return np.array([fn(j) for j in jobs])
    with ProcessPoolExecutor(n_jobs, initializer=_init, initargs=(grid, lam)) as pool:
        return np.array(list(pool.map(fn, jobs, chunksize=16)))


def main(argv: list[str] | None = None) -> int:
    from xrdnet.checkpoint import default_checkpoint
    from xrdnet.config import load_config
    from xrdnet.mixture import MixtureRecipe, load_mixture_detector, make_mixtures, roc_auc, threshold_for_fpr
    from xrdnet.mixture.evaluation import measured_patterns, specimen_set, specimen_sources
    from xrdnet.mixture.detector import weights_digest
    from xrdnet.mixture.evidence import evidence_row, fit_combiner
    from xrdnet.models.runs import load_run

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--real", type=Path, required=True, help="single-phase measured validation scans (labels.csv)")
    ap.add_argument("--detector", type=Path, default=None, help="the detector folder (default: the shipped one)")
    ap.add_argument("--recipe", type=Path, default=ROOT / "configs" / "mixture.yaml")
    ap.add_argument("--n", type=int, default=1000, help="simulated single phases and mixtures each, per split")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="draws of the measured validation mixtures")
    ap.add_argument("--n-measured-mixtures", type=int, default=600)
    ap.add_argument("--false-alarms", type=float, default=0.10, help="most single-phase validation scans flagged")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("bench_results/mixture_evidence"))
    ap.add_argument("--install", action="store_true", help="copy evidence.json beside the detector")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    run = load_run(default_checkpoint())
    grid, lam = run.grid_two_theta_deg, run.wavelength_angstrom
    detector_dir = args.detector or (default_checkpoint() / "mixture")
    detector = load_mixture_detector(detector_dir)
    if detector is None:
        raise SystemExit(f"{detector_dir}: no mixture detector there")
    args.out.mkdir(parents=True, exist_ok=True)
    cache = args.out / "evidence_rows.npz"
    digest = weights_digest(detector_dir)

    recipe = load_config(args.recipe, MixtureRecipe)
    sources = specimen_sources(args.data, recipe)
    sim = {}
    for split in ("val", "test"):
        s = specimen_set(sources[split], args.n)
        sim[split] = s
    with (args.real / "labels.csv").open(newline="") as handle:
        labels = list(csv.DictReader(handle))
    files = [args.real / row["file"] for row in labels]
    names, rows, errors = measured_patterns(files, grid, lam)
    if errors:
        raise SystemExit("unreadable validation scans: " + "; ".join(m for _, m in errors[:3]))
    space_group = np.array([int(row["space_group"]) for row in labels])
    mixes = {seed: make_mixtures(rows, space_group, args.n_measured_mixtures, seed=seed) for seed in args.seeds}
    sets = {f"sim {k}": v["patterns"] for k, v in sim.items()}
    sets.update({f"measured mixtures seed {seed}": m.patterns for seed, m in mixes.items()})
    probability = {k: detector.mixture_probability(v) for k, v in sets.items()}
    probability["measured single"] = detector.mixture_probability(rows)
    extra = {"genuine": GENUINE, "single files": SINGLE}
    extra_rows = {}
    for k, paths in extra.items():
        n_, r_, e_ = measured_patterns([p for p in paths if p.is_file()], grid, lam)
        extra_rows[k] = (n_, r_)
        probability[k] = detector.mixture_probability(r_) if len(r_) else np.zeros(0)
    # the indexing columns do not depend on the detector: cached once, its logit filled in per detector
    key = f"{args.n}-{args.n_measured_mixtures}-{'.'.join(map(str, args.seeds))}-{args.data.name}"
    if cache.is_file() and str(np.load(cache)["key"]) == key:
        stored = np.load(cache)
        ev = {k: stored[f"ev::{k}"].copy() for k in probability}
        log("indexing evidence from the cache")
    else:
        ev = {}
        for k, block in sets.items():
            ev[k] = evidence(_row_evidence, [(row, 0.5) for row in block], args.jobs, grid, lam)
            log(f"{k}: {len(block)} rows ({time.perf_counter() - t0:.0f} s)")
        ev["measured single"] = evidence(_file_evidence, [(f, 0.5) for f in files], args.jobs, grid, lam)
        for k, paths in extra.items():
            ev[k] = evidence(_file_evidence, [(p, 0.5) for p in paths if p.is_file()], 1, grid, lam)
        np.savez(cache, key=key, **{f"ev::{k}": v for k, v in ev.items()})
    for k, v in ev.items():
        if len(v):
            v[:, 0] = [evidence_row(p, None)[0] for p in probability[k]]

    combiner = fit_combiner(ev["sim val"], sim["val"]["is_mixture"])
    combined = {k: combiner.probability(v) if len(v) else np.zeros(0) for k, v in ev.items()}
    combiner.threshold = threshold_for_fpr(combined["measured single"], args.false_alarms)
    detector_threshold = threshold_for_fpr(probability["measured single"], args.false_alarms)
    scores = {"detector at its threshold": (probability, detector.threshold),
              "detector, threshold on measured singles": (probability, detector_threshold),
              "detector + indexing evidence": (combined, combiner.threshold)}
    figures = {"detector": str(detector_dir.relative_to(ROOT)) if detector_dir.is_relative_to(ROOT) else detector_dir.name,
               "detector_sha256_16": digest, "n": {k: len(v) for k, v in ev.items()}, "scores": {}}
    print("| flag | measured single-phase flagged | measured mixtures flagged (per seed) | sim test: singles / mixtures "
          "flagged, AUROC | genuine TiO2 + ZnO | single-phase files flagged |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, (p, t) in scores.items():
        mixed = [float((p[f"measured mixtures seed {s}"] >= t).mean()) for s in args.seeds]
        test_y = sim["test"]["is_mixture"]
        test_p = p["sim test"]
        entry = {"threshold": float(t), "measured_single_flagged": float((p["measured single"] >= t).mean()),
                 "measured_mixtures_flagged": mixed,
                 "measured_auroc": [roc_auc(p["measured single"], p[f"measured mixtures seed {s}"]) for s in args.seeds],
                 "measured_2_3_phases_flagged": [[float((p[f"measured mixtures seed {s}"][mixes[s].n_phases == k] >= t)
                                                         .mean()) for k in (2, 3)] for s in args.seeds],
                 "sim_test_fpr": float((test_p[~test_y] >= t).mean()), "sim_test_tpr": float((test_p[test_y] >= t).mean()),
                 "sim_test_auroc": roc_auc(test_p[~test_y], test_p[test_y]),
                 "genuine": {n_: float(v) for n_, v in zip(extra_rows["genuine"][0], p["genuine"])},
                 "single_files": {n_: float(v) for n_, v in zip(extra_rows["single files"][0], p["single files"])}}
        figures["scores"][name] = entry
        print(f"| {name} (≥ {t:.3f}) | {100 * entry['measured_single_flagged']:.1f} % | "
              + " / ".join(f"{100 * m:.1f} %" for m in mixed)
              + f" (AUROC {' / '.join(f'{a:.3f}' for a in entry['measured_auroc'])}) | "
              f"{100 * entry['sim_test_fpr']:.1f} % / {100 * entry['sim_test_tpr']:.1f} %, {entry['sim_test_auroc']:.3f} | "
              + ", ".join(f"{v:.2f}{' flagged' if v >= t else ''}" for v in entry["genuine"].values()) + " | "
              + f"{sum(v >= t for v in entry['single_files'].values())} of {len(entry['single_files'])} |")
    combiner.record = {"fitted_on": f"{len(ev['sim val'])} simulated specimens of validation compounds "
                                    f"({int(sim['val']['is_mixture'].sum())} mixtures) of {args.data.name}",
                       "threshold_chosen_on": f"{len(rows)} single-phase measured validation scans "
                                              f"({args.real.name}): at most {100 * args.false_alarms:.0f} % flagged",
                       "detector_sha256_16": digest, "figures": figures["scores"]["detector + indexing evidence"]}
    (args.out / "figures.json").write_text(json.dumps(figures, indent=2) + "\n")
    (args.out / "evidence.json").write_text(json.dumps(combiner.to_dict(), indent=2) + "\n")
    print("\nweights (standardised): " + ", ".join(f"{f} {w:+.2f}" for f, w in zip(combiner.features, combiner.coef)))
    if args.install:
        shutil.copy(args.out / "evidence.json", detector_dir / "evidence.json")
        log(f"installed {detector_dir / 'evidence.json'}")
    log(f"done in {time.perf_counter() - t0:.0f} s; wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
