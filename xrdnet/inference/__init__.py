"""Answers: :class:`Predictor` (a checkpoint answering patterns), the typed results, and their text/JSON forms.

- ``predictor``: ``Predictor(Checkpoint)`` and the one-call :func:`predict`.
- ``result``: ``PredictionResult``, ``ClassScore``, ``RuleExplanation``, ``ModelInfo``; ``to_dict`` is the JSON.
- ``evidence``: how an indexed cell bears on the answer; ``rules``: the surrogate rule of the answer.
- ``text``: the text output, rendered from the JSON dicts.

The checks before answering are ``xrdnet.checks``; the checkpoint is ``xrdnet.checkpoint``.
"""

from xrdnet.checks.finding import PredictionWarning
from xrdnet.inference.predictor import Predictor, default_checkpoint, predict
from xrdnet.inference.result import ClassScore, ModelInfo, PredictionResult, RuleExplanation
from xrdnet.inference.rules import rule_for_pattern
from xrdnet.inference.text import format_cell, format_header, format_result

__all__ = [
    "ClassScore", "ModelInfo", "PredictionResult", "PredictionWarning", "Predictor", "RuleExplanation",
    "default_checkpoint", "format_cell", "format_header", "format_result", "predict", "rule_for_pattern",
]
