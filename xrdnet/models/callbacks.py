"""Lightning callbacks of ``xrdnet train``: measured validation patterns, and legs that end on time.

* ``MeasuredValidation`` scores the network on a folder of labelled measured patterns (the RRUFF
  validation set) after every validation epoch and logs ``val_real_cs_acc``, ``val_real_cs_bal``
  (balanced) and ``val_real_sg_acc``, so checkpoints can be chosen on measured data
  (``trainer.monitor``). The patterns go through the same reader and grid mapping a user's file does.
  Evaluation only: no gradient ever sees them.
* ``LegTimer`` ends a leg cleanly: at the end of an epoch it stops training when one more epoch (the
  longest so far) would run past ``max_seconds``. The last full checkpoint (``last.ckpt``) then lets
  ``xrdnet train --resume RUN`` continue exactly where the leg stopped.
"""

from __future__ import annotations

import time
from pathlib import Path

import lightning as L
import numpy as np
import torch

REAL_METRICS = ("val_real_cs_acc", "val_real_cs_bal", "val_real_sg_acc")


class MeasuredValidation(L.Callback):
    """Accuracy on labelled measured patterns in ``folder`` (``labels.csv`` + files), after each validation."""

    def __init__(self, folder: str | Path, grid_two_theta_deg, wavelength_angstrom: float) -> None:
        from xrdnet.compare import load_labelled_patterns

        self.folder = Path(folder)
        real = load_labelled_patterns(self.folder, np.asarray(grid_two_theta_deg), float(wavelength_angstrom))
        self.patterns = torch.from_numpy(real["patterns"])
        self.crystal_system = np.asarray(real["crystal_system"])
        self.space_group = np.asarray(real["space_group"])
        self.history: list[dict] = []

    def scores(self, pl_module) -> dict:
        was_training = pl_module.training
        _, _, cs_pred, sg_pred = pl_module.predict_patterns(self.patterns)
        pl_module.train(was_training)
        cs_pred, sg_pred = cs_pred.numpy(), sg_pred.numpy()
        return {"val_real_cs_acc": float(np.mean(cs_pred == self.crystal_system)),
                "val_real_cs_bal": _balanced(self.crystal_system, cs_pred),
                "val_real_sg_acc": float(np.mean(sg_pred == self.space_group))}

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking:
            return
        values = self.scores(pl_module)
        self.history.append({"epoch": int(trainer.current_epoch), **values})
        for name, value in values.items():
            pl_module.log(name, value, prog_bar=name == "val_real_cs_acc", on_epoch=True, sync_dist=False)


class LegTimer(L.Callback):
    """Stop at an epoch's end when another epoch would pass ``max_seconds`` of this leg (0: after one epoch)."""

    def __init__(self, max_seconds: float) -> None:
        if not max_seconds >= 0:
            raise ValueError(f"max time must be >= 0 seconds, got {max_seconds}")
        self.max_seconds = float(max_seconds)
        self.stopped_for_time = False
        self._start = self._epoch_start = 0.0
        self._longest = 0.0

    def on_train_start(self, trainer, pl_module) -> None:
        self._start = time.monotonic()

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._epoch_start = time.monotonic()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        now = time.monotonic()
        self._longest = max(self._longest, now - self._epoch_start)
        last_epoch = trainer.current_epoch + 1 >= (trainer.max_epochs or 0)
        if not last_epoch and not trainer.should_stop and now - self._start + self._longest > self.max_seconds:
            trainer.should_stop = True
            self.stopped_for_time = True


def _balanced(truth: np.ndarray, pred: np.ndarray) -> float:
    """Balanced accuracy over the classes present in ``truth`` (a prediction of an absent class, e.g.
    trigonal on RRUFF, counts as wrong): ``xrdnet.evaluate.balanced_accuracy``, which keeps sklearn's
    warning about it from repeating every epoch."""
    from xrdnet.evaluate import balanced_accuracy

    return balanced_accuracy(truth, pred)


def monitor_mode(monitor: str) -> str:
    """``min`` for a loss, ``max`` for an accuracy."""
    return "min" if monitor.endswith("loss") else "max"
