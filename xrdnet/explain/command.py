"""``xrdnet rules``: surrogate decision-tree rules of a trained run, written out for a paper.

One call reads a run and a data set, computes interpretable peak features and the run's predictions
on the fit split (the data set's train split) and the held-out split (its test split), fits the
surrogates of one target, sweeps their depth, runs the Suzuki et al. experiment and writes every
export into one folder:

``rules.txt``, ``rules.md``, ``rules.tex`` (the rules), ``tree.json`` (the tree, machine-readable),
``tree.png`` / ``tree.svg`` (the figure), ``sweep.csv`` / ``sweep.md`` (fidelity, accuracy and size
against depth), ``suzuki.md`` / ``suzuki.json``, ``summary.json`` (headline rule, scores, settings)
and ``config.yaml`` (the resolved settings); for the crystal-system target also
``trees/ovr_<system>.json``, the one-vs-rest trees.

``compute_rule_inputs`` does the slow part (features and predictions) once, so ``export_all_rules``
can write every target from it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from xrdnet.config import config_to_dict, save_config
from xrdnet.data.splits import SPLIT_KINDS, SPLIT_NAMES
from xrdnet.explain.rule_export import (
    one_line_rule,
    rules_to_latex,
    rules_to_markdown,
    rules_to_text,
    surrogate_to_json,
    sweep_to_markdown,
    tree_figure,
    write_sweep_csv,
)
from xrdnet.explain.suzuki import SuzukiConfig, suzuki_experiment, suzuki_to_markdown
from xrdnet.explain.surrogate import (
    TARGETS,
    FittedSurrogate,
    SplitData,
    class_names,
    depth_sweep,
    one_vs_rest,
    target_labels,
)
from xrdnet.features import FeatureSpec, PeakFinderConfig, interpretable_features
from xrdnet.symmetry import CRYSTAL_SYSTEMS

OUTPUT_FILES = ("rules.txt", "rules.md", "rules.tex", "tree.json", "tree.png", "tree.svg", "sweep.csv", "sweep.md",
                "suzuki.md", "suzuki.json", "summary.json", "config.yaml")


@dataclass(frozen=True)
class RulesConfig:
    """Settings of ``xrdnet rules`` (a YAML file, or the ``rules:`` section of one).

    Attributes:
        target: ``crystal_system`` (a multi-class tree plus one-vs-rest trees per system),
            ``space_group`` (multi-class) or ``cubic`` (cubic vs the rest).
        max_depth: depth of the exported tree; the sweep covers 1..max_depth.
        split_kind: ``structure`` or ``structure_type`` (see ``xrdnet.data.splits``).
        fit_split / held_out_split: where the trees learn the model's predictions and where
            they are judged; the model was trained on ``train``, so ``test`` is unseen by both.
        max_patterns: cap per split (a seeded subset; 0 = all). Peak finding costs about a
            millisecond per pattern and the CNN runs on CPU here.
        n_peaks: how many leading peaks get position features (Suzuki used 10).
        min_samples_leaf: smallest leaf in fitted patterns: no rule rests on a handful of cases.
        seed: seeds the subsets and the trees.
        batch_size: patterns read, featurized and predicted at a time (bounds memory).
        peak_finder: the shared peak finder's settings.
        suzuki: the Suzuki et al. experiment's settings.
    """

    target: str = "crystal_system"
    max_depth: int = 6
    split_kind: str = "structure"
    fit_split: str = "train"
    held_out_split: str = "test"
    max_patterns: int = 10000
    n_peaks: int = 10
    min_samples_leaf: int = 5
    seed: int = 0
    batch_size: int = 1024
    peak_finder: PeakFinderConfig = field(default_factory=PeakFinderConfig)
    suzuki: SuzukiConfig = field(default_factory=SuzukiConfig)

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {self.target!r}")
        if self.split_kind not in SPLIT_KINDS:
            raise ValueError(f"split_kind must be one of {SPLIT_KINDS}, got {self.split_kind!r}")
        for name in ("fit_split", "held_out_split"):
            if getattr(self, name) not in SPLIT_NAMES:
                raise ValueError(f"{name} must be one of {SPLIT_NAMES}, got {getattr(self, name)!r}")
        if self.fit_split == self.held_out_split:
            raise ValueError(f"fit_split and held_out_split must differ (both {self.fit_split!r}): "
                             "fidelity on the fit split says nothing about new patterns")
        for name, low in (("max_depth", 1), ("max_patterns", 0), ("n_peaks", 1), ("min_samples_leaf", 1),
                          ("batch_size", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


@dataclass
class SplitFeatures:
    """Features, predictions and truth of one split's patterns.

    Attributes:
        rows: ``[P]`` pattern rows in the data set; X: ``[P, F]`` float64 features.
        cs_model / sg_model: ``[P]`` the run's crystal system (0..6) / space group (1..230).
        cs_true / sg_true: ``[P]`` the truth.
    """

    rows: np.ndarray
    X: np.ndarray
    cs_model: np.ndarray
    sg_model: np.ndarray
    cs_true: np.ndarray
    sg_true: np.ndarray

    def split_data(self, target: str) -> SplitData:
        """``SplitData`` of this split for ``target`` (see ``target_labels``)."""
        return SplitData(self.X, target_labels(target, self.cs_model, self.sg_model),
                         target_labels(target, self.cs_true, self.sg_true))


@dataclass
class RuleInputs:
    """Everything the surrogates need, computed once per run and data set."""

    specs: list[FeatureSpec]
    fit: SplitFeatures
    held_out: SplitFeatures
    info: dict  # run, data, wavelength, split sizes before the cap


def _capped_rows(rows: np.ndarray, cap: int, seed: int) -> np.ndarray:
    if cap and len(rows) > cap:
        return np.sort(np.random.default_rng(seed).choice(rows, cap, replace=False))
    return rows


def compute_rule_inputs(run: str | Path, data: str | Path, config: RulesConfig = RulesConfig()) -> RuleInputs:
    """Features and the run's predictions on the fit and held-out splits of ``data`` (block by block).

    Peak positions belong to Kα1 when the data set was rendered with the doublet, so Q and d use
    ``kalpha1_angstrom`` (the plain wavelength otherwise). Raises ValueError for an empty split.
    """
    from xrdnet.data.reader import PatternDataset
    from xrdnet.models.runs import load_run

    loaded = load_run(run)
    splits, available = {}, {}
    with PatternDataset(data) as ds:
        lam = float(ds.attrs.get("kalpha1_angstrom") or ds.wavelength_angstrom)
        grid = ds.two_theta_deg
        cs_all, sg_all = ds.pattern_crystal_system(), ds.pattern_space_group()
        for split in (config.fit_split, config.held_out_split):
            rows = ds.indices(split, config.split_kind)
            available[split] = len(rows)
            if len(rows) == 0:
                raise ValueError(f"{data}: the {split} split (by {config.split_kind}) has no patterns")
            rows = _capped_rows(rows, config.max_patterns, config.seed)
            X, cs, sg = [], [], []
            for start in range(0, len(rows), config.batch_size):
                block = rows[start : start + config.batch_size]
                patterns = ds.read_patterns(block)
                features, specs = interpretable_features(patterns, grid, lam, config.n_peaks, config.peak_finder)
                prediction = loaded.predict(patterns, grid, lam)
                X.append(features)
                cs.append(np.asarray(prediction.cs_pred, dtype=np.int64))
                sg.append(np.asarray(prediction.sg_pred, dtype=np.int64))
            splits[split] = SplitFeatures(rows, np.concatenate(X), np.concatenate(cs), np.concatenate(sg),
                                          cs_all[rows].astype(np.int64), sg_all[rows].astype(np.int64))
    info = {"run": str(run), "run_kind": loaded.kind, "data": str(data), "wavelength_angstrom": lam,
            "split_kind": config.split_kind, "patterns_available": available}
    return RuleInputs(specs, splits[config.fit_split], splits[config.held_out_split], info)


def _feature_extraction(config: RulesConfig, info: dict) -> dict:
    """What ``predict_patterns_with_tree_json`` needs to compute the same features of a new pattern."""
    return {"function": "xrdnet.features.interpretable_features", "n_peaks": config.n_peaks,
            "peak_finder": asdict(config.peak_finder), "wavelength_angstrom_of_data": info["wavelength_angstrom"],
            "note": "pass the wavelength of the new pattern's peak maxima (Kα1 for a Kα1/Kα2 doublet)"}


def _ovr_data(inputs: RuleInputs, system: str) -> tuple[SplitData, SplitData]:
    k = CRYSTAL_SYSTEMS.index(system)
    fn = lambda labels: one_vs_rest(labels, k)  # noqa: E731
    return inputs.fit.split_data("crystal_system").relabel(fn), inputs.held_out.split_data("crystal_system").relabel(fn)


def _sweep(name: str, fit: SplitData, held: SplitData, inputs: RuleInputs, config: RulesConfig,
           class_weight: str | None) -> tuple[list[dict], dict[int, FittedSurrogate]]:
    names = class_names(name, np.concatenate([fit.model_label, fit.true_label, held.model_label, held.true_label]))
    return depth_sweep(name, fit, held, inputs.specs, range(1, config.max_depth + 1), config.min_samples_leaf,
                       config.seed, names, class_weight)


def write_target_rules(inputs: RuleInputs, out: str | Path, config: RulesConfig = RulesConfig()) -> dict:
    """Fit the surrogates of ``config.target`` on ``inputs`` and write every export into ``out``.

    Returns the ``summary.json`` content. One-vs-rest trees (the cubic target and the
    per-system trees) use balanced class weights, multi-class trees none (see ``fit_surrogate``).
    The headline ``best_one_line_rule`` is always the depth-1 cubic-vs-rest tree's rule.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for stale in (out / "trees").glob("ovr_*.json"):  # from an earlier crystal-system run into this folder
        stale.unlink()
    extraction = _feature_extraction(config, inputs.info)
    target = config.target
    fit, held = inputs.fit.split_data(target), inputs.held_out.split_data(target)
    rows, trees = _sweep(target, fit, held, inputs, config, "balanced" if target == "cubic" else None)
    main = trees[config.max_depth]
    main_json = surrogate_to_json(main, extraction)

    ovr: dict[str, FittedSurrogate] = {}
    cubic_stump = trees[1] if target == "cubic" else None
    if target == "crystal_system":
        for name in (f"ovr:{system}" for system in CRYSTAL_SYSTEMS):
            ovr_fit, ovr_held = _ovr_data(inputs, name.removeprefix("ovr:"))
            ovr_rows, ovr_trees = _sweep(name, ovr_fit, ovr_held, inputs, config, "balanced")
            rows += ovr_rows
            ovr[name] = ovr_trees[config.max_depth]
            if name == "ovr:cubic":
                cubic_stump = ovr_trees[1]
    if cubic_stump is None:  # space-group target: fit the headline stump on its own
        _, stumps = depth_sweep("ovr:cubic", *_ovr_data(inputs, "cubic"), inputs.specs, [1],
                                config.min_samples_leaf, config.seed, class_names("ovr:cubic"), "balanced")
        cubic_stump = stumps[1]
    headline = one_line_rule(surrogate_to_json(cubic_stump, extraction), positive=1)

    # ---- the tree and its rules
    (out / "tree.json").write_text(json.dumps(main_json, indent=1, ensure_ascii=False))
    text = [rules_to_text(main_json)]
    markdown = [f"# Surrogate rules: {target}", "", f"Best one-line rule (cubic vs rest, depth 1): "
                f"**{headline['text']}**", "", "## Depth sweep", "", sweep_to_markdown(rows),
                rules_to_markdown(main_json, title=f"Rules: {target}, depth {config.max_depth}")]
    latex = [rules_to_latex(main_json, label=f"tab:rules-{target.replace('_', '-')}")]
    if ovr:
        (out / "trees").mkdir(exist_ok=True)
    for name, surrogate in ovr.items():
        tree_json = surrogate_to_json(surrogate, extraction)
        system = name.removeprefix("ovr:")
        (out / "trees" / f"ovr_{system}.json").write_text(json.dumps(tree_json, indent=1, ensure_ascii=False))
        text.append(rules_to_text(tree_json, classes=[1], legend=False))
        markdown.append(rules_to_markdown(tree_json, classes=[1], title=f"{system} vs rest (rules for {system})"))
        latex.append(rules_to_latex(tree_json, classes=[1], label=f"tab:rules-{system}"))
    (out / "rules.txt").write_text("\n".join(text))
    (out / "rules.md").write_text("\n".join(markdown))
    (out / "rules.tex").write_text("\n".join(latex))
    h = main.held_out
    tree_figure(main.tree, main.specs, main.class_names, [out / "tree.png", out / "tree.svg"],
                title=f"{target} surrogate, depth {main.depth}: held-out fidelity {h['fidelity']:.3f}, "
                      f"accuracy {h['accuracy']:.3f} (n = {h['n']})")
    write_sweep_csv(rows, out / "sweep.csv")
    (out / "sweep.md").write_text(sweep_to_markdown(rows))

    # ---- Suzuki et al. on the true labels of every pattern read
    X_all = np.concatenate([inputs.fit.X, inputs.held_out.X])
    cs_all = np.concatenate([inputs.fit.cs_true, inputs.held_out.cs_true])
    try:
        suzuki = suzuki_experiment(X_all, inputs.specs, cs_all, config.suzuki)
        (out / "suzuki.md").write_text(suzuki_to_markdown(suzuki))
        first = suzuki["experiments"][0]
        suzuki_headline = {"feature_set": first["feature_set"], "depth": first["depth"], "root": first["root"],
                           "cv_accuracy_mean": first["cv_accuracy_mean"], "cv_accuracy_std": first["cv_accuracy_std"]}
    except ValueError as exc:  # a tiny data set may lack cubic patterns: the rest is still useful
        suzuki = {"skipped": str(exc)}
        suzuki_headline = suzuki
        (out / "suzuki.md").write_text(f"## Cubic vs non-cubic, after Suzuki et al. (2020)\n\nSkipped: {exc}\n")
    (out / "suzuki.json").write_text(json.dumps(suzuki, indent=1, ensure_ascii=False))

    save_config(config, out / "config.yaml")
    summary = {
        "target": target, "best_one_line_rule": headline,
        "tree": {"depth": main.depth, "leaves": main.n_leaves, "held_out": main.held_out, "fit": main.fit},
        "n_fit": len(fit), "n_held_out": len(held), "suzuki": suzuki_headline, **inputs.info,
        "files": sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) + ["summary.json"],
        "config": config_to_dict(config),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False, default=_json_default))
    return summary


def _json_default(value):
    """numpy scalars as plain numbers in JSON."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def make_rules(run: str | Path, data: str | Path, out: str | Path, config: RulesConfig = RulesConfig()) -> dict:
    """``xrdnet rules``: features and predictions of ``run`` on ``data``, then ``write_target_rules``."""
    return write_target_rules(compute_rule_inputs(run, data, config), out, config)


def export_all_rules(run: str | Path, data: str | Path, out: str | Path, config: RulesConfig = RulesConfig()) -> dict:
    """Every target's exports into ``out/<target>/`` from one pass over the data, plus ``out/index.md``.

    Returns ``{target: summary}``. ``config.target`` is ignored (all of ``TARGETS`` are written).
    """
    out = Path(out)
    inputs = compute_rule_inputs(run, data, config)
    summaries = {t: write_target_rules(inputs, out / t, replace(config, target=t)) for t in TARGETS}
    lines = [f"# Surrogate rules of {run} on {data}", "",
             f"Best one-line rule: **{summaries[TARGETS[0]]['best_one_line_rule']['text']}**", "",
             "| target | depth | leaves | held-out fidelity | held-out accuracy | folder |",
             "|---|---:|---:|---:|---:|---|"]
    for t, s in summaries.items():
        h = s["tree"]["held_out"]
        lines.append(f"| {t} | {s['tree']['depth']} | {s['tree']['leaves']} | {h['fidelity']:.3f} | "
                     f"{h['accuracy']:.3f} | [{t}/]({t}/rules.md) |")
    (out / "index.md").write_text("\n".join(lines) + "\n")
    return summaries
