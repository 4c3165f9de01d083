"""Checkpoints as a type: ``Checkpoint.load(name | path)``, its ``ModelCard``, the shipped names, the format.

    >>> from xrdnet.checkpoint import Checkpoint
    >>> ckpt = Checkpoint.load("xrdnet-cnn-real")        # doctest: +SKIP
    >>> ckpt.members, ckpt.card.real.cs_accuracy, ckpt.tree is not None

- ``load``: the networks (with ensemble members), calibrations, card, rules, mixture detector, prior.
- ``card``: ``card.json``'s schema (``ModelCard``), read by the predictor, written by ``xrdnet calibrate``.
- ``registry``: shipped checkpoint names (folders under ``xrdnet/checkpoints/`` with ``checkpoint.json``).
- ``format``: ``checkpoint.json``'s format version, checked on load.
- ``parts``: the rules and the mixture detector, read through the modules that own their formats.
"""

from xrdnet.checkpoint.card import (CARD_FILE, IndexingFigures, ModelCard, RealFigures, ScanRangeFigures,
                                    SimulatedFigures)
from xrdnet.checkpoint.format import FORMAT_FILE, FORMAT_VERSION, CheckpointFormatError, read_format_version
from xrdnet.checkpoint.load import Checkpoint
from xrdnet.checkpoint.registry import DEFAULT_NAME, default_checkpoint, resolve, shipped_names, shipped_path

__all__ = [
    "CARD_FILE", "Checkpoint", "CheckpointFormatError", "DEFAULT_NAME", "FORMAT_FILE", "FORMAT_VERSION",
    "IndexingFigures", "ModelCard", "RealFigures", "ScanRangeFigures", "SimulatedFigures", "default_checkpoint",
    "read_format_version", "resolve", "shipped_names", "shipped_path",
]
