"""``xrdnet predict``: the crystal system and space group of measured pattern files, with a reason.

Every file goes the same way: read it (``patterns_io``: format by content, wavelength from the file
or ``--wavelength``), bring it onto the model's grid through Q (another anode or a synchrotron
wavelength is converted; uncovered regions are zero and reported), normalise as in training, and
run all files through the model in one batch. Each result carries the top-k crystal systems and
space groups with probabilities, the peaks found by the shared peak finder, and the decision path
of the surrogate rule shipped with the checkpoint (when there is one). A file that cannot be read
gets a one-line error and the others are still predicted.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from xrdnet.symmetry import CRYSTAL_SYSTEMS, space_group_symbol

CHECKPOINT_DIR = Path(__file__).resolve().parents[1] / "checkpoints"
DEFAULT_CHECKPOINT = "xrdnet-cnn-real"


def default_checkpoint() -> Path:
    """The shipped checkpoint folder (``$XRDNET_CHECKPOINT`` overrides it)."""
    return Path(os.environ.get("XRDNET_CHECKPOINT", CHECKPOINT_DIR / DEFAULT_CHECKPOINT))


def _load_rule_tree(checkpoint: Path) -> dict | None:
    """The surrogate tree shipped with the checkpoint (``rules/tree.json``), or None."""
    tree_file = checkpoint / "rules" / "tree.json"
    return json.loads(tree_file.read_text()) if tree_file.is_file() else None


def predict_files(
    files: Sequence[str | Path],
    checkpoint: str | Path | None = None,
    wavelength: str | float | None = None,
    top_k: int = 5,
    subtract_background: bool = False,
    plot: str | Path | None = None,
) -> tuple[list[dict], list[tuple[str, str]]]:
    """Predict every readable file; returns ``(results, errors)`` (see the module docstring).

    Each result is a JSON-able dict: ``file``, ``crystal_system`` {name, index, probability},
    ``space_group`` {number, symbol, probability}, ``top_k`` {crystal_system, space_group},
    ``rule``, ``peaks_two_theta_deg``, ``coverage``, ``warnings``.
    """
    from xrdnet.features import PeakFinderConfig, find_peaks
    from xrdnet.models.runs import load_run
    from xrdnet.patterns_io import read_many, to_model_grid

    checkpoint = Path(checkpoint) if checkpoint is not None else default_checkpoint()
    if not (checkpoint / "run.json").is_file():
        raise FileNotFoundError(f"checkpoint {checkpoint} not found (no run.json); pass --checkpoint runs/<name>")
    if top_k < 1:
        raise ValueError(f"--top-k must be >= 1, got {top_k}")
    run = load_run(checkpoint)
    grid = run.two_theta_deg
    if grid is None:
        raise ValueError(f"{checkpoint}: predict needs a CNN checkpoint (this run is a {run.kind})")
    attrs = run.model.hparams.get("data_attrs") or {}
    lam = float(run.model.hparams.get("wavelength_angstrom") or attrs.get("kalpha1_angstrom") or 1.5406)

    tree = _load_rule_tree(checkpoint)
    if tree is not None:
        from xrdnet.explain.rule_export import describe_path
    patterns, errors = read_many(files, wavelength)
    rows, infos = [], []
    for pattern in patterns:
        warnings = list(pattern.warnings)
        if pattern.wavelength_angstrom is None:
            warnings.append(f"no wavelength in the file or --wavelength: assuming the model's ({lam:.5f} Å)")
            pattern.wavelength_angstrom = lam
        try:
            row, info = to_model_grid(pattern, grid, lam, subtract_background=subtract_background)
        except ValueError as exc:
            errors.append((str(pattern.path), str(exc)))
            continue
        if info.get("warning"):
            warnings.append(info["warning"])
        rows.append(row)
        infos.append((pattern, info, warnings))
    results: list[dict] = []
    if rows:
        batch = np.stack(rows).astype(np.float32)
        pred = run.predict(batch, grid, lam)
        for i, (pattern, info, warnings) in enumerate(infos):
            cs_p, sg_p = pred.cs_proba[i], pred.sg_proba[i]
            cs, sg = int(pred.cs_pred[i]), int(pred.sg_pred[i])
            peaks = find_peaks(batch[i], grid, PeakFinderConfig())
            cs_order = np.argsort(-cs_p)[:top_k]
            sg_order = np.argsort(-sg_p)[:top_k]
            results.append({
                "file": str(pattern.path),
                "crystal_system": {"name": CRYSTAL_SYSTEMS[cs], "index": cs, "probability": float(cs_p[cs])},
                "space_group": {"number": sg, "symbol": space_group_symbol(sg), "probability": float(sg_p[sg - 1])},
                "top_k": {
                    "crystal_system": [{"name": CRYSTAL_SYSTEMS[j], "index": int(j), "probability": float(cs_p[j])}
                                       for j in cs_order],
                    "space_group": [{"number": int(j) + 1, "symbol": space_group_symbol(int(j) + 1),
                                     "probability": float(sg_p[j])} for j in sg_order],
                },
                "rule": describe_path(tree, batch[i], grid, lam) if tree is not None else None,
                "peaks_two_theta_deg": [round(float(t), 3) for t in peaks.two_theta_deg],
                "coverage": float(info.get("coverage", 1.0)),
                "wavelength_angstrom": float(pattern.wavelength_angstrom),
                "warnings": warnings,
            })
            if plot is not None:
                _plot(results[-1], grid, batch[i], peaks, plot, len(infos) > 1)
    return results, errors


def _plot(result: dict, grid: np.ndarray, pattern: np.ndarray, peaks, plot: str | Path, many: bool) -> Path:
    """The pattern on the model grid, its peaks, and the prediction in the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(plot)
    if many:
        path = path.with_name(f"{path.stem}_{Path(result['file']).stem}{path.suffix or '.png'}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(10, 3.6))
    ax.plot(grid, pattern, lw=0.7, color="0.2")
    ax.vlines(peaks.two_theta_deg, 0, peaks.height, color="tab:red", lw=0.8, alpha=0.7, label="peaks found")
    cs, sg = result["crystal_system"], result["space_group"]
    ax.set_title(f"{Path(result['file']).name}: {cs['name']} ({cs['probability']:.2f}), "
                 f"{sg['symbol']} (#{sg['number']}, {sg['probability']:.2f})", fontsize=10)
    ax.set_xlabel("2θ (°) on the model's grid")
    ax.set_ylabel("intensity (max = 1)")
    ax.set_xlim(grid[0], grid[-1])
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def format_result(result: dict) -> str:
    """Human-readable lines for one file."""
    cs, sg = result["crystal_system"], result["space_group"]
    lines = [
        f"{result['file']}",
        f"  crystal system: {cs['name']} ({cs['probability']:.1%})   space group: {sg['symbol']} "
        f"(#{sg['number']}, {sg['probability']:.1%})",
        "  top crystal systems: " + ", ".join(f"{c['name']} {c['probability']:.1%}"
                                             for c in result["top_k"]["crystal_system"]),
        "  top space groups:    " + ", ".join(f"{g['symbol']} (#{g['number']}) {g['probability']:.1%}"
                                             for g in result["top_k"]["space_group"]),
    ]
    if result.get("rule"):
        lines.append(f"  rule: {result['rule']}")
    peaks = result["peaks_two_theta_deg"]
    shown = ", ".join(f"{p:.2f}" for p in peaks[:15]) + (" ..." if len(peaks) > 15 else "")
    lines.append(f"  {len(peaks)} peaks (2θ °): {shown}")
    for w in result["warnings"]:
        lines.append(f"  warning: {w}")
    return "\n".join(lines)
