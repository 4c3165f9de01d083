"""Benchmark: seconds per file of ``xrdnet predict`` on one core, with and without the checkpoint's pools.

Each file is read and answered as ``xrdnet predict FILE`` answers it (``xrdnet.predict.predict_file_results``:
reading, the model grid, the networks, the forest pool, the search-match pool, the peak finder, indexing, the
rule), one file per call, after one warm-up call; torch, the forest and the library search run on one thread.
The predictors (the checkpoint as shipped; the same without its search-match pool; the networks alone, without
either pool) answer the same files in alternation, so the ratios are measured side by side on the same noisy
machine.

    python scripts/bench_predict.py [--files DIR_OR_FILES ...] [--checkpoint NAME] [--max-files 60]
        [--out bench_results/predict.json]

Target (issue 20): under 0.2 s per file on one core.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_SECONDS = 0.2
PATTERN_SUFFIXES = (".xy", ".xye", ".csv", ".txt", ".dat", ".xrdml", ".raw", ".gz")


def pattern_files(given: list[Path], max_files: int) -> list[Path]:
    """The pattern files named or found in the folders named (recursively), sorted, at most ``max_files``."""
    files: list[Path] = []
    for path in given:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(PATTERN_SUFFIXES))
        else:
            files.append(path)
    return files[:max_files] if max_files > 0 else files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", nargs="+", type=Path, default=[ROOT / "tests/data/formats"])
    parser.add_argument("--checkpoint", default=None, help="checkpoint folder or shipped name (default: shipped)")
    parser.add_argument("--max-files", type=int, default=60)
    parser.add_argument("--wavelength", default=None, help="for files that do not record one (e.g. CuKa)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench_results/predict.json")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # numpy's matrix products (the library search)
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    from xrdnet.indexing.features import forget_recent_rows
    from xrdnet.inference import Predictor
    from xrdnet.predict import predict_file_results

    files = pattern_files(args.files, args.max_files)
    if not files:
        raise SystemExit(f"{args.files}: no pattern files")
    shipped = Predictor(args.checkpoint)
    if shipped.forest_pool is not None:
        classifier = shipped.forest_pool.run.model.cs_classifier_
        classifier.n_jobs = 1  # one core, as the target says
    unmatched = Predictor(args.checkpoint, combine_indexing=shipped.combine_indexing)
    unmatched.match_pool = None
    if unmatched.forest_pool is not None:
        unmatched.forest_pool.run.model.cs_classifier_.n_jobs = 1
    alone = Predictor(args.checkpoint, combine_indexing=shipped.combine_indexing)
    alone.forest_pool = alone.match_pool = None
    variants = {"as shipped": shipped, "without search-match": unmatched, "networks alone (no pools)": alone}
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    answered, refused = 0, []
    for path in files:
        for name, predictor in variants.items():
            predict_file_results([path], wavelength=args.wavelength, predictor=predictor, force=True)  # warm-up
            forget_recent_rows()  # a file is predicted once: its indexing is not remembered from the warm-up
            start = time.perf_counter()
            results, errors, _ = predict_file_results([path], wavelength=args.wavelength, predictor=predictor,
                                                      force=True)
            elapsed = time.perf_counter() - start
            if results:  # a file that cannot be read is not a prediction: its (short) time is not counted
                seconds[name].append(elapsed)
        answered += bool(results)
        if not results:
            refused.append(f"{path.name}: {errors[0][1] if errors else 'no answer'}")
    if not answered:
        raise SystemExit(f"none of the {len(files)} files was answered; first: {refused[0]}")
    rows = []
    print(f"{len(files)} files, {answered} answered and timed (each after a warm-up call), one thread; "
          f"target < {TARGET_SECONDS} s per file\n")
    print("| predictor | median s/file | 90th percentile s/file | mean s/file |")
    print("|---|---:|---:|---:|")
    for name, values in seconds.items():
        ordered = sorted(values)
        row = {"predictor": name, "median_s": statistics.median(values),
               "p90_s": ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], "mean_s": statistics.mean(values)}
        rows.append(row)
        print(f"| {name} | {row['median_s']:.3f} | {row['p90_s']:.3f} | {row['mean_s']:.3f} |")
    ratio = rows[0]["median_s"] / rows[2]["median_s"]
    match_ratio = rows[0]["median_s"] / rows[1]["median_s"]
    print(f"\nas shipped: x{ratio:.2f} of the networks-alone median, x{match_ratio:.2f} of the median without "
          "search-match")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"files": len(files), "answered": answered, "threads": 1,
                                    "target_s": TARGET_SECONDS, "rows": rows, "ratio_median": ratio, "ratio_median_search_match": match_ratio,
                                    "checkpoint": str(args.checkpoint or "shipped")}, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
