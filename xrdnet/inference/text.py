"""The text form of results (``xrdnet predict`` without ``--json``): rendered from the JSON dicts.

Rendering from :meth:`PredictionResult.to_dict` rather than from the objects keeps the two outputs
saying the same thing: whatever the text shows is in the JSON.
"""

from __future__ import annotations


def format_header(model: dict) -> str:
    """The first line of the text output: the model, its measured real-pattern accuracy, the constant baseline."""
    name = model.get("name", "?")
    acc, base = model.get("real_cs_accuracy"), model.get("real_baseline_cs_accuracy")
    if acc is None:
        line = f"model {name}: no measured accuracy on real patterns on record"
    else:
        n = model.get("real_n")
        line = (f"model {name}: {100 * acc:.1f} % crystal-system accuracy on {n} measured "
                f"{model.get('real_set') or 'real'} patterns")
        alone = model.get("real_network_cs_accuracy")
        if model.get("real_with_indexing") and alone is not None:
            from xrdnet.inference.result import evidence_words

            words = evidence_words(model.get("forest_weight"), model.get("indexing_mixed_in", True),
                                   model.get("search_match_weight"))
            line += f" {words} ({100 * alone:.1f} % network alone)"
        if base is not None:
            line += f", where always answering the commonest system scores {100 * base:.1f} %"
    if not model.get("calibrated", True):
        line += " (probabilities not calibrated)"
    return line


def format_cell(cell: dict) -> str:
    """One line for an indexed cell (``PredictionResult.to_dict()["cell"]``)."""
    from xrdnet.indexing.evidence import describe_axes

    axes = describe_axes(cell["family"], cell["a"], cell["b"], cell["c"])
    return (f"{cell['crystal_system']} {cell['centring']}, {axes}, M{cell['n_lines']} = {cell['figure_of_merit']:.1f}, "
            f"{100 * cell['indexed_fraction']:.0f} % of {cell['n_lines']} lines indexed, zero shift "
            f"{cell['zero_shift_deg']:+.3f}°" + ("" if cell.get("confident") else " (not confident)"))


def format_reference(ref: dict) -> str:
    """One line for a search-match reference (``PredictionResult.to_dict()["reference_matches"]`` entry)."""
    return (f"{ref['formula']} ({ref['id']}), {ref['crystal_system']} {ref['space_group_symbol']} "
            f"(#{ref['space_group']}), similarity {ref['similarity']:.2f} at d × {ref['d_scale']:.3f}")


def format_result(result: dict) -> str:
    """Human-readable lines for one file (a :meth:`PredictionResult.to_dict`)."""
    lines = [f"{result['file']}"]
    status = result.get("status", "answered")
    cs, sg = result.get("crystal_system"), result.get("space_group")
    top = result.get("top_k") or {}
    if status == "refused" and not result.get("forced"):
        lines.append(f"  crystal system: no answer: {result.get('refusal_reason')} (--force answers anyway)")
    elif status == "uncertain":
        lines.append("  crystal system: uncertain (below --min-confidence); candidates below")
    elif cs is not None:
        overall = result.get("space_group_is_overall_top", True)
        sg_note = "" if overall else ", best within the predicted system"
        forced = "  [forced]" if result.get("forced") else ""
        lines.append(f"  crystal system: {cs['name']} ({cs['probability']:.1%})   space group: {sg['symbol']} "
                     f"(#{sg['number']}, {sg['probability']:.1%}{sg_note}){forced}")
    if top.get("crystal_system"):
        lines.append("  top crystal systems: " + ", ".join(f"{c['name']} {c['probability']:.1%}"
                                                         for c in top["crystal_system"]))
        lines.append("  top space groups:    " + ", ".join(f"{g['symbol']} (#{g['number']}) {g['probability']:.1%}"
                                                         for g in top["space_group"]))
    if result.get("rule"):
        lines.append(f"  rule: {result['rule']}")
    for label, cell in (("best indexing cell", result.get("cell")),
                        ("cell of the answer's system", result.get("cell_of_predicted_system"))):
        if cell and (label.startswith("best") or cell != result.get("cell")):
            lines.append(f"  {label}: {format_cell(cell)}")
    for n, ref in enumerate(result.get("reference_matches") or []):
        lines.append(("  closest references: " if n == 0 else "                      ") + format_reference(ref))
    peaks = result.get("peaks_two_theta_deg") or []
    shown = ", ".join(f"{p:.2f}" for p in peaks[:15]) + (" ..." if len(peaks) > 15 else "")
    lines.append(f"  {len(peaks)} peaks (2θ °): {shown}")
    for w in result.get("warnings", []):
        if isinstance(w, dict):
            lines.append(f"  warning [{w['code']}]: {w['message']}")
        else:
            lines.append(f"  warning: {w}")
    return "\n".join(lines)
