"""``xrdnet train``: fit the CNN (Lightning) or the forest (scikit-learn) on one data set and split.

A run folder holds everything needed to use and judge the model later: ``config.yaml`` (the
resolved train config), ``run.json`` (kind, data set, split, sizes, training time, validation
figures, xrdnet version, date), and the model itself (``model.ckpt`` for the CNN, the best
validation checkpoint; ``forest.joblib`` for the forest), plus the CNN's CSV logs.
"""

from __future__ import annotations

import datetime as _dt
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from xrdnet import __version__
from xrdnet.config import recorded_path, save_config
from xrdnet.data.datamodule import DataConfig
from xrdnet.models.cnn import CNNConfig
from xrdnet.models.forest import ForestConfig

MODELS = ("cnn", "forest")
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
    """Everything ``xrdnet train`` needs besides the data path (a YAML file in ``configs/``)."""

    seed: int = 0
    model: str = "cnn"
    data: DataConfig = field(default_factory=DataConfig)
    cnn: CNNConfig = field(default_factory=CNNConfig)
    forest: ForestConfig = field(default_factory=ForestConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, got {self.model!r}")


def _precision(trainer: TrainerConfig, accelerator: str) -> str:
    import torch

    if trainer.precision != "auto":
        return trainer.precision
    if accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available()):
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "32-true"


def data_provenance(config: TrainConfig, data_path: str | Path, train_rows: np.ndarray | None = None) -> dict:
    """What a model was trained on, stored inside the model file itself (``xrdnet`` key of
    ``model.ckpt``, ``provenance`` of ``forest.joblib``), so a checkpoint copied away from its run
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


LAST_CHECKPOINT = "last.ckpt"  # full state (optimizer, scheduler, loops, callbacks) of a leg's last epoch


def train_cnn(config: TrainConfig, data_path: str | Path, out: Path, max_seconds: float | None = None,
              resume: bool = False) -> dict:
    """Train the CNN; returns the ``run.json`` fields it measured.

    ``max_seconds`` ends this leg at the end of the epoch after which another one would not fit
    (``LegTimer``); ``resume`` continues from ``out/last.ckpt`` exactly: weights, optimizer,
    scheduler, epoch, early-stopping and checkpoint state. The samplers and fresh renders are
    functions of (seed, epoch) and dropout of (seed, step), so two legs give the weights one run does.
    """
    import lightning as L
    import torch
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger

    from xrdnet.data.datamodule import PatternDataModule
    from xrdnet.models.callbacks import LegTimer, MeasuredValidation, monitor_mode
    from xrdnet.models.cnn import CNNClassifier

    L.seed_everything(config.seed, workers=True, verbose=False)
    dm = PatternDataModule(data_path, config.data)
    lam = float(dm.attrs.get("kalpha1_angstrom") or dm.attrs.get("wavelength_angstrom"))
    model = CNNClassifier(config.cnn, dm.n_points, dm.two_theta_deg.tolist(), lam, {
        k: dm.attrs.get(k) for k in ("wavelength", "wavelength_angstrom", "kalpha1_angstrom", "kalpha2_angstrom",
                                     "two_theta_min_deg", "two_theta_max_deg", "two_theta_step_deg")})
    model.train_seed = config.seed
    if config.cnn.compile and hasattr(torch, "compile"):
        # In-place compile keeps the parameter names, so the checkpoint loads without torch.compile
        # (``torch.compile(model.net)`` would store every weight under ``net._orig_mod.``).
        model.net.compile()
    tc = config.trainer
    # A resumed leg logs beside the earlier ones (logs/leg2/, ...): Lightning's CSV logger would
    # otherwise replace logs/metrics.csv with the new leg's rows.
    leg = len(json.loads((out / "run.json").read_text()).get("legs", [])) + 1 if (
        resume and (out / "run.json").is_file()) else 1
    loggers = [CSVLogger(str(out), name="logs", version="" if leg == 1 else f"leg{leg}")]
    if tc.tensorboard:
        from lightning.pytorch.loggers import TensorBoardLogger

        loggers.append(TensorBoardLogger(str(out), name="tensorboard", version=""))
    mode = monitor_mode(tc.monitor)
    checkpoint = ModelCheckpoint(dirpath=str(out), filename="model", monitor=tc.monitor, mode=mode, save_top_k=1,
                                 save_last=True, enable_version_counter=False)
    checkpoint.CHECKPOINT_NAME_LAST = LAST_CHECKPOINT[: -len(".ckpt")]
    callbacks: list = [checkpoint]
    measured = None
    if tc.real_validation:
        measured = MeasuredValidation(tc.real_validation, dm.two_theta_deg, lam)
        callbacks.insert(0, measured)
    if tc.early_stopping_patience > 0:
        # strict=False: a run that stops before its first validation (max_steps) is not an error
        callbacks.append(EarlyStopping(monitor=tc.monitor, mode=mode, patience=tc.early_stopping_patience,
                                       strict=False))
    timer = None
    if max_seconds is not None:
        timer = LegTimer(max_seconds)
        callbacks.append(timer)
    trainer = L.Trainer(
        max_epochs=tc.max_epochs, max_steps=tc.max_steps, accelerator=tc.accelerator, devices=tc.devices,
        num_nodes=tc.num_nodes, strategy=tc.strategy, precision=_precision(tc, tc.accelerator),
        gradient_clip_val=tc.gradient_clip_val, log_every_n_steps=tc.log_every_n_steps, logger=loggers,
        callbacks=callbacks, use_distributed_sampler=False, enable_progress_bar=tc.progress_bar,
        limit_val_batches=tc.limit_val_batches, enable_model_summary=False, default_root_dir=str(out),
        num_sanity_val_steps=0 if resume else 2,
    )
    last = out / LAST_CHECKPOINT
    if resume and not last.is_file():
        raise FileNotFoundError(f"{out}: no {LAST_CHECKPOINT} to resume from (the run finished, or never "
                                "completed an epoch)")
    t0 = time.perf_counter()
    trainer.fit(model, datamodule=dm, ckpt_path=str(last) if resume else None)
    seconds = time.perf_counter() - t0
    stopped_for_time = bool(timer is not None and timer.stopped_for_time)
    if not checkpoint.best_model_path:  # same on every rank, so all of them join the collective save
        trainer.save_checkpoint(out / "model.ckpt")  # no validation ran (max_steps): keep the last weights
    if trainer.is_global_zero:
        # Keep weights and hyper-parameters only: the optimizer state would triple the file that
        # predict loads and that a checkpoint ships as (last.ckpt keeps it while a run has legs to go).
        from xrdnet.models.safe_load import load_checkpoint_file

        ckpt = load_checkpoint_file(out / "model.ckpt")
        slim = {k: ckpt[k] for k in ("state_dict", "hyper_parameters", "pytorch-lightning_version", "epoch",
                                     "global_step") if k in ckpt}
        # The model's version and its data travel with the weights (run.json may not).
        slim["xrdnet"] = {"version": __version__, "torch_version": str(torch.__version__),
                          "precision": str(trainer.precision), "world_size": int(trainer.world_size),
                          "compiled": bool(config.cnn.compile),
                          "provenance": data_provenance(config, data_path, dm.split_rows["train"])}
        torch.save(slim, out / "model.ckpt")
        if not stopped_for_time and last.is_file():
            last.unlink()  # finished: nothing to resume, and nothing a shipped run folder should carry
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}
    return {
        "train_seconds": seconds,
        "epochs": int(trainer.current_epoch),
        "global_step": int(trainer.global_step),
        "complete": not stopped_for_time,
        "n_train": len(dm.split_rows["train"]),
        "train_rows": dm.split_rows["train"],
        "n_val": len(dm.split_rows["val"]),
        "n_parameters": sum(p.numel() for p in model.net.parameters()),
        "monitor": tc.monitor,
        "best_score": float(checkpoint.best_model_score) if checkpoint.best_model_score is not None else None,
        "best_val_loss": _best_val_loss(out, checkpoint),
        "real_validation": measured.history if measured is not None else None,
        "last_metrics": metrics,
        "model_file": "model.ckpt",
        "world_size": int(trainer.world_size),
        "is_global_zero": bool(trainer.is_global_zero),
        "_model": model,
    }


def _best_val_loss(out: Path, checkpoint) -> float | None:
    """The validation loss of the kept checkpoint (its monitor may be another metric)."""
    if checkpoint.monitor == "val_loss":
        return float(checkpoint.best_model_score) if checkpoint.best_model_score is not None else None
    if checkpoint.best_model_score is None:
        return None
    import csv

    best = float(checkpoint.best_model_score)
    legs = sorted((out / "logs").glob("leg*/metrics.csv"), key=lambda p: int(p.parent.name[3:] or 0))
    # every leg's log in order: on a tie the checkpoint kept is the first epoch that reached the score
    for metrics in [out / "logs" / "metrics.csv", *legs]:
        if not metrics.is_file():
            continue
        with metrics.open(newline="") as handle:
            for row in csv.DictReader(handle):
                value = row.get(checkpoint.monitor) or ""
                if value and abs(float(value) - best) < 1e-9 and row.get("val_loss"):
                    return float(row["val_loss"])
    return None


def train_forest(config: TrainConfig, data_path: str | Path, out: Path) -> dict:
    """Fit the forest on the training split (all patterns or ``data.max_train``)."""
    from xrdnet.data.datamodule import sample_weights
    from xrdnet.data.reader import PatternDataset
    from xrdnet.evaluate import evaluate
    from xrdnet.models.forest import ForestModel

    block = 4096  # patterns featurised at a time: the full pattern matrix never sits in memory
    with PatternDataset(data_path) as ds:
        split_rows = {s: ds.indices(s, config.data.split_kind, config.data.include_sources) for s in ("train", "val")}
        train, val = split_rows["train"], split_rows["val"]
        if config.data.max_train and len(train) > config.data.max_train:
            rng = np.random.default_rng(config.data.seed)
            train = np.sort(rng.choice(train, config.data.max_train, replace=False))
        if len(train) == 0:
            raise ValueError(f"{data_path}: the {config.data.split_kind} split has no training patterns")
        lam = float(ds.attrs.get("kalpha1_angstrom") or ds.attrs.get("wavelength_angstrom"))
        cs, sg = ds.pattern_crystal_system(), ds.pattern_space_group()
        model = ForestModel(config.forest)

        def features(rows):
            return np.concatenate([model.featurize(ds.read_patterns(rows[a:a + block]), ds.two_theta_deg, lam)
                                   for a in range(0, len(rows), block)])

        weight = None
        if config.data.sample_weights != "none":
            structure = ds.structure_index[train]
            weight = sample_weights(config.data.sample_weights, [ds.formula[i] for i in structure],
                                    ds.space_group[structure], ds.crystal_system[structure])
        t0 = time.perf_counter()
        model.fit_features(features(train), ds.two_theta_deg, lam, cs[train], sg[train], sample_weight=weight)
        seconds = time.perf_counter() - t0
        model.fit_seconds = seconds
        model.provenance = data_provenance(config, data_path, train)
        val_metrics = {}
        if len(val):
            parts = [model.predict_proba(ds.read_patterns(val[a:a + block]), ds.two_theta_deg, lam)
                     for a in range(0, len(val), block)]
            full = evaluate(cs[val], sg[val], np.concatenate([p[0] for p in parts]),
                            np.concatenate([p[1] for p in parts]))
            val_metrics = {k: full[k] for k in ("cs_accuracy", "sg_accuracy", "sg_top5") if k in full}
    model.save(out)
    return {"train_seconds": seconds, "n_train": int(len(train)), "n_val": int(len(val)), "train_rows": train,
            "val_metrics": val_metrics, "model_file": "forest.joblib", "is_global_zero": True}


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
    (plus, with ``keep_model``, the trained CNN in memory under ``"model"``).

    ``max_seconds`` makes this call one leg of a longer run (it ends at an epoch boundary with
    ``run.json`` saying ``complete: false``); ``resume`` continues such a run (``resume_run``).
    """
    out = Path(out)
    data_path = Path(data_path)
    if not data_path.is_file():
        raise FileNotFoundError(f"data set {data_path} not found (make one with xrdnet simulate)")
    if config.model != "cnn" and (resume or max_seconds is not None):
        raise ValueError("--resume and --max-time are for the CNN: a forest is fitted in one go")
    out.mkdir(parents=True, exist_ok=True)
    previous = json.loads((out / "run.json").read_text()) if (resume and (out / "run.json").is_file()) else {}
    save_config(config, out / "config.yaml")  # before training: a leg cut short can be resumed from it
    if config.model == "cnn":
        info = train_cnn(config, data_path, out, max_seconds=max_seconds, resume=resume)
    else:
        info = train_forest(config, data_path, out)
    model = info.pop("_model", None)
    if not info.pop("is_global_zero", True):
        info.pop("train_rows", None)
        return info  # DDP: only rank 0 writes the run record
    if config.model == "cnn":
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
    """Continue the CNN run in folder ``run`` (its ``config.yaml``, data set and ``last.ckpt``) for one more leg."""
    from xrdnet.config import load_config

    run = Path(run)
    for name in ("config.yaml", "run.json", LAST_CHECKPOINT):
        if not (run / name).is_file():
            raise FileNotFoundError(f"{run}: no {name}; nothing to resume (was the run finished?)")
    config = load_config(run / "config.yaml", TrainConfig)
    data_path = data_path if data_path is not None else json.loads((run / "run.json").read_text())["data"]
    return train(config, data_path, run, max_seconds=max_seconds, resume=True)
