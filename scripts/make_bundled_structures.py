"""Make the small real-structure set bundled in the package (``xrdnet/data/bundled/``).

The quickstart and the tests must run on a fresh machine without ``../shared/``, so a few thousand
real structures travel inside the package. This script draws them, reproducibly, from the shared
JSON-lines files:

    xrdnet simulate --config configs/real.yaml --out data/real.h5      # labels every record once
    python scripts/make_bundled_structures.py --labels data/real.h5 --structures ../shared/data/structures \
        --out xrdnet/data/bundled --n-mp 2000 --n-amcsd 1000 --seed 0

Selection (no measured pattern is looked at):
* the labels come from a data set that ``xrdnet simulate`` made from the same files (spglib,
  symprec 0.1; its ``/structures/source_index`` is the record's position), so records it skipped
  are skipped here too and nothing is parsed twice;
* at most ``--max-sites`` (site, species) slots per cell, so the quickstart renders fast;
* one structure per (compound, space group) pair, so AMCSD's pressure/temperature series and a
  compound present in both databases count once (the first record wins: MP before AMCSD);
* then a seeded random draw of ``--n-mp`` Materials Project and ``--n-amcsd`` AMCSD structures.
The records are copied verbatim (id, formula, mineral, CIF text) in file order, into files of the
same names as the shared ones (so sources read ``mp_structures:mp-…`` and ``amcsd_minerals:…`` and
``data.include_sources`` works the same on both).
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

import numpy as np

from xrdnet.data.reader import PatternDataset, source_name
from xrdnet.data.splits import compound_space_group_key
from xrdnet.structures.jsonl import iter_raw_records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labels", required=True, help="xrdnet data set simulated from the same two files")
    parser.add_argument("--structures", default="../shared/data/structures")
    parser.add_argument("--out", default="xrdnet/data/bundled", help="output folder")
    parser.add_argument("--n-mp", type=int, default=2000)
    parser.add_argument("--n-amcsd", type=int, default=1000)
    parser.add_argument("--max-sites", type=int, default=48)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    files = {"mp_structures": Path(args.structures) / "mp_structures.jsonl.gz",
             "amcsd_minerals": Path(args.structures) / "amcsd_minerals.jsonl.gz"}
    wanted = {"mp_structures": args.n_mp, "amcsd_minerals": args.n_amcsd}
    seen: set[str] = set()
    candidates: dict[str, list[int]] = {name: [] for name in files}
    with PatternDataset(args.labels) as ds:
        site_count = ds.records().site_count
        for row in np.argsort(ds._h5["structures/source_index"][()], kind="stable"):
            unit = int(ds._h5["structures/source_index"][row])
            if site_count[row] > args.max_sites:
                continue
            key = compound_space_group_key(ds.formula[row], ds.space_group[row])
            if key in seen:
                continue
            seen.add(key)
            candidates[source_name(ds.source[row])].append(unit)
    rng = np.random.default_rng(args.seed)
    chosen: set[int] = set()
    for name, units in candidates.items():
        take = min(wanted[name], len(units))
        chosen.update(int(u) for u in rng.choice(units, size=take, replace=False))
        print(f"{name}: {len(units)} distinct candidates, {take} chosen")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    handles = {}
    counts = dict.fromkeys(files, 0)
    try:
        for name in files:
            # mtime=0 keeps the gzip bytes identical from run to run.
            raw = open(out / f"{name}.jsonl.gz", "wb")
            handles[name] = (raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0))
        names = list(files)
        sizes = [sum(1 for _ in iter_raw_records([path])) for path in files.values()]
        for rec in iter_raw_records(list(files.values())):
            if rec.unit in chosen:
                name = names[0] if rec.unit < sizes[0] else names[1]
                record = json.loads(rec.text)
                handles[name][1].write((json.dumps(record, sort_keys=True) + "\n").encode())
                counts[name] += 1
    finally:
        for raw, handle in handles.values():
            handle.close()
            raw.close()
    for name, n in counts.items():
        path = out / f"{name}.jsonl.gz"
        print(f"wrote {n} records to {path} ({path.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
