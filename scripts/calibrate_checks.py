"""Choose the refusal thresholds of the pre-answer checks (``xrdnet/checks/thresholds.py``) on simulated data only.

    OMP_NUM_THREADS=1 python scripts/calibrate_checks.py --data data/real.h5 --n 4000 \
        --rruff ../shared/data/rruff --film ../shared/data/formats/xrdml/nomad_m54313_om2th_10.xrdml \
        --out reports/checks_calibration.json

1. **False refusals.** ``check_pattern`` (the exact function ``Predictor`` runs) on a seeded subset
   of the simulated *validation* split (split by compound) of ``--data``: real MP + AMCSD structures
   with experimental-style profiles, noise, background and impurity lines. Every one is a genuine
   single-phase crystalline powder pattern, so every refusal there is a false refusal.
2. **Detection.** Seeded simulated negatives built from other validation patterns: amorphous humps
   (1–3 broad Gaussians, FWHM 5–10°, background, counting noise, 0–2 weak sharp peaks), thin films
   (2–4 orders n·Q₁ of one reflection of a validation pattern, Kα doublets, noise), too few peaks
   (0–2 of a validation pattern's strongest lines), low coverage (a validation pattern cut to
   5–19 % of the range) and a Q axis read as 2θ.
3. **The rule.** For each refusing check, the false-refusal rate on (1) must be ≤ ``--max-frr``
   (1 %). The threshold in ``xrdnet.checks.thresholds`` is kept when it meets the rule; otherwise the
   script names the most sensitive value (highest detection on (2), ties: fewer false refusals) that
   meets it. The sweep and the rule are ``xrdnet.checks.sweep``: they use the measurements
   ``check_pattern`` records (``CheckedPattern.measured``) and ``checks.one_family``, the very ones
   ``check_peaks`` decides on; the reported rates of the thresholds in force come from the refusing
   finding's code (``CheckedPattern.refusal_code``). This script builds the data and reports.
4. **Evaluation only** (after the thresholds are fixed; nothing is chosen on it): the refusal rate
   on the measured RRUFF patterns (``--rruff``) and on a genuine thin-film scan (``--film``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from xrdnet import checks
from xrdnet.checks.sweep import choose, is_one_family, run_checks, sweep  # noqa: F401 - the rule lives there
from xrdnet.config import recorded_command, recorded_path
from xrdnet.peak_finder import PeakFinderConfig, find_peaks
from xrdnet.units import q_inv_angstrom_from_two_theta

DEFAULT_DATA = Path(__file__).resolve().parents[1] / "data" / "real.h5"
"""The repository's own data set, wherever the checkout lives (a fixed absolute path works on one machine)."""

CODES = checks.REFUSING_CODES
one_family = is_one_family  # the script's old name for the thin-film test on recorded measurements


# --------------------------------------------------------------------------- simulated negatives


def _profile(x, center, fwhm, eta):
    s = fwhm / 2.3548
    g = np.exp(-0.5 * ((x - center) / s) ** 2)
    lor = 1.0 / (1.0 + ((x - center) / (fwhm / 2)) ** 2)
    return eta * lor + (1 - eta) * g


def _noisy(rng, clean):
    """Background + counting noise at 500–50000 counts on the top (as the simulator's range)."""
    counts = 10 ** rng.uniform(np.log10(500), np.log10(50000))
    y = clean / clean.max() * counts
    return rng.poisson(np.clip(y, 0, None)).astype(np.float64)


def _background(rng, x, level):
    t = (x - x[0]) / (x[-1] - x[0])
    return level * (1 + rng.uniform(-0.5, 0.5) * t + rng.uniform(0, 1.5) * np.exp(-x / rng.uniform(5, 15)))


def _two_theta(q, lam):
    s = q * lam / (4 * np.pi)
    return np.where(s < 1, 2 * np.degrees(np.arcsin(np.clip(s, 0, 1))), np.nan)


def _lines(row, grid, k):
    """The ``k`` strongest lines (2θ, relative height) of a validation pattern (the shared peak finder)."""
    pk = find_peaks(row, grid, PeakFinderConfig())
    order = np.argsort(-pk.height)[:k]
    return pk.two_theta_deg[order], pk.height[order] / max(pk.height.max(), 1e-12)


def _add_line(rng, x, y, t, h, fwhm, eta, lam):
    """A line with its Kα2 partner (ratio ~0.5)."""
    y += h * _profile(x, t, fwhm, eta)
    t2 = _two_theta(q_inv_angstrom_from_two_theta(np.array([t]), lam) * lam / 1.54439, lam)[0]
    if np.isfinite(t2):
        y += 0.5 * h * _profile(x, t2, fwhm, eta)


def make_amorphous(rng, grid, lam):
    x = grid
    y = _background(rng, x, rng.uniform(0.02, 0.3))
    for _ in range(rng.integers(1, 4)):
        y = y + rng.uniform(0.3, 1.0) * _profile(x, rng.uniform(15, 60), rng.uniform(5, 10), 0.0)
    top = y.max()
    for _ in range(rng.integers(0, 3)):  # 0-2 weak sharp peaks (2-15 % of the hump)
        _add_line(rng, x, y, rng.uniform(10, 85), rng.uniform(0.02, 0.15) * top, rng.uniform(0.08, 0.3),
                  rng.uniform(0.1, 0.9), lam)
    return x, _noisy(rng, y)


def make_thin_film(rng, grid, lam, row):
    """2–4 orders n·Q₁ of one reflection (a strong line of a validation pattern, or its first order)."""
    t_lines, _ = _lines(row, grid, 5)
    x = grid
    for _ in range(50):
        t1 = float(rng.choice(t_lines)) if len(t_lines) and rng.random() < 0.5 else float(rng.uniform(8, 35))
        q1 = q_inv_angstrom_from_two_theta(np.array([t1]), lam)[0]
        k = int(rng.integers(2, 5))
        t = _two_theta(q1 * np.arange(1, k + 1), lam)
        if np.all(np.isfinite(t)) and t[-1] < grid[-1] - 1 and t[0] > grid[0] + 1:
            break
    else:
        t = np.array([20.0, 40.9])
    y = _background(rng, x, rng.uniform(0.001, 0.05))
    fwhm, eta = rng.uniform(0.03, 0.3), rng.uniform(0.1, 0.9)
    heights = np.sort(rng.uniform(0.05, 1.0, len(t)))[::-1]
    heights[0] = 1.0
    order = rng.permutation(len(t)) if rng.random() < 0.3 else np.arange(len(t))  # not always decreasing
    for ti, h in zip(t, heights[order]):
        _add_line(rng, x, y, ti, h, fwhm * (1 + 0.3 * ti / 90), eta, lam)
    return x, _noisy(rng, y)


def make_too_few(rng, grid, lam, row):
    """0–2 of a validation pattern's strongest lines on background and noise."""
    k = int(rng.integers(0, 3))
    t_lines, h_lines = _lines(row, grid, 2)
    x = grid
    y = _background(rng, x, rng.uniform(0.005, 0.1))
    fwhm, eta = rng.uniform(0.04, 0.3), rng.uniform(0.1, 0.9)
    for ti, h in list(zip(t_lines, h_lines))[:k]:
        _add_line(rng, x, y, ti, h, fwhm, eta, lam)
    return x, _noisy(rng, y)


def make_low_coverage(rng, grid, row):
    share = rng.uniform(0.05, 0.19)
    width = share * (grid[-1] - grid[0])
    lo = rng.uniform(grid[0], grid[-1] - width)
    keep = (grid >= lo) & (grid <= lo + width)
    return grid[keep], row[keep] * 1000 + 1


def make_q_axis(grid, row, lam):
    return q_inv_angstrom_from_two_theta(grid, lam), row * 1000 + 1


# --------------------------------------------------------------------------- main


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--n", type=int, default=4000, help="validation patterns (seeded subset)")
    ap.add_argument("--n-neg", type=int, default=500, help="simulated negatives per check")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-frr", type=float, default=0.01)
    ap.add_argument("--rruff", default="../shared/data/rruff")
    ap.add_argument("--film", default="../shared/data/formats/xrdml/nomad_m54313_om2th_10.xrdml")
    ap.add_argument("--out", default="reports/checks_calibration.json")
    args = ap.parse_args(argv)

    from xrdnet.data.reader import PatternDataset

    t0 = time.time()
    ds = PatternDataset(args.data)
    grid = np.asarray(ds.two_theta_deg, dtype=np.float64)
    lam = float(ds.attrs["kalpha1_angstrom"])
    val = ds.indices("val", "compound")
    rng = np.random.default_rng(args.seed)
    chosen = rng.permutation(val)
    pos_rows = np.sort(chosen[: args.n])
    neg_rows = chosen[args.n: args.n + args.n_neg]
    if len(neg_rows) < args.n_neg:  # small data sets: reuse rows for the negatives' lines
        neg_rows = rng.choice(val, args.n_neg)
    thresholds = {k: getattr(checks, k) for k in checks.THRESHOLD_NAMES}

    # 1. genuine single-phase validation patterns
    pos, pos_codes = [], []
    for start in range(0, len(pos_rows), 500):
        block = ds.read_patterns(pos_rows[start: start + 500], dtype=np.float64)
        for row in block:
            code, m = run_checks(grid, row * 1000.0, grid, lam)
            pos.append(m)
            pos_codes.append(code)
    print(f"{len(pos)} validation patterns checked ({time.time() - t0:.0f} s)", file=sys.stderr)

    # 2. simulated negatives
    nrng = np.random.default_rng(args.seed + 1)
    neg_block = ds.read_patterns(np.sort(neg_rows), dtype=np.float64)
    negs: dict[str, list] = {c: [] for c in CODES}
    neg_codes: dict[str, list] = {c: [] for c in CODES}
    for row in neg_block:
        for code, (x, y, src) in {
            "amorphous": (*make_amorphous(nrng, grid, lam), "argument"),
            "thin_film": (*make_thin_film(nrng, grid, lam, row), "argument"),
            "too_few_peaks": (*make_too_few(nrng, grid, lam, row), "argument"),
            "low_coverage": (*make_low_coverage(nrng, grid, row), "argument"),
            "x_axis_not_2theta": (*make_q_axis(grid, row, lam), "default"),
        }.items():
            got, m = run_checks(x, y, grid, lam, wavelength=None if src == "default" else lam, x_unit_source=src)
            negs[code].append(m)
            neg_codes[code].append(got)
    print(f"negatives checked ({time.time() - t0:.0f} s)", file=sys.stderr)

    # 3. sweeps and the rule
    sweeps = sweep(pos, negs, lam)
    decisions = {}
    for name, rows in sweeps.items():
        keys = [k.strip() for k in name.split(",")]
        current = [thresholds[k] for k in keys] if len(keys) > 1 else thresholds[keys[0]]
        best, verdict = choose(rows, current, args.max_frr)
        cur = next((r for r in rows if r["value"] == current), None)
        ok = [r for r in rows if r["frr"] <= args.max_frr]
        sensitive = max(ok, key=lambda r: (r["detection"], -r["frr"])) if ok else None
        decisions[name] = {"most_sensitive_meeting_rule": sensitive, "in_force": current, "in_force_frr": cur and cur["frr"],
                           "in_force_detection": cur and cur["detection"], "rule_choice": best and best["value"],
                           "rule_choice_frr": best and best["frr"], "rule_choice_detection": best and best["detection"],
                           "verdict": verdict}

    # rates of the thresholds in force, from check_pattern itself
    pos_codes_a = np.array([c or "" for c in pos_codes])
    in_force = {}
    for code in CODES:
        got = np.array([c or "" for c in neg_codes[code]])
        in_force[code] = {"false_refusal_rate": float(np.mean(pos_codes_a == code)),
                          "detection_rate": float(np.mean(got == code)),
                          "refused_any_reason": float(np.mean(got != ""))}
    total_frr = float(np.mean(pos_codes_a != ""))

    # 4. evaluation only: measured patterns (nothing is chosen on them)
    from xrdnet.patterns_io import read_pattern

    evaluation = {}
    rruff = Path(args.rruff)
    files = sorted(rruff.glob("*.xy")) if rruff.is_dir() else []
    if files:
        counts = {c: 0 for c in CODES}
        refused = 0
        for f in files:
            p = read_pattern(f)
            code, _ = run_checks(p.two_theta_deg, p.intensity, grid, lam, wavelength=p.wavelength_angstrom,
                                 metadata=p.metadata)
            if code:
                refused += 1
                counts[code] = counts.get(code, 0) + 1
        evaluation["rruff"] = {"n": len(files), "refused": refused, "refusal_rate": refused / len(files),
                               "by_code": counts}
    film = Path(args.film)
    if film.is_file():
        p = read_pattern(film)
        code, m = run_checks(p.two_theta_deg, p.intensity, grid, lam, wavelength=p.wavelength_angstrom,
                             metadata=p.metadata)
        evaluation["thin_film_file"] = {"file": film.name, "refused_by": code, "sharp_peaks": m and m["n"]}

    n_pos = np.array([m["n"] for m in pos])
    hump_pos = np.array([m["hump"] for m in pos])
    measured = {"sharp_peaks_percentiles_0_1_5_50": np.percentile(n_pos, [0, 1, 5, 50]).tolist(),
                "hump_ratio_percentiles_50_99_max": [float(np.percentile(hump_pos, 50)),
                                                     float(np.percentile(hump_pos, 99)), float(hump_pos.max())],
                "one_family_share": float(np.mean([one_family(m, lam) for m in pos]))}
    report = {
        "rule": f"each refusing check's false-refusal rate on simulated single-phase validation patterns "
                f"≤ {100 * args.max_frr:g} %; the value in force is kept when it meets the rule, otherwise the "
                "most sensitive value (detection on simulated negatives) that meets it",
        "data": {"file": recorded_path(args.data), "split": "val (compound)", "n_validation": len(pos),
                 "n_negatives_per_check": args.n_neg, "seed": args.seed},
        "thresholds_in_force": thresholds,
        "decisions": decisions,
        "in_force_rates": in_force,
        "validation_refused_any_reason": total_frr,
        "validation_measurements": measured,
        "sweeps": sweeps,
        "evaluation_only": evaluation,
        "command": "OMP_NUM_THREADS=1 python scripts/calibrate_checks.py " + recorded_command(argv or sys.argv[1:]),
        "seconds": round(time.time() - t0, 1),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1, default=float) + "\n")

    print(f"\nrule: {report['rule']}")
    print(f"{'check':<20} {'false refusals (val)':>21} {'detection (sim. neg.)':>22}")
    for code in CODES:
        r = in_force[code]
        print(f"{code:<20} {100 * r['false_refusal_rate']:>20.2f}% {100 * r['detection_rate']:>21.1f}%"
              f"   (refused for any reason: {100 * r['refused_any_reason']:.1f} %)")
    print(f"{'any check':<20} {100 * total_frr:>20.2f}%")
    print("\nthreshold                                   in force     FRR    det.   rule choice    FRR    det.  verdict")
    for name, d in decisions.items():
        def f(v):
            return "-" if v is None else f"{100 * v:.1f}%"
        print(f"{name:<42} {str(d['in_force']):>10} {f(d['in_force_frr']):>7} {f(d['in_force_detection']):>7} "
              f"{str(d['rule_choice']):>12} {f(d['rule_choice_frr']):>7} {f(d['rule_choice_detection']):>7}  {d['verdict']}")
    for name, d in decisions.items():
        r = d["most_sensitive_meeting_rule"]
        if r is not None and r["value"] != d["in_force"]:
            print(f"  (most sensitive value meeting the rule: {name} = {r['value']}: false refusals "
                  f"{100 * r['frr']:.2f} %, detection {100 * r['detection']:.1f} %)")
    print(f"validation measurements: {measured}")
    if "rruff" in evaluation:
        e = evaluation["rruff"]
        print(f"\nevaluation only: RRUFF {e['refused']}/{e['n']} refused ({100 * e['refusal_rate']:.1f} %): "
              + ", ".join(f"{k} {v}" for k, v in e["by_code"].items() if v))
    if "thin_film_file" in evaluation:
        e = evaluation["thin_film_file"]
        print(f"evaluation only: {e['file']}: refused by {e['refused_by']} ({e['sharp_peaks']} sharp peaks)")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
