"""Build the search-match reference library of a data set's training structures (``xrdnet.search_match``).

    python scripts/make_reference_library.py --data data/real.h5 --split-kind compound \
        --out xrdnet/checkpoints/xrdnet-cnn-real/reference/library.npz

Only structures of the training split go in (``--split train`` under ``--split-kind``, the split the networks
were trained with), so the simulated validation and test compounds stay unseen by the library as by the
networks. Lines come from the data set's stick cache (``<data>.sticks.h5``, built first when missing: the
merged peaks of pymatgen's ``XRDCalculator`` physics at the cache's wavelength).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def build(data: Path, split: str = "train", split_kind: str = "compound", settings=None, sources=()):
    """The ``ReferenceLibrary`` of ``data``'s ``split`` structures (only those of ``sources``, database names such
    as ``mp_structures``, when given)."""
    from xrdnet.data.reader import PatternDataset
    from xrdnet.models.search_match_run import build_library
    from xrdnet.search_match import MatchSettings

    with PatternDataset(data) as ds:
        rows = ds.indices(split, split_kind, tuple(sources))
        n_chosen, n_all = len(np.unique(ds.structure_index[rows])), ds.n_structures
    only = f" from {', '.join(sources)}" if sources else ""
    source = f"{Path(data).name}: the {n_chosen} {split} structures{only} of {n_all} (split by {split_kind})"
    return build_library(data, rows, settings or MatchSettings(), source)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="data set (HDF5) whose structures go in")
    parser.add_argument("--split", default="train", choices=("train", "val", "test"))
    parser.add_argument("--split-kind", default="compound", help="structure / structure_type / compound")
    parser.add_argument("--out", type=Path, required=True, help="library file (.npz)")
    args = parser.parse_args(argv)
    library = build(args.data, args.split, args.split_kind)
    path = library.save(args.out)
    print(f"{path}: {len(library)} structures, {len(library.ln_q_code)} lines, "
          f"{path.stat().st_size / 1e6:.1f} MB ({library.source})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
