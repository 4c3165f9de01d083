"""What else might lift the pooled answer on measured scans? Alternatives to the shipped pool, side by side.

    python scripts/ablate_pool_alternatives.py --real ../shared/data/rruff --data data/real.h5 \
        [--cache bench_results/forest_pool_cache.npz] [--mono-cache bench_results/mono_cache.npz] \
        [--seeds 0,1,2] [--out bench_results/pool_alternatives.json]

Reads the feature cache of ``scripts/ablate_forest_pool.py`` (the networks' probabilities as ``predict``
gives them, and the Suzuki + indexing features, on the 454 labelled scans, 2,000 held-out compounds and
24,000 training patterns; built there once) and adds once, in ``--mono-cache``, the best monoclinic cell
of each row (``xrdnet.indexing.families.Monoclinic``: indexed share, M, volume, β) for the measured
scans, the held-out rows and the first ``--n-train`` training rows.

Per seed a forest of the shipped pool's settings (``configs/train_real_forest_pool.yaml``: 4,000 patterns,
100 trees, leaves of 10) is fitted and pooled at w = 0.5 (``xrdnet.inference.pooling``), and compared with:

- **+ monoclinic cell**: the same forest with the monoclinic cell's share and M (and volume and β) as features;
- **class bias**: per-class offsets of the pooled log-probabilities fitted by log-loss on half of the
  held-out compounds (a simulated fit, as the temperatures are); judged on the other half and on RRUFF;
- **prior adjustment**: the pooled log-probabilities minus τ·log(training prior), τ = 0.25 / 0.5;
- **stacking**: a multinomial logistic regression on the log-probabilities of networks and forest,
  fitted on half of the held-out compounds.

RRUFF figures are validation figures. Held-out figures are on the half not used for any fit.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FOREST_WEIGHT = 0.5
N_TRAIN = 4000
_EPS = 1e-6


def monoclinic_features(rows: np.ndarray, grid: np.ndarray, wavelength_angstrom: float, n_jobs: int = 2) -> np.ndarray:
    """``[P, 4]`` the best monoclinic cell's (indexed share, M, volume Å³, β°) of ``rows [P, G]`` (NaN: none)."""
    import multiprocessing as mp

    with mp.get_context("fork").Pool(n_jobs, initializer=_set_grid, initargs=(grid, wavelength_angstrom)) as pool:
        return np.stack(pool.map(_monoclinic_row, list(rows), chunksize=16))


_GRID: dict = {}


def _set_grid(grid, wavelength_angstrom):
    _GRID.update(grid=np.asarray(grid, np.float64), lam=float(wavelength_angstrom))


def _monoclinic_row(row) -> np.ndarray:
    from xrdnet.indexing import IndexingConfig, search
    from xrdnet.indexing.evidence import without_kalpha2_partners
    from xrdnet.indexing.families import ALL_FAMILIES
    from xrdnet.signal import peak_measurements

    config, lam = IndexingConfig(), _GRID["lam"]
    out = np.full(4, np.nan, np.float32)
    tt, heights, _ = peak_measurements(np.asarray(row, np.float64), _GRID["grid"])
    tt, heights = without_kalpha2_partners(tt, heights, lam, config.tolerance_two_theta_deg)
    lines = search.select_lines(tt, heights, lam, config)
    if len(lines.inv_d2) < config.min_lines:
        return out
    cell = search.index_family(ALL_FAMILIES["monoclinic"], lines, config)
    if cell is not None:
        out[:] = cell.indexed_fraction, cell.figure_of_merit, cell.volume_angstrom3, cell.beta
    return out


def build_mono_cache(args) -> dict:
    """The monoclinic cells of exactly the rows of the forest-pool cache (same reader, split and seeds)."""
    from xrdnet.api import Predictor
    from xrdnet.data.reader import PatternDataset

    sys.path.insert(0, str(Path(__file__).parent))
    from ablate_forest_pool import predicted_rows

    predictor = Predictor(None, combine_indexing=False)
    predictor.forest_pool = None
    grid, lam = predictor.grid.astype(np.float64), predictor.wavelength_angstrom
    _, _, real_rows, _ = predicted_rows(predictor, args.real)
    out = {"real_m": monoclinic_features(real_rows, grid, lam)}
    with PatternDataset(args.data) as ds:
        test = ds.indices("test", "compound")
        test = np.sort(np.random.default_rng(0).choice(test, min(2000, len(test)), replace=False))
        out["held_m"] = monoclinic_features(ds.read_patterns(test).astype(np.float32), grid, lam)
        train = np.random.default_rng(0).permutation(ds.indices("train", "compound"))[: args.n_train]
        order = np.argsort(np.argsort(train))
        out["train_m"] = monoclinic_features(ds.read_patterns(np.sort(train)), grid, lam)[order]
    return out


def pool(p_net, p_forest, w=FOREST_WEIGHT):
    from xrdnet.inference.pooling import log_linear_pool

    return log_linear_pool(p_net, p_forest, w)


def score(cs: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    from xrdnet.evaluate import balanced_accuracy

    pred = np.asarray(cs).argmax(axis=1)
    return float(np.mean(pred == y)), float(balanced_accuracy(y, pred))


def fit_bias(log_p: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``[7]`` class offsets minimising the log-loss of ``log_p + b`` (b centred)."""
    from scipy.optimize import minimize

    def loss(b):
        z = log_p + b
        z = z - z.max(axis=1, keepdims=True)
        return -(z[np.arange(len(y)), y] - np.log(np.exp(z).sum(axis=1))).mean()

    b = minimize(loss, np.zeros(log_p.shape[1]), method="L-BFGS-B").x
    return b - b.mean()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--cache", type=Path, default=ROOT / "bench_results/forest_pool_cache.npz")
    parser.add_argument("--mono-cache", type=Path, default=ROOT / "bench_results/mono_cache.npz")
    parser.add_argument("--n-train", type=int, default=N_TRAIN)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--out", type=Path, default=ROOT / "bench_results/pool_alternatives.json")
    args = parser.parse_args(argv)
    from sklearn.ensemble import ExtraTreesClassifier
    from sklearn.linear_model import LogisticRegression

    if not args.cache.is_file():
        raise SystemExit(f"{args.cache}: missing; build it with scripts/ablate_forest_pool.py first")
    z = dict(np.load(args.cache))
    if not args.mono_cache.is_file():
        t0 = time.perf_counter()
        np.savez(args.mono_cache, **build_mono_cache(args))
        print(f"monoclinic cells cached in {time.perf_counter() - t0:.0f} s: {args.mono_cache}", flush=True)
    m = dict(np.load(args.mono_cache))
    n = args.n_train
    x = {"real": z["real_x"], "held": z["held_x"], "train": z["train_x"][:n]}
    xm = {k: np.hstack([x[k], m[f"{k}_m"][:, :2]]) for k in x}
    y = {"real": z["real_cs_true"], "held": z["held_cs_true"]}
    p_net = {"real": z["real_cs"], "held": z["held_cs"]}
    fit_half = np.arange(len(y["held"])) % 2 == 0
    judge = ~fit_half
    prior = np.bincount(z["train_cs"][:n], weights=z["train_weight"][:n], minlength=7)
    prior = prior / prior.sum()
    rows = {}

    def add(name, seed, real_cs, held_cs):
        rows.setdefault(name, []).append({"seed": seed, "real": score(real_cs, y["real"]),
                                          "held": score(held_cs[judge], y["held"][judge])})

    for seed in (int(s) for s in args.seeds.split(",")):
        probs = {}
        for tag, feats in (("pool", x), ("mono", xm)):
            forest = ExtraTreesClassifier(n_estimators=100, min_samples_leaf=10,
                                          max_features=max(1, int(round(np.sqrt(feats["train"].shape[1])))),
                                          n_jobs=2, random_state=seed)
            forest.fit(feats["train"], z["train_cs"][:n], sample_weight=z["train_weight"][:n])
            for split in ("real", "held"):
                p = np.zeros((len(feats[split]), 7))
                p[:, forest.classes_] = forest.predict_proba(feats[split])
                probs[(tag, split)] = p
        pooled = {s: pool(p_net[s], probs[("pool", s)]) for s in ("real", "held")}
        add("shipped pool (w 0.5)", seed, pooled["real"], pooled["held"])
        add("+ monoclinic cell features", seed, pool(p_net["real"], probs[("mono", "real")]),
            pool(p_net["held"], probs[("mono", "held")]))
        log_p = {s: np.log(np.clip(pooled[s], _EPS, 1.0)) for s in pooled}
        b = fit_bias(log_p["held"][fit_half], y["held"][fit_half])
        add("class bias (log-loss, simulated half)", seed, log_p["real"] + b, log_p["held"] + b)
        for tau in (0.25, 0.5):
            adj = -tau * np.log(prior)
            add(f"prior adjustment tau {tau}", seed, log_p["real"] + adj, log_p["held"] + adj)
        stack_x = {s: np.hstack([np.log(np.clip(p_net[s], _EPS, 1)), np.log(np.clip(probs[("pool", s)], _EPS, 1))])
                   for s in ("real", "held")}
        lr = LogisticRegression(C=0.1, max_iter=2000).fit(stack_x["held"][fit_half], y["held"][fit_half])
        add("stacking (logistic, simulated half)", seed, lr.predict_proba(stack_x["real"]),
            lr.predict_proba(stack_x["held"]))
    constant = float(np.mean(y["real"] == np.bincount(y["real"]).argmax()))
    print(f"RRUFF validation (n = {len(y['real'])}; constant {100 * constant:.1f} %, balanced 16.7 %) and the "
          f"judging half of the held-out compounds (n = {int(judge.sum())}); seeds {args.seeds}\n")
    print("| alternative | RRUFF CS per seed | RRUFF mean (balanced) | held-out mean (balanced) |")
    print("|---|---|---:|---:|")
    summary = {}
    for name, entries in rows.items():
        real = np.array([e["real"] for e in entries])
        held = np.array([e["held"] for e in entries])
        summary[name] = {"seeds": entries, "real_mean": real.mean(axis=0).tolist(), "held_mean": held.mean(axis=0).tolist()}
        print(f"| {name} | {' / '.join(f'{100 * r:.1f}' for r in real[:, 0])} | {100 * real[:, 0].mean():.1f} "
              f"({100 * real[:, 1].mean():.1f}) | {100 * held[:, 0].mean():.1f} ({100 * held[:, 1].mean():.1f}) |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"constant_real_cs_acc": constant, "rows": summary}, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
