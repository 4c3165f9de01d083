"""Metrics and comparison outputs shared by every model: the CNN and the forest go through this code.

A model hands over probability matrices (crystal system ``[P, 7]``, space group ``[P, 230]``, column j
is space group j + 1) and, optionally, its own decoded predictions; :func:`evaluate` turns them into a
dict of plain-JSON values, :func:`write_comparison` turns one such dict per model into
``comparison.json``, ``comparison.csv`` and ``comparison.md``, and the two confusion-figure functions
draw PNGs. Crystal systems are indexed 0..6 in :data:`xrdnet.symmetry.CRYSTAL_SYSTEMS` order.
"""

from __future__ import annotations

import csv
import json
import math
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from xrdnet.outputs import jsonable, pyplot, save_figure
from xrdnet.symmetry import (
    CRYSTAL_SYSTEMS,
    N_CRYSTAL_SYSTEMS,
    N_SPACE_GROUPS,
    space_group_to_crystal_system_table,
)

__all__ = [
    "evaluate",
    "balanced_accuracy",
    "top_k_accuracy",
    "confusion_matrix_figure",
    "space_group_confusion_figure",
    "write_comparison",
    "format_table",
    "reliability_figure",
]

TOP_K = (1, 3, 5)


# ----------------------------------------------------------------------------------------------
# validation


def _labels(values: Any, name: str, low: int, high: int, n: int | None = None) -> np.ndarray:
    """``values`` as a 1-D int64 array with every entry in ``low..high`` (and length ``n`` if given)."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D [P], got shape {arr.shape}")
    if arr.dtype.kind == "f":
        # Labels that went through float storage are fine as long as they are whole numbers.
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise ValueError(f"{name} must hold integer labels, got non-integer floats")
        arr = arr.astype(np.int64)
    elif arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integer labels, got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    if n is not None and len(arr) != n:
        raise ValueError(f"{name} has {len(arr)} entries, expected {n}")
    if len(arr) and (arr.min() < low or arr.max() > high):
        bad = arr[(arr < low) | (arr > high)][0]
        raise ValueError(f"{name} must be in {low}..{high}, found {bad}")
    return arr


def _proba(values: Any, name: str, n: int, k: int) -> np.ndarray:
    """``values`` as a finite float64 ``[n, k]`` matrix (rows need not sum to 1: only ranks matter)."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape != (n, k):
        raise ValueError(f"{name} must have shape [P, {k}] = ({n}, {k}), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


# ----------------------------------------------------------------------------------------------
# metrics


def top_k_accuracy(y_true_index: np.ndarray, scores: np.ndarray, k: int) -> float:
    """Fraction of rows whose true column is among the ``k`` highest scores.

    ``y_true_index`` is ``[P]`` column indices (0-based), ``scores`` is ``[P, C]``. Ties are broken
    towards the lower column, the same rule as ``np.argmax``, so top-1 equals argmax accuracy and a
    flat score row does not count as a hit for every class. No sort: the rank of the truth is the
    number of columns that beat it.
    """
    rows = np.arange(len(y_true_index))
    true_score = scores[rows, y_true_index][:, None]
    columns = np.arange(scores.shape[1])[None, :]
    beats = (scores > true_score) | ((scores == true_score) & (columns < y_true_index[:, None]))
    return float(np.mean(beats.sum(axis=1) < k))


def balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean recall over the classes present in ``y_true`` (a prediction of an absent class counts as wrong)."""
    from sklearn.metrics import balanced_accuracy_score

    with warnings.catch_warnings():
        # sklearn warns when a predicted class never occurs in y_true; such classes have no recall
        # and are left out of the mean, which is exactly the definition we want.
        warnings.simplefilter("ignore")
        return float(balanced_accuracy_score(y_true, y_pred))


def _macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    labels = np.union1d(y_true, y_pred)
    return float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0))


def evaluate(
    crystal_system_true: Any,
    space_group_true: Any,
    crystal_system_proba: Any,
    space_group_proba: Any,
    *,
    crystal_system_pred: Any | None = None,
    space_group_pred: Any | None = None,
) -> dict[str, Any]:
    """Every headline metric of one model on one set of patterns, as a dict of plain-JSON values.

    Inputs are ``crystal_system_true [P]`` (0..6), ``space_group_true [P]`` (1..230),
    ``crystal_system_proba [P, 7]`` and ``space_group_proba [P, 230]`` (column j is space group
    j + 1; scores need not sum to 1). Predictions are the argmax of each matrix unless the model
    passes its own decoded ``crystal_system_pred [P]`` / ``space_group_pred [P]`` (the CNN decodes
    hierarchically, so its space group need not be the global argmax); accuracy, balanced accuracy,
    macro-F1, per-class accuracy and consistency use the predictions, while ``sg_top1/3/5`` always
    rank the probability matrix, so ``sg_top1`` can differ from ``sg_accuracy`` for such a model.
    ``cs_ece`` / ``sg_ece`` are the expected calibration errors of the predictions' probabilities
    (rows renormalised to sum 1; 15 equal-width bins, :func:`xrdnet.calibration.expected_calibration_error`).
    Balanced accuracy is the mean recall over classes present in the truth (sklearn). Macro-F1 is
    averaged over classes present in the truth *or* the predictions: a class the model predicts but
    never sees scores F1 = 0 and pulls the mean down, so spraying predictions over rare groups is
    penalised, while the 200-odd groups absent from both do not dilute it. ``consistency`` is the
    fraction of patterns whose predicted space group lies in the predicted crystal system.
    Raises ``ValueError`` on wrong shapes, empty input or labels out of range.
    """
    cs_true = _labels(crystal_system_true, "crystal_system_true", 0, N_CRYSTAL_SYSTEMS - 1)
    n = len(cs_true)
    if n == 0:
        raise ValueError("evaluate() needs at least one pattern, got P = 0")
    sg_true = _labels(space_group_true, "space_group_true", 1, N_SPACE_GROUPS, n)
    cs_proba = _proba(crystal_system_proba, "crystal_system_proba", n, N_CRYSTAL_SYSTEMS)
    sg_proba = _proba(space_group_proba, "space_group_proba", n, N_SPACE_GROUPS)

    if crystal_system_pred is None:
        cs_pred = cs_proba.argmax(axis=1)
    else:
        cs_pred = _labels(crystal_system_pred, "crystal_system_pred", 0, N_CRYSTAL_SYSTEMS - 1, n)
    if space_group_pred is None:
        sg_pred = sg_proba.argmax(axis=1) + 1
    else:
        sg_pred = _labels(space_group_pred, "space_group_pred", 1, N_SPACE_GROUPS, n)

    per_class_accuracy: dict[str, float | None] = {}
    per_class_n: dict[str, int] = {}
    for index, name in enumerate(CRYSTAL_SYSTEMS):
        members = cs_true == index
        per_class_n[name] = int(members.sum())
        per_class_accuracy[name] = float(np.mean(cs_pred[members] == index)) if members.any() else None

    table = space_group_to_crystal_system_table()
    result: dict[str, Any] = {
        "n": int(n),
        "cs_accuracy": float(np.mean(cs_pred == cs_true)),
        "cs_balanced_accuracy": balanced_accuracy(cs_true, cs_pred),
        "cs_macro_f1": _macro_f1(cs_true, cs_pred),
        "cs_per_class_accuracy": per_class_accuracy,
        "cs_per_class_n": per_class_n,
        "sg_accuracy": float(np.mean(sg_pred == sg_true)),
        "sg_balanced_accuracy": balanced_accuracy(sg_true, sg_pred),
        "sg_macro_f1": _macro_f1(sg_true, sg_pred),
    }
    for k in TOP_K:
        result[f"sg_top{k}"] = top_k_accuracy(sg_true - 1, sg_proba, k)
    result["consistency"] = float(np.mean(table[sg_pred] == cs_pred))
    # calibration of the answer's probability (15 equal-width bins; see xrdnet.calibration)
    from xrdnet.calibration import expected_calibration_error

    cs_norm = cs_proba / np.maximum(cs_proba.sum(axis=1, keepdims=True), 1e-300)
    sg_norm = sg_proba / np.maximum(sg_proba.sum(axis=1, keepdims=True), 1e-300)
    result["cs_ece"] = expected_calibration_error(cs_norm, cs_true, predicted=cs_pred)
    result["sg_ece"] = expected_calibration_error(sg_norm, sg_true - 1, predicted=sg_pred - 1)
    return result


# ----------------------------------------------------------------------------------------------
# figures


_pyplot = pyplot  # the old private names of xrdnet.outputs' helpers, used below and by scripts
_save = save_figure
_jsonable = jsonable


def _counts(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    """``[k, k]`` int64 counts, rows = truth, columns = prediction (indices 0..k-1)."""
    return np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k)


def confusion_matrix_figure(
    y_true: Any,
    y_pred: Any,
    labels: list[str],
    title: str,
    path: str | Path,
    normalize: str | None = "true",
) -> Path:
    """Draw a confusion matrix (rows = truth, columns = prediction) and save it as a PNG.

    ``y_true`` and ``y_pred`` are ``[P]`` class indices 0..len(labels)-1 (for crystal systems pass
    ``list(CRYSTAL_SYSTEMS)``). The colour is the normalised matrix: ``normalize="true"`` divides
    each row by its count (recall on the diagonal; rows with no patterns stay 0), ``"pred"`` each
    column, ``"all"`` the total, ``None`` shows raw counts. With at most 10 classes every cell is
    annotated with its raw count, which a fraction alone would hide. Returns the path written.
    """
    k = len(labels)
    if k == 0:
        raise ValueError("labels must name at least one class")
    y_true = _labels(y_true, "y_true", 0, k - 1)
    y_pred = _labels(y_pred, "y_pred", 0, k - 1, len(y_true))
    counts = _counts(y_true, y_pred, k).astype(np.float64)
    if normalize == "true":
        denom = counts.sum(axis=1, keepdims=True)
    elif normalize == "pred":
        denom = counts.sum(axis=0, keepdims=True)
    elif normalize == "all":
        denom = np.full((1, 1), counts.sum())
    elif normalize is None:
        denom = np.ones((1, 1))
    else:
        raise ValueError(f"normalize must be 'true', 'pred', 'all' or None, got {normalize!r}")
    shown = np.divide(counts, denom, out=np.zeros_like(counts), where=denom > 0)
    vmax = 1.0 if normalize is not None else max(shown.max(), 1.0)

    plt = _pyplot()
    side = min(max(4.0, 0.55 * k + 2.5), 14.0)
    fig, ax = plt.subplots(figsize=(side + 1.2, side))
    image = ax.imshow(shown, cmap="Blues", vmin=0.0, vmax=vmax, interpolation="nearest")
    colorbar_label = {"true": "fraction of true class", "pred": "fraction of predicted class",
                      "all": "fraction of patterns", None: "patterns"}[normalize]
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label=colorbar_label)
    if k <= 10:
        for i in range(k):
            for j in range(k):
                if counts[i, j] == 0:
                    continue
                dark = shown[i, j] > 0.5 * vmax
                ax.text(j, i, f"{int(counts[i, j])}", ha="center", va="center", fontsize=8,
                        color="white" if dark else "black")
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set_xticklabels(labels, rotation=45, ha="right", fontsize=8)
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return _save(fig, path)


def space_group_confusion_figure(sg_true: Any, sg_pred: Any, path: str | Path, title: str = "") -> Path:
    """Draw the 230 × 230 space-group confusion matrix as one image and save it as a PNG.

    ``sg_true`` and ``sg_pred`` are ``[P]`` ITA numbers 1..230. Cells are raw counts on a log
    colour scale (empty cells left white) because pattern counts per group span orders of magnitude
    and a linear scale would show only the diagonal of the common groups. Grey lines mark the
    crystal-system boundaries, so off-diagonal mass inside a block (right system, wrong group) is
    told apart from mass outside it at a glance; there are no per-cell annotations. Returns the path.
    """
    from matplotlib.colors import LogNorm

    sg_true = _labels(sg_true, "sg_true", 1, N_SPACE_GROUPS)
    sg_pred = _labels(sg_pred, "sg_pred", 1, N_SPACE_GROUPS, len(sg_true))
    counts = _counts(sg_true - 1, sg_pred - 1, N_SPACE_GROUPS)
    masked = np.ma.masked_equal(counts.astype(np.float64), 0.0)

    table = space_group_to_crystal_system_table()[1:]  # [230], index j = group j + 1
    # Column index where a new crystal system starts; the line sits between the two cells.
    starts = np.concatenate([[0], np.flatnonzero(np.diff(table)) + 1, [N_SPACE_GROUPS]])

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 8.8))
    image = ax.imshow(masked, cmap="viridis", norm=LogNorm(vmin=1, vmax=max(int(counts.max()), 2)),
                      interpolation="nearest", origin="upper")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="patterns (log scale)")
    for boundary in starts[1:-1]:
        ax.axhline(boundary - 0.5, color="0.5", lw=0.6)
        ax.axvline(boundary - 0.5, color="0.5", lw=0.6)
    centres = 0.5 * (starts[:-1] + starts[1:]) - 0.5
    ax.set_xticks(centres)
    ax.set_yticks(centres)
    ax.set_xticklabels(CRYSTAL_SYSTEMS, rotation=45, ha="right", fontsize=8)
    ax.set_yticklabels(CRYSTAL_SYSTEMS, fontsize=8)
    ax.set_xlabel("predicted space group (ITA 1..230)")
    ax.set_ylabel("true space group (ITA 1..230)")
    ax.set_xlim(-0.5, N_SPACE_GROUPS - 0.5)
    ax.set_ylim(N_SPACE_GROUPS - 0.5, -0.5)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return _save(fig, path)


def reliability_figure(curves: dict[str, tuple[Any, Any, Any]], path: str | Path, title: str = "") -> Path:
    """Reliability diagram (PNG) of crystal-system answers: ``curves`` maps a label to
    ``(crystal_system_true [P], crystal_system_proba [P, 7], crystal_system_pred [P] or None)``.

    Each curve is accuracy against the answer's probability in 15 bins, with its ECE in the legend.
    """
    from xrdnet.calibration import reliability_diagram

    drawn = {}
    for label, (y_true, proba, y_pred) in curves.items():
        y_true = _labels(y_true, "crystal_system_true", 0, N_CRYSTAL_SYSTEMS - 1)
        proba = _proba(proba, "crystal_system_proba", len(y_true), N_CRYSTAL_SYSTEMS)
        proba = proba / np.maximum(proba.sum(axis=1, keepdims=True), 1e-300)
        pred = proba.argmax(axis=1) if y_pred is None else _labels(y_pred, "crystal_system_pred", 0,
                                                                      N_CRYSTAL_SYSTEMS - 1, len(y_true))
        drawn[label] = (proba[np.arange(len(pred)), pred], pred == y_true)
    return reliability_diagram(drawn, path, title)


# ----------------------------------------------------------------------------------------------
# comparison tables

_DASH = "—"
_REAL_KEYS = ("real_cs_accuracy", "real_sg_accuracy", "real_sg_top5")


def _number(value: Any) -> float | None:
    """``value`` as a finite float, or None when missing, NaN or not a number."""
    if value is None or isinstance(value, bool):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _pct(value: Any) -> str:
    x = _number(value)
    return _DASH if x is None else f"{100.0 * x:.1f}%"


def _fixed(value: Any, digits: int) -> str:
    x = _number(value)
    return _DASH if x is None else f"{x:,.{digits}f}"


def _cell(text: Any) -> str:
    # A pipe inside a cell would split it into two columns.
    return str(text).replace("|", "\\|")


def _markdown(header: Sequence[str], body: Sequence[Sequence[str]], right_from: int) -> str:
    align = ["---" if i < right_from else "---:" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in body]
    return "\n".join(lines)


def format_table(rows: Sequence[dict]) -> str:
    """The Markdown headline table alone: one line per model (rows as for :func:`write_comparison`).

    Columns: model, split, CS acc, CS bal. acc, SG acc, SG macro-F1, SG top-3, SG top-5, CS ECE (when
    rows carry ``cs_ece``), then real CS acc, real SG acc, real SG top-5 (and real CS ECE) only when
    some row carries real-data metrics, then
    patterns/s, size MB and train s. Fractions print as percentages with one decimal; a missing or
    NaN value prints as a dash.
    """
    with_real = any(_number(row.get(key)) is not None for row in rows for key in _REAL_KEYS)
    with_ece = any(_number(row.get("cs_ece")) is not None for row in rows)
    header = ["model", "split", "CS acc", "CS bal. acc", "SG acc", "SG macro-F1", "SG top-3", "SG top-5"]
    if with_ece:
        header += ["CS ECE"]
    if with_real:
        header += ["real CS acc", "real SG acc", "real SG top-5"]
        if with_ece:
            header += ["real CS ECE"]
    header += ["patterns/s", "size MB", "train s"]
    body = []
    for row in rows:
        line = [str(row.get("model", "?")), str(row.get("split", _DASH))]
        line += [_pct(row.get(k)) for k in ("cs_accuracy", "cs_balanced_accuracy", "sg_accuracy",
                                            "sg_macro_f1", "sg_top3", "sg_top5")]
        if with_ece:
            line += [_fixed(row.get("cs_ece"), 3)]
        if with_real:
            line += [_pct(row.get(k)) for k in _REAL_KEYS]
            if with_ece:
                line += [_fixed(row.get("real_cs_ece"), 3)]
        line += [_fixed(row.get("inference_patterns_per_s"), 0), _fixed(row.get("model_size_mb"), 2),
                 _fixed(row.get("train_seconds"), 1)]
        body.append(line)
    return _markdown(header, body, right_from=2)


def _per_class_table(rows: Sequence[dict]) -> str:
    """Per-crystal-system accuracy, one column per model; n once when every model saw the same test set."""
    counts = [row.get("cs_per_class_n") or {} for row in rows]
    shared_n = all(c == counts[0] for c in counts)
    header = ["crystal system"] + (["n"] if shared_n else []) + [str(row.get("model", "?")) for row in rows]
    body = []
    for name in CRYSTAL_SYSTEMS:
        line = [name] + ([str(counts[0].get(name, _DASH)) if counts else _DASH] if shared_n else [])
        for row, c in zip(rows, counts):
            text = _pct((row.get("cs_per_class_accuracy") or {}).get(name))
            if not shared_n and name in c:
                text += f" (n={c[name]})"
            line.append(text)
        body.append(line)
    return _markdown(header, body, right_from=1)


def _csv_row(row: dict) -> dict[str, Any]:
    """Scalar columns of a row, with the per-crystal-system accuracy flattened to ``cs_acc_<name>``."""
    flat: dict[str, Any] = {}
    for key, value in _jsonable(row).items():
        if key == "cs_per_class_accuracy" and isinstance(value, dict):
            for name, acc in value.items():
                flat[f"cs_acc_{name}"] = acc
        elif value is None or isinstance(value, (str, int, float, bool)):
            flat[key] = value
    return flat


def write_comparison(rows: Sequence[dict], out_dir: str | Path, title: str, extra_md: str = "") -> dict[str, Path]:
    """Write ``comparison.json``, ``comparison.csv`` and ``comparison.md`` for a list of model rows.

    Each row is ``{"model", "kind", "split", **evaluate(...), "inference_patterns_per_s",
    "model_size_mb", "train_seconds"}`` plus optional ``real_cs_accuracy``, ``real_sg_accuracy``,
    ``real_sg_top5`` and ``real_n``. The JSON keeps everything (per-class dicts included, NaN as
    null); the CSV has one line per model with scalar columns only, the per-class accuracy flattened
    to ``cs_acc_<crystal system>`` and columns in order of first appearance; the Markdown holds the
    title, the headline table (:func:`format_table`), a per-crystal-system accuracy table with one
    column per model, then ``extra_md``. Returns ``{"json": path, "csv": path, "md": path}``.
    """
    rows = list(rows)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "comparison.json", "csv": out_dir / "comparison.csv",
             "md": out_dir / "comparison.md"}

    paths["json"].write_text(json.dumps({"title": title, "rows": _jsonable(rows)}, indent=2, allow_nan=False))

    flat = [_csv_row(row) for row in rows]
    columns: list[str] = []
    for row in flat:
        columns += [key for key in row if key not in columns]
    with paths["csv"].open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, restval="")
        writer.writeheader()
        for row in flat:
            writer.writerow({k: ("" if v is None else v) for k, v in row.items()})

    parts = [f"# {title}", format_table(rows)]
    real_n = sorted({int(r["real_n"]) for r in rows if _number(r.get("real_n")) is not None})
    if real_n:
        parts.append("Real-data columns: " + ", ".join(map(str, real_n)) + " measured patterns.")
    parts += ["## Accuracy per crystal system", _per_class_table(rows)]
    if extra_md.strip():
        parts.append(extra_md.strip())
    paths["md"].write_text("\n\n".join(parts) + "\n")
    return paths
