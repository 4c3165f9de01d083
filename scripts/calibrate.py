"""Fit the calibration of a run on simulated validation data and measure it where it matters.

    python scripts/calibrate.py xrdnet/checkpoints/xrdnet-cnn-real --data data/real.h5 \
        --real ../shared/data/rruff --write --out reports/calibration

1. Temperature scaling (one T per head, crystal system and space group) is fitted on the
   **validation** split of the data set the run was trained on (split kind from its run.json).
2. ECE (15 bins) before and after, and accuracy, on the simulated **test** split (held-out
   compounds for a compound split) and on the measured patterns of ``--real`` (evaluation only:
   nothing is fitted or chosen on them).
3. Accuracy vs coverage on the real patterns (accuracy on the most confident files), accuracy on the
   real patterns cut to laboratory scan ranges (``by_scan_range``, quoted by ``low_coverage``), the effect of
   ``--prior minerals`` on real accuracy, and how many real files the pre-answer checks would refuse.
4. ``--write`` stores ``calibration.json`` (temperatures, data, split, ECE), ``card.json`` (the measured
   real-pattern accuracy and the constant baseline, which ``xrdnet predict`` prints) and
   ``calibration.png`` (reliability diagram) in the run folder.

Prints a table and writes ``calibration_report.json`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from xrdnet.calibration import (
    CARD_FILE,
    Calibration,
    accuracy_vs_coverage,
    apply_prior,
    decode,
    expected_calibration_error,
    load_prior,
    reliability_diagram,
    training_prior,
)
from xrdnet.config import recorded_path
from xrdnet.symmetry import CRYSTAL_SYSTEMS


def _probs(run, patterns, grid, lam, batch=512):
    pred = run.predict(patterns, grid, lam, batch_size=batch)
    return np.asarray(pred.cs_proba, np.float64), np.asarray(pred.sg_proba, np.float64)


def _figures(cs, sg, cs_true, sg_true) -> dict:
    cs_pred, sg_pred, _ = decode(cs, sg)
    return {
        "n": int(len(cs_true)),
        "cs_accuracy": float(np.mean(cs_pred == cs_true)),
        "sg_accuracy": float(np.mean(sg_pred == sg_true)),
        "cs_ece": expected_calibration_error(cs, cs_true),
        "sg_ece": expected_calibration_error(sg, sg_true - 1, predicted=sg_pred - 1),
        "cs_mean_confidence": float(np.mean(cs.max(axis=1))),
    }


def scan_range_figures(run, cal, patterns: np.ndarray, grid: np.ndarray, lam: float, cs_true: np.ndarray,
                       sg_true: np.ndarray) -> list[dict]:
    """Calibrated accuracy on ``patterns [R, G]`` cut to each of ``LABORATORY_SCAN_RANGES_DEG`` (zero outside,
    renormalised: what ``to_model_grid`` makes of a shorter scan), with the share of the grid each keeps."""
    import torch

    from xrdnet.evaluate import evaluate
    from xrdnet.simulate.coverage import LABORATORY_SCAN_RANGES_DEG, crop_patterns

    figures = []
    for lo, hi in LABORATORY_SCAN_RANGES_DEG:
        n = len(patterns)
        cut = crop_patterns(torch.from_numpy(np.asarray(patterns, np.float32)), torch.from_numpy(grid),
                            torch.full((n,), lo, dtype=torch.float64), torch.full((n,), hi, dtype=torch.float64))
        cs, sg = cal.apply(*_probs(run, cut.numpy(), grid, lam))
        fig = _figures(cs, sg, cs_true, sg_true)
        figures.append({"two_theta_range_deg": [lo, hi],
                        "coverage": float(np.mean((grid >= lo) & (grid <= hi))),
                        "cs_accuracy": fig["cs_accuracy"],
                        "cs_balanced_accuracy": evaluate(cs_true, sg_true, cs, sg)["cs_balanced_accuracy"],
                        "sg_accuracy": fig["sg_accuracy"]})
    return figures


def real_set_note(run_dir: Path) -> str:
    """What the measured figure is: a validation figure when the run chose its checkpoint on measured
    patterns (``trainer.monitor`` ``val_real_*``), nothing fitted on them otherwise."""
    run = json.loads((run_dir / "run.json").read_text()) if (run_dir / "run.json").is_file() else {}
    if str(run.get("monitor", "")).startswith("val_real"):
        return (f"validation figure, measured by scripts/calibrate.py: no gradient step on these patterns, "
                f"but the checkpoint was chosen on them ({run['monitor']})")
    return "measured by scripts/calibrate.py; evaluation only"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="run or checkpoint folder")
    parser.add_argument("--data", required=True, help="the HDF5 data set the run was trained on")
    parser.add_argument("--split-kind", default=None, help="default: the run's (run.json)")
    parser.add_argument("--real", default=None, help="folder of measured patterns + labels.csv (evaluation only)")
    parser.add_argument("--real-name", default="RRUFF", help="name of the real set in the card (default RRUFF)")
    parser.add_argument("--max-val", type=int, default=0, help="cap on validation patterns (seeded subset, 0 = all)")
    parser.add_argument("--max-test", type=int, default=0, help="cap on test patterns (seeded subset, 0 = all)")
    parser.add_argument("--write", action="store_true", help="store calibration.json, card.json, calibration.png in the run")
    parser.add_argument("--out", default="reports/calibration", help="report folder")
    args = parser.parse_args(argv)

    from xrdnet.compare import load_labelled_patterns
    from xrdnet.data.reader import PatternDataset
    from xrdnet.models.runs import load_run

    run_dir = Path(args.run)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    run = load_run(run_dir)
    split_kind = args.split_kind or run.info.get("split_kind") or "structure"
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    with PatternDataset(args.data) as ds:
        grid = ds.two_theta_deg
        lam = float(ds.attrs.get("kalpha1_angstrom") or ds.attrs.get("wavelength_angstrom"))
        cs_all, sg_all = ds.pattern_crystal_system(), ds.pattern_space_group()
        sets = {}
        for split, cap in (("val", args.max_val), ("test", args.max_test)):
            rows = ds.indices(split, split_kind)
            if cap and len(rows) > cap:
                rows = np.sort(rng.choice(rows, cap, replace=False))
            patterns = ds.read_patterns(rows)
            cs, sg = _probs(run, patterns, grid, lam)
            del patterns
            sets[split] = (cs, sg, cs_all[rows], sg_all[rows])
            print(f"{split}: {len(rows)} patterns predicted ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    cs_v, sg_v, cs_tv, sg_tv = sets["val"]
    fitted_on = {"data": Path(args.data).name, "split": "val", "split_kind": split_kind, "n": int(len(cs_tv)),
                 "note": "simulated validation patterns of the training data set; never measured patterns"}
    cal = Calibration.fit(cs_v, sg_v, cs_tv, sg_tv, fitted_on=fitted_on)
    report: dict = {"run": recorded_path(run_dir), "model": run.info.get("name") or run.name, "fitted_on": fitted_on,
                    "cs_temperature": cal.cs_temperature, "sg_temperature": cal.sg_temperature}
    cs_t, sg_t, cs_tt, sg_tt = sets["test"]
    before = _figures(cs_t, sg_t, cs_tt, sg_tt)
    after = _figures(*cal.apply(cs_t, sg_t), cs_tt, sg_tt)
    report["simulated_test"] = {"split": "test", "split_kind": split_kind, "before": before, "after": after}
    curves = {"CS, simulated held-out, uncalibrated": (cs_t.max(1), cs_t.argmax(1) == cs_tt)}
    cs_tc, _ = cal.apply(cs_t, sg_t)
    curves["CS, simulated held-out, calibrated"] = (cs_tc.max(1), cs_tc.argmax(1) == cs_tt)

    if args.real:
        real = load_labelled_patterns(args.real, grid, lam)
        cs_r, sg_r = _probs(run, real["patterns"], grid, lam)
        cs_rt, sg_rt = real["crystal_system"], real["space_group"]
        cs_rc, sg_rc = cal.apply(cs_r, sg_r)
        r_before, r_after = _figures(cs_r, sg_r, cs_rt, sg_rt), _figures(cs_rc, sg_rc, cs_rt, sg_rt)
        counts = np.bincount(cs_rt, minlength=len(CRYSTAL_SYSTEMS))
        baseline = {"answer": CRYSTAL_SYSTEMS[int(counts.argmax())], "cs_accuracy": float(counts.max() / counts.sum()),
                    "cs_balanced_accuracy": float(1.0 / np.count_nonzero(counts))}
        from xrdnet.evaluate import evaluate

        cs_pred, sg_pred, _ = decode(cs_rc, sg_rc)
        m = evaluate(cs_rt, sg_rt, cs_rc, sg_rc, crystal_system_pred=cs_pred, space_group_pred=sg_pred)
        conf = cs_rc.max(axis=1)
        coverage = accuracy_vs_coverage(conf, cs_pred == cs_rt)
        by_range = scan_range_figures(run, cal, real["patterns"], grid, lam, cs_rt, sg_rt)
        # the prior: p ∝ p · prior / training prior, on the calibrated probabilities
        priors = {}
        train = training_prior(run_dir)
        if train is not None:
            for name in ("minerals", "uniform"):
                cs_p, sg_p = apply_prior(cs_rc, sg_rc, load_prior(name), train)
                fig = _figures(cs_p, sg_p, cs_rt, sg_rt)
                fig["cs_balanced_accuracy"] = evaluate(cs_rt, sg_rt, cs_p, sg_p)["cs_balanced_accuracy"]
                priors[name] = fig
        # how many real files would the checks before answering refuse? (no model needed)
        from xrdnet.api import check_pattern
        from xrdnet.patterns_io import read_pattern

        refused, codes = 0, {}
        for name in real["files"]:
            p = read_pattern(Path(args.real) / name)
            prep = check_pattern(p.two_theta_deg, p.intensity, grid, lam, wavelength_angstrom=lam,
                                 x_unit_source="default", metadata=p.metadata)
            refused += prep.refusal is not None
            for w in prep.warnings:
                codes[w.code] = codes.get(w.code, 0) + 1
        report["real"] = {"name": args.real_name, "folder": recorded_path(args.real), "n": real["n"],
                          "before": r_before, "after": r_after, "baseline": baseline,
                          "cs_balanced_accuracy": m["cs_balanced_accuracy"], "sg_top5": m["sg_top5"],
                          "accuracy_vs_coverage": coverage, "by_scan_range": by_range, "priors": priors,
                          "checks": {"refused": int(refused), "warnings": codes}}
        curves["CS, real (RRUFF), uncalibrated"] = (cs_r.max(1), cs_r.argmax(1) == cs_rt)
        curves["CS, real (RRUFF), calibrated"] = (conf, cs_pred == cs_rt)
    cal.ece = {"simulated_test": {"cs_before": before["cs_ece"], "cs_after": after["cs_ece"],
                                  "sg_before": before["sg_ece"], "sg_after": after["sg_ece"], "n": before["n"]}}
    if "real" in report:
        rr = report["real"]
        cal.ece["real"] = {"name": args.real_name, "cs_before": rr["before"]["cs_ece"], "cs_after": rr["after"]["cs_ece"],
                           "sg_before": rr["before"]["sg_ece"], "sg_after": rr["after"]["sg_ece"], "n": rr["n"],
                           "note": "evaluation only"}
    figure = reliability_diagram(curves, out / "reliability.png",
                                 f"{report['model']}: crystal system, T = {cal.cs_temperature:.2f}")
    report["reliability_diagram"] = str(figure)
    if args.write:
        cal.save(run_dir)
        import shutil

        shutil.copyfile(figure, run_dir / "calibration.png")
        if "real" in report:
            rr = report["real"]
            card = {"real": {"name": args.real_name, "n": rr["n"], "cs_accuracy": rr["after"]["cs_accuracy"],
                             "cs_balanced_accuracy": rr["cs_balanced_accuracy"],
                             "sg_accuracy": rr["after"]["sg_accuracy"], "sg_top5": rr["sg_top5"],
                             "baseline_cs_accuracy": rr["baseline"]["cs_accuracy"],
                             "baseline_answer": rr["baseline"]["answer"],
                             "by_scan_range": rr["by_scan_range"],
                             "note": real_set_note(run_dir)},
                    "simulated_test": {"split_kind": split_kind, "n": after["n"], "cs_accuracy": after["cs_accuracy"],
                                       "sg_accuracy": after["sg_accuracy"]}}
            (run_dir / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n")
    (out / "calibration_report.json").write_text(json.dumps(report, indent=2) + "\n")

    print(f"\n{report['model']}: T_cs = {cal.cs_temperature:.3f}, T_sg = {cal.sg_temperature:.3f} "
          f"(fitted on {fitted_on['n']} simulated validation patterns, split by {split_kind})\n")
    print("| test set | n | CS acc | CS ECE before | CS ECE after | SG acc | SG ECE before | SG ECE after |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    rows = [("simulated held-out", before, after)]
    if "real" in report:
        rows.append((f"real ({args.real_name})", report["real"]["before"], report["real"]["after"]))
    for name, b, a in rows:
        print(f"| {name} | {a['n']} | {100 * a['cs_accuracy']:.1f} % | {b['cs_ece']:.3f} | {a['cs_ece']:.3f} | "
              f"{100 * a['sg_accuracy']:.1f} % | {b['sg_ece']:.3f} | {a['sg_ece']:.3f} |")
    if "real" in report:
        rr = report["real"]
        print(f"\nAccuracy vs coverage on {args.real_name} (crystal system, calibrated confidence):\n")
        print("| most confident | n | CS acc | min confidence |")
        print("|---:|---:|---:|---:|")
        for c in rr["accuracy_vs_coverage"]:
            print(f"| {100 * c['coverage']:.0f} % | {c['n']} | {100 * c['accuracy']:.1f} % | {c['min_confidence']:.2f} |")
        print(f"\n{args.real_name} cut to laboratory scan ranges (network alone, calibrated):\n")
        print("| 2θ range | share of the grid | CS acc | CS balanced | SG acc |")
        print("|---|---:|---:|---:|---:|")
        for c in rr["by_scan_range"]:
            lo, hi = c["two_theta_range_deg"]
            print(f"| {lo:.0f}–{hi:.0f}° | {100 * c['coverage']:.0f} % | {100 * c['cs_accuracy']:.1f} % | "
                  f"{100 * c['cs_balanced_accuracy']:.1f} % | {100 * c['sg_accuracy']:.1f} % |")
        print(f"\nPriors on {args.real_name} (calibrated):\n")
        print("| prior | CS acc | CS balanced | SG acc | CS ECE |")
        print("|---|---:|---:|---:|---:|")
        print(f"| none | {100 * rr['after']['cs_accuracy']:.1f} % | {100 * rr['cs_balanced_accuracy']:.1f} % | "
              f"{100 * rr['after']['sg_accuracy']:.1f} % | {rr['after']['cs_ece']:.3f} |")
        for name, f in rr["priors"].items():
            print(f"| {name} | {100 * f['cs_accuracy']:.1f} % | {100 * f['cs_balanced_accuracy']:.1f} % | "
                  f"{100 * f['sg_accuracy']:.1f} % | {f['cs_ece']:.3f} |")
        print(f"\nConstant baseline ({rr['baseline']['answer']}): {100 * rr['baseline']['cs_accuracy']:.1f} %. "
              f"Checks before answering would refuse {rr['checks']['refused']} of {rr['n']} files; "
              f"warnings: {rr['checks']['warnings']}")
    print(f"\nwrote {out / 'calibration_report.json'}, {figure}" + (f"; stored in {run_dir}" if args.write else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
