"""The optional parts of a checkpoint folder: the surrogate rules and the mixture detector.

Each is read through the module that owns its format (``tree_json.load_tree_json`` with its
format and version check; ``mixture.load_mixture_detector``, weights-only), so the checkpoint
knows where they live, not how they are written.
"""

from __future__ import annotations

import warnings
from pathlib import Path

RULES_TREE = Path("rules") / "tree.json"
"""The surrogate tree ``predict`` explains answers with, relative to the checkpoint folder."""


def describe_failure(what: str, exc: BaseException) -> str:
    """One line naming what failed and the exception (type and text), for a warning and a result's code."""
    text = " ".join(str(exc).split())
    return f"{what} ({type(exc).__name__}: {text[:200]})" if text else f"{what} ({type(exc).__name__})"


def load_rules(folder: Path) -> dict | None:
    """The checked surrogate tree of ``folder`` (``rules/tree.json``), None without one.

    A tree of another format or version is refused (ValueError naming the file): explaining answers
    with a tree read by guesswork would attach wrong rules to right answers.
    """
    from xrdnet.explain.tree_json import load_tree_json

    path = Path(folder) / RULES_TREE
    return load_tree_json(path) if path.is_file() else None


def load_mixture(folder: Path, stacklevel: int = 3) -> tuple[object | None, str | None]:
    """``(detector or None, why it is unavailable or None)`` of checkpoint ``folder``.

    A checkpoint without a detector has none (no problem). A broken one must not stop predictions, but
    must not vanish silently either: without it no pattern can be flagged ``likely_mixture``, so the
    failure is warned here and the predictor names it on every result (``mixture_detector_unavailable``).
    """
    try:
        from xrdnet import mixture
    except ImportError:
        return None, None
    try:
        return mixture.load_mixture_detector(folder), None
    except Exception as exc:  # noqa: BLE001 - a broken detector must not stop predictions; warned and named
        problem = describe_failure(f"the mixture detector of {folder} could not be loaded; no pattern can be "
                                   "flagged as a likely mixture", exc)
        warnings.warn(problem, RuntimeWarning, stacklevel=stacklevel)
        return None, problem
