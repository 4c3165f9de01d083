"""Compare training runs epoch by epoch: measured validation accuracy, simulated validation, training accuracy.

Two recipes trained with the same schedule and seeds are compared at equal epochs (the learning rate
is the same at each epoch of a cosine schedule, whatever the total length reached so far), which
separates what a recipe does from how long it ran. Per epoch it reads, from each run folder,
``run.json → real_validation`` (the measured validation scans, scored after every epoch, never
trained on) and ``logs/**/metrics.csv`` (``val_cs_acc`` on the simulated validation split and the
epoch mean of ``train_cs_acc``, the accuracy on the training presentations: with fresh patterns a
high figure means the structures are known by heart, not the patterns).

    python scripts/compare_training_curves.py --group base=xrdnet/checkpoints/xrdnet-cnn-real,runs/cnn-real-fresh-s1 \\
        --group aug=runs/cnn-real-aug-s0,runs/cnn-real-aug-s1 --out reports/aug_curves

Prints a table per epoch (mean over each group's runs), the mean over the epochs every run reached,
and writes ``OUT/curves.json`` and ``OUT/curves.png``. A group's i-th run is paired with the other
groups' i-th run (list them in seed order), and the paired differences are reported too.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np


def read_curves(run: Path) -> dict[str, dict[int, float]]:
    """``{metric: {epoch: value}}`` of one run folder (``val_real_cs_acc``, ``val_real_cs_bal``,
    ``val_cs_acc``, ``train_cs_acc``)."""
    info = json.loads((run / "run.json").read_text())
    curves: dict[str, dict[int, float]] = {"val_real_cs_acc": {}, "val_real_cs_bal": {}, "val_cs_acc": {},
                                          "train_cs_acc": {}}
    for row in info.get("real_validation") or []:
        for key in ("val_real_cs_acc", "val_real_cs_bal"):
            curves[key][int(row["epoch"])] = float(row[key])
    train: dict[int, list[float]] = {}
    for metrics in sorted((run / "logs").rglob("metrics.csv")):
        with open(metrics, newline="") as handle:
            for row in csv.DictReader(handle):
                epoch = int(row["epoch"])
                if row.get("val_cs_acc"):
                    curves["val_cs_acc"][epoch] = float(row["val_cs_acc"])
                if row.get("train_cs_acc"):
                    train.setdefault(epoch, []).append(float(row["train_cs_acc"]))
    curves["train_cs_acc"] = {e: float(np.mean(v)) for e, v in train.items()}
    return curves


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--group", action="append", required=True, metavar="NAME=RUN[,RUN...]")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    groups: dict[str, list[dict]] = {}
    for spec in args.group:
        name, _, runs = spec.partition("=")
        if not runs:
            raise SystemExit(f"--group {spec!r}: expected NAME=RUN[,RUN...]")
        for run in runs.split(","):
            if not (Path(run) / "run.json").is_file():
                raise SystemExit(f"{run}: no run.json (not a run folder)")
        groups[name] = [read_curves(Path(r)) for r in runs.split(",")]
    metrics = ("val_real_cs_acc", "val_real_cs_bal", "val_cs_acc", "train_cs_acc")
    epochs = sorted(set.intersection(*[set(c["val_real_cs_acc"]) for runs in groups.values() for c in runs]))
    if not epochs:
        raise SystemExit("the runs share no epoch with a measured validation score")

    def mean(runs, metric, epoch):  # over the runs that logged it (a shipped folder keeps no logs/)
        values = [c[metric][epoch] for c in runs if epoch in c[metric]]
        return float(np.mean(values)) if values else float("nan")

    header = "| epoch | " + " | ".join(f"{g} {m}" for g in groups for m in ("RRUFF", "bal.", "sim val", "train")) + " |"
    lines = [header, "|" + " ---: |" * (1 + 4 * len(groups))]
    for e in epochs:
        cells = [f"{100 * mean(runs, m, e):.1f}" for runs in groups.values() for m in metrics]
        lines.append(f"| {e} | " + " | ".join(cells) + " |")
    summary = {}
    for g, runs in groups.items():
        summary[g] = {m: float(np.nanmean([mean(runs, m, e) for e in epochs])) for m in metrics}
        summary[g]["per_run_val_real_cs_acc"] = [float(np.mean([c["val_real_cs_acc"][e] for e in epochs])) for c in runs]
        summary[g]["best_val_real_cs_acc"] = [max(c["val_real_cs_acc"].values()) for c in runs]
    lines.append("| mean over epochs " + f"{epochs[0]}-{epochs[-1]} | " + " | ".join(
        f"**{100 * summary[g][m]:.1f}**" for g in groups for m in metrics) + " |")
    names = list(groups)
    if len(names) > 1:
        base = names[0]
        for other in names[1:]:
            pairs = [np.mean([b["val_real_cs_acc"][e] - o["val_real_cs_acc"][e] for e in epochs])
                     for b, o in zip(groups[base], groups[other])]
            summary[other][f"paired_difference_vs_{base}"] = [-float(p) for p in pairs]
            lines.append(f"\n{other} − {base}, RRUFF crystal system averaged over epochs {epochs[0]}-{epochs[-1]}, "
                         "per seed pair: " + ", ".join(f"{-100 * p:+.1f}" for p in pairs) + " points")
    text = "\n".join(lines)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "curves.md").write_text(text + "\n")
    (args.out / "curves.json").write_text(json.dumps({"epochs": epochs, "summary": summary, "groups": {
        g: [{m: {str(e): v for e, v in c[m].items()} for m in metrics} for c in runs] for g, runs in groups.items()}},
        indent=2))
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), sharex=True)
        for ax, metric, title in zip(axes, ("val_real_cs_acc", "val_cs_acc", "train_cs_acc"),
                                     ("measured validation (RRUFF)", "simulated validation", "training presentations")):
            for i, (g, runs) in enumerate(groups.items()):
                for c in runs:
                    xs = sorted(c[metric])
                    ax.plot(xs, [c[metric][x] for x in xs], color=f"C{i}", alpha=0.35, lw=1)
                ax.plot(epochs, [mean(runs, metric, e) for e in epochs], color=f"C{i}", lw=2, label=g)
            ax.set_title(f"crystal system, {title}", fontsize=9)
            ax.set_xlabel("epoch")
        axes[0].set_ylabel("accuracy")
        axes[0].legend()
        fig.tight_layout()
        fig.savefig(args.out / "curves.png", dpi=120)
    except Exception as exc:  # noqa: BLE001 - the figures above are the result; a plot is a convenience
        print(f"warning: no plot written ({type(exc).__name__}: {exc})")


if __name__ == "__main__":
    main()
