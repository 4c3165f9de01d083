"""``xrdnet merge``: join the shards of one run into a single data set without copying patterns.

Each ``xrdnet simulate --shard I/N`` writes a complete, self-contained file for its range of units.
The merged file maps ``/patterns`` onto the shards' ``/patterns`` through an HDF5 virtual data set
(the bulk of the data is never copied) and holds real copies of the small arrays (labels, splits,
structures, with the shards' structure rows re-based). Shards must come from the same config and
cover every unit exactly once; the merged file then equals what one unsharded run writes.

The virtual data set names its sources by paths relative to the merged file, so keep the shards
beside it (moving the folder as a whole is fine; HDF5 resolves relative sources from the virtual
file's own folder).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np

from xrdnet.data import hdf5 as h5io
from xrdnet.data.records import StructureRecords


def merge_shards(out: str | Path, shards: Sequence[str | Path], overwrite: bool = False) -> Path:
    """Write ``out``, a virtual data set over ``shards`` (any order), and return its path."""
    import h5py

    out = Path(out)
    if not shards:
        raise ValueError("merge needs at least one shard file")
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} already exists: delete it or choose another output")
    infos = []
    for path in map(Path, shards):
        if path.resolve() == out.resolve():
            raise ValueError(f"{path}: the output cannot also be a shard")
        with h5io.open_dataset_file(path, "shard") as h5:
            if h5["patterns"].is_virtual:
                raise ValueError(f"{path} is itself a merged (virtual) data set; merge the original shards")
            attrs = dict(h5.attrs)
            infos.append({
                "path": path,
                "config": json.loads(attrs["config"]),
                "shard": str(attrs.get("shard", "0/1")),
                "start": int(attrs["unit_start"]),
                "stop": int(attrs["unit_stop"]),
                "attrs": attrs,
                "n_patterns": h5["patterns"].shape[0],
                "n_points": h5["patterns"].shape[1],
                "dtype": h5["patterns"].dtype,
                "records": h5io.read_records(h5),
                "split": h5["structures/split"][()],
                "split_by_type": h5["structures/split_by_type"][()],
                "structure_index": h5["pattern/structure_index"][()],
                "pattern_id": h5["pattern/id"][()],
                "two_theta_deg": h5["two_theta_deg"][()],
                "skipped": h5io.read_skipped(h5),
                "generation": json.loads(attrs.get("generation", "{}") or "{}"),
            })
    _check_compatible(infos)
    infos.sort(key=lambda i: i["start"])

    records = StructureRecords.concatenate([i["records"] for i in infos])
    n_total = sum(i["n_patterns"] for i in infos)
    n_points, dtype = infos[0]["n_points"], infos[0]["dtype"]
    layout = h5py.VirtualLayout(shape=(n_total, n_points), dtype=dtype)
    row = 0
    for info in infos:
        n = info["n_patterns"]
        if n:
            relative = os.path.relpath(info["path"].resolve(), out.resolve().parent)
            layout[row : row + n] = h5py.VirtualSource(relative, "patterns", shape=(n, n_points))
        row += n
    offsets = np.cumsum([0] + [len(i["records"]) for i in infos[:-1]])
    generation = Counter()
    for info in infos:
        generation.update({k: v for k, v in info["generation"].items() if isinstance(v, (int, float))})
    attrs = dict(infos[0]["attrs"])
    attrs.update(
        shard="0/1",
        unit_start=infos[0]["start"],
        unit_stop=infos[-1]["stop"],
        generation=json.dumps(dict(generation), sort_keys=True),
        merged_from=json.dumps([os.path.relpath(i["path"].resolve(), out.resolve().parent) for i in infos]),
    )

    tmp = out.with_name(out.name + ".tmp")
    out.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(tmp, "w") as h5:
        for key, value in attrs.items():
            h5.attrs[key] = value
        h5io.write_records(
            h5, records, np.concatenate([i["split"] for i in infos]), np.concatenate([i["split_by_type"] for i in infos])
        )
        h5io.write_skipped(h5, [s for i in infos for s in i["skipped"]])
        h5.create_virtual_dataset("patterns", layout, fillvalue=0)
        h5.create_dataset(
            "pattern/structure_index", data=np.concatenate([i["structure_index"] + o for i, o in zip(infos, offsets)])
        )
        h5.create_dataset("pattern/id", data=np.concatenate([i["pattern_id"] for i in infos]))
        h5.create_dataset("two_theta_deg", data=infos[0]["two_theta_deg"])
    os.replace(tmp, out)
    return out


def _check_compatible(infos: list[dict]) -> None:
    """Same config, grid and shard count; every shard exactly once; unit ranges tile without gaps."""
    first = infos[0]
    for info in infos[1:]:
        if info["config"] != first["config"]:
            diff = sorted(k for k in set(info["config"]) | set(first["config"])
                          if info["config"].get(k) != first["config"].get(k))
            raise ValueError(f"{info['path']} was made with another config than {first['path']} (differs in: "
                             f"{', '.join(diff)})")
        if info["n_points"] != first["n_points"] or not np.array_equal(info["two_theta_deg"], first["two_theta_deg"]):
            raise ValueError(f"{info['path']} has another 2θ grid than {first['path']}")
        if info["dtype"] != first["dtype"]:
            raise ValueError(f"{info['path']} stores {info['dtype']} patterns, {first['path']} {first['dtype']}")
    counts = {int(i["shard"].split("/")[1]) for i in infos}
    if len(counts) != 1:
        raise ValueError(f"shards come from different --shard I/N splits: {sorted(i['shard'] for i in infos)}")
    n = counts.pop()
    seen = Counter(int(i["shard"].split("/")[0]) for i in infos)
    duplicated = sorted(k for k, v in seen.items() if v > 1)
    if duplicated:
        raise ValueError(f"shard(s) {', '.join(f'{k}/{n}' for k, v in seen.items() if v > 1)} given more than once")
    missing = sorted(set(range(n)) - set(seen))
    if missing:
        raise ValueError(f"missing shard(s) {', '.join(f'{k}/{n}' for k in missing)} of {n}")
    ordered = sorted(infos, key=lambda i: i["start"])
    for a, b in zip(ordered, ordered[1:]):
        if a["stop"] != b["start"]:
            raise ValueError(f"{a['path']} ends at unit {a['stop']} but {b['path']} starts at {b['start']}")
