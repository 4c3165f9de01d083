"""The CNN as a model kind (``kind: cnn``): trained by Lightning in resumable legs, loaded weights-only.

Registers :class:`CNNKind` with ``models.registry``. A CNN run folder holds ``model.ckpt`` (the best
validation weights with hyper-parameters and provenance, no optimizer state), ``logs/`` (CSV metrics
per leg) and, while a run has legs to go, ``last.ckpt`` (full training state). torch and Lightning
are imported inside the functions, so registering the kind costs nothing.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from xrdnet import __version__
from xrdnet.models.prediction import Prediction
from xrdnet.models.registry import register

MODEL_FILE = "model.ckpt"

LAST_CHECKPOINT = "last.ckpt"  # full state (optimizer, scheduler, loops, callbacks) of a leg's last epoch


def train_cnn(config, data_path: str | Path, out: Path, max_seconds: float | None = None,
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
        from xrdnet.models.provenance import data_provenance

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
        "model_file": MODEL_FILE,
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


def _precision(trainer, accelerator: str) -> str:
    import torch

    if trainer.precision != "auto":
        return trainer.precision
    if accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available()):
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "32-true"


class CNNKind:
    """``models.registry.Model`` for the CNN (see the module docstring)."""

    kind = "cnn"
    model_file = MODEL_FILE
    run_files = (MODEL_FILE, "logs")
    resume_file = LAST_CHECKPOINT

    def train(self, config, data_path: Path, out: Path, max_seconds: float | None, resume: bool) -> dict:
        return train_cnn(config, data_path, out, max_seconds=max_seconds, resume=resume)

    def load(self, folder: Path, info: dict, device: str):
        from xrdnet.models.cnn import CNNClassifier

        model = CNNClassifier.from_checkpoint(folder / info.get("model_file", MODEL_FILE), map_location=device)
        return model.to(device)

    def predict_patterns(self, model, patterns: np.ndarray, two_theta_deg: np.ndarray, wavelength_angstrom: float,
                         batch_size: int) -> Prediction:
        """The network needs its own grid: other grids are interpolated onto it (zero outside the measured
        range). Wavelength conversion of measured patterns happens before this call."""
        import torch

        grid = self.input_grid(model)
        if len(grid) != len(two_theta_deg) or not np.allclose(grid, two_theta_deg, atol=1e-6):
            patterns = np.stack([np.interp(grid, two_theta_deg, p, left=0.0, right=0.0) for p in patterns])
            patterns = patterns.astype(np.float32)
        cs_p, sg_p, cs, sg = model.predict_patterns(torch.from_numpy(patterns), batch_size)
        return Prediction(cs_p.numpy(), sg_p.numpy(), cs.numpy(), sg.numpy())

    def input_grid(self, model) -> np.ndarray:
        return np.asarray(model.hparams["two_theta_deg"], dtype=np.float64)

    def training_grid(self, model) -> np.ndarray:
        return self.input_grid(model)

    def wavelength(self, model, folder: Path, info: dict) -> tuple[float | None, str]:
        hp = model.hparams
        attrs = hp.get("data_attrs") or {}
        lam = hp.get("wavelength_angstrom") or attrs.get("kalpha1_angstrom")
        where = f"{folder / info.get('model_file', MODEL_FILE)} (hyper-parameters wavelength_angstrom, "
        return lam, where + "data_attrs.kalpha1_angstrom)"


register(CNNKind())
