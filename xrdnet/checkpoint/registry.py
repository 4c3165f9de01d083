"""Shipped checkpoints by name, and what a ``--checkpoint`` argument (a name or a folder) stands for.

A shipped checkpoint is a folder under ``xrdnet/checkpoints/`` (package data, so it is in the wheel)
that holds ``checkpoint.json``: adding one is adding the folder, no list to edit. ``resolve`` turns
what a user typed into a folder: an existing folder wins, then a shipped name; anything else is
refused naming the shipped ones (chgnet's ``CHGNet.load(model_name=...)`` is the habit followed).
"""

from __future__ import annotations

import os
from pathlib import Path

from xrdnet.checkpoint.format import FORMAT_FILE

CHECKPOINT_DIR = Path(__file__).resolve().parents[1] / "checkpoints"
"""Where shipped checkpoints live (inside the package)."""
DEFAULT_NAME = "xrdnet-cnn-real"
"""The checkpoint ``xrdnet predict`` answers with when none is given."""
ENV_VARIABLE = "XRDNET_CHECKPOINT"
"""Overrides the default checkpoint (a folder)."""


def shipped_names() -> tuple[str, ...]:
    """Names of the shipped checkpoints, sorted."""
    if not CHECKPOINT_DIR.is_dir():
        return ()
    return tuple(sorted(p.name for p in CHECKPOINT_DIR.iterdir() if (p / FORMAT_FILE).is_file()))


def shipped_path(name: str) -> Path:
    """The folder of shipped checkpoint ``name`` (KeyError naming the shipped ones)."""
    if name not in shipped_names():
        raise KeyError(f"no shipped checkpoint {name!r} (shipped: {', '.join(shipped_names()) or 'none'})")
    return CHECKPOINT_DIR / name


def default_checkpoint() -> Path:
    """The shipped default checkpoint folder (``$XRDNET_CHECKPOINT`` overrides it)."""
    return Path(os.environ.get(ENV_VARIABLE, CHECKPOINT_DIR / DEFAULT_NAME))


def resolve(source: str | Path | None) -> Path:
    """The folder ``source`` stands for: None = the default, an existing folder, or a shipped name.

    FileNotFoundError (one line naming the shipped checkpoints) for anything else.
    """
    if source is None:
        return default_checkpoint()
    path = Path(source)
    if path.is_dir():
        return path
    if str(source) in shipped_names():
        return CHECKPOINT_DIR / str(source)
    raise FileNotFoundError(f"checkpoint {source} not found: no such folder, and no shipped checkpoint of that "
                            f"name (shipped: {', '.join(shipped_names()) or 'none'}); pass --checkpoint "
                            "runs/<name> or a shipped name")
