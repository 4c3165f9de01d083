"""The likely-mixture detector: a small binary 1D CNN, its settings, and its files.

Detector (``MixtureNet``). √I of the pattern max-pooled by ``pool`` (8 → 0.08° per position on the
default grid), five conv → BatchNorm → GELU → max-pool blocks, a few position bins plus a global max,
one logit. Inputs are exactly what ``xrdnet predict`` feeds the symmetry CNN (``[B, G]`` on the model
grid, max = 1). The decision threshold is chosen on simulated validation compounds for a false-positive
rate of ``target_fpr`` (10 %) on single-phase patterns (``xrdnet.mixture.training.fit``) and stored with
the weights.

Files (``MixtureDetector.save``): ``<checkpoint>/mixture/detector.pt`` (state dict, tensors only, loaded
weights-only) and ``detector.json`` (architecture, threshold, training record, measured figures).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

WEIGHTS_FILE = "detector.pt"
META_FILE = "detector.json"
EVIDENCE_FILE = "evidence.json"  # the flag from evidence (xrdnet.mixture.evidence), fitted for these weights
SUBDIR = "mixture"


def pool_patterns(patterns: np.ndarray, pool: int) -> np.ndarray:
    """``[B, G]`` → ``[B, ceil(G / pool)]`` float32: maximum of each run of ``pool`` points (peaks keep their height)."""
    x = np.asarray(patterns, dtype=np.float32)
    if pool <= 1:
        return x.copy()
    n, g = x.shape
    pad = (-g) % pool
    if pad:
        x = np.concatenate([x, np.full((n, pad), -np.inf, np.float32)], axis=1)
    return x.reshape(n, -1, pool).max(axis=2)


@dataclass(frozen=True)
class MixtureConfig:
    """Architecture and training of the detector."""

    pool: int = 8
    channels: tuple[int, ...] = (16, 24, 32, 48, 64)
    kernel_size: int = 7
    position_bins: int = 8
    hidden: int = 128
    dropout: float = 0.2
    lr: float = 2e-3
    weight_decay: float = 1e-4
    batch_size: int = 128
    steps: int = 3000
    mixture_share: float = 0.5
    phase_probabilities: tuple[float, float] = (0.6, 0.4)
    min_fraction: float = 0.15  # training draws a little wider than the "similar amounts" of the tests (0.2)
    alpha: float = 2.0
    truncate_probability: float = 0.3
    noise_probability: float = 0.3
    target_fpr: float = 0.10


def _make_net(config: MixtureConfig):
    import torch
    from torch import nn

    class MixtureNet(nn.Module):
        """Max-pooled patterns ``[B, L]`` (max = 1) → one mixture logit per pattern."""

        def __init__(self) -> None:
            super().__init__()
            layers: list[nn.Module] = []
            width = 1
            for out in config.channels:
                layers += [nn.Conv1d(width, out, config.kernel_size, padding=config.kernel_size // 2, bias=False),
                           nn.BatchNorm1d(out), nn.GELU(), nn.MaxPool1d(2, ceil_mode=True)]
                width = out
            self.features = nn.Sequential(*layers)
            self.bins = nn.AdaptiveAvgPool1d(config.position_bins)
            self.head = nn.Sequential(nn.Linear(width * (config.position_bins + 1), config.hidden), nn.GELU(),
                                      nn.Dropout(config.dropout), nn.Linear(config.hidden, 1))

        def forward(self, pooled: torch.Tensor) -> torch.Tensor:
            """``pooled [B, L]``: patterns after ``pool_patterns`` (max-pooled, max = 1)."""
            x = self.features(torch.sqrt(pooled.clamp(min=0.0)).unsqueeze(1))
            x = torch.cat([self.bins(x).flatten(1), x.amax(dim=-1)], dim=1)
            return self.head(x).squeeze(-1)

    return MixtureNet()


@dataclass
class MixtureDetector:
    """A trained detector: ``mixture_probability(patterns)`` and the stored ``threshold``."""

    net: object = field(repr=False)
    config: MixtureConfig
    threshold: float = 0.5
    record: dict = field(default_factory=dict)
    evidence: object | None = None  # an xrdnet.mixture.evidence.EvidenceCombiner fitted for this detector, or None

    def mixture_probability(self, patterns: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """``[B]`` probability that each pattern (``[B, G]`` float32 on the model grid, max = 1) is a mixture."""
        import torch

        x = np.asarray(patterns, dtype=np.float32)
        if x.ndim == 1:
            x = x[None]
        if x.ndim != 2:
            raise ValueError(f"patterns must be [B, G], got shape {x.shape}")
        n_points = self.record.get("n_points")
        if n_points and x.shape[1] != n_points:
            raise ValueError(f"patterns have {x.shape[1]} points; the detector was trained on {n_points}")
        self.net.eval()
        out = []
        with torch.no_grad():
            for start in range(0, len(x), batch_size):
                pooled = pool_patterns(x[start : start + batch_size], self.config.pool)
                logits = self.net(torch.from_numpy(pooled))
                out.append(torch.sigmoid(logits).numpy())
        return np.concatenate(out).astype(np.float64) if out else np.zeros(0)

    def is_mixture(self, patterns: np.ndarray) -> np.ndarray:
        """``[B]`` bool: probability ≥ threshold."""
        return self.mixture_probability(patterns) >= self.threshold

    def save(self, directory: str | Path) -> Path:
        """Write ``detector.pt`` and ``detector.json`` into ``directory`` (created); returns it."""
        import torch

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().clone() for k, v in self.net.state_dict().items()}
        torch.save(state, directory / WEIGHTS_FILE)
        meta = {"kind": "mixture-detector", "threshold": float(self.threshold),
                "config": _config_to_dict(self.config), "record": self.record}
        (directory / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        stale = directory / EVIDENCE_FILE
        if stale.is_file():
            # an evidence file reads the old weights' logit; left there it would stop the detector loading
            fitted_for = json.loads(stale.read_text()).get("record", {}).get("detector_sha256_16")
            if fitted_for != weights_digest(directory):
                stale.unlink()
                warnings.warn(f"{stale} was fitted for the detector weights replaced here and is removed; refit it "
                              "with scripts/fit_mixture_evidence.py --install", RuntimeWarning, stacklevel=2)
        return directory


def _config_to_dict(config: MixtureConfig) -> dict:
    d = asdict(config)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def _config_from_dict(d: dict) -> MixtureConfig:
    known = {f for f in MixtureConfig.__dataclass_fields__}
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k in known}
    return MixtureConfig(**kwargs)


def mixture_dir(checkpoint_dir: str | Path) -> Path:
    """Where a checkpoint keeps its detector: ``<checkpoint>/mixture/``."""
    return Path(checkpoint_dir) / SUBDIR


def load_mixture_detector(checkpoint_dir: str | Path) -> MixtureDetector | None:
    """The detector stored with a checkpoint (``<checkpoint>/mixture/``, or that folder itself); None if absent."""
    import torch

    checkpoint_dir = Path(checkpoint_dir)
    for directory in (mixture_dir(checkpoint_dir), checkpoint_dir):
        if (directory / META_FILE).is_file() and (directory / WEIGHTS_FILE).is_file():
            break
    else:
        return None
    meta = json.loads((directory / META_FILE).read_text())
    config = _config_from_dict(meta.get("config", {}))
    net = _make_net(config)
    net.load_state_dict(torch.load(directory / WEIGHTS_FILE, map_location="cpu", weights_only=True))
    net.eval()
    return MixtureDetector(net, config, float(meta["threshold"]), meta.get("record", {}),
                           evidence=load_evidence(directory))


def weights_digest(directory: str | Path) -> str:
    """The first 16 hex digits of the SHA-256 of a detector's weights file (what an evidence file names)."""
    import hashlib

    return hashlib.sha256((Path(directory) / WEIGHTS_FILE).read_bytes()).hexdigest()[:16]


def load_evidence(directory: str | Path):
    """The evidence combiner stored beside a detector (``evidence.json``), or None when there is none.

    A combiner fitted for other weights than the ones beside it would read the detector's logit wrongly:
    it is refused with a ValueError naming the file, as is a file that does not parse."""
    from xrdnet.mixture.evidence import EvidenceCombiner

    path = Path(directory) / EVIDENCE_FILE
    if not path.is_file():
        return None
    try:
        combiner = EvidenceCombiner.from_dict(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a mixture evidence file ({exc})") from exc
    wanted = (combiner.record or {}).get("detector_sha256_16")
    if wanted != weights_digest(directory):
        raise ValueError(f"{path}: fitted for detector weights {wanted}, but {WEIGHTS_FILE} beside it is "
                         f"{weights_digest(directory)}; refit it (scripts/fit_mixture_evidence.py)")
    return combiner
