"""``xrdnet train``: fit any registered model kind (``models.registry``: cnn, forest) on one data set and split.

A run folder holds everything needed to use and judge the model later: ``config.yaml`` (the
resolved train config), ``run.json`` (kind, data set, split, sizes, training time, validation
figures, xrdnet version, date), ``training_set.tsv.gz``, and what the kind stores (its
``run_files``: ``model.ckpt`` and CSV logs for the CNN, ``forest.skops`` for the forest). How a kind
trains lives in its own module (``models/cnn_run.py``, ``models/forest_run.py``); this module writes
the record every run shares and never asks which kind it runs.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from xrdnet import __version__
from xrdnet.config import save_config
from xrdnet.data.datamodule import DataConfig
from xrdnet.models import registry
from xrdnet.models.cnn import CNNConfig
from xrdnet.models.cnn_run import LAST_CHECKPOINT  # noqa: F401 - re-exported (scripts and tests import it here)
from xrdnet.models.forest import ForestConfig
from xrdnet.search_match import MatchSettings
from xrdnet.models.provenance import data_provenance  # noqa: F401 - re-exported: it lived here
# Lightning's precision names (plus "auto": bf16-mixed on CUDA when supported, 16-mixed otherwise, 32 on CPU).
PRECISIONS = ("auto", "32-true", "32", "16-mixed", "16", "bf16-mixed", "bf16", "16-true", "bf16-true", "64-true", "64")
ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps", "tpu")


@dataclass(frozen=True)
class TrainerConfig:
    """Lightning ``Trainer`` settings (the ``trainer:`` section). Multi-GPU / multi-node: set
    ``accelerator: gpu``, ``devices: 8``, ``num_nodes: 4``, ``strategy: ddp``; ``precision`` is
    ``auto`` (bf16-mixed on CUDA when supported, else 16-mixed; 32-true on CPU) or any Lightning value.

    ``monitor`` picks the best checkpoint and drives early stopping: ``val_loss``, ``val_cs_acc``,
    ``val_sg_acc`` (simulated validation split) or, with ``real_validation`` naming a folder of
    labelled measured patterns (``labels.csv``), ``val_real_cs_acc``, ``val_real_cs_bal`` or
    ``val_real_sg_acc`` (``xrdnet.models.callbacks.MeasuredValidation``; evaluation only)."""

    max_epochs: int = 30
    max_steps: int = -1
    accelerator: str = "auto"
    devices: int | str = "auto"
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str = "auto"
    early_stopping_patience: int = 6
    gradient_clip_val: float = 1.0
    log_every_n_steps: int = 20
    limit_val_batches: float = 1.0
    tensorboard: bool = False
    progress_bar: bool = True
    monitor: str = "val_loss"
    real_validation: str | None = None

    def __post_init__(self) -> None:
        # Checked here, when the YAML is read, not minutes later when the Trainer starts on a GPU node.
        if self.precision not in PRECISIONS:
            raise ValueError(f"trainer.precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.accelerator not in ACCELERATORS:
            raise ValueError(f"trainer.accelerator must be one of {ACCELERATORS}, got {self.accelerator!r}")
        if not (self.strategy in ("auto", "ddp_spawn", "ddp_notebook", "fsdp", "single_device")
                or self.strategy.startswith(("ddp", "deepspeed"))):
            raise ValueError(f"trainer.strategy must be auto, ddp (ddp_*), fsdp or deepspeed*, got {self.strategy!r}")
        devices_ok = (isinstance(self.devices, int) and (self.devices >= 1 or self.devices == -1)) or (
            isinstance(self.devices, str) and (self.devices == "auto" or self.devices.replace(",", "").replace(
                " ", "").lstrip("-").isdigit()))
        from xrdnet.models.callbacks import REAL_METRICS

        monitors = ("val_loss", "val_cs_acc", "val_sg_acc") + REAL_METRICS
        if self.monitor not in monitors:
            raise ValueError(f"trainer.monitor must be one of {monitors}, got {self.monitor!r}")
        if self.monitor in REAL_METRICS and not self.real_validation:
            raise ValueError(f"trainer.monitor {self.monitor} needs trainer.real_validation (a folder of labelled "
                             "measured patterns)")
        if not devices_ok or self.num_nodes < 1 or self.max_epochs < 1:
            raise ValueError(f"trainer.devices must be a count >= 1, -1 (all), 'auto' or a list like '0,1', "
                             f"num_nodes and max_epochs >= 1; got devices={self.devices!r}, "
                             f"num_nodes={self.num_nodes}, max_epochs={self.max_epochs}")


@dataclass(frozen=True)
class TrainConfig:
    """Everything ``xrdnet train`` needs besides the data path (a YAML file in ``configs/``).

    ``model`` is a registered kind (``models.registry.kind_names()``); ``cnn``, ``forest`` and ``search_match``
    are those kinds' settings sections (a kind without settings of its own needs none).
    """

    seed: int = 0
    model: str = "cnn"
    data: DataConfig = field(default_factory=DataConfig)
    cnn: CNNConfig = field(default_factory=CNNConfig)
    forest: ForestConfig = field(default_factory=ForestConfig)
    search_match: MatchSettings = field(default_factory=MatchSettings)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)

    def __post_init__(self) -> None:
        names = registry.kind_names()
        if self.model not in names:
            raise ValueError(f"model must be one of {names}, got {self.model!r}")
        if self.model == "cnn" and self.data.coverage.active and not self.data.fresh:
            from xrdnet.data.datamodule import COVERAGE_NEEDS_FRESH

            raise ValueError(COVERAGE_NEEDS_FRESH)


TRAINING_SET_FILE = "training_set.tsv.gz"


def write_training_set(data_path: str | Path, train_rows: np.ndarray, path: Path) -> dict:
    """Write the structures of the training split (source id, compound, name, space group) to ``path``.

    Accuracy on real patterns can then be split into compounds the model has and has not seen.
    Returns a summary for ``run.json`` (counts per source database, file name).
    """
    import gzip
    from collections import Counter

    from xrdnet.data.reader import PatternDataset, source_name
    from xrdnet.data.splits import compound_key

    with PatternDataset(data_path) as ds:
        structures = np.unique(ds.structure_index[np.asarray(train_rows, np.int64)])
        names = ds.records(structures).name
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            handle.write("source\tcompound\tname\tspace_group\n")
            for s, name in zip(structures.tolist(), names):
                handle.write(f"{ds.source[s]}\t{compound_key(ds.formula[s])}\t{name}\t{ds.space_group[s]}\n")
        per_source = Counter(source_name(ds.source[s]) for s in structures.tolist())
        compounds = {compound_key(ds.formula[s]) for s in structures.tolist()}
    return {"file": path.name, "n_structures": int(len(structures)), "n_compounds": len(compounds),
            "per_source": dict(per_source)}


def train(config: TrainConfig, data_path: str | Path, out: str | Path, keep_model: bool = False,
          max_seconds: float | None = None, resume: bool = False) -> dict:
    """Train ``config.model`` on ``data_path`` into run folder ``out``; returns the ``run.json`` dict
    (plus, with ``keep_model``, the trained model in memory under ``"model"`` when the kind returns it).

    ``max_seconds`` makes this call one leg of a longer run of a resumable kind (the CNN: it ends at an
    epoch boundary with ``run.json`` saying ``complete: false``); ``resume`` continues such a run
    (``resume_run``). A resumable kind's train entry reports ``train_seconds``, ``epochs`` and ``complete``.
    """
    out = Path(out)
    data_path = Path(data_path)
    if not data_path.is_file():
        raise FileNotFoundError(f"data set {data_path} not found (make one with xrdnet simulate)")
    kind = registry.get(config.model)
    if kind.resume_file is None and (resume or max_seconds is not None):
        resumable = [k for k in registry.kind_names() if registry.get(k).resume_file is not None]
        raise ValueError(f"--resume and --max-time are for models trained in legs ({', '.join(resumable)}): "
                         f"a {config.model} is fitted in one go")
    out.mkdir(parents=True, exist_ok=True)
    previous = json.loads((out / "run.json").read_text()) if (resume and (out / "run.json").is_file()) else {}
    save_config(config, out / "config.yaml")  # before training: a leg cut short can be resumed from it
    info = kind.train(config, data_path, out, max_seconds, resume)
    model = info.pop("_model", None)
    if not info.pop("is_global_zero", True):
        info.pop("train_rows", None)
        return info  # DDP: only rank 0 writes the run record
    if kind.resume_file is not None:
        legs = list(previous.get("legs", []))
        legs.append({"seconds": info["train_seconds"], "last_epoch": info["epochs"], "complete": info["complete"],
                     "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")})
        info["legs"] = legs
        info["train_seconds"] = float(sum(leg["seconds"] for leg in legs))
        if previous.get("real_validation") and info.get("real_validation") is not None:
            info["real_validation"] = previous["real_validation"] + info["real_validation"]
    training_set = write_training_set(data_path, info.pop("train_rows"), out / TRAINING_SET_FILE)
    run = {
        "kind": config.model,
        "name": out.name,
        "data": str(data_path),
        "split_kind": config.data.split_kind,
        "xrdnet_version": __version__,
        "training_set": training_set,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        **info,
    }
    (out / "run.json").write_text(json.dumps(run, indent=2, default=str))
    if keep_model and model is not None:
        return {**run, "model": model}
    return run


def resume_run(run: str | Path, data_path: str | Path | None = None, max_seconds: float | None = None) -> dict:
    """Continue the run in folder ``run`` (its ``config.yaml``, data set and the kind's resume file, the CNN's
    ``last.ckpt``) for one more leg."""
    from xrdnet.config import load_config

    run = Path(run)
    for name in ("config.yaml", "run.json"):
        if not (run / name).is_file():
            raise FileNotFoundError(f"{run}: no {name}; nothing to resume (was the run finished?)")
    config = load_config(run / "config.yaml", TrainConfig)
    resume_file = registry.get(config.model, run / "config.yaml").resume_file
    if resume_file is None:
        raise ValueError(f"{run}: a {config.model} run is fitted in one go; there is nothing to resume")
    if not (run / resume_file).is_file():
        raise FileNotFoundError(f"{run}: no {resume_file}; nothing to resume (was the run finished?)")
    data_path = data_path if data_path is not None else json.loads((run / "run.json").read_text())["data"]
    return train(config, data_path, run, max_seconds=max_seconds, resume=True)
