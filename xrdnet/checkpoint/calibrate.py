"""``xrdnet calibrate``: fit a run's calibration on simulated validation data and measure it where it matters.

    xrdnet calibrate xrdnet/checkpoints/xrdnet-cnn-real --data data/real.h5 \
        --real ../shared/data/rruff --write --out reports/calibration

The one writer of a checkpoint's ``calibration.json`` (every member's), ``members.json``'s ensemble
temperatures and ``card.json`` (through ``ModelCard``, the card's one schema).

1. Temperature scaling (one T per head, crystal system and space group) is fitted on the
   **validation** split of the data set the run was trained on (split kind from its run.json).
2. ECE (15 bins) before and after, and accuracy, on the simulated **test** split (held-out
   compounds for a compound split) and on the measured patterns of ``--real`` (evaluation only:
   nothing is fitted or chosen on them).
3. Accuracy vs coverage on the real patterns (accuracy on the most confident files), accuracy on the
   real patterns cut to laboratory scan ranges (``by_scan_range``, quoted by ``low_coverage``), the effect of
   ``--prior minerals`` on real accuracy, and how many real files the pre-answer checks would refuse.
4. The real patterns answered exactly as ``xrdnet predict`` answers them, the indexing evidence mixed in
   (``with_indexing``): the figure ``predict`` prints in its header.
5. ``--write`` stores ``calibration.json`` (temperatures, data, split, ECE), ``card.json`` (the measured
   real-pattern accuracy and the constant baseline, which ``xrdnet predict`` prints; written through
   ``xrdnet.checkpoint.ModelCard``, the card's one schema) and
   ``calibration.png`` (reliability diagram) in the run folder.

``calibrate_checkpoint`` returns the report (and writes ``calibration_report.json`` and the reliability
diagram into ``out``); ``format_report`` makes the tables ``xrdnet calibrate`` prints.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from xrdnet.calibration import (
    Calibration,
    accuracy_vs_coverage,
    apply_prior,
    decode,
    expected_calibration_error,
    fit_temperature,
    load_prior,
    reliability_diagram,
    training_prior,
)
from xrdnet.config import recorded_path
from xrdnet.symmetry import CRYSTAL_SYSTEMS


def _probs(run, patterns, grid, lam, batch=512):
    pred = run.predict(patterns, grid, lam, batch_size=batch)
    return np.asarray(pred.cs_proba, np.float64), np.asarray(pred.sg_proba, np.float64)


class Members:
    """The networks of a checkpoint folder (one, or a shipped ensemble: ``checkpoint_members``), each with
    its own calibration once fitted; probabilities are averaged over them as ``Predictor`` averages them."""

    def __init__(self, runs):
        self.runs = list(runs)
        self.cals = [None] * len(self.runs)
        self.ensemble_cal = None  # temperatures of the averaged calibrated probabilities (2+ members)

    def raw(self, patterns, grid, lam) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each member's uncalibrated ``(cs [P, 7], sg [P, 230])``."""
        return [_probs(run, patterns, grid, lam) for run in self.runs]

    def mean(self, per_member, calibrated: bool) -> tuple[np.ndarray, np.ndarray]:
        """The average of ``per_member`` probabilities, each calibrated by its member first if asked."""
        pairs = [cal.apply(*p) if calibrated else p for p, cal in zip(per_member, self.cals)]
        cs, sg = np.mean([p[0] for p in pairs], axis=0), np.mean([p[1] for p in pairs], axis=0)
        if calibrated and self.ensemble_cal is not None:
            cs, sg = self.ensemble_cal.apply(cs, sg)
        return cs, sg


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


def scan_range_figures(members: Members, patterns: np.ndarray, grid: np.ndarray, lam: float, cs_true: np.ndarray,
                       sg_true: np.ndarray, forest_pool=None, match_pool=None) -> list[dict]:
    """Calibrated accuracy on ``patterns [R, G]`` cut to each of ``LABORATORY_SCAN_RANGES_DEG`` (zero outside,
    renormalised: what ``to_model_grid`` makes of a shorter scan), with the share of the grid each keeps;
    pooled with ``forest_pool``'s forest and ``match_pool``'s reference library (their answers on the same cut
    rows) when given."""
    from xrdnet.evaluate import balanced_accuracy
    from xrdnet.simulate.coverage import LABORATORY_SCAN_RANGES_DEG, crop_to_range

    figures = []
    for lo, hi in LABORATORY_SCAN_RANGES_DEG:
        cut = crop_to_range(patterns, grid, lo, hi)
        cs, sg = members.mean(members.raw(cut, grid, lam), calibrated=True)
        if forest_pool is not None:
            cs, sg = forest_pool.pool(cs, sg, cut, grid, lam)
        if match_pool is not None:
            cs, sg = match_pool.pool(cs, sg, cut, grid, lam)
        fig = _figures(cs, sg, cs_true, sg_true)
        figures.append({"two_theta_range_deg": [lo, hi],
                        "coverage": float(np.mean((grid >= lo) & (grid <= hi))),
                        "cs_accuracy": fig["cs_accuracy"],
                        "cs_balanced_accuracy": balanced_accuracy(cs_true, cs.argmax(axis=1)),
                        "sg_accuracy": fig["sg_accuracy"]})
    return figures


def answered_figures(run_dir: Path, cals, ensemble_cal, folder: Path, files, cs_true: np.ndarray,
                     sg_true: np.ndarray, forest_pool=None, match_pool=None) -> dict:
    """Figures of the measured files answered exactly as ``xrdnet predict`` answers them (``force`` on, so every
    file counts): pooled with the checkpoint's forest if it has one, the indexing evidence mixed in or not as the
    checkpoint says (``Predictor(combine_indexing=None)``), with the calibration ``cals`` (and the pool
    ``forest_pool``, its temperature) just fitted. ``accuracy_vs_coverage`` is that of the answered confidence."""
    from xrdnet.inference import Predictor
    from xrdnet.evaluate import balanced_accuracy
    from xrdnet.patterns_io import read_pattern

    predictor = Predictor(run_dir)
    predictor.calibrations = list(cals)
    predictor.ensemble_calibration = ensemble_cal
    if forest_pool is not None:
        predictor.forest_pool = forest_pool
    if match_pool is not None:
        predictor.match_pool = match_pool
    results = predictor.predict_patterns([read_pattern(folder / name) for name in files], force=True)
    cs = np.stack([r.crystal_system_proba for r in results])
    sg = np.stack([r.space_group_proba for r in results])
    fig = _figures(cs, sg, cs_true, sg_true)
    return {"cs_accuracy": fig["cs_accuracy"], "cs_balanced_accuracy": balanced_accuracy(cs_true, cs.argmax(axis=1)),
            "sg_accuracy": fig["sg_accuracy"], "cs_ece": fig["cs_ece"],
            "combined": int(sum(r.combined_with_indexing for r in results)),
            "accuracy_vs_coverage": accuracy_vs_coverage(cs.max(axis=1), cs.argmax(axis=1) == cs_true),
            **({} if predictor.forest_pool is None else {"forest_weight": predictor.forest_pool.forest_weight,
                                                         "indexing_mixed_in": predictor.combine_indexing}),
            **({} if predictor.match_pool is None else {"search_match_weight": predictor.match_pool.weight})}


def real_set_note(run_dir: Path) -> str:
    """What the measured figure is: a validation figure when the run chose its checkpoint on measured
    patterns (``trainer.monitor`` ``val_real_*``), nothing fitted on them otherwise."""
    run = json.loads((run_dir / "run.json").read_text()) if (run_dir / "run.json").is_file() else {}
    if str(run.get("monitor", "")).startswith("val_real"):
        return (f"validation figure, measured by xrdnet calibrate: no gradient step on these patterns, "
                f"but the checkpoint was chosen on them ({run['monitor']})")
    return "measured by xrdnet calibrate; evaluation only"


def card_of(report: dict, real_name: str, split_kind: str, after: dict, n_networks: int, note: str):
    """The checkpoint's ``ModelCard`` from this report: the calibrated real-pattern figures, the constant
    baseline, the cut scan ranges, the figures with indexing, and the simulated held-out figures."""
    from xrdnet.checkpoint.card import IndexingFigures, ModelCard, RealFigures, ScanRangeFigures, SimulatedFigures

    rr = report["real"]
    pooled = report.get("simulated_test", {}).get("pooled")
    pooled_extra = {} if pooled is None else {"pooled_with_forest": {
        k: pooled[k] for k in ("forest_weight", "temperature", "cs_accuracy", "sg_accuracy", "cs_ece") if k in pooled}}
    matched = report.get("simulated_test", {}).get("search_match")
    if matched is not None:
        pooled_extra["pooled_with_search_match"] = {
            k: matched[k] for k in ("search_match_weight", "temperature", "cs_accuracy", "sg_accuracy", "cs_ece")}
    return ModelCard(
        real=RealFigures(name=real_name, n=rr["n"], cs_accuracy=rr["after"]["cs_accuracy"],
                         cs_balanced_accuracy=rr["cs_balanced_accuracy"], sg_accuracy=rr["after"]["sg_accuracy"],
                         sg_top5=rr["sg_top5"], baseline_cs_accuracy=rr["baseline"]["cs_accuracy"],
                         baseline_answer=rr["baseline"]["answer"],
                         by_scan_range=tuple(ScanRangeFigures.from_dict(e, "by_scan_range")
                                             for e in rr["by_scan_range"]),
                         with_indexing=IndexingFigures.from_dict(rr["with_indexing"], "with_indexing"), note=note),
        simulated_test=SimulatedFigures(split_kind=split_kind, n=after["n"], cs_accuracy=after["cs_accuracy"],
                                        sg_accuracy=after["sg_accuracy"], extra=pooled_extra),
        n_networks=n_networks)


def calibrate_checkpoint(run: str | Path, data: str | Path, real: str | Path | None = None, real_name: str = "RRUFF",
                         split_kind: str | None = None, max_val: int = 0, max_test: int = 0, write: bool = False,
                         out: str | Path = "reports/calibration") -> dict:
    """Fit, measure and (``write``) store the calibration of the run or checkpoint folder ``run``.

    ``data`` is the HDF5 data set the run was trained on (temperatures are fitted on its validation split of
    ``split_kind``, default the run's); ``real`` a folder of measured patterns with ``labels.csv``, used for
    evaluation only; ``max_val`` / ``max_test`` cap the simulated splits (seeded subsets, 0 = all). Returns the
    report that ``calibration_report.json`` in ``out`` holds.
    """
    from xrdnet.checkpoint.forest_pool import load_forest_pool
    from xrdnet.checkpoint.match_pool import load_match_pool
    from xrdnet.compare import load_labelled_patterns
    from xrdnet.data.reader import PatternDataset
    from xrdnet.models.runs import checkpoint_members, load_run

    run_dir = Path(run)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    member_dirs = checkpoint_members(run_dir)
    members = Members(load_run(d) for d in member_dirs)
    run_net = members.runs[0]
    split_kind = split_kind or run_net.info.get("split_kind") or "structure"
    forest_pool = load_forest_pool(run_dir)
    forest_probs: dict[str, np.ndarray] = {}  # the pool's forest on the simulated val and test patterns
    match_pool = load_match_pool(run_dir)
    matches: dict[str, object] = {}  # the reference library's best matches of the same patterns
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    with PatternDataset(data) as ds:
        grid = ds.two_theta_deg
        lam = float(ds.attrs.get("kalpha1_angstrom") or ds.attrs.get("wavelength_angstrom"))
        cs_all, sg_all = ds.pattern_crystal_system(), ds.pattern_space_group()
        sets = {}
        for split, cap in (("val", max_val), ("test", max_test)):
            rows = ds.indices(split, split_kind)
            if cap and len(rows) > cap:
                rows = np.sort(rng.choice(rows, cap, replace=False))
            patterns = ds.read_patterns(rows)
            per_member = members.raw(patterns, grid, lam)
            if forest_pool is not None:
                forest_probs[split] = forest_pool.forest_crystal_systems(patterns, grid, lam)
            if match_pool is not None:
                matches[split] = match_pool.matches(patterns, grid, lam)
            del patterns
            sets[split] = (per_member, cs_all[rows], sg_all[rows])
            print(f"{split}: {len(rows)} patterns predicted ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    val_member, cs_tv, sg_tv = sets["val"]
    fitted_on = {"data": Path(data).name, "split": "val", "split_kind": split_kind, "n": int(len(cs_tv)),
                 "note": "simulated validation patterns of the training data set; never measured patterns"}
    members.cals = [Calibration.fit(cs_v, sg_v, cs_tv, sg_tv, fitted_on=fitted_on) for cs_v, sg_v in val_member]
    if len(members.runs) > 1:  # the average of calibrated members is under-confident: one more T per head
        members.ensemble_cal = Calibration.fit(*members.mean(val_member, calibrated=True), cs_tv, sg_tv,
                                               fitted_on={**fitted_on, "of": "the average of the calibrated members"})
    if forest_pool is not None:  # the pooled probabilities' own temperature, on the same validation patterns
        pooled_val, _ = forest_pool.combine(*members.mean(val_member, calibrated=True), forest_probs["val"],
                                            temperature=1.0)
        forest_pool.temperature = fit_temperature(pooled_val, cs_tv)
        forest_pool.fitted_on = {**fitted_on, "of": "the calibrated networks pooled with the forest"}
    if match_pool is not None:  # and the temperature of that answer pooled with the search-match vote
        so_far = members.mean(val_member, calibrated=True)
        if forest_pool is not None:
            so_far = forest_pool.combine(*so_far, forest_probs["val"])
        pooled_val, _ = match_pool.combine(*so_far, matches["val"], temperature=1.0)
        match_pool.temperature = fit_temperature(pooled_val, cs_tv)
        match_pool.fitted_on = {**fitted_on, "of": "the answer so far pooled with the search-match vote"}
    cal = members.cals[0]
    report: dict = {"run": recorded_path(run_dir), "model": run_net.info.get("name") or run_net.name,
                    "split_kind": split_kind, "fitted_on": fitted_on,
                    "cs_temperature": cal.cs_temperature, "sg_temperature": cal.sg_temperature,
                    "members": [recorded_path(d) for d in member_dirs],
                    "temperatures": [[c.cs_temperature, c.sg_temperature] for c in members.cals],
                    "ensemble_temperatures": None if members.ensemble_cal is None else
                    [members.ensemble_cal.cs_temperature, members.ensemble_cal.sg_temperature]}
    test_member, cs_tt, sg_tt = sets["test"]
    cs_t, sg_t = members.mean(test_member, calibrated=False)
    cs_tc, sg_tc = members.mean(test_member, calibrated=True)
    before = _figures(cs_t, sg_t, cs_tt, sg_tt)
    after = _figures(cs_tc, sg_tc, cs_tt, sg_tt)
    report["simulated_test"] = {"split": "test", "split_kind": split_kind, "before": before, "after": after}
    if forest_pool is not None:  # the answers as given: the calibrated networks pooled with the forest
        untempered = _figures(*forest_pool.combine(cs_tc, sg_tc, forest_probs["test"], temperature=1.0), cs_tt, sg_tt)
        report["simulated_test"]["pooled"] = {
            **_figures(*forest_pool.combine(cs_tc, sg_tc, forest_probs["test"]), cs_tt, sg_tt),
            "untempered": untempered, "forest_weight": forest_pool.forest_weight,
            "temperature": forest_pool.temperature}
    if match_pool is not None:  # ... and with the search-match vote
        so_far = (cs_tc, sg_tc) if forest_pool is None else forest_pool.combine(cs_tc, sg_tc, forest_probs["test"])
        report["simulated_test"]["search_match"] = {
            **_figures(*match_pool.combine(*so_far, matches["test"]), cs_tt, sg_tt),
            "untempered": _figures(*match_pool.combine(*so_far, matches["test"], temperature=1.0), cs_tt, sg_tt),
            "search_match_weight": match_pool.weight, "temperature": match_pool.temperature}
    curves = {"CS, simulated held-out, uncalibrated": (cs_t.max(1), cs_t.argmax(1) == cs_tt)}
    curves["CS, simulated held-out, calibrated"] = (cs_tc.max(1), cs_tc.argmax(1) == cs_tt)

    if real:
        real_folder = Path(real)
        measured = load_labelled_patterns(real_folder, grid, lam)
        real_member = members.raw(measured["patterns"], grid, lam)
        cs_r, sg_r = members.mean(real_member, calibrated=False)
        cs_rt, sg_rt = measured["crystal_system"], measured["space_group"]
        cs_rc, sg_rc = members.mean(real_member, calibrated=True)
        r_before, r_after = _figures(cs_r, sg_r, cs_rt, sg_rt), _figures(cs_rc, sg_rc, cs_rt, sg_rt)
        counts = np.bincount(cs_rt, minlength=len(CRYSTAL_SYSTEMS))
        baseline = {"answer": CRYSTAL_SYSTEMS[int(counts.argmax())], "cs_accuracy": float(counts.max() / counts.sum()),
                    "cs_balanced_accuracy": float(1.0 / np.count_nonzero(counts))}
        from xrdnet.evaluate import balanced_accuracy, evaluate

        cs_pred, sg_pred, _ = decode(cs_rc, sg_rc)
        m = evaluate(cs_rt, sg_rt, cs_rc, sg_rc, crystal_system_pred=cs_pred, space_group_pred=sg_pred)
        conf = cs_rc.max(axis=1)
        coverage = accuracy_vs_coverage(conf, cs_pred == cs_rt)
        by_range = scan_range_figures(members, measured["patterns"], grid, lam, cs_rt, sg_rt, forest_pool, match_pool)
        with_indexing = answered_figures(run_dir, members.cals, members.ensemble_cal, real_folder, measured["files"],
                                         cs_rt, sg_rt, forest_pool, match_pool)
        answered_coverage = with_indexing.pop("accuracy_vs_coverage")  # the report's, not the card's
        # the prior: p ∝ p · prior / training prior, on the calibrated probabilities
        priors = {}
        train = training_prior(run_dir)
        if train is not None:
            for name in ("minerals", "uniform"):
                cs_p, sg_p = apply_prior(cs_rc, sg_rc, load_prior(name), train)
                fig = _figures(cs_p, sg_p, cs_rt, sg_rt)
                fig["cs_balanced_accuracy"] = balanced_accuracy(cs_rt, cs_p.argmax(axis=1))
                priors[name] = fig
        # how many real files would the checks before answering refuse? (no model needed)
        from xrdnet.checks import check_pattern
        from xrdnet.patterns_io import read_pattern

        refused, codes = 0, {}
        for name in measured["files"]:
            p = read_pattern(real_folder / name)
            prep = check_pattern(p.two_theta_deg, p.intensity, grid, lam, wavelength_angstrom=lam,
                                 x_unit_source="default", metadata=p.metadata)
            refused += prep.refusal is not None
            for w in prep.warnings:
                codes[w.code] = codes.get(w.code, 0) + 1
        report["real"] = {"name": real_name, "folder": recorded_path(real_folder), "n": measured["n"],
                          "before": r_before, "after": r_after, "baseline": baseline,
                          "cs_balanced_accuracy": m["cs_balanced_accuracy"], "sg_top5": m["sg_top5"],
                          "accuracy_vs_coverage": coverage, "answered_accuracy_vs_coverage": answered_coverage,
                          "by_scan_range": by_range,
                          "with_indexing": with_indexing, "priors": priors,
                          "checks": {"refused": int(refused), "warnings": codes}}
        curves[f"CS, real ({real_name}), uncalibrated"] = (cs_r.max(1), cs_r.argmax(1) == cs_rt)
        curves[f"CS, real ({real_name}), calibrated"] = (conf, cs_pred == cs_rt)
    # each member's calibration.json records its own ECE; the ensemble's is in the report and the card
    for i, member_cal in enumerate(members.cals):
        b = _figures(*test_member[i], cs_tt, sg_tt)
        a = _figures(*member_cal.apply(*test_member[i]), cs_tt, sg_tt)
        member_cal.ece = {"simulated_test": {"cs_before": b["cs_ece"], "cs_after": a["cs_ece"],
                                             "sg_before": b["sg_ece"], "sg_after": a["sg_ece"], "n": b["n"]}}
        if "real" in report:
            b = _figures(*real_member[i], cs_rt, sg_rt)
            a = _figures(*member_cal.apply(*real_member[i]), cs_rt, sg_rt)
            member_cal.ece["real"] = {"name": real_name, "cs_before": b["cs_ece"], "cs_after": a["cs_ece"],
                                      "sg_before": b["sg_ece"], "sg_after": a["sg_ece"], "n": b["n"],
                                      "note": "evaluation only"}
    figure = reliability_diagram(curves, out / "reliability.png",
                                 f"{report['model']}: crystal system, T = {cal.cs_temperature:.2f}")
    report["reliability_diagram"] = recorded_path(figure)
    if write:
        for member_dir, member_cal in zip(member_dirs, members.cals):
            member_cal.save(member_dir)
        if members.ensemble_cal is not None:
            from xrdnet.models.runs import write_ensemble_calibration

            write_ensemble_calibration(run_dir, members.ensemble_cal)
        if forest_pool is not None:
            import os

            from xrdnet.checkpoint.forest_pool import write_forest_pool

            write_forest_pool(run_dir, os.path.relpath(forest_pool.folder, run_dir), forest_pool.forest_weight,
                              forest_pool.chosen_on, forest_pool.combine_indexing, forest_pool.temperature,
                              forest_pool.fitted_on)
        if match_pool is not None:
            import os

            from xrdnet.checkpoint.match_pool import write_match_pool

            write_match_pool(run_dir, Path(os.path.relpath(match_pool.path, run_dir)).as_posix(), match_pool.weight,
                             match_pool.chosen_on, match_pool.temperature, match_pool.fitted_on)
        import shutil

        shutil.copyfile(figure, run_dir / "calibration.png")
        if "real" in report:
            card_of(report, real_name, split_kind, after, len(member_dirs), real_set_note(run_dir)).save(run_dir)
    (out / "calibration_report.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def format_report(report: dict) -> str:
    """The tables ``xrdnet calibrate`` prints for a report of :func:`calibrate_checkpoint` (markdown)."""
    fitted_on, split_kind = report["fitted_on"], report["split_kind"]
    temps = ", ".join(f"({t_cs:.3f}, {t_sg:.3f})" for t_cs, t_sg in report["temperatures"])
    if report["ensemble_temperatures"] is not None:
        t_cs, t_sg = report["ensemble_temperatures"]
        temps += f"; on their average ({t_cs:.3f}, {t_sg:.3f})"
    lines = [f"{report['model']}: (T_cs, T_sg) = {temps} (fitted on {fitted_on['n']} simulated validation "
             f"patterns, split by {split_kind})", "",
             "| test set | n | CS acc | CS ECE before | CS ECE after | SG acc | SG ECE before | SG ECE after |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    rows = [("simulated held-out", report["simulated_test"]["before"], report["simulated_test"]["after"])]
    pooled = report["simulated_test"].get("pooled")
    if pooled is not None:
        rows.append((f"simulated held-out, pooled with the forest (w = {pooled['forest_weight']:.2f}, "
                     f"T = {pooled.get('temperature', 1.0):.2f})", pooled.get("untempered", pooled), pooled))
    matched = report["simulated_test"].get("search_match")
    if matched is not None:
        rows.append((f"simulated held-out, then pooled with search-match (w = {matched['search_match_weight']:.2f}, "
                     f"T = {matched['temperature']:.2f})", matched["untempered"], matched))
    rr = report.get("real")
    if rr is not None:
        rows.append((f"real ({rr['name']})", rr["before"], rr["after"]))
    for name, b, a in rows:
        lines.append(f"| {name} | {a['n']} | {100 * a['cs_accuracy']:.1f} % | {b['cs_ece']:.3f} | {a['cs_ece']:.3f} | "
                     f"{100 * a['sg_accuracy']:.1f} % | {b['sg_ece']:.3f} | {a['sg_ece']:.3f} |")
    if rr is None:
        return "\n".join(lines)
    name = rr["name"]
    lines += ["", f"Accuracy vs coverage on {name} (crystal system, the networks' calibrated confidence):", "",
              "| most confident | n | CS acc | min confidence |", "|---:|---:|---:|---:|"]
    lines += [f"| {100 * c['coverage']:.0f} % | {c['n']} | {100 * c['accuracy']:.1f} % | {c['min_confidence']:.2f} |"
              for c in rr["accuracy_vs_coverage"]]
    wi = rr["with_indexing"]
    pooled_words = "" if "forest_weight" not in wi else f"pooled with the forest (w = {wi['forest_weight']:.2f}), "
    if "search_match_weight" in wi:
        pooled_words += f"with search-match (w = {wi['search_match_weight']:.2f}), "
    lines += ["", f"{name} answered as predict answers ({pooled_words}indexing mixed in for {wi['combined']} files): "
                  f"CS {100 * wi['cs_accuracy']:.1f} % (balanced {100 * wi['cs_balanced_accuracy']:.1f} %), "
                  f"SG {100 * wi['sg_accuracy']:.1f} %, CS ECE {wi['cs_ece']:.3f}"]
    if rr.get("answered_accuracy_vs_coverage"):
        lines += ["", f"Accuracy vs coverage on {name} as predict answers (the confidence predict prints):", "",
                  "| most confident | n | CS acc | min confidence |", "|---:|---:|---:|---:|"]
        lines += [f"| {100 * c['coverage']:.0f} % | {c['n']} | {100 * c['accuracy']:.1f} % | "
                  f"{c['min_confidence']:.2f} |" for c in rr["answered_accuracy_vs_coverage"]]
    cut_words = "network alone" if "forest_weight" not in wi else "pooled with the forest"
    cut_words += "" if "search_match_weight" not in wi else " and search-match"
    lines += ["", f"{name} cut to laboratory scan ranges ({cut_words}, calibrated):", "",
              "| 2θ range | share of the grid | CS acc | CS balanced | SG acc |", "|---|---:|---:|---:|---:|"]
    for c in rr["by_scan_range"]:
        lo, hi = c["two_theta_range_deg"]
        lines.append(f"| {lo:.0f}–{hi:.0f}° | {100 * c['coverage']:.0f} % | {100 * c['cs_accuracy']:.1f} % | "
                     f"{100 * c['cs_balanced_accuracy']:.1f} % | {100 * c['sg_accuracy']:.1f} % |")
    lines += ["", f"Priors on {name} (calibrated):", "", "| prior | CS acc | CS balanced | SG acc | CS ECE |",
              "|---|---:|---:|---:|---:|",
              f"| none | {100 * rr['after']['cs_accuracy']:.1f} % | {100 * rr['cs_balanced_accuracy']:.1f} % | "
              f"{100 * rr['after']['sg_accuracy']:.1f} % | {rr['after']['cs_ece']:.3f} |"]
    lines += [f"| {prior} | {100 * f['cs_accuracy']:.1f} % | {100 * f['cs_balanced_accuracy']:.1f} % | "
              f"{100 * f['sg_accuracy']:.1f} % | {f['cs_ece']:.3f} |" for prior, f in rr["priors"].items()]
    lines += ["", f"Constant baseline ({rr['baseline']['answer']}): {100 * rr['baseline']['cs_accuracy']:.1f} %. "
                  f"Checks before answering would refuse {rr['checks']['refused']} of {rr['n']} files; "
                  f"warnings: {rr['checks']['warnings']}"]
    return "\n".join(lines)
