"""What a model was trained on, recorded inside the model file of every kind (``models.registry``).

Each kind's train entry stores this dict with its weights (``model.ckpt``'s ``xrdnet.provenance``,
``forest.skops``'s ``provenance``), so a model copied away from its run folder still says what data made it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from xrdnet.config import recorded_path


def data_provenance(config, data_path: str | Path, train_rows: np.ndarray | None = None) -> dict:
    """What a model was trained on, stored inside the model file itself (``xrdnet`` key of
    ``model.ckpt``, ``provenance`` of ``forest.skops``), so a checkpoint copied away from its run
    folder still says so: the data set (path, size, seed, source, version and config digest of the
    file), the split and sampling settings, and a digest of the training rows."""
    import hashlib

    from xrdnet.data.reader import PatternDataset

    data_path = Path(data_path)
    with PatternDataset(data_path) as ds:
        attrs = dict(ds.attrs)
        n_patterns, n_structures = int(len(ds.structure_index)), int(len(ds.space_group))
    keep = ("source", "seed", "xrdnet_version", "schema_version", "wavelength", "patterns_per_structure", "shard")
    prov = {
        "data_file": recorded_path(data_path),  # relative: the checkpoint travels, the machine does not
        "data_bytes": data_path.stat().st_size,
        "n_patterns": n_patterns,
        "n_structures": n_structures,
        "data_attrs": {k: str(attrs[k]) for k in keep if k in attrs},
        "data_config_sha256": hashlib.sha256(str(attrs.get("config", "")).encode()).hexdigest(),
        "split_kind": config.data.split_kind,
        "include_sources": list(config.data.include_sources),
        "max_train": config.data.max_train,
        "sample_weights": config.data.sample_weights,
        "seed": config.seed,
    }
    if train_rows is not None:
        rows = np.ascontiguousarray(np.asarray(train_rows, np.int64))
        prov["n_train"] = int(len(rows))
        prov["train_rows_sha256"] = hashlib.sha256(rows.tobytes()).hexdigest()
    return prov
