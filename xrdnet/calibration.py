"""Calibrated probabilities, calibration error, priors and abstention: the pure logic behind predict.

Everything here works on probability matrices (crystal system ``[P, 7]``, space group ``[P, 230]``,
column j = space group j + 1) and labels, so the CNN, a forest and an ensemble go through the same
code and nothing here reads a file a user measured.

- **Temperature scaling** (Guo et al. 2017): ``p_T ∝ p ** (1/T)``, i.e. softmax(log p / T). It keeps the
  ranking (argmax and top-k never change) and only makes the model more (T < 1) or less (T > 1)
  confident. One temperature per head (crystal system, space group), fitted by minimising the
  negative log-likelihood on the **simulated validation split** of the training data, never on
  measured patterns. :class:`Calibration` stores the two temperatures and their provenance in the
  checkpoint folder (``calibration.json``).
- **Expected calibration error** (ECE): the mean |accuracy − confidence| over equal-width confidence
  bins of the top-1 answer, weighted by the bin's share of patterns (15 bins).
- **Priors**: ``p ∝ p_model · prior / training prior`` re-weights the answer for a known sample
  population (Bayes' rule with the label shift made explicit). The training prior is what the model
  saw: the class frequencies of its training set under the run's sampling weights.
- **Accuracy vs coverage**: accuracy on the most confident fraction of the patterns (abstention).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from xrdnet.symmetry import N_CRYSTAL_SYSTEMS, N_SPACE_GROUPS, space_group_to_crystal_system_table

CALIBRATION_FILE = "calibration.json"
CARD_FILE = "card.json"  # the name xrdnet.checkpoint.card.CARD_FILE reads and writes
N_BINS = 15
_TINY = 1e-300

__all__ = [
    "Calibration",
    "apply_temperature",
    "fit_temperature",
    "expected_calibration_error",
    "reliability_curve",
    "reliability_diagram",
    "accuracy_vs_coverage",
    "training_prior",
    "load_prior",
    "apply_prior",
    "crystal_system_prior",
    "load_card",
]


# --------------------------------------------------------------------------- temperature scaling


def _as_proba(proba: Any) -> np.ndarray:
    arr = np.asarray(proba, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"probabilities must be a [P, C] matrix, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError("probabilities must be finite and non-negative")
    return arr


def apply_temperature(proba: Any, temperature: float) -> np.ndarray:
    """``proba [P, C]`` scaled by ``temperature``: rows ∝ p ** (1/T), summing to 1 (zeros stay zero).

    T = 1 returns the (renormalised) input; the order of every row is unchanged for any T > 0.
    """
    t = float(temperature)
    if not (math.isfinite(t) and t > 0):
        raise ValueError(f"temperature must be a positive number, got {temperature!r}")
    p = _as_proba(proba)
    if p.size == 0:
        return p.copy()
    with np.errstate(divide="ignore"):
        logp = np.log(p)
    z = logp / t
    z -= np.max(z, axis=1, keepdims=True)
    out = np.exp(z)  # exp(-inf) = 0: an impossible class stays impossible
    out /= out.sum(axis=1, keepdims=True)
    return out


def _nll(proba: np.ndarray, labels: np.ndarray) -> float:
    return float(-np.mean(np.log(np.maximum(proba[np.arange(len(labels)), labels], _TINY))))


def fit_temperature(proba: Any, labels: Any, bounds: tuple[float, float] = (0.05, 20.0)) -> float:
    """The temperature T minimising the negative log-likelihood of ``labels [P]`` (column indices) under ``proba [P, C]``.

    A bounded scalar search over log T (the NLL is convex in 1/T for logits). Patterns whose true
    class has probability 0 (a class the model cannot produce) are left out of the fit.
    """
    from scipy.optimize import minimize_scalar

    p = _as_proba(proba)
    y = np.asarray(labels, dtype=np.int64)
    if len(y) != len(p) or len(y) == 0:
        raise ValueError(f"need one label per row, got {len(y)} labels for {len(p)} rows")
    keep = p[np.arange(len(y)), y] > 0
    p, y = p[keep], y[keep]
    if len(y) == 0:
        raise ValueError("no row gives its true class a probability above zero")
    res = minimize_scalar(lambda log_t: _nll(apply_temperature(p, math.exp(log_t)), y),
                          bounds=(math.log(bounds[0]), math.log(bounds[1])), method="bounded",
                          options={"xatol": 1e-4})
    return float(math.exp(res.x))


# --------------------------------------------------------------------------- calibration error


def reliability_curve(confidence: Any, correct: Any, n_bins: int = N_BINS) -> dict:
    """Per-bin ``{edges, confidence, accuracy, count}`` of top-1 ``confidence [P]`` and ``correct [P]`` (bool).

    Bins are equal-width on [0, 1]; the last bin includes 1. Empty bins have NaN confidence/accuracy.
    """
    conf = np.asarray(confidence, dtype=np.float64)
    hit = np.asarray(correct, dtype=np.float64)
    if conf.shape != hit.shape or conf.ndim != 1:
        raise ValueError("confidence and correct must be 1-D arrays of the same length")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(which, weights=conf, minlength=n_bins) / count
        accuracy = np.bincount(which, weights=hit, minlength=n_bins) / count
    return {"edges": edges, "confidence": mean_conf, "accuracy": accuracy, "count": count}


def expected_calibration_error(proba: Any, labels: Any, n_bins: int = N_BINS,
                               predicted: Any | None = None) -> float:
    """ECE of ``proba [P, C]`` against ``labels [P]`` (column indices): Σ_b (n_b/P)·|acc_b − conf_b|.

    The answer is the argmax of each row unless ``predicted [P]`` (column indices) is given (a model
    that decodes hierarchically); its probability is the confidence.
    """
    p = _as_proba(proba)
    y = np.asarray(labels, dtype=np.int64)
    if len(y) != len(p) or len(y) == 0:
        raise ValueError(f"need one label per row, got {len(y)} labels for {len(p)} rows")
    pred = p.argmax(axis=1) if predicted is None else np.asarray(predicted, dtype=np.int64)
    conf = p[np.arange(len(p)), pred]
    return _ece_of_curve(reliability_curve(conf, pred == y, n_bins))


def _ece_of_curve(curve: dict) -> float:
    """Σ_b (n_b/P)·|acc_b − conf_b| of a ``reliability_curve`` (0 when it holds no pattern)."""
    filled = curve["count"] > 0
    gaps = np.abs(curve["accuracy"][filled] - curve["confidence"][filled])
    return float(np.sum(curve["count"][filled] * gaps) / max(int(curve["count"].sum()), 1))


def reliability_diagram(curves: dict[str, tuple[Any, Any]], path: str | Path, title: str = "",
                        n_bins: int = N_BINS) -> Path:
    """Draw one reliability diagram (accuracy against confidence per bin) and save it as a PNG.

    ``curves`` maps a label ("CS, simulated held-out, T = 1.4") to ``(confidence [P], correct [P])``;
    each is drawn as a line with its ECE in the legend, beside the diagonal of perfect calibration,
    with the share of patterns per bin in a lower panel. Returns the path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax_hist) = plt.subplots(2, 1, figsize=(5.6, 6.4), sharex=True,
                                      gridspec_kw={"height_ratios": [3, 1]})
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--", label="perfect calibration")
    width = 1.0 / n_bins
    n_curves = max(1, len(curves))
    for i, (label, (conf, correct)) in enumerate(curves.items()):
        conf = np.asarray(conf, dtype=np.float64)
        correct = np.asarray(correct, dtype=bool)
        c = reliability_curve(conf, correct, n_bins)
        filled = c["count"] > 0
        ece = _ece_of_curve(c)
        ax.plot(c["confidence"][filled], c["accuracy"][filled], marker="o", ms=3, lw=1.2,
                label=f"{label} (ECE {ece:.3f}, n = {len(conf)})")
        centres = c["edges"][:-1] + width * (i + 0.5) / n_curves
        ax_hist.bar(centres, c["count"] / max(len(conf), 1), width=width / n_curves, alpha=0.8)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy in bin")
    ax.legend(fontsize=7, loc="upper left")
    if title:
        ax.set_title(title, fontsize=10)
    ax_hist.set_xlabel("confidence of the top answer")
    ax_hist.set_ylabel("share")
    fig.tight_layout()
    from xrdnet.outputs import save_figure

    return save_figure(fig, path)


def accuracy_vs_coverage(confidence: Any, correct: Any,
                         coverages: Sequence[float] = (1.0, 0.9, 0.75, 0.5, 0.25, 0.1)) -> list[dict]:
    """Accuracy on the most confident ``coverage`` share of patterns, for each coverage.

    Returns ``[{coverage, n, accuracy, min_confidence}]``: ``min_confidence`` is the confidence of
    the least confident pattern kept, i.e. the ``--min-confidence`` that answers that share.
    """
    conf = np.asarray(confidence, dtype=np.float64)
    hit = np.asarray(correct, dtype=bool)
    order = np.argsort(-conf, kind="stable")
    rows = []
    for cov in coverages:
        n = max(1, int(round(float(cov) * len(conf))))
        kept = order[:n]
        rows.append({"coverage": float(cov), "n": int(n), "accuracy": float(hit[kept].mean()),
                     "min_confidence": float(conf[kept].min())})
    return rows


# --------------------------------------------------------------------------- stored calibration


@dataclass
class Calibration:
    """Temperatures of one checkpoint's two heads and where they come from (``calibration.json``).

    Attributes:
        cs_temperature, sg_temperature: T of the crystal-system and space-group probabilities.
        fitted_on: provenance, e.g. ``{"data": "real.h5", "split": "val", "split_kind": "compound", "n": 8262}``.
        ece: measured figures, e.g. ``{"simulated_test": {"cs_before": .., "cs_after": ..}, "real": {...}}``.
    """

    cs_temperature: float = 1.0
    sg_temperature: float = 1.0
    method: str = "temperature"
    fitted_on: dict = field(default_factory=dict)
    ece: dict = field(default_factory=dict)

    def apply(self, cs_proba: Any, sg_proba: Any) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated ``(cs_proba [P, 7], sg_proba [P, 230])``: order of every row unchanged."""
        return apply_temperature(cs_proba, self.cs_temperature), apply_temperature(sg_proba, self.sg_temperature)

    @classmethod
    def fit(cls, cs_proba: Any, sg_proba: Any, crystal_system: Any, space_group: Any,
            fitted_on: dict | None = None) -> "Calibration":
        """Fit both temperatures on validation probabilities and labels (CS 0..6, SG 1..230)."""
        t_cs = fit_temperature(cs_proba, crystal_system)
        t_sg = fit_temperature(sg_proba, np.asarray(space_group, dtype=np.int64) - 1)
        return cls(t_cs, t_sg, fitted_on=dict(fitted_on or {}))

    def save(self, folder: str | Path) -> Path:
        path = Path(folder) / CALIBRATION_FILE
        from xrdnet.outputs import jsonable

        path.write_text(json.dumps(jsonable(asdict(self)), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, folder: str | Path) -> "Calibration | None":
        """The calibration stored in checkpoint ``folder``, or None when it has none."""
        path = Path(folder) / CALIBRATION_FILE
        if not path.is_file():
            return None
        data = json.loads(path.read_text())
        return cls(float(data.get("cs_temperature", 1.0)), float(data.get("sg_temperature", 1.0)),
                   data.get("method", "temperature"), data.get("fitted_on") or {}, data.get("ece") or {})


def load_card(folder: str | Path) -> dict:
    """The measured figures of a checkpoint (``card.json``: real-pattern accuracy, baseline...), or {}.

    Read through ``xrdnet.checkpoint.ModelCard`` (the card's one schema) and given back as its plain dict.
    """
    from xrdnet.checkpoint.card import ModelCard

    return ModelCard.load(folder).to_dict()


# --------------------------------------------------------------------------- priors

PRIOR_PSEUDOCOUNT = 1.0
"""Added to every space group's count before normalising a prior, so no class is impossible."""

_PRIOR_DIR = Path(__file__).resolve().parent / "priors"
NAMED_PRIORS = {"minerals": _PRIOR_DIR / "minerals_amcsd.json"}


def _normalise_counts(counts: np.ndarray, pseudocount: float = PRIOR_PSEUDOCOUNT) -> np.ndarray:
    counts = np.asarray(counts, dtype=np.float64) + pseudocount
    return counts / counts.sum()


def crystal_system_prior(sg_prior: Any) -> np.ndarray:
    """A space-group prior ``[230]`` summed to the seven crystal systems ``[7]``."""
    table = space_group_to_crystal_system_table()[1:]
    return np.bincount(table, weights=np.asarray(sg_prior, dtype=np.float64), minlength=N_CRYSTAL_SYSTEMS)


def training_prior(folder: str | Path, sample_weights: str | None = None) -> np.ndarray | None:
    """The space-group frequencies ``[230]`` a run saw in training (``training_set.tsv.gz``), or None.

    ``sample_weights`` (the run's ``data.sample_weights``; read from its ``config.yaml`` when None)
    says how the training draw weighed the structures: ``compound*`` counts every (compound, space
    group) pair once; ``compound_sqrt_system`` then scales each crystal system by 1/√share and
    ``compound_system`` makes the systems uniform. A pseudo-count keeps every class possible.
    """
    import csv
    import gzip

    folder = Path(folder)
    path = folder / "training_set.tsv.gz"
    if not path.is_file():
        return None
    if sample_weights is None:
        config = folder / "config.yaml"
        if config.is_file():
            import yaml

            data = yaml.safe_load(config.read_text()) or {}
            sample_weights = ((data.get("data") or {}).get("sample_weights")) or None
    with gzip.open(path, "rt", newline="") as handle:
        rows = [(r.get("compound", ""), int(r["space_group"])) for r in csv.DictReader(handle, delimiter="\t")
                if (r.get("space_group") or "").strip().isdigit()]
    if sample_weights and str(sample_weights).startswith("compound"):
        rows = sorted(set(rows))
    sg = np.asarray([g for _, g in rows if 1 <= g <= N_SPACE_GROUPS], dtype=np.int64)
    counts = np.bincount(sg - 1, minlength=N_SPACE_GROUPS).astype(np.float64)
    table = space_group_to_crystal_system_table()[1:]
    if sample_weights in ("compound_sqrt_system", "compound_system"):
        per_system = np.bincount(table, weights=counts, minlength=N_CRYSTAL_SYSTEMS)
        share = per_system / max(per_system.sum(), 1.0)
        power = 0.5 if sample_weights == "compound_sqrt_system" else 1.0
        scale = np.where(share > 0, 1.0 / np.maximum(share, 1e-12) ** power, 0.0)
        counts = counts * scale[table]
        counts *= len(sg) / max(counts.sum(), 1e-12)  # back to a count scale for the pseudo-count
    return _normalise_counts(counts)


def load_prior(spec: str | Path) -> np.ndarray:
    """A space-group prior ``[230]`` from ``spec``: ``"uniform"``, a named prior (``"minerals"``) or a file.

    A file is JSON (``{"space_group_counts": {"14": 120, ...}}`` or a list of 230 numbers) or text
    with ``space_group,count`` lines (CSV or whitespace; ``#`` comments). Counts need not be
    normalised; a pseudo-count keeps every class possible.
    """
    name = str(spec)
    if name == "uniform":
        return np.full(N_SPACE_GROUPS, 1.0 / N_SPACE_GROUPS)
    path = NAMED_PRIORS.get(name, Path(name))
    if not Path(path).is_file():
        raise FileNotFoundError(f"prior {spec!r}: not 'uniform', {sorted(NAMED_PRIORS)} or a file")
    text = Path(path).read_text()
    counts = np.zeros(N_SPACE_GROUPS, dtype=np.float64)
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = None
    if isinstance(data, dict):
        data = data.get("space_group_counts", data)
    if isinstance(data, dict):
        for key, value in data.items():
            counts[int(key) - 1] += float(value)
    elif isinstance(data, list):
        if len(data) != N_SPACE_GROUPS:
            raise ValueError(f"{path}: a list prior needs {N_SPACE_GROUPS} numbers, got {len(data)}")
        counts[:] = np.asarray(data, dtype=np.float64)
    else:
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = [p for p in line.replace(",", " ").split() if p]
            try:
                group, value = int(parts[0]), float(parts[1])
            except (IndexError, ValueError):
                continue  # a header line
            if not 1 <= group <= N_SPACE_GROUPS:
                raise ValueError(f"{path}: space group {group} is outside 1..230")
            counts[group - 1] += value
    if np.any(counts < 0) or not np.all(np.isfinite(counts)):
        raise ValueError(f"{path}: prior counts must be finite and non-negative")
    return _normalise_counts(counts)


def apply_prior(cs_proba: Any, sg_proba: Any, prior_sg: Any, training_prior_sg: Any) -> tuple[np.ndarray, np.ndarray]:
    """Re-weight ``(cs_proba [P, 7], sg_proba [P, 230])`` for another class population.

    p ∝ p_model · prior / training prior, on each head (the crystal-system priors are the sums of
    the space-group priors). Rows are renormalised; the answer can change (that is the point).
    """
    prior_sg = np.asarray(prior_sg, dtype=np.float64)
    train_sg = np.asarray(training_prior_sg, dtype=np.float64)
    if prior_sg.shape != (N_SPACE_GROUPS,) or train_sg.shape != (N_SPACE_GROUPS,):
        raise ValueError("priors must be [230] vectors over space groups 1..230")
    w_sg = prior_sg / np.maximum(train_sg, 1e-12)
    w_cs = crystal_system_prior(prior_sg) / np.maximum(crystal_system_prior(train_sg), 1e-12)
    cs = _as_proba(cs_proba) * w_cs[None, :]
    sg = _as_proba(sg_proba) * w_sg[None, :]
    cs /= np.maximum(cs.sum(axis=1, keepdims=True), 1e-300)
    sg /= np.maximum(sg.sum(axis=1, keepdims=True), 1e-300)
    return cs, sg


def decode(cs_proba: np.ndarray, sg_proba: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hierarchical answer: crystal system = argmax, space group = the best group within that system.

    Returns ``(cs_pred [P], sg_pred [P] 1..230, sg_is_overall_top [P] bool)``.
    """
    table = space_group_to_crystal_system_table()[1:]
    cs_pred = np.asarray(cs_proba).argmax(axis=1)
    masked = np.where(table[None, :] == cs_pred[:, None], sg_proba, -1.0)
    sg_pred = masked.argmax(axis=1) + 1
    overall = np.asarray(sg_proba).argmax(axis=1) + 1
    return cs_pred, sg_pred, sg_pred == overall
