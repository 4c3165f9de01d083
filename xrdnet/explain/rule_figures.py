"""Surrogate-tree figures: the fitted tree drawn by scikit-learn, and the rules as a column-width figure."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from xrdnet.explain.rule_text import _fmt_score, _ordered, rule_conditions_text
from xrdnet.explain.tree_json import tree_rules
from xrdnet.features import FeatureSpec


# --------------------------------------------------------------------------- figure


def tree_figure(tree, specs: Sequence[FeatureSpec], class_names: dict[int, str], paths: Sequence[str | Path],
                title: str | None = None) -> list[Path]:
    """Draw the fitted ``tree`` (``sklearn.tree.plot_tree``) and save it to every path in ``paths``.

    Feature names carry their units ("2θ₁ (°)"); split values are scikit-learn's raw thresholds
    (28.5 on a count), which the text exports round. The size grows with the leaves and depth so
    labels stay legible in a paper; the format follows each path's suffix (.png, .svg, .pdf).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.tree import plot_tree

    leaves, depth = int(tree.get_n_leaves()), int(tree.get_depth())
    width = min(48.0, max(6.0, 1.9 * leaves))
    height = min(30.0, max(3.5, 2.1 * (depth + 1)))
    fig, ax = plt.subplots(figsize=(width, height))
    plot_tree(tree, ax=ax, feature_names=[s.label for s in specs],
              class_names=[class_names[int(c)] for c in tree.classes_], filled=True, rounded=True,
              impurity=False, proportion=False, fontsize=9 if leaves <= 16 else 7)
    if title:
        ax.set_title(title)
    # plot_tree cannot show where a missing feature (too few peaks) goes; the text exports can.
    fig.text(0.01, 0.005, "Left = condition true. Patterns lacking a feature (too few peaks) follow the side "
             "recorded in tree.json / rules.txt.", fontsize=7, color="0.4", va="bottom")
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    written = []
    for path in paths:
        path = Path(path)
        fig.savefig(path, dpi=150 if path.suffix.lower() == ".png" else None)
        written.append(path)
    plt.close(fig)
    return written


# --------------------------------------------------------------------------- column-width rule figure

COLUMN_WIDTH_MM = 85.0
"""A journal's single column: the rule figure is drawn at this width and stays legible there."""
FIGURE_FONT_PT = 6.5
"""Smallest type in the rule figure: most journals ask for 5-7 pt at print size."""
_MM_PER_INCH = 25.4


def rules_figure(tree_json: dict, paths: Sequence[str | Path], title: str | None = None,
                 wrap_chars: int = 40) -> list[Path]:
    """The rules of a (shallow) tree as a column-width figure: one row per leaf, saved to every path.

    Each row reads "conditions → class" (units in every threshold, wrapped at ``wrap_chars``) with a
    bar of the leaf's held-out fidelity, a black tick at the constant's fidelity on the same
    patterns (the model's commonest answer: a bar short of its tick is a rule not worth citing)
    and the coverage. The figure is ``COLUMN_WIDTH_MM`` wide at ``FIGURE_FONT_PT``; PNG at 300 dpi,
    SVG/PDF as vectors (format from each suffix).
    """
    import textwrap

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rules = _ordered(tree_rules(tree_json), None)
    rows = []
    for r in rules:
        text = textwrap.wrap(f"{rule_conditions_text(r)} → {r.class_name}", wrap_chars) or ["always"]
        rows.append((r, text))
    n_lines = sum(len(t) for _, t in rows)
    line_in = FIGURE_FONT_PT * 1.35 / 72.0
    width_in = COLUMN_WIDTH_MM / _MM_PER_INCH
    header_in = 0.42 if title else 0.22
    height_in = header_in + 0.3 + line_in * n_lines + 0.05 * len(rows)
    fig = plt.figure(figsize=(width_in, height_in))
    text_ax = fig.add_axes((0.0, 0.0, 0.64, 1.0))
    bar_ax = fig.add_axes((0.655, 0.3 / height_in, 0.235, 1.0 - (header_in + 0.3) / height_in))
    text_ax.axis("off")
    y = 1.0 - header_in / height_in
    centres, blocks, fid, const, cov, colours = [], [], [], [], [], []
    cmap = plt.get_cmap("tab10")
    class_order = sorted({r.label for r, _ in rows})
    for r, text in rows:
        block = (line_in * len(text) + 0.05 * 1) / height_in
        text_ax.text(0.02, y - 0.025 / height_in, "\n".join(text), fontsize=FIGURE_FONT_PT, va="top", ha="left",
                     linespacing=1.15, transform=text_ax.transAxes)
        centres.append(y - block / 2)
        blocks.append(block)
        h = r.held_out or {}
        fid.append(h.get("fidelity") or 0.0)
        const.append(h.get("constant_fidelity"))
        cov.append(h.get("coverage"))
        colours.append(cmap(class_order.index(r.label) % 10))
        y -= block
    # Bars share the rows' vertical positions (figure fraction -> bar-axes fraction).
    bottom, top = 0.3 / height_in, 1.0 - header_in / height_in
    pos = [(c - bottom) / (top - bottom) for c in centres]
    # Every bar as tall as the smallest row allows, so bars of neighbouring rows never touch.
    bar_h = 0.6 * min(blocks, default=0.1) / (top - bottom)
    bar_ax.barh(pos, fid, height=bar_h, color=colours, alpha=0.85)
    for p, c, v in zip(pos, const, cov):
        if c is not None:
            bar_ax.plot([c, c], [p - bar_h / 1.6, p + bar_h / 1.6], color="black", lw=0.9)
        if v is not None:
            bar_ax.text(1.02, p, f"{100 * v:.0f}%", fontsize=FIGURE_FONT_PT - 1, va="center", ha="left",
                        transform=bar_ax.get_yaxis_transform(), clip_on=False)
    bar_ax.set_xlim(0, 1)
    bar_ax.set_ylim(0, 1)
    bar_ax.set_yticks([])
    bar_ax.set_xticks([0, 0.5, 1])
    bar_ax.tick_params(labelsize=FIGURE_FONT_PT - 1, length=2, pad=1)
    bar_ax.set_xlabel("leaf fidelity (| = constant)", fontsize=FIGURE_FONT_PT - 0.5, labelpad=1)
    bar_ax.text(1.02, 1.0, "coverage", fontsize=FIGURE_FONT_PT - 1.5, va="bottom", ha="left",
                transform=bar_ax.transAxes, clip_on=False)
    for side in ("top", "right", "left"):
        bar_ax.spines[side].set_visible(False)
    h = tree_json.get("held_out") or {}
    head = title or (f"{tree_json['name']}, depth {tree_json['depth']}: held-out fidelity "
                     f"{_fmt_score(h.get('fidelity'))} (constant {_fmt_score(h.get('baseline_fidelity'))})")
    fig.text(0.01, 1.0 - 0.04 / height_in, "\n".join(textwrap.wrap(head, 62)), fontsize=FIGURE_FONT_PT,
             va="top", ha="left", weight="bold")
    written = []
    # Text stays text in SVG/PDF (editable, searchable), as journals' production staff prefer.
    with matplotlib.rc_context({"svg.fonttype": "none", "pdf.fonttype": 42, "svg.hashsalt": "xrdnet"}):
        for path in paths:
            path = Path(path)
            suffix = path.suffix.lower()
            # No creation date in the file: the same rules give the same bytes (reproducible exports).
            metadata = {"Date": None} if suffix == ".svg" else {"CreationDate": None} if suffix == ".pdf" else None
            fig.savefig(path, dpi=300 if suffix == ".png" else None, metadata=metadata)
            written.append(path)
    plt.close(fig)
    return written
