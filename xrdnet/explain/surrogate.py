"""Surrogate decision trees fitted to a model's predictions, judged by fidelity and accuracy.

A surrogate explains the network, not the data: it is fitted to what the CNN *predicted* on a fit
split (the data set's train split) and judged on held-out patterns (the test split) twice, by
**fidelity** (agreement with the CNN: how well the rule describes the network) and **accuracy**
(agreement with the truth: how good the rule is as a classifier on its own). A depth sweep gives
both against tree size, so a reader can pick the simplest rule that is good enough.

Labels are plain integers: crystal-system index 0..6, space group 1..230, or 0/1 for a one-vs-rest
target (1 = the named class). ``class_names`` maps each label to the text rules print.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from xrdnet.features import FeatureSpec
from xrdnet.symmetry import CRYSTAL_SYSTEMS, space_group_symbol

TARGETS: tuple[str, ...] = ("crystal_system", "space_group", "cubic")
CUBIC = CRYSTAL_SYSTEMS.index("cubic")


# --------------------------------------------------------------------------- labels


def _labels_1d(values, name: str, n: int | None = None) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1D label array [P], got shape {arr.shape}")
    if n is not None and len(arr) != n:
        raise ValueError(f"{name} has {len(arr)} labels, expected {n} (one per row of X)")
    return arr.astype(np.int64)


def agreement(a, b) -> float:
    """Fraction of positions where label arrays ``a [P]`` and ``b [P]`` agree (NaN when P = 0).

    Fidelity is ``agreement(tree_prediction, model_prediction)``; accuracy is
    ``agreement(tree_prediction, truth)``.
    """
    a = _labels_1d(a, "a")
    b = _labels_1d(b, "b", len(a))
    return float(np.mean(a == b)) if len(a) else float("nan")


def one_vs_rest(labels, positive: int) -> np.ndarray:
    """``[P]`` int64 0/1 labels: 1 where ``labels [P]`` equals ``positive``."""
    return (_labels_1d(labels, "labels") == int(positive)).astype(np.int64)


def target_labels(target: str, crystal_system, space_group) -> np.ndarray:
    """``[P]`` labels of ``target`` from crystal-system indices ``[P]`` and space groups ``[P]``.

    ``crystal_system`` gives 0..6, ``space_group`` 1..230, ``cubic`` 1 for cubic and 0 otherwise.
    """
    if target == "crystal_system":
        return _labels_1d(crystal_system, "crystal_system")
    if target == "space_group":
        return _labels_1d(space_group, "space_group")
    if target == "cubic":
        return one_vs_rest(crystal_system, CUBIC)
    raise ValueError(f"target must be one of {TARGETS}, got {target!r}")


def class_names(target: str, labels: Sequence[int] = ()) -> dict[int, str]:
    """Printable name of every label of ``target`` (``labels`` restricts space groups to those seen).

    One-vs-rest names follow ``"ovr:<system>"`` targets: 1 = the system, 0 = ``"not <system>"``.
    """
    if target == "crystal_system":
        return dict(enumerate(CRYSTAL_SYSTEMS))
    if target == "space_group":
        groups = sorted({int(v) for v in labels}) or list(range(1, 231))
        return {g: f"{space_group_symbol(g)} ({g})" for g in groups}
    system = "cubic" if target == "cubic" else target.removeprefix("ovr:")
    if target != "cubic" and (not target.startswith("ovr:") or system not in CRYSTAL_SYSTEMS):
        raise ValueError(f"target must be one of {TARGETS} or 'ovr:<crystal system>', got {target!r}")
    return {0: f"not {system}", 1: system}


# --------------------------------------------------------------------------- data of one split


@dataclass(frozen=True)
class SplitData:
    """Features and labels of one split (fit or held-out) for one target.

    Attributes:
        X: ``[P, F]`` float64 interpretable features (NaN = feature undefined for that pattern).
        model_label: ``[P]`` int64 what the explained model (the CNN) predicted.
        true_label: ``[P]`` int64 the truth.
    """

    X: np.ndarray
    model_label: np.ndarray
    true_label: np.ndarray

    def __post_init__(self) -> None:
        X = np.asarray(self.X, dtype=np.float64)
        if X.ndim != 2:
            raise ValueError(f"X must be a 2D feature matrix [P, F], got shape {X.shape}")
        if np.any(np.isinf(X)):
            raise ValueError("X contains inf values (NaN is allowed: it marks a missing feature)")
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "model_label", _labels_1d(self.model_label, "model_label", len(X)))
        object.__setattr__(self, "true_label", _labels_1d(self.true_label, "true_label", len(X)))

    def __len__(self) -> int:
        return len(self.X)

    def relabel(self, fn) -> "SplitData":
        """The same rows with ``fn`` applied to both label arrays (e.g. a one-vs-rest map)."""
        return SplitData(self.X, fn(self.model_label), fn(self.true_label))


# --------------------------------------------------------------------------- fitting


@dataclass(frozen=True)
class LeafStats:
    """Held-out patterns reaching one leaf and how often its class agrees with the model / the truth.

    ``constant_fidelity`` is what always giving the model's most common answer (over the whole
    held-out split) scores on the same patterns: the leaf's rule is worth citing only above it.
    ``coverage`` is n over all held-out patterns.
    """

    n: int
    fidelity: float
    accuracy: float
    constant_fidelity: float = float("nan")
    coverage: float = float("nan")


@dataclass
class FittedSurrogate:
    """A surrogate tree with everything its exports need.

    Attributes:
        name: ``crystal_system``, ``space_group``, ``cubic`` or ``ovr:<system>``.
        tree: the fitted ``DecisionTreeClassifier`` (classes = the labels it saw in fitting).
        specs: the ``FeatureSpec`` of each column of X.
        class_names: label -> printable name.
        held_out / fit: ``{"fidelity", "accuracy", "n"}`` of the whole tree on each split.
        leaves: node id -> ``LeafStats`` on the held-out split, for every leaf.
        settings: fitting settings (max_depth, min_samples_leaf, seed) kept for the exports.
    """

    name: str
    tree: object = field(repr=False)
    specs: tuple[FeatureSpec, ...]
    class_names: dict[int, str]
    held_out: dict
    fit: dict
    leaves: dict[int, LeafStats]
    settings: dict

    @property
    def depth(self) -> int:
        return int(self.tree.get_depth())

    @property
    def n_leaves(self) -> int:
        return int(self.tree.get_n_leaves())


def balanced_agreement(predicted, reference) -> float:
    """Mean over the classes of ``reference [P]`` of the share of its rows ``predicted [P]`` matches.

    Against the model's labels this is the balanced fidelity: a tree that always answers the
    model's commonest class scores 1 / (number of classes), however common that class is.
    """
    predicted = _labels_1d(predicted, "predicted")
    reference = _labels_1d(reference, "reference", len(predicted))
    if len(reference) == 0:
        return float("nan")
    return float(np.mean([np.mean(predicted[reference == c] == c) for c in np.unique(reference)]))


def constant_label(labels) -> int:
    """The most common label of ``labels [P]`` (the smallest on a tie): the constant answer rules face."""
    values, counts = np.unique(_labels_1d(labels, "labels"), return_counts=True)
    return int(values[np.argmax(counts)])


def scores(tree, data: SplitData) -> dict:
    """Scores of ``tree`` on ``data`` (NaN when empty): ``fidelity``, ``accuracy``, ``n``,
    ``baseline_fidelity``, ``balanced_fidelity``, ``balanced_accuracy`` and ``constant_class``.

    ``baseline_fidelity`` is the fidelity of always answering the model's most common label
    (``constant_class``): the number a useful rule has to beat (for cubic vs rest it is already
    about 0.9). The balanced scores average over classes, so the constant scores 1/k on them.
    """
    if len(data) == 0:
        return {"fidelity": float("nan"), "accuracy": float("nan"), "n": 0, "baseline_fidelity": float("nan"),
                "balanced_fidelity": float("nan"), "balanced_accuracy": float("nan"), "constant_class": None}
    predicted = tree.predict(data.X)
    constant = constant_label(data.model_label)
    return {"fidelity": agreement(predicted, data.model_label), "accuracy": agreement(predicted, data.true_label),
            "n": len(data), "baseline_fidelity": float(np.mean(data.model_label == constant)),
            "balanced_fidelity": balanced_agreement(predicted, data.model_label),
            "balanced_accuracy": balanced_agreement(predicted, data.true_label), "constant_class": constant}


def leaf_statistics(tree, data: SplitData) -> dict[int, LeafStats]:
    """Node id -> ``LeafStats`` of every leaf of ``tree`` on ``data`` (n = 0, NaN scores where none land)."""
    t = tree.tree_
    leaf_ids = np.flatnonzero(t.children_left == -1)
    reached = tree.apply(data.X) if len(data) else np.zeros(0, dtype=np.int64)
    leaf_class = tree.classes_[np.argmax(t.value[:, 0, :], axis=1)]
    constant = constant_label(data.model_label) if len(data) else None
    stats = {}
    for node in leaf_ids:
        here = reached == node
        n = int(here.sum())
        cls = leaf_class[node]
        nan = float("nan")
        stats[int(node)] = LeafStats(
            n,
            float(np.mean(data.model_label[here] == cls)) if n else nan,
            float(np.mean(data.true_label[here] == cls)) if n else nan,
            float(np.mean(data.model_label[here] == constant)) if n else nan,
            n / len(data) if len(data) else nan,
        )
    return stats


def _check_depth(max_depth: int) -> int:
    if isinstance(max_depth, bool) or not isinstance(max_depth, (int, np.integer)) or max_depth < 1:
        raise ValueError(f"max_depth must be a positive integer, got {max_depth!r}")
    return int(max_depth)


def fit_surrogate(name: str, fit: SplitData, held_out: SplitData, specs: Sequence[FeatureSpec],
                  max_depth: int, min_samples_leaf: int = 1, seed: int = 0,
                  names: dict[int, str] | None = None, class_weight: str | None = None) -> FittedSurrogate:
    """Fit a ``DecisionTreeClassifier`` of depth ≤ ``max_depth`` to ``fit.model_label`` and score it.

    The tree learns the model's predictions, never the truth; it is then scored on ``held_out``
    (and, for reference, on ``fit``) by fidelity and accuracy, leaf by leaf as well. NaN features
    are allowed: scikit-learn sends them down the side that fits best at each split (or, where
    fitting saw none, the side with more samples), and the JSON export keeps that choice.
    ``names`` defaults to ``class_names(name, labels seen)``. ``class_weight="balanced"`` is for
    one-vs-rest targets: cubic is about a tenth of the patterns, and an unweighted depth-1 tree
    then answers "not cubic" on both sides of its split, a rule that says nothing.
    """
    from sklearn.tree import DecisionTreeClassifier

    max_depth = _check_depth(max_depth)
    specs = tuple(specs)
    if fit.X.shape[1] != len(specs) or held_out.X.shape[1] != len(specs):
        raise ValueError(f"X has {fit.X.shape[1]} (fit) / {held_out.X.shape[1]} (held-out) columns but "
                         f"{len(specs)} feature specs were given")
    if len(fit) == 0:
        raise ValueError(f"surrogate {name!r}: the fit split has no patterns")
    if isinstance(min_samples_leaf, bool) or not isinstance(min_samples_leaf, int) or min_samples_leaf < 1:
        raise ValueError(f"min_samples_leaf must be a positive integer, got {min_samples_leaf!r}")
    if class_weight not in (None, "balanced"):
        raise ValueError(f"class_weight must be None or 'balanced', got {class_weight!r}")
    tree = DecisionTreeClassifier(max_depth=max_depth, min_samples_leaf=min_samples_leaf, random_state=seed,
                                  class_weight=class_weight)
    tree.fit(fit.X, fit.model_label)
    if names is None:
        seen = np.union1d(fit.model_label, np.union1d(fit.true_label, held_out.true_label))
        names = class_names(name, seen)
    missing = [int(c) for c in tree.classes_ if int(c) not in names]
    if missing:
        raise ValueError(f"surrogate {name!r}: no class name for label(s) {missing}")
    return FittedSurrogate(
        name=name, tree=tree, specs=specs, class_names={int(k): v for k, v in names.items()},
        held_out=scores(tree, held_out), fit=scores(tree, fit), leaves=leaf_statistics(tree, held_out),
        settings={"max_depth": max_depth, "min_samples_leaf": min_samples_leaf, "seed": seed,
                  "class_weight": class_weight},
    )


def depth_sweep(name: str, fit: SplitData, held_out: SplitData, specs: Sequence[FeatureSpec],
                depths: Sequence[int] = range(1, 7), min_samples_leaf: int = 1, seed: int = 0,
                names: dict[int, str] | None = None, class_weight: str | None = None,
                ) -> tuple[list[dict], dict[int, FittedSurrogate]]:
    """Fit one surrogate per depth in ``depths``; return the table rows and the trees by depth.

    Each row: ``model`` (= ``name``), ``depth`` (the limit), ``actual_depth``, ``leaves``,
    ``fidelity``, ``accuracy``, ``n`` (held-out), ``baseline_fidelity`` (always the model's most
    common answer), ``fit_fidelity`` (on the fit split, for spotting over-fitting). A tree may
    stop short of its limit when it has nothing left to split.
    """
    rows, trees = [], {}
    for depth in depths:
        s = fit_surrogate(name, fit, held_out, specs, _check_depth(depth), min_samples_leaf, seed, names,
                          class_weight)
        trees[int(depth)] = s
        rows.append({"model": name, "depth": int(depth), "actual_depth": s.depth, "leaves": s.n_leaves,
                     "fidelity": s.held_out["fidelity"], "accuracy": s.held_out["accuracy"],
                     "n": s.held_out["n"], "baseline_fidelity": s.held_out["baseline_fidelity"],
                     "balanced_fidelity": s.held_out["balanced_fidelity"], "fit_fidelity": s.fit["fidelity"]})
    return rows, trees


CEILING_TREES = 300
"""Trees of the forest whose fidelity is the ceiling a rule in the same features could reach."""


def fidelity_ceiling(fit: SplitData, held_out: SplitData, seed: int = 0, min_samples_leaf: int = 1,
                     n_jobs: int = 1) -> dict:
    """How much of the model any rule in these features can explain: a ``CEILING_TREES``-tree random
    forest fitted to the model's labels on ``fit``, its held-out ``fidelity`` and ``balanced_fidelity``.

    A tree of depth 4 is a small rule; when even a large forest on the same features reproduces the model
    on few held-out patterns, the model's evidence is not in the features, and no rule will carry it.
    """
    from sklearn.ensemble import RandomForestClassifier

    if len(fit) == 0 or len(held_out) == 0:
        return {"fidelity": float("nan"), "balanced_fidelity": float("nan"), "n_trees": CEILING_TREES}
    forest = RandomForestClassifier(n_estimators=CEILING_TREES, min_samples_leaf=min_samples_leaf,
                                    random_state=seed, n_jobs=n_jobs)
    forest.fit(fit.X, fit.model_label)  # NaN features are routed as the trees learned (scikit-learn >= 1.4)
    predicted = forest.predict(held_out.X)
    return {"fidelity": agreement(predicted, held_out.model_label),
            "balanced_fidelity": balanced_agreement(predicted, held_out.model_label), "n_trees": CEILING_TREES}
