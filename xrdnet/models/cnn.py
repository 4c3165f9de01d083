"""The 1D CNN: one readable page, from pattern to consistent crystal-system and space-group predictions.

Network. A pattern ``[B, G]`` (max = 1) is square-rooted (weak reflections carry most of the
symmetry information; the square root is what a crystallographer's eye does with a log-ish
intensity axis) and passed through a strided stem and ``len(channels)`` blocks of
conv → BatchNorm → GELU → max-pool (each halves the length). The feature map is averaged into
``position_bins`` bins along 2θ and flattened into an MLP with one output per space group: a
global pool would throw away where the peaks are, which is exactly what symmetry depends on.
With ``coverage_channel`` a second input channel marks the measured span of the pattern
(``xrdnet.simulate.coverage.measured_span``), so a short scan's zeros read as "not measured", not
as "no reflection here".

Consistent heads. There is a single space-group head; crystal-system probabilities are the sums of
the space-group probabilities inside each system, ``p(c) = Σ_{g ∈ c} p(g)`` (a log-sum-exp of the
logits), so the two can never contradict each other in probability. The loss is the space-group
cross entropy plus ``cs_loss_weight`` × the crystal-system cross entropy of those sums (a
hierarchical loss: getting the system right is rewarded even when the group is not). Predictions
decode hierarchically: the crystal system is the argmax of ``p(c)``, the space group the most
probable group *within* that system, so the predicted group always implies the predicted system.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn

from xrdnet.simulate.coverage import measured_span
from xrdnet.symmetry import N_CRYSTAL_SYSTEMS, N_SPACE_GROUPS, space_group_to_crystal_system_table


@dataclass(frozen=True)
class CNNConfig:
    """Architecture and optimisation of the CNN (the ``cnn:`` section of a train config)."""

    channels: tuple[int, ...] = (32, 48, 64, 96, 128, 160)
    kernel_size: int = 7
    stem_kernel: int = 9
    stem_stride: int = 4  # 0.04° per position on the default grid: finer than any peak width
    position_bins: int = 32
    hidden: int = 384
    dropout: float = 0.3
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup_epochs: int = 1
    cs_loss_weight: float = 0.5
    label_smoothing: float = 0.02
    compile: bool = False
    coverage_channel: bool = False

    def __post_init__(self) -> None:
        if not self.channels or min(self.channels) < 1:
            raise ValueError(f"channels must be a non-empty list of positive widths, got {self.channels}")
        if self.kernel_size < 1 or self.kernel_size % 2 == 0 or self.stem_kernel % 2 == 0:
            raise ValueError("kernel sizes must be odd and positive")
        if not 0 <= self.dropout < 1 or self.lr <= 0 or self.cs_loss_weight < 0:
            raise ValueError("need 0 <= dropout < 1, lr > 0, cs_loss_weight >= 0")


def _system_matrix() -> torch.Tensor:
    """``[230, 7]`` one-hot: row g-1 marks the crystal system of space group g."""
    table = torch.as_tensor(space_group_to_crystal_system_table()[1:], dtype=torch.int64)
    return F.one_hot(table, N_CRYSTAL_SYSTEMS).to(torch.bool)


class XRDNet(nn.Module):
    """Pattern ``[B, G]`` -> space-group logits ``[B, 230]`` (see the module docstring)."""

    def __init__(self, config: CNNConfig = CNNConfig()) -> None:
        super().__init__()
        c0 = config.channels[0]
        self.coverage_channel = config.coverage_channel
        layers: list[nn.Module] = [
            nn.Conv1d(2 if config.coverage_channel else 1, c0, config.stem_kernel, stride=config.stem_stride, padding=config.stem_kernel // 2),
            nn.BatchNorm1d(c0),
            nn.GELU(),
        ]
        width = c0
        for out in config.channels:
            layers += [
                nn.Conv1d(width, out, config.kernel_size, padding=config.kernel_size // 2, bias=False),
                nn.BatchNorm1d(out),
                nn.GELU(),
                nn.MaxPool1d(2, ceil_mode=True),
            ]
            width = out
        self.features = nn.Sequential(*layers)
        # Symmetry lives in *where* the peaks are (ratios of Q), so the head must see positions:
        # pool to a fixed number of position bins and flatten, never a global (position-free) pool.
        self.bins = nn.AdaptiveAvgPool1d(config.position_bins)
        self.head = nn.Sequential(
            nn.Linear(width * config.position_bins, config.hidden),
            nn.GELU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.hidden, N_SPACE_GROUPS),
        )

    def forward(self, pattern: torch.Tensor) -> torch.Tensor:
        x = torch.sqrt(pattern.clamp(min=0.0)).unsqueeze(1)  # [B, 1, G]
        if self.coverage_channel:
            x = torch.cat([x, measured_span(pattern).unsqueeze(1).to(x.dtype)], dim=1)  # [B, 2, G]
        x = self.features(x)  # [B, C, L]
        x = self.bins(x).flatten(1)  # [B, C·position_bins]
        return self.head(x)  # [B, 230]


def crystal_system_log_probs(sg_logits: torch.Tensor, system_matrix: torch.Tensor) -> torch.Tensor:
    """``[B, 7]`` log p(c) = logsumexp of the normalised space-group log-probabilities in c."""
    log_p = F.log_softmax(sg_logits.float(), dim=-1)  # [B, 230]
    masked = log_p.unsqueeze(-1).masked_fill(~system_matrix, float("-inf"))  # [B, 230, 7]
    return torch.logsumexp(masked, dim=1)


def hierarchical_decode(sg_logits: torch.Tensor, system_matrix: torch.Tensor):
    """Probabilities and consistent predictions from space-group logits.

    Returns ``(cs_proba [B, 7], sg_proba [B, 230], cs_pred [B] 0..6, sg_pred [B] 1..230)``.
    """
    sg_proba = torch.softmax(sg_logits.float(), dim=-1)
    cs_proba = sg_proba @ system_matrix.to(sg_proba.dtype)
    cs_pred = cs_proba.argmax(dim=-1)
    inside = system_matrix[:, cs_pred].T  # [B, 230] groups of the predicted system
    sg_pred = sg_proba.masked_fill(~inside, -1.0).argmax(dim=-1) + 1
    return cs_proba, sg_proba, cs_pred, sg_pred


class CNNClassifier(L.LightningModule):
    """Lightning wrapper: hierarchical loss, AdamW + warmup/cosine, accuracy metrics per split."""

    def __init__(self, config: CNNConfig = CNNConfig(), n_points: int = 8501, two_theta_deg=None,
                 wavelength_angstrom: float | None = None, data_attrs: dict | None = None) -> None:
        super().__init__()
        # Plain types only, so the checkpoint alone rebuilds the model (predict needs the grid).
        from xrdnet.config import config_to_dict

        self.save_hyperparameters({
            "config": config_to_dict(config),
            "n_points": int(n_points),
            "two_theta_deg": [float(v) for v in (two_theta_deg if two_theta_deg is not None else [])],
            "wavelength_angstrom": wavelength_angstrom,
            "data_attrs": data_attrs or {},
        })
        self.config = config
        self.net = XRDNet(config)
        self.register_buffer("system_matrix", _system_matrix(), persistent=False)
        import torchmetrics

        self.metrics = nn.ModuleDict({
            f"{split}_{name}": torchmetrics.classification.MulticlassAccuracy(n, average="micro")
            for split in ("train", "val", "test")
            for name, n in (("cs_acc", N_CRYSTAL_SYSTEMS), ("sg_acc", N_SPACE_GROUPS))
        })

    @classmethod
    def from_checkpoint(cls, path, map_location="cpu") -> "CNNClassifier":
        """Load a checkpoint written by ``xrdnet train`` (no data set needed)."""
        from xrdnet.config import config_from_dict

        from xrdnet.models.safe_load import load_checkpoint_file

        # Weights only: a checkpoint is data (tensors, numbers, strings), never code to run.
        ckpt = load_checkpoint_file(path, map_location)
        hp = ckpt["hyper_parameters"]
        model = cls(config_from_dict(CNNConfig, hp["config"]), hp["n_points"], hp["two_theta_deg"],
                    hp["wavelength_angstrom"], hp.get("data_attrs"))
        # Runs trained with ``torch.compile(model.net)`` (before in-place compiling) stored every
        # weight under ``net._orig_mod.``; such checkpoints load too.
        state = {k.replace("._orig_mod.", "."): v for k, v in ckpt["state_dict"].items()}
        model.load_state_dict(state)
        # xrdnet version, precision and the data the model was trained on (``xrdnet train`` writes
        # them; None for checkpoints made before they were stored).
        model.provenance = ckpt.get("xrdnet")
        return model.eval()

    def forward(self, pattern: torch.Tensor) -> torch.Tensor:
        return self.net(pattern)

    def loss(self, logits: torch.Tensor, cs: torch.Tensor, sg: torch.Tensor) -> torch.Tensor:
        sg_loss = F.cross_entropy(logits.float(), sg, label_smoothing=self.config.label_smoothing)
        cs_loss = F.nll_loss(crystal_system_log_probs(logits, self.system_matrix), cs)
        return sg_loss + self.config.cs_loss_weight * cs_loss

    def _step(self, batch: dict, split: str) -> torch.Tensor:
        logits = self(batch["pattern"])
        loss = self.loss(logits, batch["crystal_system"], batch["space_group"])
        _, _, cs_pred, sg_pred = hierarchical_decode(logits.detach(), self.system_matrix)
        self.metrics[f"{split}_cs_acc"](cs_pred, batch["crystal_system"])
        self.metrics[f"{split}_sg_acc"](sg_pred - 1, batch["space_group"])
        bs = len(sg_pred)
        self.log(f"{split}_loss", loss, prog_bar=split != "test", batch_size=bs, sync_dist=split != "train")
        for name in ("cs_acc", "sg_acc"):
            self.log(f"{split}_{name}", self.metrics[f"{split}_{name}"], prog_bar=True, batch_size=bs,
                     on_step=False, on_epoch=True)
        return loss

    def on_train_batch_start(self, batch: dict, batch_idx: int) -> None:
        # Dropout draws are a function of (seed, step) alone, so a run resumed from a checkpoint takes
        # exactly the steps an uninterrupted one would (nothing else in a step draws random numbers).
        torch.manual_seed((int(getattr(self, "train_seed", 0)) * 1_000_003 + int(self.global_step)) % (1 << 62))

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self._step(batch, "test")

    @torch.no_grad()
    def predict_patterns(self, patterns: torch.Tensor, batch_size: int = 512):
        """Consistent predictions for ``[P, G]`` patterns on the model's grid (see ``hierarchical_decode``)."""
        self.eval()
        outs = []
        for start in range(0, len(patterns), batch_size):
            chunk = patterns[start : start + batch_size].to(self.device, torch.float32)
            outs.append(hierarchical_decode(self(chunk), self.system_matrix.to(self.device)))
        return tuple(torch.cat([o[i] for o in outs]).cpu() for i in range(4))

    def configure_optimizers(self):
        optimizer = torch.optim.AdamW(self.parameters(), lr=self.config.lr, weight_decay=self.config.weight_decay)
        total = max(1, int(self.trainer.estimated_stepping_batches))
        per_epoch = max(1, total // max(1, self.trainer.max_epochs or 1))
        warmup = min(total // 2, self.config.warmup_epochs * per_epoch)

        def schedule(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            progress = (step - warmup) / max(1, total - warmup)
            return 0.5 * (1.0 + torch.cos(torch.tensor(torch.pi * min(1.0, progress))).item())

        return {"optimizer": optimizer,
                "lr_scheduler": {"scheduler": torch.optim.lr_scheduler.LambdaLR(optimizer, schedule), "interval": "step"}}
