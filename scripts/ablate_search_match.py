"""Does pooling with search-match pay, and with which settings? Measured on labelled scans and held-out compounds.

    python scripts/ablate_search_match.py --real ../shared/data/rruff --data data/real.h5 \
        [--checkpoint CKPT] [--held-out 1000] [--out bench_results/search_match.json]

The checkpoint's answer without search-match (networks pooled with the forest, as ``predict`` gives it with its
``match_pool`` removed) is pooled with the vote of a reference library built from ``--data``'s training structures
(``scripts/make_reference_library.py``) for each library setting and pool weight below, on

- the measured validation scans of ``--real`` (each read and put on the model grid as ``predict`` does), and
- ``--held-out`` simulated patterns of the validation split (split by compound, as the networks': compounds
  neither the networks nor the library hold; a seeded sample), and
- the measured scans cut to the laboratory ranges of ``CUT_RANGES_DEG`` (zero outside, renormalised: what a
  shorter scan gives), where a few broad low-angle lines resemble many references.

Every row gives crystal-system accuracy, balanced accuracy and space-group accuracy on both, beside the constant
answer. Weight 0 is the checkpoint without search-match, weight 1 the library's vote alone. Search-match is
deterministic: no seed to vary; the two sets are the check against choosing on one.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

WEIGHTS = (0.0, 0.25, 0.4, 0.5, 0.6, 0.75, 1.0)
LIBRARY_VARIANTS = {  # settings that change the rendered vectors, or the structures in: one library each
    "default": ({}, ()),
    "position error 0.05°": ({"position_error_deg": 0.05}, ()),
    "position error 0.12°": ({"position_error_deg": 0.12}, ()),
    "scale ±1.5 %": ({"max_scale_change": 0.015}, ()),
    "scale ±7 %": ({"max_scale_change": 0.07}, ()),
    "intensity power 1": ({"intensity_power": 1.0}, ()),
    # no AMCSD mineral in the library: how much of the measured gain is finding the mineral itself
    "Materials Project structures only": ({}, ("mp_structures",)),
}
VOTE_VARIANTS = {  # settings of the vote alone, on the default library's matches
    "1 neighbour": {"neighbours": 1},
    "20 neighbours, τ 0.01": {"neighbours": 20, "vote_temperature": 0.01},
    "contrast 0-0.2": {"trust_full": 0.2},
    "contrast with the 20th best": {"contrast_rank": 20},
    "trust from the best similarity, 0.4-0.8": {"trust_measure": "similarity", "trust_from": 0.4, "trust_full": 0.8},
    "trust from the best similarity, 0.5-0.9": {"trust_measure": "similarity", "trust_from": 0.5, "trust_full": 0.9},
}
K_SEARCHED = 50
CUT_RANGES_DEG = ((20.0, 60.0), (5.0, 50.0), (30.0, 90.0))
"""Laboratory scan ranges the measured scans are also cut to (``xrdnet.simulate.coverage.crop_to_range``)."""


SIMILARITY_BANDS = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.01)


def similarity_bands(library, matches: dict, sets: dict) -> dict:
    """How often the best reference's crystal system and space group are right, by its similarity (printed)."""
    out = {}
    for name, (_, cs_true, sg_true) in sets.items():
        best = matches[name].similarity[:, 0]
        cs = library.crystal_system[matches[name].index[:, 0]]
        sg = library.space_group[matches[name].index[:, 0]]
        print(f"\n{name}: the best reference alone, by its similarity\n\n| similarity | n | CS right | SG right |\n"
              "|---|---:|---:|---:|")
        rows = []
        for lo, hi in zip(SIMILARITY_BANDS[:-1], SIMILARITY_BANDS[1:]):
            m = (best >= lo) & (best < hi)
            row = {"from": lo, "to": min(hi, 1.0), "n": int(m.sum()),
                   "cs_acc": float(np.mean(cs[m] == cs_true[m])) if m.any() else None,
                   "sg_acc": float(np.mean(sg[m] == sg_true[m])) if m.any() else None}
            rows.append(row)
            if m.any():
                print(f"| {lo:.1f}–{min(hi, 1.0):.1f} | {row['n']} | {100 * row['cs_acc']:.1f} % | "
                      f"{100 * row['sg_acc']:.1f} % |")
        out[name] = rows
    print()
    return out


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from ablate_forest_pool import predicted_rows
    from ablate_test_time_shifts import figures
    from make_reference_library import build

    from xrdnet.api import Predictor, default_checkpoint
    from xrdnet.checkpoint.match_pool import MatchPool
    from xrdnet.data.reader import PatternDataset
    from xrdnet.search_match import MatchSettings
    from xrdnet.simulate.coverage import crop_to_range
    from xrdnet.symmetry import crystal_system_index

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, required=True, help="folder of labelled scans (labels.csv)")
    parser.add_argument("--data", type=Path, required=True, help="the checkpoint's training data set (HDF5)")
    parser.add_argument("--checkpoint", default=None, help="checkpoint folder (default: the shipped one)")
    parser.add_argument("--held-out", type=int, default=1000, help="simulated validation patterns (0 = none)")
    parser.add_argument("--only", action="append", default=None, choices=list(LIBRARY_VARIANTS),
                        help="measure only these library variants (repeat; default all)")
    parser.add_argument("--out", type=Path, default=Path("bench_results/search_match.json"))
    args = parser.parse_args(argv)

    predictor = Predictor(args.checkpoint or default_checkpoint())
    predictor.match_pool = None  # the answer as it stands without search-match
    sets = {}
    _, _, rows, sg_true = predicted_rows(predictor, args.real)
    sets["measured"] = (rows, np.array([crystal_system_index(int(g)) for g in sg_true]), sg_true)
    if args.held_out:
        with PatternDataset(args.data) as ds:
            if not np.allclose(ds.two_theta_deg, predictor.grid):
                raise ValueError(f"{args.data}: its grid is not the checkpoint's")
            val = ds.indices("val", "compound")
            pick = np.sort(np.random.default_rng(0).choice(val, min(args.held_out, len(val)), replace=False))
            patterns = ds.read_patterns(pick)
            sets["held-out"] = (patterns / np.maximum(patterns.max(axis=1, keepdims=True), 1e-12),
                                ds.pattern_crystal_system()[pick], ds.pattern_space_group()[pick])
    for lo, hi in CUT_RANGES_DEG:  # the measured scans as a shorter laboratory scan would have seen them
        sets[f"measured {lo:.0f}-{hi:.0f}°"] = (crop_to_range(rows, predictor.grid, lo, hi), *sets["measured"][1:])
    base = {name: predictor.probabilities(x) for name, (x, _, _) in sets.items()}
    constant = {name: float(np.mean(cs == np.bincount(cs, minlength=7).argmax())) for name, (_, cs, _) in sets.items()}
    report = {"checkpoint": predictor.info.name, "sets": {n: len(s[1]) for n, s in sets.items()},
              "constant_cs_acc": constant, "rows": []}

    def measure(variant: str, pool: MatchPool, matches: dict) -> None:
        for w in WEIGHTS:
            pool.weight = w
            entry = {"variant": variant, "weight": w}
            for name, (_, cs_true, sg_true) in sets.items():
                entry[name] = figures(*pool.combine(*base[name], matches[name]), cs_true, sg_true)
            report["rows"].append(entry)
            print("| " + " | ".join([variant, f"{w:.2f}"] + [
                f"{100 * entry[n]['cs_acc']:.1f} / {100 * entry[n]['cs_bal']:.1f} / {100 * entry[n]['sg_acc']:.1f}"
                for n in sets]) + " |", flush=True)

    print(f"\n{report['checkpoint']}; constant answer: " + ", ".join(f"{n} {100 * c:.1f} %" for n, c in constant.items())
          + "\n\n| variant | weight | " + " | ".join(f"{n}: CS / balanced / SG" for n in sets) + " |\n|---|---:|"
          + "---:|" * len(sets))
    for variant, (change, sources) in LIBRARY_VARIANTS.items():
        if args.only and variant not in args.only:
            continue
        library = build(args.data, settings=MatchSettings(**change), sources=sources)
        pool = MatchPool(library, 0.5)
        matches = {name: pool.matches(x, predictor.grid, predictor.wavelength_angstrom, K_SEARCHED)
                   for name, (x, _, _) in sets.items()}
        measure(variant, pool, matches)
        if variant == "default":
            report["by_similarity"] = similarity_bands(library, matches, sets)
            shipped = library.settings
            for vote_variant, vote_change in VOTE_VARIANTS.items():
                library.settings = replace(shipped, **vote_change)
                measure(vote_variant, pool, matches)
            library.settings = shipped
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
