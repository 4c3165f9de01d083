"""``xrdnet quickstart``: the whole pipeline, small enough for a laptop, on synthetic structures.

Today it covers what exists: random symmetric crystals from pyxtal, pymatgen-identical sticks and
rendered profiles (clean and with the experimental augmentation ranges), a figure and a short
report. Training, comparison and rules join as those stages land.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from xrdnet.config import config_to_dict, load_config, save_config
from xrdnet.simulate import ProfileConfig, SimulatorConfig, XRDSimulator
from xrdnet.structures import GenerationStats, SyntheticConfig, generate_synthetic
from xrdnet.structures.batch import StructureBatch
from xrdnet.symmetry import CRYSTAL_SYSTEMS, space_group_symbol

REPO_CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@dataclass(frozen=True)
class QuickstartConfig:
    """Settings of the quickstart run (``configs/quickstart.yaml``)."""

    seed: int = 0
    n_structures: int = 28
    workers: int = 2
    synthetic: SyntheticConfig = field(default_factory=lambda: SyntheticConfig(max_atoms_per_cell=48))
    simulator: SimulatorConfig = field(default_factory=SimulatorConfig)


def experimental_profile() -> ProfileConfig:
    """The augmentation ranges of ``configs/experimental.yaml`` (defaults if the file is absent)."""
    path = REPO_CONFIGS / "experimental.yaml"
    if path.is_file():
        return load_config(path, SimulatorConfig, section="simulator").profile
    return ProfileConfig()


def run_quickstart(out: str | Path, config: QuickstartConfig, progress: bool = True) -> Path:
    """Run the quickstart into folder ``out`` and return the path of its ``report.md``."""
    from tqdm import tqdm

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    save_config(config, out / "config.yaml")
    timings: dict[str, float] = {}

    t0 = time.perf_counter()
    stats = GenerationStats()
    items = list(
        tqdm(
            generate_synthetic(config.synthetic, config.n_structures, config.seed, workers=config.workers, stats=stats),
            total=config.n_structures,
            desc="structures (pyxtal)",
            unit="struct",
            disable=not progress,
        )
    )
    timings["generate structures"] = time.perf_counter() - t0
    if not items:
        raise RuntimeError(f"pyxtal produced no structure: {stats.summary()}")

    batch = StructureBatch.from_structures(
        [i.structure for i in items], space_groups=[i.space_group for i in items], sources=[i.source for i in items]
    )
    sim = XRDSimulator.from_config(config.simulator)
    t0 = time.perf_counter()
    peaks = sim.peaks(batch)
    timings["sticks"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    clean = sim.patterns(batch, seed=config.seed).numpy()
    timings["profiles (clean)"] = time.perf_counter() - t0
    exp_sim = XRDSimulator(sim.radiation.name or sim.wavelength_angstrom, sim.two_theta_range, sim.step,
                           profile=experimental_profile())
    t0 = time.perf_counter()
    experimental = exp_sim.patterns(batch, seed=config.seed).numpy()
    timings["profiles (experimental)"] = time.perf_counter() - t0

    from xrdnet.plots import plot_patterns

    grid = sim.two_theta_deg().numpy()
    # one example per crystal system present, clean and experimental side by side
    shown = []
    for system in range(len(CRYSTAL_SYSTEMS)):
        match = [i for i, it in enumerate(items) if it.crystal_system == system]
        if match:
            shown.append(match[0])
    labels, curves, sticks = [], [], []
    for i in shown:
        it = items[i]
        name = f"{it.formula}  {space_group_symbol(it.space_group)} ({it.space_group}), {CRYSTAL_SYSTEMS[it.crystal_system]}"
        labels += [name, name + ", experimental"]
        curves += [clean[i], experimental[i]]
        sticks += [(peaks[i].two_theta_deg, peaks[i].intensity)] * 2
    figure = plot_patterns(out / "patterns.png", grid, curves, labels, sticks,
                           title=f"Simulated Cu Kα patterns, {sim.n_points} points")

    counts = np.bincount([it.crystal_system for it in items], minlength=7)
    lines = [
        "# xrdnet quickstart",
        "",
        f"{len(items)} random symmetric crystals (pyxtal, seed {config.seed}); {stats.summary()}",
        "",
        "| crystal system | structures |",
        "|---|---|",
        *[f"| {name} | {c} |" for name, c in zip(CRYSTAL_SYSTEMS, counts)],
        "",
        f"Grid: 2θ = {sim.two_theta_range[0]}..{sim.two_theta_range[1]}° step {sim.step}° ({sim.n_points} points), "
        f"λ = {sim.wavelength_angstrom} Å ({sim.radiation.name or 'custom'}).",
        "",
        "| stage | seconds | per structure (ms) |",
        "|---|---|---|",
        *[f"| {k} | {v:.2f} | {1000 * v / len(items):.1f} |" for k, v in timings.items()],
        "",
        f"![patterns]({figure.name})",
        "",
    ]
    report = out / "report.md"
    report.write_text("\n".join(lines))
    (out / "config.resolved.json").write_text(__import__("json").dumps(config_to_dict(config), indent=2))
    return report
