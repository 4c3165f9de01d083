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

from xrdnet.config import config_to_dict, recorded_path, save_config
from xrdnet.data.splits import SPLIT_KINDS, SPLIT_NAMES
from xrdnet.explain.rule_figures import rules_figure
from xrdnet.explain.rule_text import (
    headline_rule,
    rule_conditions_text,
    rules_to_latex,
    rules_to_markdown,
    rules_to_text,
    sweep_to_markdown,
    write_sweep_csv,
)
from xrdnet.explain.suzuki import SuzukiConfig, suzuki_experiment, suzuki_to_markdown
from xrdnet.explain.surrogate import (
    TARGETS,
    FittedSurrogate,
    SplitData,
    class_names,
    depth_sweep,
    fidelity_ceiling,
    one_vs_rest,
    target_labels,
)
from xrdnet.explain.tree_json import rule_covers, surrogate_to_json, tree_rules
from xrdnet.explain.rule_features import RULE_FEATURE_SETS, rule_features
from xrdnet.features import FeatureSpec
from xrdnet.peak_finder import PeakFinderConfig
from xrdnet.symmetry import CRYSTAL_SYSTEMS

RULE_ANSWERS = ("run", "predict")

OUTPUT_FILES = ("rules.txt", "rules.md", "rules.tex", "tree.json", "figure_tree.json", "tree.png", "tree.svg",
                "tree.pdf", "sweep.csv", "sweep.md", "suzuki.md", "suzuki.json", "methods.md", "summary.json",
                "config.yaml")


@dataclass(frozen=True)
class RulesConfig:
    """Settings of ``xrdnet rules`` (a YAML file, or the ``rules:`` section of one).

    Attributes:
        target: ``crystal_system`` (a multi-class tree plus one-vs-rest trees per system),
            ``space_group`` (multi-class) or ``cubic`` (cubic vs the rest).
        max_depth: depth of the exported tree (``tree.json``, the rule tables); the sweep covers
            1..max_depth.
        figure_depth: depth of the tree in the column-width figure (``tree.png``/``.svg``/``.pdf``).
        headline_depth: deepest tree whose leaves compete for the headline rule.
        split_kind: ``structure`` or ``structure_type`` (see ``xrdnet.data.splits``).
        fit_split / held_out_split: where the trees learn the model's predictions and where
            they are judged; the model was trained on ``train``, so ``test`` is unseen by both.
        max_patterns: cap per split (a seeded subset; 0 = all). Peak finding costs about a
            millisecond per pattern and the CNN runs on CPU here.
        n_peaks: how many leading peaks get position features (Suzuki used 10).
        min_samples_leaf: smallest leaf in fitted patterns: no rule rests on a handful of cases.
        seed: seeds the subsets and the trees.
        batch_size: patterns read, featurized and predicted at a time (bounds memory).
        features: ``interpretable`` (peak-list features) or ``interpretable_indexing`` (plus the indexing
            features: per lattice family the indexed share and M of its best cell; ``explain.rule_features``).
        answers: whose answers the trees explain: ``run`` (the run folder's own model) or ``predict`` (what
            ``xrdnet predict`` answers with a checkpoint folder: its ensemble, forest pool and calibration).
        n_jobs: worker processes for the indexing features.
        peak_finder: the shared peak finder's settings.
        suzuki: the Suzuki et al. experiment's settings.
    """

    target: str = "crystal_system"
    max_depth: int = 4
    figure_depth: int = 3
    headline_depth: int = 3
    split_kind: str = "structure"
    fit_split: str = "train"
    held_out_split: str = "test"
    max_patterns: int = 10000
    n_peaks: int = 10
    min_samples_leaf: int = 5
    seed: int = 0
    batch_size: int = 1024
    features: str = "interpretable"
    answers: str = "run"
    n_jobs: int = 1
    peak_finder: PeakFinderConfig = field(default_factory=PeakFinderConfig)
    suzuki: SuzukiConfig = field(default_factory=SuzukiConfig)

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {self.target!r}")
        if self.features not in RULE_FEATURE_SETS:
            raise ValueError(f"features must be one of {RULE_FEATURE_SETS}, got {self.features!r}")
        if self.answers not in RULE_ANSWERS:
            raise ValueError(f"answers must be one of {RULE_ANSWERS}, got {self.answers!r}")
        if self.split_kind not in SPLIT_KINDS:
            raise ValueError(f"split_kind must be one of {SPLIT_KINDS}, got {self.split_kind!r}")
        for name in ("fit_split", "held_out_split"):
            if getattr(self, name) not in SPLIT_NAMES:
                raise ValueError(f"{name} must be one of {SPLIT_NAMES}, got {getattr(self, name)!r}")
        if self.fit_split == self.held_out_split:
            raise ValueError(f"fit_split and held_out_split must differ (both {self.fit_split!r}): "
                             "fidelity on the fit split says nothing about new patterns")
        for name, low in (("max_depth", 1), ("figure_depth", 1), ("headline_depth", 1), ("max_patterns", 0),
                          ("n_peaks", 1), ("min_samples_leaf", 1), ("batch_size", 1), ("n_jobs", 1)):
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
        compound: ``[P]`` compound key of each pattern's structure (``splits.compound_key``; empty
            strings when the file has no formulas), for cross-validation grouped by compound.
    """

    rows: np.ndarray
    X: np.ndarray
    cs_model: np.ndarray
    sg_model: np.ndarray
    cs_true: np.ndarray
    sg_true: np.ndarray
    compound: np.ndarray | None = None

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
    real: SplitFeatures | None = None  # measured patterns (evaluation only: never fitted on)


def _capped_rows(rows: np.ndarray, cap: int, seed: int) -> np.ndarray:
    if cap and len(rows) > cap:
        return np.sort(np.random.default_rng(seed).choice(rows, cap, replace=False))
    return rows


def compute_rule_inputs(run: str | Path, data: str | Path, config: RulesConfig = RulesConfig(),
                        real_dir: str | Path | None = None) -> RuleInputs:
    """Features and the run's predictions on the fit and held-out splits of ``data`` (block by block).

    Peak positions belong to Kα1 when the data set was rendered with the doublet, so Q and d use
    ``kalpha1_angstrom`` (the plain wavelength otherwise). Raises ValueError for an empty split.
    ``real_dir`` (a folder of measured patterns with ``labels.csv``, e.g. RRUFF) adds their
    features, predictions and labels as ``real``: the rules are only CHECKED on them.
    """
    from xrdnet.data.reader import PatternDataset

    answer, run_kind = _answerer(run, config.answers)
    splits, available = {}, {}
    with PatternDataset(data) as ds:
        lam = float(ds.attrs.get("kalpha1_angstrom") or ds.wavelength_angstrom)
        grid = ds.two_theta_deg
        cs_all, sg_all = ds.pattern_crystal_system(), ds.pattern_space_group()
        try:
            from xrdnet.data.splits import compound_key

            compounds = np.array([compound_key(f) for f in ds.formula], dtype=object)[ds.structure_index]
        except Exception:  # noqa: BLE001 - an older file without formulas: no grouping
            compounds = np.full(len(cs_all), "", dtype=object)
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
                features, specs = rule_features(patterns, grid, lam, config.features, config.n_peaks,
                                                config.peak_finder, config.n_jobs)
                cs_pred, sg_pred = answer(patterns, grid, lam)
                X.append(features)
                cs.append(cs_pred)
                sg.append(sg_pred)
            splits[split] = SplitFeatures(rows, np.concatenate(X), np.concatenate(cs), np.concatenate(sg),
                                          cs_all[rows].astype(np.int64), sg_all[rows].astype(np.int64),
                                          compounds[rows])
    # paths as given (relative to where the command ran), never absolute: summary.json ships in the package
    info = {"run": recorded_path(run), "run_kind": run_kind, "answers": config.answers, "data": recorded_path(data),
            "wavelength_angstrom": lam, "split_kind": config.split_kind, "patterns_available": available}
    real = None
    if real_dir is not None:
        from xrdnet.compare import load_labelled_patterns
        from xrdnet.symmetry import crystal_system_index

        measured = load_labelled_patterns(real_dir, grid, lam)
        if measured["n"] == 0:
            raise ValueError(f"{real_dir}: no readable labelled patterns")
        patterns = np.asarray(measured["patterns"], dtype=np.float32)
        features, _ = rule_features(patterns, grid, lam, config.features, config.n_peaks, config.peak_finder,
                                    config.n_jobs)
        cs_pred, sg_pred = answer(patterns, grid, lam)
        sg_true = np.asarray(measured["space_group"], dtype=np.int64)
        real = SplitFeatures(np.arange(len(patterns)), features, cs_pred, sg_pred,
                             np.array([crystal_system_index(int(g)) for g in sg_true], dtype=np.int64), sg_true)
        info["real"] = {"folder": recorded_path(real_dir), "n": int(measured["n"]),
                        "n_skipped": int(measured["n_skipped"])}
    return RuleInputs(specs, splits[config.fit_split], splits[config.held_out_split], info, real)


def _answerer(run: str | Path, answers: str):
    """``(answer, kind)``: ``answer(patterns [P, G], grid [G], λ) -> (cs [P], sg [P])`` int64, the answers
    the surrogates explain (``RulesConfig.answers``), and the kind of model that gives them."""
    if answers == "predict":
        from xrdnet.calibration import decode
        from xrdnet.inference import Predictor

        predictor = Predictor(run)

        def answer(patterns, grid, lam):
            if not np.allclose(grid, predictor.grid):
                raise ValueError(f"{run}: the data set's grid is not the checkpoint's")
            cs_pred, sg_pred, _ = decode(*predictor.probabilities(np.asarray(patterns, np.float32)))
            return np.asarray(cs_pred, np.int64), np.asarray(sg_pred, np.int64)

        return answer, "predict"
    from xrdnet.models.runs import load_run

    loaded = load_run(run)

    def answer(patterns, grid, lam):
        prediction = loaded.predict(patterns, grid, lam)
        return np.asarray(prediction.cs_pred, np.int64), np.asarray(prediction.sg_pred, np.int64)

    return answer, loaded.kind


def _feature_extraction(config: RulesConfig, info: dict) -> dict:
    """What ``predict_patterns_with_tree_json`` needs to compute the same features of a new pattern."""
    return {"function": "xrdnet.explain.rule_features.rule_features", "feature_set": config.features,
            "n_peaks": config.n_peaks,
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


def _ovr_relabel(system: str):
    k = CRYSTAL_SYSTEMS.index(system)
    return lambda labels: one_vs_rest(labels, k)  # noqa: E731


def _rule_checks(name: str, tree_json: dict, held: SplitData, real: SplitData | None,
                 classes: list[int] | None = None) -> list[dict]:
    """Per leaf rule of ``tree_json``: coverage, fidelity and accuracy on the simulated held-out
    patterns and, when given, on the measured ones (evaluation only)."""
    rows = []
    for rule in tree_rules(tree_json):
        if classes is not None and rule.label not in classes:
            continue
        row = {"tree": name, "rule": rule_conditions_text(rule), "class_name": rule.class_name}
        for tag, data in (("simulated", held), ("real", real)):
            if data is None:
                continue
            covered = rule_covers(rule, data.X)
            n = int(covered.sum())
            row[tag] = {"n": n, "coverage": n / len(data) if len(data) else None,
                        "fidelity": float(np.mean(data.model_label[covered] == rule.label)) if n else None,
                        "accuracy": float(np.mean(data.true_label[covered] == rule.label)) if n else None}
        rows.append(row)
    return rows


def _checks_markdown(rows: list[dict]) -> str:
    def f(v, pct=False):
        return "–" if v is None else (f"{100 * v:.1f} %" if pct else f"{v:.2f}")

    lines = ["| tree | rule | class | sim. coverage | sim. fidelity | sim. accuracy | real n | real coverage "
             "| real fidelity | real accuracy |", "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        sim, real = r.get("simulated") or {}, r.get("real") or {}
        lines.append(f"| {r['tree']} | {r['rule'].replace('|', '/')} | {r['class_name']} | {f(sim.get('coverage'), True)} | "
                     f"{f(sim.get('fidelity'))} | {f(sim.get('accuracy'))} | {real.get('n', '–')} | "
                     f"{f(real.get('coverage'), True)} | {f(real.get('fidelity'))} | {f(real.get('accuracy'))} |")
    return "\n".join(lines) + "\n"


def methods_paragraph(summary: dict, config: RulesConfig) -> str:
    """A methods paragraph (Markdown) generated from the run's own figures, ready to paste and cite."""
    tree = summary["tree"]
    h = tree["held_out"]
    head = summary["best_one_line_rule"]
    suz = summary.get("suzuki") or {}
    real = summary.get("real") or {}
    whose = "checkpoint's" if config.answers == "predict" else "network's"
    text = (
        f"To explain the classifier ({summary['run']}), we fitted surrogate decision trees (scikit-learn "
        f"DecisionTreeClassifier, minimum {config.min_samples_leaf} patterns per leaf, seed {config.seed}) to "
        f"its predicted {summary['target'].replace('_', ' ')} on {summary['n_fit']:,} simulated patterns "
        f"(the training split of {Path(summary['data']).name}, split by {summary['split_kind']}), using "
        f"{len(summary['features'])} interpretable features computed from peak positions and heights (xrdnet "
        f"peak finder; peak positions, d-spacings and Q of the first {config.n_peaks} peaks, their Q ratios, "
        f"peak counts, and the share of strong peaks indexing on a cubic lattice"
        + ("; and the indexing evidence: for each lattice family the share of the first 20 lines that its best "
           "cell indexes and de Wolff's M of that cell, the best cell's crystal system, centring and zero shift"
           if config.features == "interpretable_indexing" else "")
        + ("), the answers being those of `xrdnet predict` (the checkpoint's networks, pooled with its forest "
           "where it has one). "
           if config.answers == "predict" else "). ")
        + f"On {summary['n_held_out']:,} "
        f"held-out patterns of compounds absent from the fit split, the depth-{tree['depth']} tree "
        f"({tree['leaves']} leaves) reproduced the {whose} answer for {h['fidelity']:.1%} of the patterns "
        f"(balanced fidelity {h.get('balanced_fidelity', float('nan')):.1%}; always giving the {whose} most "
        f"common answer: {h['baseline_fidelity']:.1%}) and matched the true label for {h['accuracy']:.1%}. ")
    ceiling = tree.get("fidelity_ceiling")
    if ceiling:
        text += (f"A {ceiling['n_trees']}-tree random forest on the same features reproduced it for "
                 f"{ceiling['fidelity']:.1%}: the most any rule in these features could explain. ")
    if head.get("beats_constant"):
        text += (f"The rule with the largest held-out fidelity gain over that constant answer is "
                 f"“{head['rule']} → {head['class_name']}”: on the {head['n']:,} held-out patterns it covers "
                 f"({head['coverage']:.1%}), the {whose[:-2]} answers {head['class_name']} for {head['fidelity']:.1%} "
                 f"(the constant answer: {head['constant_fidelity']:.1%}), and {head['accuracy']:.1%} truly "
                 f"are {head['class_name']}. ")
    else:
        text += f"No rule of depth ≤ {config.headline_depth} beat the constant answer. "
    if suz.get("cv_accuracy_mean") is not None:
        text += (f"Following Suzuki et al. (2020), a depth-{suz['depth']} tree on the true labels (cubic vs "
                 f"non-cubic, balanced, {suz.get('n_folds', config.suzuki.n_folds)}-fold cross-validation"
                 f"{' grouped by compound' if suz.get('folds_grouped_by') else ''}) splits at "
                 f"“{(suz.get('root') or {}).get('text', '–')}” with {suz['cv_accuracy_mean']:.1%} ± "
                 f"{suz['cv_accuracy_std']:.1%} accuracy (published: 83.1 %). ")
    if real.get("n"):
        text += (f"All rules were also checked, without refitting, on {real['n']} measured patterns "
                 f"({Path(real['folder']).name}); their coverage and accuracy there are listed beside the "
                 f"simulated figures. ")
    text += "Rules and figures were generated with xrdnet (`xrdnet rules`, settings in config.yaml)."
    return "## Methods: surrogate rules\n\n" + text + "\n"


def _ceiling_markdown(ceiling: dict) -> str:
    """The fidelity ceiling of each target (a large forest on the same features) as a Markdown table."""
    lines = ["", "## Fidelity ceiling", "",
             "How much of the model a rule in these features can explain at all: a random forest of "
             f"{next(iter(ceiling.values()))['n_trees']} trees fitted to the same answers on the same features, "
             "judged on the same held-out patterns.", "",
             "| target | forest held-out fidelity | balanced |", "|---|---:|---:|"]
    lines += [f"| {name} | {c['fidelity']:.3f} | {c['balanced_fidelity']:.3f} |" for name, c in ceiling.items()]
    return "\n".join(lines) + "\n"


def write_target_rules(inputs: RuleInputs, out: str | Path, config: RulesConfig = RulesConfig()) -> dict:
    """Fit the surrogates of ``config.target`` on ``inputs`` and write every export into ``out``.

    Returns the ``summary.json`` content. The cubic target's trees use balanced class weights (the
    Suzuki-style stump); the multi-class and the per-system one-vs-rest trees none, since they are
    judged by fidelity (see ``fit_surrogate``). One-vs-rest rules are exported at depth ≤ 3.
    The headline ``best_one_line_rule`` is the leaf, among the trees of depth ≤
    ``headline_depth`` (multi-class and one-vs-rest), with the largest held-out fidelity gain over
    the constant answer (``headline_rule``); when none gains, it says so.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for stale in (out / "trees").glob("ovr_*.json"):  # from an earlier crystal-system run into this folder
        stale.unlink()
    extraction = _feature_extraction(config, inputs.info)
    target = config.target
    fit, held = inputs.fit.split_data(target), inputs.held_out.split_data(target)
    real = inputs.real.split_data(target) if inputs.real is not None else None
    rows, trees = _sweep(target, fit, held, inputs, config, "balanced" if target == "cubic" else None)
    main = trees[config.max_depth]
    main_json = surrogate_to_json(main, extraction)

    # ---- candidates for the headline: leaves of the shallow trees, in the target's label space
    candidates = []
    for depth in range(1, min(config.headline_depth, config.max_depth) + 1):
        tj = surrogate_to_json(trees[depth], extraction)
        candidates += [(f"{target} depth {depth}", r, r.label) for r in tree_rules(tj)]
    ceiling = {target: fidelity_ceiling(fit, held, config.seed, n_jobs=config.n_jobs)}
    ovr: dict[str, FittedSurrogate] = {}
    checks = _rule_checks(f"{target} depth {main.depth}", main_json, held, real)
    if target == "crystal_system":
        for system in CRYSTAL_SYSTEMS:
            name = f"ovr:{system}"
            ovr_fit, ovr_held = _ovr_data(inputs, system)
            # Unweighted: a one-vs-rest rule is judged by its fidelity, which class weights trade for
            # recall (balanced fidelity is reported beside it).
            ovr_rows, ovr_trees = _sweep(name, ovr_fit, ovr_held, inputs, config, None)
            rows += ovr_rows
            ovr_depth = min(3, config.max_depth)  # one-vs-rest rules stay at depth ≤ 3
            ovr[name] = ovr_trees[ovr_depth]
            ceiling[name] = fidelity_ceiling(ovr_fit, ovr_held, config.seed, n_jobs=config.n_jobs)
            k = CRYSTAL_SYSTEMS.index(system)
            for depth in range(1, min(config.headline_depth, config.max_depth) + 1):
                tj = surrogate_to_json(ovr_trees[depth], extraction)
                candidates += [(f"{name} depth {depth}", r, k) for r in tree_rules(tj) if r.label == 1]
            checks += _rule_checks(f"{system} vs rest depth {ovr_depth}", surrogate_to_json(ovr[name], extraction),
                                   ovr_held, None if inputs.real is None else
                                   inputs.real.split_data("crystal_system").relabel(_ovr_relabel(system)),
                                   classes=[1])
    headline = headline_rule(candidates, held.X, held.model_label, held.true_label,
                             class_names(target, np.concatenate([fit.model_label, held.model_label,
                                                                 held.true_label])))
    if headline.get("beats_constant") and real is not None:
        _, rule, label = candidates[headline["candidate"]]
        covered = rule_covers(rule, real.X)
        n = int(covered.sum())
        headline["real"] = {"n": n, "coverage": n / len(real),
                            "fidelity": float(np.mean(real.model_label[covered] == label)) if n else None,
                            "accuracy": float(np.mean(real.true_label[covered] == label)) if n else None}

    # ---- the tree and its rules
    (out / "tree.json").write_text(json.dumps(main_json, indent=1, ensure_ascii=False))
    text = [f"# Headline rule: {headline['text']}", rules_to_text(main_json)]
    markdown = [f"# Surrogate rules: {target}", "",
                f"Headline rule (largest held-out fidelity gain over the constant answer, trees of depth ≤ "
                f"{config.headline_depth}, among leaves whose class the model gives on most of their patterns): "
                f"**{headline['text']}**", "", "## Depth sweep", "", sweep_to_markdown(rows),
                _ceiling_markdown(ceiling),
                rules_to_markdown(main_json, title=f"Rules: {target}, depth {main.depth}")]
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
    markdown += ["## Every rule on simulated and measured patterns", "",
                 "Simulated: held-out patterns of compounds the trees and the network never saw. Real: measured "
                 "patterns, used only to check the rules (never to fit or choose them)." if real is not None else
                 "No measured patterns were given (`--real FOLDER`).", "", _checks_markdown(checks)]
    (out / "rules.txt").write_text("\n".join(text))
    (out / "rules.md").write_text("\n".join(markdown))
    (out / "rules.tex").write_text("\n".join(latex))
    figure_tree = trees[min(config.figure_depth, config.max_depth)]
    figure_json = surrogate_to_json(figure_tree, extraction)
    (out / "figure_tree.json").write_text(json.dumps(figure_json, indent=1, ensure_ascii=False))
    fh = figure_tree.held_out
    rules_figure(figure_json, [out / "tree.png", out / "tree.svg", out / "tree.pdf"],
                 title=f"{target.replace('_', ' ')} surrogate, depth {figure_tree.depth}: held-out fidelity "
                       f"{fh['fidelity']:.2f} (constant {fh['baseline_fidelity']:.2f}), n = {fh['n']:,}")
    write_sweep_csv(rows, out / "sweep.csv")
    (out / "sweep.md").write_text(sweep_to_markdown(rows))

    # ---- Suzuki et al. on the true labels of every pattern read, folds grouped by compound
    X_all = np.concatenate([inputs.fit.X, inputs.held_out.X])
    cs_all = np.concatenate([inputs.fit.cs_true, inputs.held_out.cs_true])
    groups = None
    if inputs.fit.compound is not None and inputs.held_out.compound is not None:
        groups = np.concatenate([inputs.fit.compound, inputs.held_out.compound])
    try:
        suzuki = suzuki_experiment(X_all, inputs.specs, cs_all, config.suzuki, groups=groups)
        (out / "suzuki.md").write_text(suzuki_to_markdown(suzuki))
        first = suzuki["experiments"][0]
        suzuki_headline = {"feature_set": first["feature_set"], "depth": first["depth"], "root": first["root"],
                           "cv_accuracy_mean": first["cv_accuracy_mean"], "cv_accuracy_std": first["cv_accuracy_std"],
                           "n_folds": suzuki["n_folds"], "folds_grouped_by": suzuki.get("folds_grouped_by"),
                           "threshold_stability": first.get("threshold_stability"), "published": suzuki["published"]}
    except ValueError as exc:  # a tiny data set may lack cubic patterns: the rest is still useful
        suzuki = {"skipped": str(exc)}
        suzuki_headline = suzuki
        (out / "suzuki.md").write_text(f"## Cubic vs non-cubic, after Suzuki et al. (2020)\n\nSkipped: {exc}\n")
    (out / "suzuki.json").write_text(json.dumps(suzuki, indent=1, ensure_ascii=False))

    save_config(config, out / "config.yaml")
    summary = {
        "target": target, "best_one_line_rule": headline,
        "tree": {"depth": main.depth, "leaves": main.n_leaves, "held_out": main.held_out, "fit": main.fit,
                 "fidelity_ceiling": ceiling[target]},
        "ovr": {name: {"depth": s.depth, "leaves": s.n_leaves, "held_out": s.held_out,
                       "fidelity_ceiling": ceiling[name]} for name, s in ovr.items()},
        "n_fit": len(fit), "n_held_out": len(held), "suzuki": suzuki_headline, "rule_checks": checks,
        "features": [sp.name for sp in inputs.specs], **inputs.info,
        "config": config_to_dict(config),
    }
    (out / "methods.md").write_text(methods_paragraph(summary, config))
    # summary.json itself last, once, whether or not an earlier run left one in ``out``.
    summary["files"] = sorted(str(p.relative_to(out)) for p in out.rglob("*")
                              if p.is_file() and p.name != "summary.json") + ["summary.json"]
    (out / "summary.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False, default=_json_default))
    return summary


def _json_default(value):
    """numpy scalars as plain numbers in JSON."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def make_rules(run: str | Path, data: str | Path, out: str | Path, config: RulesConfig = RulesConfig(),
               real_dir: str | Path | None = None) -> dict:
    """``xrdnet rules``: features and predictions of ``run`` on ``data`` (and the measured patterns of
    ``real_dir``, checked only), then ``write_target_rules``."""
    return write_target_rules(compute_rule_inputs(run, data, config, real_dir), out, config)


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
