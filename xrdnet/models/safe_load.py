"""Load checkpoint files as data only: ``torch.load(weights_only=True)`` with a named allow-list.

A checkpoint handed over by a user or downloaded from elsewhere must never run code when it is
opened, so every checkpoint in xrdnet loads through ``load_checkpoint_file``: tensors, numbers,
strings, lists and dicts, plus the few harmless classes listed in ``SAFE_GLOBALS``.
"""

from __future__ import annotations

from pathlib import Path

import torch

# torch.__version__ is a ``TorchVersion`` (a str subclass); checkpoints written before 2026-12 store it.
SAFE_GLOBALS = (torch.torch_version.TorchVersion,)


def load_checkpoint_file(path: str | Path, map_location="cpu") -> dict:
    """The contents of checkpoint ``path`` (weights-only unpickling; see the module docstring)."""
    with torch.serialization.safe_globals(list(SAFE_GLOBALS)):
        return torch.load(path, map_location=map_location, weights_only=True)
