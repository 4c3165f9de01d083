"""The checkpoint folder's format version (``checkpoint.json``), checked before anything else is read.

A checkpoint folder is a run folder (``run.json``, ``model.ckpt`` or the forest's files, as ``xrdnet
train`` writes them) plus what ships with it: ``calibration.json``, ``card.json``, ``members.json``,
``rules/tree.json``, ``mixture/``, ``training_set.tsv.gz``. ``checkpoint.json`` states which layout:

    {"format": "xrdnet-checkpoint", "format_version": 1, "name": "xrdnet-cnn-real"}

A folder without it is read as format 1 (what every run folder written so far is), so a fresh
``runs/<name>`` answers as before. A folder that states another format or version is refused with one
line naming it, rather than half-read by code that does not know its layout (matgl's ``@model_version``
check on load is the habit followed). The file also marks a folder under ``xrdnet/checkpoints/`` as a
shipped checkpoint (``registry``).
"""

from __future__ import annotations

import json
from pathlib import Path

FORMAT_FILE = "checkpoint.json"
FORMAT = "xrdnet-checkpoint"
FORMAT_VERSION = 1
"""The layout this xrdnet reads and writes (see the module docstring)."""


class CheckpointFormatError(ValueError):
    """A checkpoint folder this xrdnet cannot read; the message is one line naming the folder."""

    def __init__(self, folder: str | Path, problem: str) -> None:
        self.folder = str(folder)
        self.problem = " ".join(str(problem).split())
        super().__init__(f"checkpoint {self.folder}: {self.problem}")

    def __reduce__(self):
        return (type(self), (self.folder, self.problem))


def read_format_version(folder: str | Path) -> int:
    """The checked format version of checkpoint ``folder`` (1 without ``checkpoint.json``)."""
    folder = Path(folder)
    record = folder / FORMAT_FILE
    if not record.is_file():
        return FORMAT_VERSION
    try:
        data = json.loads(record.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointFormatError(folder, f"unreadable {FORMAT_FILE} ({type(exc).__name__}: {exc})") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointFormatError(folder, f"{FORMAT_FILE} does not say \"format\": \"{FORMAT}\"")
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointFormatError(folder, f"format_version {version!r} in {FORMAT_FILE}; this xrdnet reads "
                                            f"format_version {FORMAT_VERSION} (a newer xrdnet wrote it?)")
    return int(version)


def write_format(folder: str | Path, name: str | None = None) -> Path:
    """Mark ``folder`` as a checkpoint of this format (``checkpoint.json``)."""
    record = Path(folder) / FORMAT_FILE
    data = {"format": FORMAT, "format_version": FORMAT_VERSION, "name": name or Path(folder).name}
    record.write_text(json.dumps(data, indent=2) + "\n")
    return record
