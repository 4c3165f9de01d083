"""Train the likely-mixture detector of a checkpoint and measure it (see ``xrdnet/mixture/``).

    python scripts/train_mixture_detector.py --config configs/mixture.yaml --data data/real.h5 \
        --checkpoint xrdnet/checkpoints/xrdnet-cnn-real --out mix/run \
        [--time-limit SECONDS] [--real ../shared/data/rruff] [--genuine FILE ...] [--single FILE ...] \
        [--evaluate-only]

The recipe is ``configs/mixture.yaml`` (``xrdnet.mixture.MixtureRecipe``); a flag given overrides its
setting. The learning-rate schedule follows the step count alone, so the same recipe and seed train the
same detector on any machine. ``--time-limit`` ends a leg: the run's state is kept in ``--out``
(``leg_state.pt``) and the same command continues it, giving the weights of one uninterrupted run.

1. The compound split of ``--data`` (the split the checkpoint was trained on): training compounds make
   the training specimens, validation compounds choose the threshold (FPR 10 % on single phases), test
   compounds give the reported simulated figures (``xrdnet.mixture.evaluation``).
2. Simulated tests: finished single-phase test patterns against mixtures of 2 and 3 of them with every
   fraction ≥ 0.2 (``make_mixtures``); specimens of test compounds rendered like the training specimens;
   an independent set rendered with other instrument ranges (``--independent``).
3. Measured patterns, read exactly as ``xrdnet predict`` reads them (``read_pattern`` → ``to_model_grid``
   with the checkpoint's grid and wavelength): the single-phase RRUFF set of ``--real`` (evaluation
   only: its flag rate is reported, never used to choose anything), ``--genuine`` measured mixtures and
   ``--single`` measured single-phase files (defaults: the instrument files of ../shared/data/formats).

Prints a table; writes the detector (``detector.pt``, ``detector.json``) and ``figures.json`` into ``--out``.
``--evaluate-only`` loads the detector already in ``--out`` and re-measures it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from xrdnet.mixture.training import MATERIALS

ROOT = Path(__file__).resolve().parents[1]
FORMATS = ROOT.parent / "shared" / "data" / "formats"
DEFAULT_GENUINE = [FORMATS / "xrdml" / "dara_TiO2_0p4009-ZnO_0p6010--2min.xrdml"]
DEFAULT_SINGLE = [FORMATS / "bruker_raw_v2" / "pyxrd_brk_raw2_zincite.raw",
                  FORMATS / "bruker_raw_v4" / "datalab_TiO2.raw",
                  FORMATS / "brml" / "datalab_TiOF.brml"]


LEG_STATE = "leg_state.pt"  # a leg's state in --out while a run is unfinished


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def recipe_of(args):
    """The recipe of ``--config`` (or the defaults) with the flags that were given on top."""
    from xrdnet.config import load_config
    from xrdnet.mixture import MixtureRecipe

    recipe = load_config(args.config, MixtureRecipe) if args.config else MixtureRecipe()
    top = {"seed": args.seed, "material": args.material, "n_eval": args.n_eval,
           "independent": args.independent, "threads": args.threads, "time_limit_s": args.time_limit}
    detector = {"steps": args.steps, "batch_size": args.batch_size, "lr": args.lr}
    recipe = replace(recipe, **{k: v for k, v in top.items() if v is not None})
    return replace(recipe, detector=replace(recipe.detector, **{k: v for k, v in detector.items() if v is not None}))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--checkpoint", type=Path, required=True, help="the symmetry CNN the detector ships with")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--config", type=Path, default=None, help="the recipe (configs/mixture.yaml); flags override it")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--time-limit", type=float, default=None,
                    help="seconds of training in this leg: the state is saved in --out and a second call with the "
                         "same arguments resumes it (the legs give the weights of one uninterrupted run)")
    ap.add_argument("--threads", type=int, default=None, help="1 is fastest on a shared 2-core machine")
    ap.add_argument("--n-eval", type=int, default=None, help="val/test single-phase patterns and mixtures each")
    ap.add_argument("--real", type=Path, default=ROOT.parent / "shared" / "data" / "rruff")
    ap.add_argument("--genuine", type=Path, nargs="*", default=DEFAULT_GENUINE)
    ap.add_argument("--single", type=Path, nargs="*", default=DEFAULT_SINGLE)
    ap.add_argument("--independent", type=int, default=None,
                    help="mixtures (and as many single phases) of test compounds rendered with other instrument "
                         "ranges (xrdnet.mixture.evaluation.INDEPENDENT_PROFILE); 0 to skip")
    ap.add_argument("--material", choices=MATERIALS, default=None,
                    help="specimens rendered from the data set's cached sticks by the simulator's renderer (the "
                         "recipe's), or mixtures of finished patterns")
    ap.add_argument("--lr", type=float, default=None, help="peak learning rate (default: MixtureConfig's)")
    ap.add_argument("--evaluate-only", action="store_true")
    args = ap.parse_args(argv)
    recipe = recipe_of(args)
    for name in ("seed", "material", "n_eval", "independent", "threads"):
        setattr(args, name, getattr(recipe, name))

    import torch

    torch.set_num_threads(args.threads)
    from xrdnet.compare import load_labelled_patterns
    from xrdnet.config import config_to_dict, recorded_command, recorded_path
    from xrdnet.mixture import fit, load_mixture_detector, make_mixtures, roc_auc
    from xrdnet.mixture.evaluation import (independent_set, load_split_patterns, measured_patterns,
                                           specimen_set, specimen_sources)
    from xrdnet.models.runs import load_run

    t0 = time.perf_counter()
    run = load_run(args.checkpoint)
    grid = run.two_theta_deg
    lam = run.wavelength_angstrom  # the run's own; a run that states none is refused, never read as Cu
    config = recipe.detector
    log(f"reading {args.data}")
    d = load_split_patterns(args.data, config.pool, args.n_eval, args.seed)
    if len(d["grid"]) != len(grid) or not np.allclose(d["grid"], grid, atol=1e-6):
        raise SystemExit(f"{args.data}: grid differs from the checkpoint's")
    log(f"train {len(d['train'])} patterns ({d['n_train_compounds']} compounds), val {len(d['val'])}, test {len(d['test'])}")
    # evaluation mixtures: "similar amounts" (every fraction >= 0.2), 2 or 3 phases, full grid
    val_mix = make_mixtures(d["val"], d["val_compound"], args.n_eval, seed=args.seed + 101, min_fraction=0.2)
    test_mix = make_mixtures(d["test"], d["test_compound"], args.n_eval, seed=args.seed + 202, min_fraction=0.2)

    specimens = specimen_sources(args.data, recipe) if args.material == "specimens" else None
    half = args.n_eval // 2
    if specimens is not None:
        val_r, test_r = (specimen_set(specimens[name], half) for name in ("val", "test"))
        # threshold on both kinds of simulated single phase: the data set's own and rendered ones
        val_singles = np.concatenate([d["val"][:half].astype(np.float32), val_r["patterns"][~val_r["is_mixture"]]])
        val_mixtures = np.concatenate([val_mix.patterns[:half], val_r["patterns"][val_r["is_mixture"]]])
    else:
        val_singles, val_mixtures, test_r = d["val"].astype(np.float32), val_mix.patterns, None

    if args.evaluate_only:
        detector = load_mixture_detector(args.out)
        if detector is None:
            raise SystemExit(f"{args.out}: no detector to evaluate")
    else:
        source = None
        if specimens is not None:
            source = specimens["train"]
            config = replace(config, noise_probability=0.0)  # the renderer draws counting noise itself
        detector = fit(d["train"], d["train_compound"], val_singles, val_mixtures, config,
                       seed=args.seed, threads=args.threads, log=log, time_limit_s=recipe.time_limit_s,
                       already_pooled=True, batch_source=source, prefetch_process=source is not None,
                       state_file=args.out / LEG_STATE)
        if detector is None:
            log(f"leg ended: run the same command again to continue from {args.out / LEG_STATE}")
            return 0
        n_compounds = len(np.unique(specimens["train"].compound)) if specimens is not None else d["n_train_compounds"]
        detector.record.update({"data": recorded_path(args.data), "split_kind": "compound",
                                "n_train_compounds": int(n_compounds), "checkpoint": args.checkpoint.name})
        detector.record["recipe"] = config_to_dict(recipe)
        if specimens is not None:
            detector.record["threshold_chosen_on"] = (
                f"simulated validation compounds: {len(val_singles)} single-phase patterns ({half} of the data set's "
                f"own, {len(val_singles) - half} rendered from cached sticks), FPR target {config.target_fpr:.0%}; "
                f"TPR on {len(val_mixtures)} mixtures ({half} of finished patterns, {len(val_mixtures) - half} rendered)")
    thr = detector.threshold
    log(f"threshold {thr:.4f}; measuring")
    t_inf = time.perf_counter()
    p_single = detector.mixture_probability(d["test"].astype(np.float32))
    p_mix = detector.mixture_probability(test_mix.patterns)
    per_pattern_ms = 1e3 * (time.perf_counter() - t_inf) / (len(p_single) + len(p_mix))
    two, three = test_mix.n_phases == 2, test_mix.n_phases == 3
    rr = load_labelled_patterns(args.real, grid, lam)
    p_rruff = detector.mixture_probability(rr["patterns"])
    if test_r is not None:
        p_r = detector.mixture_probability(test_r["patterns"])
        r_mix, r_single = p_r[test_r["is_mixture"]], p_r[~test_r["is_mixture"]]
        r_n = test_r["n_phases"][test_r["is_mixture"]]
    indep = None
    if args.independent:
        log(f"rendering {args.independent} mixtures and as many single phases with other instrument ranges")
        indep = independent_set(args.data, args.independent, args.seed)
    if indep is not None:
        p_ind = detector.mixture_probability(indep["patterns"])
        ind_mix, ind_single = p_ind[indep["is_mixture"]], p_ind[~indep["is_mixture"]]
        ind_n = indep["n_phases"][indep["is_mixture"]]
    g_names, g_pat, g_err = measured_patterns(args.genuine, grid, lam)
    s_names, s_pat, s_err = measured_patterns(args.single, grid, lam)
    p_gen = detector.mixture_probability(g_pat) if len(g_pat) else np.zeros(0)
    p_sing = detector.mixture_probability(s_pat) if len(s_pat) else np.zeros(0)

    figures = {
        "threshold": thr,
        "threshold_chosen_on": detector.record.get("threshold_chosen_on"),
        "val": detector.record.get("val"),
        "sim_test": {
            "n_single": int(len(p_single)), "n_mixtures": int(len(p_mix)),
            "fpr": float(np.mean(p_single >= thr)), "tpr": float(np.mean(p_mix >= thr)),
            "tpr_2_phases": float(np.mean(p_mix[two] >= thr)), "tpr_3_phases": float(np.mean(p_mix[three] >= thr)),
            "auroc": roc_auc(p_single, p_mix),
            "mixtures": "2 phases 60 %, 3 phases 40 %; Dirichlet(2) fractions, each >= 0.2; different compounds of the test split",
        },
        "sim_test_rendered": None if test_r is None else {
            "n_single": int(len(r_single)), "n_mixtures": int(len(r_mix)),
            "fpr": float(np.mean(r_single >= thr)), "tpr": float(np.mean(r_mix >= thr)),
            "tpr_2_phases": float(np.mean(r_mix[r_n == 2] >= thr)), "tpr_3_phases": float(np.mean(r_mix[r_n == 3] >= thr)),
            "auroc": roc_auc(r_single, r_mix),
            "how": "test-split structures rendered from the cached sticks like the training specimens "
                   "(render_specimens), fractions >= 0.2",
        },
        "independent_rendered": None if indep is None else {
            "n_single": int(len(ind_single)), "n_mixtures": int(len(ind_mix)),
            "fpr": float(np.mean(ind_single >= thr)), "tpr": float(np.mean(ind_mix >= thr)),
            "tpr_2_phases": float(np.mean(ind_mix[ind_n == 2] >= thr)),
            "tpr_3_phases": float(np.mean(ind_mix[ind_n == 3] >= thr)),
            "auroc": roc_auc(ind_single, ind_mix),
            "how": "test-split structures (one per compound) rendered from the cached sticks by the simulator's "
                   "renderer with instrument ranges differing from the training set's "
                   "(xrdnet.mixture.evaluation.INDEPENDENT_PROFILE: no real-sample effects), fractions >= 0.2",
        },
        "rruff_single_phase": {"n": int(len(p_rruff)), "flag_rate": float(np.mean(p_rruff >= thr)),
                               "median_probability": float(np.median(p_rruff))},
        "genuine_mixtures": {n: {"probability": float(p), "flagged": bool(p >= thr)} for n, p in zip(g_names, p_gen)},
        "measured_single_phase_other": {n: {"probability": float(p), "flagged": bool(p >= thr)}
                                        for n, p in zip(s_names, p_sing)},
        "read_errors": [[recorded_path(p), m.replace(p, recorded_path(p))] for p, m in g_err + s_err],
        "inference_ms_per_pattern": round(per_pattern_ms, 2),
        "train_seconds": detector.record.get("train_seconds"),
        "steps_done": detector.record.get("steps_done"),
        "n_parameters": detector.record.get("n_parameters"),
        "seconds_total": round(time.perf_counter() - t0, 1),
        "command": "python " + recorded_command([sys.argv[0]] + (argv if argv is not None else sys.argv[1:])),
    }
    detector.record["figures"] = {k: figures[k] for k in ("sim_test", "sim_test_rendered", "independent_rendered",
                                                          "rruff_single_phase", "genuine_mixtures")}
    out = detector.save(args.out)
    (out / "figures.json").write_text(json.dumps(figures, indent=2) + "\n")

    st = figures["sim_test"]
    print()
    print("| test set | n | flagged as mixture | AUROC |")
    print("|---|---:|---:|---:|")
    print(f"| simulated mixtures, held-out compounds (2-3 phases, fractions >= 0.2) | {st['n_mixtures']} | "
          f"{st['tpr']:.1%} (2: {st['tpr_2_phases']:.1%}, 3: {st['tpr_3_phases']:.1%}) | {st['auroc']:.3f} |")
    print(f"| simulated single phases, held-out compounds | {st['n_single']} | {st['fpr']:.1%} | |")
    if test_r is not None:
        sr = figures["sim_test_rendered"]
        print(f"| specimens rendered from cached sticks, held-out compounds | {sr['n_mixtures']} | "
              f"{sr['tpr']:.1%} (2: {sr['tpr_2_phases']:.1%}, 3: {sr['tpr_3_phases']:.1%}) | {sr['auroc']:.3f} |")
        print(f"| single phases rendered from cached sticks | {sr['n_single']} | {sr['fpr']:.1%} | |")
    if indep is not None:
        ir = figures["independent_rendered"]
        print(f"| rendered mixtures, one instrument per sample, held-out compounds | {ir['n_mixtures']} | "
              f"{ir['tpr']:.1%} (2: {ir['tpr_2_phases']:.1%}, 3: {ir['tpr_3_phases']:.1%}) | {ir['auroc']:.3f} |")
        print(f"| rendered single phases, same treatment | {ir['n_single']} | {ir['fpr']:.1%} | |")
    print(f"| RRUFF measured single phases (evaluation only) | {len(p_rruff)} | "
          f"{figures['rruff_single_phase']['flag_rate']:.1%} | |")
    for n, p in zip(g_names, p_gen):
        print(f"| measured mixture {n} | 1 | p = {p:.3f} ({'flagged' if p >= thr else 'not flagged'}) | |")
    for n, p in zip(s_names, p_sing):
        print(f"| measured single phase {n} | 1 | p = {p:.3f} ({'flagged' if p >= thr else 'not flagged'}) | |")
    print(f"\nthreshold {thr:.4f} (val FPR {figures['val']['fpr']:.1%}, val TPR {figures['val']['tpr']:.1%}); "
          f"{per_pattern_ms:.2f} ms/pattern; wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
