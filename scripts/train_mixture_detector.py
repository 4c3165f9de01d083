"""Train the likely-mixture detector of a checkpoint and measure it (see ``xrdnet/mixture.py``).

    python scripts/train_mixture_detector.py --config configs/mixture.yaml --data data/real.h5 \
        --checkpoint xrdnet/checkpoints/xrdnet-cnn-real --out mix/run \
        [--real ../shared/data/rruff] [--genuine FILE ...] [--single FILE ...] [--steps 1500] \
        [--evaluate-only]

The recipe is ``configs/mixture.yaml`` (``xrdnet.mixture.MixtureRecipe``); a flag given overrides its
setting. The learning-rate schedule follows the step count alone, so the same recipe and seed train the
same detector on any machine.

1. Patterns of the compound split of ``--data`` (the split the checkpoint was trained on): training
   compounds to make mixtures and single-phase examples from, validation compounds to choose the
   threshold (FPR 10 % on single phases), test compounds for the reported simulated figures.
2. Simulated test: single-phase test patterns against mixtures of 2 and 3 test compounds with every
   fraction ≥ 0.2 (``make_mixtures``, mixed on the full grid).
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
from dataclasses import replace
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FORMATS = ROOT.parent / "shared" / "data" / "formats"
DEFAULT_GENUINE = [FORMATS / "xrdml" / "dara_TiO2_0p4009-ZnO_0p6010--2min.xrdml"]
DEFAULT_SINGLE = [FORMATS / "bruker_raw_v2" / "pyxrd_brk_raw2_zincite.raw",
                  FORMATS / "bruker_raw_v4" / "datalab_TiO2.raw",
                  FORMATS / "brml" / "datalab_TiOF.brml"]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def load_split_patterns(data: Path, pool: int, n_eval: int, seed: int):
    """Pooled training patterns, full-grid val/test patterns (``n_eval`` each at most), compound keys."""
    from xrdnet.data.reader import PatternDataset
    from xrdnet.data.splits import compound_key
    from xrdnet.mixture import pool_patterns

    with PatternDataset(data) as ds:
        split = ds.structure_split("compound")[ds.structure_index]
        keys = np.array([compound_key(f) for f in ds.formula])
        _, key_id = np.unique(keys, return_inverse=True)
        compound = key_id[ds.structure_index]
        rng = np.random.default_rng(seed)
        chosen = {}
        for code, name in ((1, "val"), (2, "test")):
            rows = np.flatnonzero(split == code)
            chosen[name] = np.sort(rows if len(rows) <= n_eval else rng.choice(rows, n_eval, replace=False))
        train_rows = np.flatnonzero(split == 0)
        pooled = np.zeros((len(train_rows), -(-ds.n_points // pool)), np.float16)
        full = {name: np.zeros((len(r), ds.n_points), np.float16) for name, r in chosen.items()}
        block = 4096
        train_pos = np.searchsorted(train_rows, np.arange(len(ds)))
        for start in range(0, len(ds), block):
            rows = np.arange(start, min(len(ds), start + block))
            x = ds.patterns[start : rows[-1] + 1]
            is_train = split[rows] == 0
            if is_train.any():
                pooled[train_pos[rows[is_train]]] = pool_patterns(x[is_train], pool)
            for name, r in chosen.items():
                hit = np.isin(rows, r)
                if hit.any():
                    full[name][np.searchsorted(r, rows[hit])] = x[hit]
        grid = ds.two_theta_deg.copy()
    return {"train": pooled, "train_compound": compound[train_rows], "n_train_compounds": len(np.unique(compound[train_rows])),
            "val": full["val"], "val_compound": compound[chosen["val"]],
            "test": full["test"], "test_compound": compound[chosen["test"]], "grid": grid}


def stick_banks(data: Path, n_train: int, n_eval: int, seed: int, cache: Path | None) -> dict:
    """``StickBank`` of ``n_train`` training structures and ``n_eval`` val / test structures, drawn at random."""
    from xrdnet.data.reader import PatternDataset
    from xrdnet.data.splits import compound_key
    from xrdnet.mixture import StickBank

    banks = {}
    with PatternDataset(data) as ds:
        split = ds.structure_split("compound")
        keys = np.array([compound_key(f) for f in ds.formula])
        rng = np.random.default_rng(np.random.SeedSequence([seed, 505]))
        for code, name, n in ((0, "train", n_train), (1, "val", n_eval), (2, "test", n_eval)):
            file = cache / f"sticks_{name}_{n}_{seed}.npz" if cache else None
            if file is not None and file.is_file():
                banks[name] = StickBank.load(file)
                continue
            rows = np.flatnonzero(split == code)
            _, first = np.unique(keys[rows][rng.permutation(len(rows))], return_index=True)
            # NB: two different permutations, so this is a random subset of the split's structures as large as
            # its number of compounds (a compound can appear more than once), not one structure per compound;
            # kept as it is so that the shipped detector's sticks are reproduced exactly by this script.
            rows = rows[rng.permutation(len(rows))][first]
            rows = np.sort(rng.choice(rows, min(n, len(rows)), replace=False))
            t = time.perf_counter()
            banks[name] = StickBank.from_batch(ds.records(rows).to_batch(), keys[rows])
            log(f"sticks of {len(rows)} {name} structures in {time.perf_counter() - t:.0f} s")
            if file is not None:
                file.parent.mkdir(parents=True, exist_ok=True)
                banks[name].save(file)
    return banks


def rendered_set(bank, n: int, seed: int) -> dict:
    """``n`` mixtures then ``n`` single phases rendered from ``bank`` (``render_from_sticks``)."""
    from xrdnet.mixture import draw_samples, render_from_sticks

    rng = np.random.default_rng(np.random.SeedSequence([seed, 606]))
    _, compound = np.unique(bank.compound, return_inverse=True)
    members, fractions, label = draw_samples(rng, compound, n, n, min_fraction=0.2)
    patterns = np.concatenate([render_from_sticks(bank, members[i : i + 256], fractions[i : i + 256], seed + i)
                               for i in range(0, 2 * n, 256)])
    return {"patterns": patterns, "is_mixture": label > 0, "n_phases": (members >= 0).sum(1)}


def independent_set(data: Path, n: int, seed: int) -> dict:
    """``n`` mixtures and ``n`` single phases rendered from test-split structures (``render_mixtures``)."""
    from xrdnet.data.reader import PatternDataset
    from xrdnet.data.splits import compound_key
    from xrdnet.mixture import draw_fractions, draw_members, render_mixtures

    t0 = time.perf_counter()
    rng = np.random.default_rng(np.random.SeedSequence([seed, 303]))
    with PatternDataset(data) as ds:
        test = np.flatnonzero(ds.structure_split("compound") == 2)
        keys = np.array([compound_key(ds.formula[i]) for i in test])
        _, first = np.unique(keys, return_index=True)  # one structure per compound
        chosen = np.sort(rng.choice(test[first], min(len(first), 3 * n), replace=False))
        structures = ds.structures(chosen)
    half = len(chosen) * 2 // 3  # mixtures from the first two thirds, single phases from the rest
    n_phases = np.where(rng.random(n) < 0.6, 2, 3)
    members = np.full((2 * n, 3), -1)
    fractions = np.zeros((2 * n, 3))
    for k in (2, 3):
        rows = np.flatnonzero(n_phases == k)
        members[rows, :k] = draw_members(rng, np.arange(half), len(rows), k)
        fractions[rows, :k] = draw_fractions(rng, len(rows), k, 0.2)
    members[n:, 0] = half + rng.choice(len(chosen) - half, n, replace=len(chosen) - half < n)
    fractions[n:, 0] = 1.0
    log(f"rendering {n} mixtures and {n} single phases of {len(chosen)} test-split structures")
    patterns = render_mixtures(structures, members, fractions, seed=seed + 404)
    return {"patterns": patterns, "is_mixture": np.arange(2 * n) < n,
            "n_phases": np.r_[n_phases, np.ones(n, int)], "seconds": round(time.perf_counter() - t0, 1)}


def measured(files, grid, lam):
    """Files read as ``xrdnet predict`` reads them; returns (names, [R, G] patterns, errors)."""
    try:  # the reader package that replaces patterns_io (more formats); same interface
        from xrdnet.io import read_many, to_model_grid
    except ImportError:
        from xrdnet.patterns_io import read_many, to_model_grid

    patterns, errors = read_many([Path(f) for f in files], None)
    names, rows = [], []
    for p in patterns:
        if p.wavelength_angstrom is None:
            p.wavelength_angstrom = lam
        try:
            row, _ = to_model_grid(p, grid, lam)
        except ValueError as exc:
            errors.append((str(p.path), str(exc)))
            continue
        names.append(p.path.name)
        rows.append(row)
    return names, (np.stack(rows).astype(np.float32) if rows else np.zeros((0, len(grid)), np.float32)), errors


def recipe_of(args):
    """The recipe of ``--config`` (or the defaults) with the flags that were given on top."""
    from xrdnet.config import load_config
    from xrdnet.mixture import MixtureRecipe

    recipe = load_config(args.config, MixtureRecipe) if args.config else MixtureRecipe()
    top = {"seed": args.seed, "material": args.material, "n_eval": args.n_eval, "n_bank": args.n_bank,
           "independent": args.independent, "threads": args.threads, "time_limit_s": args.time_limit}
    detector = {"steps": args.steps, "batch_size": args.batch_size, "lr": args.lr}
    recipe = replace(recipe, **{k: v for k, v in top.items() if v is not None})
    return replace(recipe, detector=replace(recipe.detector, **{k: v for k, v in detector.items() if v is not None}))


def specimen_sources(data: Path, recipe) -> dict:
    """``SpecimenBatches`` of the compound split's train, val and test structures (ids kept apart)."""
    from xrdnet.data.reader import PatternDataset
    from xrdnet.data.specimen_batches import SpecimenBatches
    from xrdnet.data.splits import compound_key

    c = recipe.detector
    with PatternDataset(data) as ds:
        split = ds.structure_split("compound")
        keys = np.array([compound_key(f) for f in ds.formula])
    sources = {}
    for code, name in ((0, "train"), (1, "val"), (2, "test")):
        rows = np.flatnonzero(split == code)
        train = name == "train"
        sources[name] = SpecimenBatches(
            data, rows, keys[rows], batch_size=c.batch_size if train else 256, mixture_share=c.mixture_share if train else 0.5,
            phase_probabilities=c.phase_probabilities, min_fraction=c.min_fraction if train else 0.2, alpha=c.alpha,
            seed=recipe.seed, first_id=code << 50, size_spread=recipe.size_spread, pool=c.pool if train else 1)
    return sources


def specimen_set(source, n: int) -> dict:
    """At least ``n`` mixtures and ``n`` single phases of ``source`` (full grid), as ``rendered_set`` gives."""
    patterns, label, n_phases = [], [], []
    step = 0
    while sum(len(x) for x in label) < 2 * n:
        members, fractions, is_mix = source.draw(step)
        patterns.append(source.render(members, fractions, source.specimen_ids(step)).numpy())
        label.append(is_mix > 0)
        n_phases.append((members >= 0).sum(axis=1))
        step += 1
    return {"patterns": np.concatenate(patterns), "is_mixture": np.concatenate(label),
            "n_phases": np.concatenate(n_phases)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--checkpoint", type=Path, required=True, help="the symmetry CNN the detector ships with")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--config", type=Path, default=None, help="the recipe (configs/mixture.yaml); flags override it")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--time-limit", type=float, default=None, help="safety stop after this many seconds")
    ap.add_argument("--threads", type=int, default=None, help="1 is fastest on a shared 2-core machine")
    ap.add_argument("--n-eval", type=int, default=None, help="val/test single-phase patterns and mixtures each")
    ap.add_argument("--real", type=Path, default=ROOT.parent / "shared" / "data" / "rruff")
    ap.add_argument("--genuine", type=Path, nargs="*", default=DEFAULT_GENUINE)
    ap.add_argument("--single", type=Path, nargs="*", default=DEFAULT_SINGLE)
    ap.add_argument("--independent", type=int, default=None,
                    help="mixtures (and as many single phases) rendered from test-split structures with one "
                         "instrument per sample (render_mixtures); 0 to skip")
    ap.add_argument("--material", choices=("specimens", "sticks", "patterns"), default=None,
                    help="specimens rendered from the data set's cached sticks by the simulator's renderer (the "
                         "recipe's), the older numpy renderer (sticks), or mixtures of finished patterns")
    ap.add_argument("--n-bank", type=int, default=None, help="training structures of the sticks material")
    ap.add_argument("--cache", type=Path, default=None, help="folder to keep computed sticks in")
    ap.add_argument("--init", type=Path, default=None,
                    help="continue training from the detector in this folder (same architecture)")
    ap.add_argument("--lr", type=float, default=None, help="peak learning rate (default: MixtureConfig's)")
    ap.add_argument("--evaluate-only", action="store_true")
    args = ap.parse_args(argv)
    recipe = recipe_of(args)
    for name in ("seed", "material", "n_eval", "n_bank", "independent", "threads"):
        setattr(args, name, getattr(recipe, name))
    args.time_limit = recipe.time_limit_s

    import torch

    torch.set_num_threads(args.threads)
    from xrdnet.compare import load_labelled_patterns
    from xrdnet.config import config_to_dict, recorded_command, recorded_path
    from xrdnet.mixture import fit, load_mixture_detector, make_mixtures, roc_auc
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

    banks = stick_banks(args.data, args.n_bank, args.n_eval // 2, args.seed, args.cache) if args.material == "sticks" else None
    specimens = specimen_sources(args.data, recipe) if args.material == "specimens" else None
    if banks is not None or specimens is not None:
        if banks is not None:
            val_r = rendered_set(banks["val"], args.n_eval // 2, args.seed + 11)
            test_r = rendered_set(banks["test"], args.n_eval // 2, args.seed + 22)
        else:
            val_r, test_r = (specimen_set(specimens[name], args.n_eval // 2) for name in ("val", "test"))
        half = args.n_eval // 2
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
        if banks is not None:
            from xrdnet.mixture import StickBatches

            source = StickBatches(banks["train"], config, args.seed)
            config = replace(config, noise_probability=0.0)  # the renderer draws counting noise itself
            source.config = config
        elif specimens is not None:
            source = specimens["train"]
            config = replace(config, noise_probability=0.0)  # the renderer draws counting noise itself
        detector = fit(d["train"], d["train_compound"], val_singles, val_mixtures, config,
                       seed=args.seed, threads=args.threads, log=log, time_limit_s=args.time_limit,
                       already_pooled=True, batch_source=source, prefetch_process=source is not None,
                       init=load_mixture_detector(args.init) if args.init else None)
        n_compounds = (len(np.unique(banks["train"].compound)) if banks is not None else
                       len(np.unique(specimens["train"].compound)) if specimens is not None else d["n_train_compounds"])
        detector.record.update({"data": recorded_path(args.data), "split_kind": "compound",
                                "n_train_compounds": int(n_compounds), "checkpoint": args.checkpoint.name})
        detector.record["recipe"] = config_to_dict(recipe)
        if banks is not None or specimens is not None:
            detector.record["threshold_chosen_on"] = (
                f"simulated validation compounds: {len(val_singles)} single-phase patterns ({half} of the data set's "
                f"own, {len(val_singles) - half} rendered from sticks), FPR target {config.target_fpr:.0%}; "
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
    indep = independent_set(args.data, args.independent, args.seed) if args.independent else None
    if indep is not None:
        p_ind = detector.mixture_probability(indep["patterns"])
        ind_mix, ind_single = p_ind[indep["is_mixture"]], p_ind[~indep["is_mixture"]]
        ind_n = indep["n_phases"][indep["is_mixture"]]
    g_names, g_pat, g_err = measured(args.genuine, grid, lam)
    s_names, s_pat, s_err = measured(args.single, grid, lam)
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
        "sim_test_rendered_sticks": None if test_r is None else {
            "n_single": int(len(r_single)), "n_mixtures": int(len(r_mix)),
            "fpr": float(np.mean(r_single >= thr)), "tpr": float(np.mean(r_mix >= thr)),
            "tpr_2_phases": float(np.mean(r_mix[r_n == 2] >= thr)), "tpr_3_phases": float(np.mean(r_mix[r_n == 3] >= thr)),
            "auroc": roc_auc(r_single, r_mix),
            "how": ("test-split structures rendered from the cached sticks like the training specimens "
                    "(render_specimens), fractions >= 0.2") if specimens is not None else
                   ("test-split structures (a random subset) rendered from sticks like the training samples "
                    "(render_from_sticks), fractions >= 0.2"),
        },
        "independent_rendered": None if indep is None else {
            "n_single": int(len(ind_single)), "n_mixtures": int(len(ind_mix)),
            "fpr": float(np.mean(ind_single >= thr)), "tpr": float(np.mean(ind_mix >= thr)),
            "tpr_2_phases": float(np.mean(ind_mix[ind_n == 2] >= thr)),
            "tpr_3_phases": float(np.mean(ind_mix[ind_n == 3] >= thr)),
            "auroc": roc_auc(ind_single, ind_mix), "seconds": indep["seconds"],
            "how": "test-split structures (one per compound) rendered with xrdnet's simulator, one instrument "
                   "profile per sample (ranges differing from the training set's), phases added clean with "
                   "fractions >= 0.2, then one background and Poisson noise (render_mixtures)",
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
    detector.record["figures"] = {k: figures[k] for k in ("sim_test", "sim_test_rendered_sticks", "independent_rendered",
                                                          "rruff_single_phase", "genuine_mixtures")}
    out = detector.save(args.out)
    (out / "figures.json").write_text(json.dumps(figures, indent=2) + "\n")

    st = figures["sim_test"]
    print()
    print(f"| test set | n | flagged as mixture | AUROC |")
    print(f"|---|---:|---:|---:|")
    print(f"| simulated mixtures, held-out compounds (2-3 phases, fractions >= 0.2) | {st['n_mixtures']} | "
          f"{st['tpr']:.1%} (2: {st['tpr_2_phases']:.1%}, 3: {st['tpr_3_phases']:.1%}) | {st['auroc']:.3f} |")
    print(f"| simulated single phases, held-out compounds | {st['n_single']} | {st['fpr']:.1%} | |")
    if test_r is not None:
        sr = figures["sim_test_rendered_sticks"]
        print(f"| mixtures rendered from sticks, held-out compounds | {sr['n_mixtures']} | "
              f"{sr['tpr']:.1%} (2: {sr['tpr_2_phases']:.1%}, 3: {sr['tpr_3_phases']:.1%}) | {sr['auroc']:.3f} |")
        print(f"| single phases rendered from sticks | {sr['n_single']} | {sr['fpr']:.1%} | |")
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
