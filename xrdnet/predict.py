"""``xrdnet predict`` on files: read them, hand them to :class:`xrdnet.inference.Predictor`, format the answers.

Every file goes the same way: read it (``patterns_io``: format by content, wavelength and x axis from
the file or the arguments), then :meth:`Predictor.predict_patterns` checks each pattern (x axis,
wavelength, coverage, peaks, thin film, mixture), brings it onto the model's grid, runs all files
through the model(s) in one batch and returns typed results (see :mod:`xrdnet.inference`). A file that
cannot be read gets a one-line error and the others are still predicted. The text form of a result is
``xrdnet.inference.text`` (re-exported here).

This module is also callable: ``import xrdnet; xrdnet.predict(two_theta_deg, intensity, wavelength=...)``
is :func:`xrdnet.inference.predict` (arrays in, a ``PredictionResult`` out).
"""

from __future__ import annotations

import inspect
import sys
import types
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from xrdnet.checkpoint.registry import CHECKPOINT_DIR  # noqa: F401 - re-exported
from xrdnet.checkpoint.registry import DEFAULT_NAME as DEFAULT_CHECKPOINT  # noqa: F401 - re-exported
from xrdnet.inference import Predictor, PredictionResult, default_checkpoint  # noqa: F401 - re-exported
from xrdnet.inference import predict as predict_arrays
from xrdnet.inference.text import format_cell, format_header, format_result  # noqa: F401 - re-exported


def read_files(files: Sequence[str | Path], wavelength: str | float | None = None, x_unit: str | None = None):
    """``(patterns, errors)``: every readable file as a ``MeasuredPattern``; ``(path, one-line message)`` for the rest."""
    from xrdnet.patterns_io import PatternFileError, read_pattern
    from xrdnet.simulate.wavelengths import Radiation, resolve_radiation

    radiation = None if wavelength is None else (
        wavelength if isinstance(wavelength, Radiation) else resolve_radiation(wavelength))
    takes_unit = "x_unit" in inspect.signature(read_pattern).parameters
    patterns, errors = [], []
    for path in files:
        try:
            if takes_unit:
                patterns.append(read_pattern(path, radiation, x_unit=x_unit))
            else:
                patterns.append(read_pattern(path, radiation))
        except PatternFileError as exc:
            errors.append((str(path), str(exc)))
        except Exception as exc:  # noqa: BLE001 - one broken file must not stop the others
            errors.append((str(path), str(PatternFileError(path, f"unexpected {type(exc).__name__}: {exc}"))))
    return patterns, errors


def predict_file_results(
    files: Sequence[str | Path],
    checkpoint: str | Path | Sequence[str | Path] | None = None,
    wavelength: str | float | None = None,
    top_k: int = 5,
    subtract_background: bool = False,
    x_unit: str | None = None,
    force: bool = False,
    min_confidence: float = 0.0,
    prior: str | None = None,
    predictor: Predictor | None = None,
    combine_indexing: bool | None = None,
) -> tuple[list[PredictionResult], list[tuple[str, str]], Predictor]:
    """Typed results for every readable file: ``(results, errors, predictor)``."""
    predictor = predictor or Predictor(checkpoint, prior=prior, top_k=top_k, min_confidence=min_confidence,
                                       combine_indexing=combine_indexing)
    patterns, errors = read_files(files, wavelength, x_unit)
    results: list[PredictionResult] = []
    ok = []
    for pattern in patterns:
        try:
            ok.append(Predictor._pattern_request(pattern, x_unit))
        except ValueError as exc:
            errors.append((str(pattern.path), str(exc)))
    if ok:
        results = predictor.predict_many(ok, force=force, subtract_background=subtract_background)
    return results, errors, predictor


def predict_files(
    files: Sequence[str | Path],
    checkpoint: str | Path | Sequence[str | Path] | None = None,
    wavelength: str | float | None = None,
    top_k: int = 5,
    subtract_background: bool = False,
    plot: str | Path | None = None,
    x_unit: str | None = None,
    force: bool = False,
    min_confidence: float = 0.0,
    prior: str | None = None,
    combine_indexing: bool | None = None,
) -> tuple[list[dict], list[tuple[str, str]]]:
    """Predict every readable file; returns ``(results, errors)`` with JSON-able result dicts.

    Each result is :meth:`PredictionResult.to_dict`: ``file``, ``status`` (answered / uncertain /
    refused), ``crystal_system`` {name, index, probability}, ``space_group`` {number, symbol,
    probability}, ``top_k`` {crystal_system, space_group}, ``rule``, ``peaks_two_theta_deg``,
    ``coverage``, ``wavelength_angstrom``, ``warnings`` [{code, message}], ``model``.
    """
    results, errors, predictor = predict_file_results(files, checkpoint, wavelength, top_k, subtract_background,
                                                      x_unit, force, min_confidence, prior,
                                                      combine_indexing=combine_indexing)
    if plot is not None:
        for r in results:
            _plot(r, predictor, plot, len(results) > 1, subtract_background)
    return [r.to_dict() for r in results], errors


def _plot(result: PredictionResult, predictor: Predictor, plot: str | Path, many: bool,
          subtract_background: bool) -> Path | None:
    """The pattern on the model grid, its peaks, and the answer in the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from xrdnet.patterns_io import read_pattern

    path = Path(plot)
    if many:
        path = path.with_name(f"{path.stem}_{Path(str(result.source)).stem}{path.suffix or '.png'}")
    try:
        pattern = read_pattern(result.source, result.wavelength_angstrom)
        two_theta = pattern.two_theta_deg
        if two_theta is None:
            return None
        from xrdnet.checks import check_pattern

        prep = check_pattern(two_theta, pattern.intensity, predictor.grid, predictor.wavelength_angstrom,
                             wavelength_angstrom=result.wavelength_angstrom, subtract_background=subtract_background)
    except Exception as exc:  # noqa: BLE001 - a plot must not break the answer, but it says why it is missing
        warnings.warn(f"{result.source}: no plot: {type(exc).__name__}: {exc}", RuntimeWarning, stacklevel=2)
        return None
    if prep.row is None:
        return None
    grid = predictor.grid
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(10, 3.6))
    ax.plot(grid, prep.row, lw=0.7, color="0.2")
    peaks = np.asarray(result.peaks_two_theta_deg)
    if len(peaks):
        ax.vlines(peaks, 0, np.interp(peaks, grid, prep.row), color="tab:red", lw=0.8, alpha=0.7, label="peaks found")
        ax.legend(loc="upper right", fontsize=8)
    ax.set_title(f"{Path(str(result.source)).name}: {_answer_text(result)}", fontsize=10)
    ax.set_xlabel("2θ (°) on the model's grid")
    ax.set_ylabel("intensity (max = 1)")
    ax.set_xlim(grid[0], grid[-1])
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def _answer_text(result: PredictionResult) -> str:
    if result.status == "refused":
        return f"refused: {result.refusal_reason}"
    if result.status == "uncertain":
        return "uncertain"
    cs, sg = result.crystal_system, result.space_group
    return f"{cs.name} ({cs.probability:.2f}), {sg.name} (#{sg.index}, {sg.probability:.2f})"


class _CallableModule(types.ModuleType):
    """``xrdnet.predict`` is this module and also the function :func:`xrdnet.inference.predict`."""

    def __call__(self, two_theta_deg, intensity, wavelength=None, **kwargs) -> PredictionResult:
        return predict_arrays(two_theta_deg, intensity, wavelength, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
