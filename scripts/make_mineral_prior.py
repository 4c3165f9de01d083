"""Write the ``minerals`` prior of ``xrdnet predict --prior minerals``: space-group frequencies of AMCSD minerals.

The AMCSD structures of the shared folder (``../shared/data/structures/amcsd_minerals.jsonl.gz``) are
labelled by spglib at symprec 0.1 when a data set is built, so the labels are read from a data set
built from them (``configs/real.yaml``: ``data/real.h5``), not from the CIFs' declared symbols. Each
distinct (mineral name, space group) pair counts once, so a pressure or temperature series of one
mineral weighs as one mineral. RRUFF is not read (it is evaluation data).

    python scripts/make_mineral_prior.py --data data/real.h5 --out xrdnet/priors/minerals_amcsd.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import h5py
import numpy as np


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="HDF5 data set built from the shared structures (configs/real.yaml)")
    parser.add_argument("--source", default="amcsd_minerals", help="structure source to count (default amcsd_minerals)")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "xrdnet/priors/minerals_amcsd.json"))
    args = parser.parse_args(argv)
    with h5py.File(args.data, "r") as f:
        source = [s.decode() for s in f["structures/source"][:]]
        name = [s.decode() for s in f["structures/name"][:]]
        formula = [s.decode() for s in f["structures/formula"][:]]
        sg = f["structures/space_group"][:].astype(int)
    pairs = set()
    for src, nm, fm, g in zip(source, name, formula, sg):
        if src.split(":", 1)[0] == args.source:
            pairs.add(((nm or fm).strip().lower(), int(g)))
    counts = np.bincount([g for _, g in pairs], minlength=231)[1:]
    out = {
        "description": f"space-group counts of distinct (mineral, space group) pairs of the {args.source} "
                       f"structures in {Path(args.data).name} (spglib labels, symprec 0.1)",
        "n_structures": int(sum(s.split(':', 1)[0] == args.source for s in source)),
        "n_pairs": len(pairs),
        "space_group_counts": {str(g + 1): int(c) for g, c in enumerate(counts) if c},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.out}: {len(pairs)} (mineral, space group) pairs, {np.count_nonzero(counts)} space groups")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
