"""``xrdnet quickstart``: the whole pipeline, small enough for a laptop CPU, on real crystal structures.

simulate (the real structures bundled in the package, Materials Project and AMCSD, labelled by
spglib -> K patterns each with the experimental augmentation ranges and real-sample effects -> HDF5) -> train the CNN and the forest baselines on the same split -> compare them on the
same test patterns -> surrogate rules fitted to the CNN -> a short ``report.md`` with the table,
the best one-line rule and figures. Sized to finish in under
ten minutes on two CPU cores (``configs/quickstart.yaml``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from xrdnet.config import save_config
from xrdnet.data.build import SimulateConfig
from xrdnet.data.datamodule import DataConfig
from xrdnet.explain.command import RulesConfig
from xrdnet.models.cnn import CNNConfig
from xrdnet.models.forest import ForestConfig
from xrdnet.simulate import SimulatorConfig, profile_presets
from xrdnet.symmetry import CRYSTAL_SYSTEMS, space_group_symbol
from xrdnet.train import TrainConfig, TrainerConfig

REPO_CONFIGS = Path(__file__).resolve().parents[1] / "configs"
# Test compounds are never seen in training (every polymorph of a compound on one side).
SPLIT_KIND = "compound"

# The shipped data's profile ranges (the `real` preset): what a laboratory diffractometer and a real
# powder do to a pattern, built in so the quickstart needs no file.
REAL_PROFILE = profile_presets.REAL


def _default_simulate() -> SimulateConfig:
    return SimulateConfig(
        n_structures=0, patterns_per_structure=3, workers=2, chunk_structures=256, device="auto",
        source="jsonl", jsonl_files=("bundled",),
        simulator=SimulatorConfig(profile=REAL_PROFILE),
    )


def _default_cnn() -> TrainConfig:
    return TrainConfig(
        model="cnn",
        data=DataConfig(batch_size=64, in_memory=True, split_kind=SPLIT_KIND),
        cnn=CNNConfig(channels=(24, 32, 48, 64, 96, 128), hidden=256, lr=3e-3, stem_stride=8, stem_kernel=17),
        trainer=TrainerConfig(max_epochs=10, early_stopping_patience=0, log_every_n_steps=10),
    )


def _default_forests() -> tuple[TrainConfig, ...]:
    return (
        TrainConfig(model="forest", data=DataConfig(split_kind=SPLIT_KIND),
                    forest=ForestConfig(kind="extra_trees", features="suzuki")),
        TrainConfig(model="forest", data=DataConfig(split_kind=SPLIT_KIND),
                    forest=ForestConfig(kind="random_forest", features="profile",
                                        cs_n_estimators=200, sg_n_estimators=100)),
        TrainConfig(model="search_match", data=DataConfig(split_kind=SPLIT_KIND)),
    )


@dataclass(frozen=True)
class QuickstartConfig:
    """Settings of the quickstart run (``configs/quickstart.yaml``): one simulate config and the
    train configs of the CNN and of each baseline (``forests``: the forests and search-match), all on the same
    data and split."""

    seed: int = 0
    simulate: SimulateConfig = field(default_factory=_default_simulate)
    cnn: TrainConfig = field(default_factory=_default_cnn)
    forests: tuple[TrainConfig, ...] = field(default_factory=_default_forests)
    rules: RulesConfig = field(default_factory=lambda: RulesConfig(max_patterns=2000, split_kind=SPLIT_KIND))


def _run_name(config: TrainConfig) -> str:
    if config.model != "forest":
        return config.model.replace("_", "-")
    return f"{config.forest.kind.replace('_', '-')}-{config.forest.features}"


def run_quickstart(out: str | Path, config: QuickstartConfig, progress: bool = True) -> Path:
    """Run the quickstart into folder ``out`` (resuming an interrupted data set) and return ``report.md``."""
    from xrdnet.compare import compare_runs
    from xrdnet.data.build import build_dataset
    from xrdnet.data.reader import PatternDataset
    from xrdnet.evaluate import format_table
    from xrdnet.train import train

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    save_config(config, out / "config.yaml")
    timings: dict[str, float] = {}
    data = out / "data.h5"
    simulate = replace(config.simulate, seed=config.seed)

    t0 = time.perf_counter()
    try:  # an interrupted quickstart resumes its data set; a finished one with the same config is reused
        build = build_dataset(simulate, data, resume=True, progress=progress)
    except (FileExistsError, ValueError):
        for stale in (data, data.with_name(data.name + ".parts")):
            if stale.is_dir():
                import shutil

                shutil.rmtree(stale)
            elif stale.exists():
                stale.unlink()
        build = build_dataset(simulate, data, progress=progress)
    timings["simulate (structures + patterns -> HDF5)"] = time.perf_counter() - t0

    runs = []
    for train_config in (config.cnn, *config.forests):
        train_config = replace(train_config, seed=config.seed,
                               trainer=replace(train_config.trainer, progress_bar=progress))
        name = _run_name(train_config)
        t0 = time.perf_counter()
        train(train_config, data, out / "runs" / name)
        timings[f"train {name}"] = time.perf_counter() - t0
        runs.append(out / "runs" / name)

    t0 = time.perf_counter()
    result = compare_runs(runs, data, out / "comparison", split_kind=SPLIT_KIND)
    timings["compare"] = time.perf_counter() - t0

    from xrdnet.explain.command import make_rules

    t0 = time.perf_counter()
    rules = make_rules(out / "runs" / "cnn", data, out / "rules", config.rules)
    timings["rules (surrogate trees on the CNN)"] = time.perf_counter() - t0
    best = rules["best_one_line_rule"]

    figure = _example_figure(data, out / "patterns.png")
    with PatternDataset(data) as ds:
        summary = ds.summary()
    counts = summary["crystal_systems"]
    sources = ", ".join(f"{n} from {name}" for name, n in summary.get("sources", {}).items())
    lines = [
        "# xrdnet quickstart",
        "",
        f"{summary['n_structures']} real crystal structures ({sources}; {summary['n_space_groups']} space groups, "
        f"labelled by spglib), {summary['patterns_per_structure']} patterns each with the experimental "
        f"augmentation ranges and real-sample effects: {summary['n_patterns']} patterns on 2θ = "
        f"{summary['grid']['two_theta_min_deg']:g}..{summary['grid']['two_theta_max_deg']:g}° "
        f"({summary['grid']['n_points']} points, {summary['wavelength']}). {build.n_skipped} records were skipped "
        "(reasons in `data.skipped.tsv`).",
        "",
        "| crystal system | " + " | ".join(CRYSTAL_SYSTEMS) + " |",
        "|---|" + "---|" * len(CRYSTAL_SYSTEMS),
        "| structures | " + " | ".join(str(counts[c]) for c in CRYSTAL_SYSTEMS) + " |",
        "",
        f"## Models on the same test split (by compound: test compounds never seen in training; "
        f"{result['n_test']} patterns)",
        "",
        format_table(result["rows"]),
        "",
        "Full table, per-class accuracy and confusion matrices: `comparison/`. A quickstart is a smoke test "
        "of the pipeline at laptop scale, not a benchmark: see the README for full-size figures.",
        "",
        "## What the CNN learned, as a rule",
        "",
        f"Headline surrogate rule (the leaf of a shallow tree fitted to the CNN's predictions with the largest "
        f"held-out fidelity gain over always giving the CNN's commonest answer): **{best['text']}**",
        "",
        "Depth sweep, trees, LaTeX/JSON exports and the Suzuki et al. cubic experiment: `rules/`.",
        "",
        "| stage | seconds |",
        "|---|---|",
        *[f"| {k} | {v:.1f} |" for k, v in timings.items()],
        f"| total | {sum(timings.values()):.1f} |",
        "",
        f"![patterns]({figure.name})",
        "",
    ]
    report = out / "report.md"
    report.write_text("\n".join(lines))
    return report


def _example_figure(data: Path, path: Path) -> Path:
    """One stored pattern per crystal system, with the structure's sticks underneath."""
    from xrdnet.data.reader import PatternDataset
    from xrdnet.plots import plot_patterns
    from xrdnet.simulate import XRDSimulator

    with PatternDataset(data) as ds:
        first_pattern = {}
        for row, s in enumerate(ds.structure_index):
            first_pattern.setdefault(int(ds.crystal_system[s]), row)
        rows = [first_pattern[c] for c in sorted(first_pattern)]
        structures = ds.records(ds.structure_index[rows])
        curves = list(ds.read_patterns(rows))
        grid = ds.two_theta_deg
        lo, hi = float(grid[0]), float(grid[-1])
        sim = XRDSimulator(ds.attrs.get("wavelength", "CuKa"), (lo, hi), float(ds.attrs["two_theta_step_deg"]))
        peaks = sim.peaks(structures.to_batch())
        labels = [f"{f}  {space_group_symbol(int(g))} ({int(g)}), {CRYSTAL_SYSTEMS[int(c)]}"
                  for f, g, c in zip(structures.formula, structures.space_group, structures.crystal_system)]
    return plot_patterns(path, grid, curves, labels, [(p.two_theta_deg, p.intensity) for p in peaks],
                         title="Training patterns (experimental augmentation), one per crystal system")

