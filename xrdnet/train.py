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
from xrdnet.config import save_config
from xrdnet.data.datamodule import DataConfig
from xrdnet.models.cnn import CNNConfig
from xrdnet.models.forest import ForestConfig

MODELS = ("cnn", "forest")


@dataclass(frozen=True)
class TrainerConfig:
    """Lightning ``Trainer`` settings (the ``trainer:`` section). Multi-GPU / multi-node: set
    ``accelerator: gpu``, ``devices: 8``, ``num_nodes: 4``, ``strategy: ddp``; ``precision`` is
    ``auto`` (bf16-mixed on CUDA when supported, else 16-mixed; 32-true on CPU) or any Lightning value."""

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


def train_cnn(config: TrainConfig, data_path: str | Path, out: Path) -> dict:
    """Train the CNN; returns the ``run.json`` fields it measured."""
    import lightning as L
    import torch
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger

    from xrdnet.data.datamodule import PatternDataModule
    from xrdnet.models.cnn import CNNClassifier

    L.seed_everything(config.seed, workers=True, verbose=False)
    dm = PatternDataModule(data_path, config.data)
    lam = float(dm.attrs.get("kalpha1_angstrom") or dm.attrs.get("wavelength_angstrom"))
    model = CNNClassifier(config.cnn, dm.n_points, dm.two_theta_deg.tolist(), lam, {
        k: dm.attrs.get(k) for k in ("wavelength", "wavelength_angstrom", "kalpha1_angstrom", "kalpha2_angstrom",
                                     "two_theta_min_deg", "two_theta_max_deg", "two_theta_step_deg")})
    if config.cnn.compile and hasattr(torch, "compile"):
        model.net = torch.compile(model.net)
    tc = config.trainer
    loggers = [CSVLogger(str(out), name="logs", version="")]
    if tc.tensorboard:
        from lightning.pytorch.loggers import TensorBoardLogger

        loggers.append(TensorBoardLogger(str(out), name="tensorboard", version=""))
    checkpoint = ModelCheckpoint(dirpath=str(out), filename="model", monitor="val_loss", mode="min", save_top_k=1,
                                 enable_version_counter=False)
    callbacks = [checkpoint]
    if tc.early_stopping_patience > 0:
        # strict=False: a run that stops before its first validation (max_steps) is not an error
        callbacks.append(EarlyStopping(monitor="val_loss", mode="min", patience=tc.early_stopping_patience,
                                       strict=False))
    trainer = L.Trainer(
        max_epochs=tc.max_epochs, max_steps=tc.max_steps, accelerator=tc.accelerator, devices=tc.devices,
        num_nodes=tc.num_nodes, strategy=tc.strategy, precision=_precision(tc, tc.accelerator),
        gradient_clip_val=tc.gradient_clip_val, log_every_n_steps=tc.log_every_n_steps, logger=loggers,
        callbacks=callbacks, use_distributed_sampler=False, enable_progress_bar=tc.progress_bar,
        limit_val_batches=tc.limit_val_batches, enable_model_summary=False, default_root_dir=str(out),
    )
    t0 = time.perf_counter()
    trainer.fit(model, datamodule=dm)
    seconds = time.perf_counter() - t0
    if not checkpoint.best_model_path:  # same on every rank, so all of them join the collective save
        trainer.save_checkpoint(out / "model.ckpt")  # no validation ran (max_steps): keep the last weights
    if trainer.is_global_zero:
        # Keep weights and hyper-parameters only: the optimizer state would triple the file that
        # predict loads and that a checkpoint ships as.
        ckpt = torch.load(out / "model.ckpt", map_location="cpu", weights_only=False)
        torch.save({k: ckpt[k] for k in ("state_dict", "hyper_parameters", "pytorch-lightning_version", "epoch",
                                         "global_step") if k in ckpt}, out / "model.ckpt")
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}
    return {
        "train_seconds": seconds,
        "epochs": int(trainer.current_epoch),
        "global_step": int(trainer.global_step),
        "n_train": len(dm.split_rows["train"]),
        "n_val": len(dm.split_rows["val"]),
        "n_parameters": sum(p.numel() for p in model.net.parameters()),
        "best_val_loss": float(checkpoint.best_model_score) if checkpoint.best_model_score is not None else None,
        "last_metrics": metrics,
        "model_file": "model.ckpt",
        "world_size": int(trainer.world_size),
        "is_global_zero": bool(trainer.is_global_zero),
    }


def train_forest(config: TrainConfig, data_path: str | Path, out: Path) -> dict:
    """Fit the forest on the training split (all patterns or ``data.max_train``)."""
    from xrdnet.data.reader import PatternDataset
    from xrdnet.evaluate import evaluate
    from xrdnet.models.forest import ForestModel

    with PatternDataset(data_path) as ds:
        train = ds.indices("train", config.data.split_kind)
        if config.data.max_train and len(train) > config.data.max_train:
            rng = np.random.default_rng(config.data.seed)
            train = np.sort(rng.choice(train, config.data.max_train, replace=False))
        val = ds.indices("val", config.data.split_kind)
        lam = float(ds.attrs.get("kalpha1_angstrom") or ds.attrs.get("wavelength_angstrom"))
        cs, sg = ds.pattern_crystal_system(), ds.pattern_space_group()
        x_train = ds.read_patterns(train)
        model = ForestModel(config.forest)
        t0 = time.perf_counter()
        model.fit(x_train, ds.two_theta_deg, lam, cs[train], sg[train])
        seconds = time.perf_counter() - t0
        del x_train
        val_metrics = {}
        if len(val):
            cs_p, sg_p = model.predict_proba(ds.read_patterns(val), ds.two_theta_deg, lam)
            full = evaluate(cs[val], sg[val], cs_p, sg_p)
            val_metrics = {k: full[k] for k in ("cs_accuracy", "sg_accuracy", "sg_top5") if k in full}
    model.save(out)
    return {"train_seconds": seconds, "n_train": int(len(train)), "n_val": int(len(val)),
            "val_metrics": val_metrics, "model_file": "forest.joblib", "is_global_zero": True}


def train(config: TrainConfig, data_path: str | Path, out: str | Path) -> dict:
    """Train ``config.model`` on ``data_path`` into run folder ``out``; returns the ``run.json`` dict."""
    out = Path(out)
    data_path = Path(data_path)
    if not data_path.is_file():
        raise FileNotFoundError(f"data set {data_path} not found (make one with xrdnet simulate)")
    out.mkdir(parents=True, exist_ok=True)
    info = train_cnn(config, data_path, out) if config.model == "cnn" else train_forest(config, data_path, out)
    if not info.pop("is_global_zero", True):
        return info  # DDP: only rank 0 writes the run record
    save_config(config, out / "config.yaml")
    run = {
        "kind": config.model,
        "name": out.name,
        "data": str(data_path.resolve()),
        "split_kind": config.data.split_kind,
        "xrdnet_version": __version__,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        **info,
    }
    (out / "run.json").write_text(json.dumps(run, indent=2, default=str))
    return run
