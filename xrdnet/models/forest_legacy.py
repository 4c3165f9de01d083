"""Re-save an old joblib forest run in the safe format, for a run the user explicitly trusts.

xrdnet before 2026-12 wrote forests as ``forest.joblib`` (a pickle). Those files are no longer loaded
(``forest_store``: opening a pickle can run code); this module is the one place one is still unpickled,
on request (``xrdnet convert-forest RUN --trust``), so the user decides, once, that the file is theirs.
"""

from __future__ import annotations

import json
from pathlib import Path

from xrdnet.models.forest import LEGACY_MODEL_FILE, MODEL_FILE, ForestModel


def convert_joblib_run(folder: str | Path) -> Path:
    """Re-save the joblib forest of run ``folder`` (``forest.joblib``, which the caller TRUSTS) as ``forest.skops``.

    The forest is rebuilt through ``ForestModel.from_state`` (same trees, same predictions) and saved in the
    safe format; ``run.json``'s ``model_file`` is updated; the old file is left for the user to delete.
    Returns the new file.
    """
    import joblib

    folder = Path(folder)
    old = folder / LEGACY_MODEL_FILE
    if not old.is_file():
        raise FileNotFoundError(f"{folder}: no {LEGACY_MODEL_FILE} to convert")
    state = joblib.load(old)  # unpickled on the caller's explicit trust (see the module docstring)
    if not isinstance(state, dict) or state.get("format_version") != 1:
        raise ValueError(f"{old}: not a joblib forest of format 1 (what xrdnet wrote before 2026-12)")
    path = ForestModel.from_state(state, where=str(old)).save(folder)
    record = folder / "run.json"
    if record.is_file():
        info = json.loads(record.read_text())
        if info.get("model_file") == LEGACY_MODEL_FILE:
            info["model_file"] = MODEL_FILE
            record.write_text(json.dumps(info, indent=2, default=str))
    return path
