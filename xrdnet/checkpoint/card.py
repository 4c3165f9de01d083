"""``card.json`` as a type: the measured figures a checkpoint answers with, in one schema.

``xrdnet predict`` prints the card's real-pattern accuracy beside the constant-answer baseline, and the
``low_coverage`` finding quotes its accuracy on scans cut to laboratory ranges, so the card is read by
the predictor and written by ``xrdnet calibrate``. Both go through :class:`ModelCard`, which is the
only place the fields are named: a card written here reads back field for field, and ``to_dict`` keeps
the key order the file has always had (the shipped card round-trips byte for byte).

Every field may be missing (a run folder without a card, or a hand-written card with only a headline
figure): missing figures are None and are left out when written. Fields this xrdnet does not know are
kept in ``extra`` and written back unchanged, so an older xrdnet neither refuses nor drops a newer card.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

CARD_FILE = "card.json"


def _split(data: Any, cls, where: str) -> tuple[dict, dict]:
    """``(known, extra)`` fields of a card section ``data`` for dataclass ``cls`` (ValueError naming ``where``)."""
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected an object, got {type(data).__name__}")
    names = {f.name for f in fields(cls)} - {"extra"}
    return {k: v for k, v in data.items() if k in names}, {k: v for k, v in data.items() if k not in names}


def _plain(obj, order: tuple[str, ...]) -> dict:
    """The JSON object of a card section: fields in ``order``, None left out, then the unknown extras."""
    out = {}
    for name in order:
        value = getattr(obj, name)
        if value is None:
            continue
        out[name] = value.to_dict() if hasattr(value, "to_dict") else value
    out.update(obj.extra)
    return out


@dataclass(frozen=True)
class ScanRangeFigures:
    """Accuracy on the measured set cut to one laboratory 2θ range (calibrated; as the checkpoint answers: its
    networks, pooled with its forest when it has one)."""

    two_theta_range_deg: tuple[float, float] | None = None
    coverage: float | None = None
    """Share of the model's grid the range keeps."""
    cs_accuracy: float | None = None
    cs_balanced_accuracy: float | None = None
    sg_accuracy: float | None = None
    extra: dict = field(default_factory=dict)

    ORDER = ("two_theta_range_deg", "coverage", "cs_accuracy", "cs_balanced_accuracy", "sg_accuracy")

    @classmethod
    def from_dict(cls, data: Any, where: str) -> "ScanRangeFigures":
        known, extra = _split(data, cls, where)
        if known.get("two_theta_range_deg") is not None:
            lo, hi = known["two_theta_range_deg"]
            known["two_theta_range_deg"] = (lo, hi)
        return cls(**known, extra=extra)

    def to_dict(self) -> dict:
        out = _plain(self, self.ORDER)
        if "two_theta_range_deg" in out:
            out["two_theta_range_deg"] = list(out["two_theta_range_deg"])
        return out


@dataclass(frozen=True)
class IndexingFigures:
    """The measured set answered exactly as ``predict`` answers it, the indexing evidence mixed in."""

    cs_accuracy: float | None = None
    cs_balanced_accuracy: float | None = None
    sg_accuracy: float | None = None
    cs_ece: float | None = None
    combined: int | None = None
    """How many files had a confident cell mixed in."""
    extra: dict = field(default_factory=dict)

    ORDER = ("cs_accuracy", "cs_balanced_accuracy", "sg_accuracy", "cs_ece", "combined")

    @classmethod
    def from_dict(cls, data: Any, where: str) -> "IndexingFigures":
        known, extra = _split(data, cls, where)
        return cls(**known, extra=extra)

    def to_dict(self) -> dict:
        return _plain(self, self.ORDER)


@dataclass(frozen=True)
class RealFigures:
    """Figures on a measured (real) pattern set: the network's, the baseline's, cut ranges, with indexing."""

    name: str | None = None
    n: int | None = None
    cs_accuracy: float | None = None
    """The network's own (calibrated) crystal-system accuracy."""
    cs_balanced_accuracy: float | None = None
    sg_accuracy: float | None = None
    sg_top5: float | None = None
    baseline_cs_accuracy: float | None = None
    """Always answering the commonest crystal system of the set."""
    baseline_answer: str | None = None
    by_scan_range: tuple[ScanRangeFigures, ...] | None = None
    with_indexing: IndexingFigures | None = None
    note: str | None = None
    """What kind of figure it is (validation or evaluation only)."""
    extra: dict = field(default_factory=dict)

    ORDER = ("name", "n", "cs_accuracy", "cs_balanced_accuracy", "sg_accuracy", "sg_top5", "baseline_cs_accuracy",
             "baseline_answer", "by_scan_range", "with_indexing", "note")

    @classmethod
    def from_dict(cls, data: Any, where: str) -> "RealFigures":
        known, extra = _split(data, cls, where)
        if known.get("by_scan_range") is not None:
            if not isinstance(known["by_scan_range"], list):
                raise ValueError(f"{where}.by_scan_range: expected a list")
            known["by_scan_range"] = tuple(ScanRangeFigures.from_dict(e, f"{where}.by_scan_range[{i}]")
                                           for i, e in enumerate(known["by_scan_range"]))
        if known.get("with_indexing") is not None:
            known["with_indexing"] = IndexingFigures.from_dict(known["with_indexing"], f"{where}.with_indexing")
        return cls(**known, extra=extra)

    def to_dict(self) -> dict:
        out = _plain(self, self.ORDER)
        if "by_scan_range" in out:
            out["by_scan_range"] = [e.to_dict() for e in self.by_scan_range]
        return out


@dataclass(frozen=True)
class SimulatedFigures:
    """Figures on the simulated held-out (test) split of the training data set."""

    split_kind: str | None = None
    n: int | None = None
    cs_accuracy: float | None = None
    sg_accuracy: float | None = None
    extra: dict = field(default_factory=dict)

    ORDER = ("split_kind", "n", "cs_accuracy", "sg_accuracy")

    @classmethod
    def from_dict(cls, data: Any, where: str) -> "SimulatedFigures":
        known, extra = _split(data, cls, where)
        return cls(**known, extra=extra)

    def to_dict(self) -> dict:
        return _plain(self, self.ORDER)


@dataclass(frozen=True)
class ModelCard:
    """What a checkpoint's ``card.json`` records (see the module docstring); an empty card has no figures."""

    real: RealFigures | None = None
    simulated_test: SimulatedFigures | None = None
    n_networks: int | None = None
    extra: dict = field(default_factory=dict)

    ORDER = ("real", "simulated_test", "n_networks")

    @classmethod
    def from_dict(cls, data: Any, where: str = CARD_FILE) -> "ModelCard":
        known, extra = _split(data, cls, where)
        if known.get("real") is not None:
            known["real"] = RealFigures.from_dict(known["real"], f"{where}: real")
        if known.get("simulated_test") is not None:
            known["simulated_test"] = SimulatedFigures.from_dict(known["simulated_test"], f"{where}: simulated_test")
        return cls(**known, extra=extra)

    def to_dict(self) -> dict:
        return _plain(self, self.ORDER)

    @classmethod
    def load(cls, folder: str | Path) -> "ModelCard":
        """The card of checkpoint ``folder``; an empty card when it has none (ValueError naming a broken one)."""
        path = Path(folder) / CARD_FILE
        if not path.is_file():
            return cls()
        try:
            data = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: unreadable model card ({type(exc).__name__}: {exc})") from exc
        return cls.from_dict(data, str(path))

    def save(self, folder: str | Path) -> Path:
        """Write ``card.json`` into ``folder`` (the layout ``xrdnet calibrate`` has always written)."""
        path = Path(folder) / CARD_FILE
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return path
