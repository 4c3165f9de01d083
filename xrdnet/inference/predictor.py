"""The :class:`Predictor`: a :class:`~xrdnet.checkpoint.Checkpoint` (or several) answering many patterns.

Each pattern goes the same way: the checks (``xrdnet.checks.check_pattern``: findings and the row on the
model grid), one model batch for every pattern that can be answered (calibrated, ensemble-averaged,
prior-weighted probabilities), the mixture detector on the same batch, then the answer assembled per
pattern with the indexing evidence and the surrogate rule. :func:`predict` is the one-call form.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from xrdnet.checkpoint import Checkpoint
from xrdnet.checkpoint.parts import describe_failure
from xrdnet.checkpoint.registry import default_checkpoint  # noqa: F401 - part of this module's API
from xrdnet.checks.finding import (FORCED, LIKELY_MIXTURE, LOW_CONFIDENCE, LOW_COVERAGE, MIXTURE_UNAVAILABLE, PRIOR,
                                   READER, PredictionWarning)
from xrdnet.checks.pattern import CheckedPattern, check_pattern
from xrdnet.checks.thresholds import WARN_COVERAGE
from xrdnet.indexing.evidence import combine_with_cell, index_measured_peaks, is_confident
from xrdnet.inference.evidence import record_indexing
from xrdnet.inference.result import ClassScore, ModelInfo, PredictionResult
from xrdnet.inference.rules import explain
from xrdnet.symmetry import CRYSTAL_SYSTEMS, N_SPACE_GROUPS, space_group_symbol

UNIT_ALIASES = {"2θ": "2theta", "two_theta": "2theta", "tth": "2theta"}
"""Names of the 2θ unit older readers used."""


def _checkpoints(checkpoint, device: str, calibrate: bool) -> list[Checkpoint]:
    """The checkpoint(s) a ``Predictor`` argument stands for, loaded (the first with its card, rules, detector)."""
    if isinstance(checkpoint, Checkpoint):
        return [checkpoint]
    if checkpoint is None or isinstance(checkpoint, (str, Path)):
        given = [checkpoint]
    else:
        given = list(checkpoint)
    if not given:
        raise ValueError("no checkpoint given")
    return [c if isinstance(c, Checkpoint) else Checkpoint.load(c, device=device, calibrate=calibrate, extras=i == 0)
            for i, c in enumerate(given)]


def _model_info(checkpoints: list[Checkpoint], runs: list, paths: list[Path], calibrations: list,
                combine_indexing: bool, as_card: bool, grid: np.ndarray, wavelength_angstrom: float) -> ModelInfo:
    """What answers: names, kinds, temperatures and (one folder given) the figures of its card.

    ``as_card``: the predictor answers as the card's ``with_indexing`` figures were measured (its default
    ``combine_indexing``), so that figure, not the network's own, heads the answers.
    """
    first = checkpoints[0]
    # one folder given (a single network or a shipped ensemble): its card describes what answers
    real = first.card.real if len(checkpoints) == 1 else None
    indexed = real.with_indexing if (real is not None and as_card) else None
    name = first.name
    if len(checkpoints) > 1:
        name = "ensemble of " + " + ".join(r.info.get("name") or r.name for r in runs)
    elif len(runs) > 1:
        name = f"{name} (ensemble of {len(runs)} networks)"
    return ModelInfo(
        name=name, kinds=tuple(r.kind for r in runs), paths=tuple(str(p) for p in paths),
        calibrated=all(c is not None for c in calibrations),
        temperatures=tuple((c.cs_temperature, c.sg_temperature) if c else (1.0, 1.0) for c in calibrations),
        real_cs_accuracy=indexed.cs_accuracy if indexed else (real.cs_accuracy if real else None),
        real_network_cs_accuracy=real.cs_accuracy if real else None, real_with_indexing=bool(indexed),
        real_baseline_cs_accuracy=real.baseline_cs_accuracy if real else None,
        real_n=real.n if real else None, real_set=real.name if real else None, wavelength_angstrom=wavelength_angstrom,
        two_theta_range_deg=(float(grid[0]), float(grid[-1])),
        real_by_scan_range=tuple(e.to_dict() for e in (real.by_scan_range or ())) if real else (),
        forest_weight=first.forest_pool.forest_weight if (len(checkpoints) == 1 and first.forest_pool) else None,
        indexing_mixed_in=combine_indexing,
        search_match_weight=first.match_pool.weight if (len(checkpoints) == 1 and first.match_pool) else None)


class Predictor:
    """Load a checkpoint (or several: an ensemble) once; answer many patterns.

    Args:
        checkpoint: a :class:`~xrdnet.checkpoint.Checkpoint`, a checkpoint folder or shipped name, a list of
            them (their calibrated probabilities are averaged), or None for the shipped checkpoint.
        device: torch device of CNN runs.
        calibrate: apply each checkpoint's ``calibration.json`` (default True).
        prior: None, ``"uniform"``, ``"minerals"`` or a file of space-group counts
            (p ∝ p_model · prior / training prior).
        top_k: how many classes the top lists hold.
        min_confidence: below this crystal-system probability the status is ``"uncertain"``.
        combine_indexing: mix a confident indexing cell into the probabilities
            (``xrdnet.indexing.combine_with_cell``); False reports the cell beside the network's
            answer and only warns when they disagree; None (the default) does what the checkpoint's
            measured figures were made with: mixed in, unless its forest pool says otherwise
            (``forest_pool.json``, ``combine_indexing``).

    ``runs``, ``calibrations``, ``ensemble_calibration``, ``forest_pool``, ``mixture`` and ``tree`` are plain attributes
    (taken from the checkpoint), so a script can swap in freshly fitted temperatures or a detector.
    """

    def __init__(self, checkpoint: Checkpoint | str | Path | Sequence[str | Path] | None = None, device: str = "cpu",
                 calibrate: bool = True, prior: str | Path | None = None, top_k: int = 5,
                 min_confidence: float = 0.0, combine_indexing: bool | None = None) -> None:
        from xrdnet.calibration import load_prior

        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        if not 0.0 <= float(min_confidence) <= 1.0:
            raise ValueError(f"min_confidence must be in 0..1, got {min_confidence}")
        checkpoints = _checkpoints(checkpoint, device, calibrate)
        self.checkpoints = checkpoints
        self.runs = [run for c in checkpoints for run in c.runs]
        self.paths = [member for c in checkpoints for member in c.members]
        self.calibrations = [cal for c in checkpoints for cal in c.calibrations]
        # a shipped ensemble's own temperatures, applied to the average of its calibrated members
        self.ensemble_calibration = checkpoints[0].ensemble_calibration if len(checkpoints) == 1 else None
        if not calibrate:  # also for Checkpoint objects loaded with their calibrations
            self.calibrations = [None] * len(self.runs)
            self.ensemble_calibration = None
        self.top_k = int(top_k)
        self.min_confidence = float(min_confidence)
        first = checkpoints[0]
        # one folder given: the forest its networks are pooled with (several folders: their plain average)
        self.forest_pool = first.forest_pool if len(checkpoints) == 1 else None
        # and the reference library that pooled answer is pooled with once more (search-match)
        self.match_pool = first.match_pool if len(checkpoints) == 1 else None
        default_combine = True if self.forest_pool is None else self.forest_pool.combine_indexing
        self.combine_indexing = default_combine if combine_indexing is None else bool(combine_indexing)
        self.grid = first.grid_two_theta_deg
        self.wavelength_angstrom = first.wavelength_angstrom
        if self.grid is None:
            raise ValueError(f"{self.paths[0]}: the run records no pattern grid")
        self.prior_name = None if prior is None else str(prior)
        self.prior = None
        self.training_prior = None
        if prior is not None:
            self.prior = load_prior(prior)
            train = [t for c in checkpoints for t in c.training_priors()]
            if not train:
                raise ValueError(f"--prior needs the training set of {self.paths[0]} (training_set.tsv.gz) for its "
                                 "training prior")
            self.training_prior = np.mean(train, axis=0)
        self.info = _model_info(checkpoints, self.runs, self.paths, self.calibrations, self.combine_indexing,
                                self.combine_indexing == default_combine,
                                self.grid, self.wavelength_angstrom)
        self.tree = first.tree
        self.mixture, self.mixture_problem = first.mixture, first.mixture_problem

    # ---------------------------------------------------------------- model probabilities
    def probabilities(self, rows: np.ndarray, matches=None) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated (ensemble-averaged, forest-pooled, search-match-pooled, prior-weighted) ``(cs [P, 7],
        sg [P, 230])`` of ``rows [P, G]``.

        The rows are on ``self.grid`` (the first network's); every member reads them there. ``matches``: the
        rows' ``search_match.Matches`` when already searched (``self.match_pool.matches``).
        """
        from xrdnet.calibration import apply_prior

        cs_sum = np.zeros((len(rows), len(CRYSTAL_SYSTEMS)))
        sg_sum = np.zeros((len(rows), N_SPACE_GROUPS))
        for run, cal in zip(self.runs, self.calibrations):
            pred = run.predict(rows, self.grid, self.wavelength_angstrom)
            cs, sg = np.asarray(pred.cs_proba, np.float64), np.asarray(pred.sg_proba, np.float64)
            if cal is not None:
                cs, sg = cal.apply(cs, sg)
            cs_sum += cs
            sg_sum += sg
        cs, sg = cs_sum / len(self.runs), sg_sum / len(self.runs)
        if self.ensemble_calibration is not None:
            cs, sg = self.ensemble_calibration.apply(cs, sg)
        if self.forest_pool is not None:
            cs, sg = self.forest_pool.pool(cs, sg, rows, self.grid, self.wavelength_angstrom)
        if self.match_pool is not None:
            cs, sg = self.match_pool.pool(cs, sg, rows, self.grid, self.wavelength_angstrom, matches)
        if self.prior is not None:
            cs, sg = apply_prior(cs, sg, self.prior, self.training_prior)
        return cs, sg

    # ---------------------------------------------------------------- public entry points
    def predict(self, two_theta_deg: Any, intensity: Any, wavelength: str | float | None = None,
                x_unit: str | None = None, force: bool = False, subtract_background: bool = False,
                metadata: dict | None = None, source: str | None = None) -> PredictionResult:
        """Answer one pattern given as arrays.

        ``two_theta_deg [N]`` holds the x values: 2θ in degrees, or Q (1/Å) / d (Å) when ``x_unit``
        says so (then no wavelength is needed); ``x_unit=None`` means 2θ, not stated, so an axis that
        looks like Q or d is refused. ``wavelength``: a radiation name ("CuKa", "MoKa1") or
        Å; None assumes the model's and says so (``wavelength_assumed``). ``force`` answers even
        where a check refuses. ``metadata`` (a file's header, XRDML scan axis) feeds the thin-film check.
        """
        return self.predict_many([dict(x=two_theta_deg, intensity=intensity, wavelength=wavelength,
                                       x_unit=x_unit or "2theta", x_unit_source="argument" if x_unit else "default",
                                       metadata=metadata, source=source)],
                                 force=force, subtract_background=subtract_background)[0]

    def predict_pattern(self, pattern, force: bool = False, subtract_background: bool = False,
                        x_unit: str | None = None) -> PredictionResult:
        """Answer one :class:`~xrdnet.patterns_io.MeasuredPattern` (what ``read_pattern`` returns)."""
        return self.predict_patterns([pattern], force=force, subtract_background=subtract_background,
                                     x_unit=x_unit)[0]

    def predict_patterns(self, patterns: Sequence, force: bool = False, subtract_background: bool = False,
                         x_unit: str | None = None) -> list[PredictionResult]:
        """Answer many measured patterns in one model batch."""
        return self.predict_many([self._pattern_request(p, x_unit) for p in patterns], force=force,
                                 subtract_background=subtract_background)

    @staticmethod
    def _pattern_request(pattern, x_unit: str | None) -> dict:
        """A measured pattern (old or new reader) as the arguments of :meth:`predict`."""
        from xrdnet.io.core import AXIS_REVERSED, NO_WAVELENGTH_STATED, note_code

        unit = str(getattr(pattern, "x_unit", None) or "2theta").lower()
        unit = UNIT_ALIASES.get(unit, unit)
        unit_source = getattr(pattern, "x_unit_source", None) or "default"
        x = pattern.two_theta_deg
        if x_unit is not None and x_unit != unit:
            if unit != "2theta" or x is None:
                raise ValueError(f"{pattern.path}: read as {unit}; re-read the file with x_unit={x_unit!r}")
            unit = x_unit  # an old reader that cannot take x_unit: its "2θ" column is the raw x
        if x_unit is not None:
            unit_source = "argument"
        label = unit
        if unit in ("q", "d"):
            q = getattr(pattern, "q_inv_angstrom", None)
            if q is not None and getattr(pattern, "x_unit", "2theta") in ("q", "d"):
                x, unit = np.asarray(q, dtype=np.float64), "q"
        codes = [note_code(w) for w in pattern.warnings]
        lam_source = getattr(pattern, "wavelength_source", None)
        return dict(x=x, intensity=pattern.intensity, wavelength=pattern.wavelength_angstrom, x_unit=unit,
                    x_unit_label=label, x_unit_source=unit_source, metadata=pattern.metadata,
                    source=str(pattern.path), was_decreasing=AXIS_REVERSED in codes,
                    wavelength_source=lam_source if lam_source not in (None, "default") else "file",
                    # the reader's "no wavelength" note is said by wavelength_assumed (the model's, named)
                    reader_warnings=[w for w, code in zip(pattern.warnings, codes) if code != NO_WAVELENGTH_STATED])

    def predict_many(self, requests: Sequence[dict], force: bool = False,
                     subtract_background: bool = False) -> list[PredictionResult]:
        """Answer many patterns (dicts of :meth:`predict`'s arguments) in one model batch."""
        from xrdnet.simulate.wavelengths import resolve_radiation

        prepared: list[tuple[CheckedPattern, list[PredictionWarning]]] = []
        for req in requests:
            lam = req.get("wavelength")
            if lam is not None and not isinstance(lam, (int, float, np.floating)):
                radiation = resolve_radiation(lam)
                lam = float(getattr(radiation, "kalpha1_angstrom", None) or getattr(radiation, "wavelength_angstrom"))
            p = check_pattern(req["x"], req["intensity"], self.grid, self.wavelength_angstrom,
                              wavelength_angstrom=lam, x_unit=req.get("x_unit", "2theta"),
                              x_unit_source=req.get("x_unit_source", "argument"), metadata=req.get("metadata"),
                              source=req.get("source"), subtract_background=subtract_background,
                              was_decreasing=bool(req.get("was_decreasing")),
                              wavelength_source=req.get("wavelength_source"),
                              x_unit_label=req.get("x_unit_label"))
            said = [PredictionWarning(READER, w) for w in req.get("reader_warnings", [])]
            prepared.append((p, said + [f.as_warning() for f in p.findings]))
        run_idx = [i for i, (p, _) in enumerate(prepared) if p.row is not None and (p.refusal is None or force)]
        cs_all = sg_all = matches = None
        mixture = None
        mixture_problem = self.mixture_problem if self.mixture is None else None
        if run_idx:
            rows = np.stack([prepared[i][0].row for i in run_idx]).astype(np.float32)
            matches = (None if self.match_pool is None
                       else self.match_pool.matches(rows, self.grid, self.wavelength_angstrom))
            cs_all, sg_all = self.probabilities(rows, matches)
            if self.mixture is not None:
                try:
                    mixture = np.asarray(self.mixture.mixture_probability(rows), dtype=np.float64)
                except Exception as exc:  # noqa: BLE001 - the class answer stands; warned and named on each result
                    mixture = None
                    mixture_problem = describe_failure(f"the mixture detector failed on a batch of {len(rows)} "
                                                       "pattern(s); none of them can be flagged as a likely mixture",
                                                       exc)
                    warnings.warn(mixture_problem, RuntimeWarning, stacklevel=2)
        position = {i: j for j, i in enumerate(run_idx)}
        results = [self._finish(p, said, None if i not in position else (cs_all[position[i]], sg_all[position[i]]),
                                None if (mixture is None or i not in position) else float(mixture[position[i]]), force,
                                mixture_problem=mixture_problem if i in position else None)
                   for i, (p, said) in enumerate(prepared)]
        if matches is not None:
            for i, j in position.items():
                results[i].reference_matches = self.match_pool.describe(matches, j)
        return results

    # ---------------------------------------------------------------- assembling the answer
    def _finish(self, p: CheckedPattern, said: list[PredictionWarning], proba, mixture: float | None, force: bool,
                mixture_problem: str | None = None) -> PredictionResult:
        from xrdnet.calibration import decode

        result = PredictionResult(status="refused", model=self.info, warnings=list(said),
                                  refusal_reason=p.refusal, coverage=p.coverage,
                                  wavelength_angstrom=p.wavelength_angstrom, wavelength_source=p.wavelength_source,
                                  x_unit=p.x_unit, peaks_two_theta_deg=p.peaks_two_theta_deg, source=p.source,
                                  prior=self.prior_name)
        indexing = self._index(p) if proba is not None else None
        if mixture is not None:
            self._flag_mixture(result, mixture, indexing, p)
        if mixture_problem is not None:
            result.warnings.append(PredictionWarning(MIXTURE_UNAVAILABLE, mixture_problem))
        if self.prior_name is not None:
            result.warnings.append(PredictionWarning(
                PRIOR, f"probabilities re-weighted for the '{self.prior_name}' population "
                "(p ∝ p_model · prior / training prior)"))
        if proba is None:
            return result
        if p.scan_range_deg is not None and p.coverage < WARN_COVERAGE:
            note = self.info.scan_range_note(*p.scan_range_deg)
            result.warnings = [PredictionWarning(w.code, f"{w.message}; {note}") if w.code == LOW_COVERAGE else w
                               for w in result.warnings]
        if p.refusal is not None:
            result.forced = True
            result.warnings.append(PredictionWarning(FORCED, f"answered despite: {p.refusal} (--force)"))
        cs_p, sg_p = proba
        network_cs = int(np.argmax(cs_p))
        network = ClassScore(CRYSTAL_SYSTEMS[network_cs], network_cs, float(cs_p[network_cs]))
        best = None if indexing is None else indexing.best
        if self.combine_indexing and is_confident(best):
            cs_p, sg_p = combine_with_cell(cs_p, sg_p, best)
            result.combined_with_indexing = True
        result.network_crystal_system = network
        cs_pred, sg_pred, overall = decode(cs_p[None], sg_p[None])
        cs, sg = int(cs_pred[0]), int(sg_pred[0])
        result.crystal_system_proba, result.space_group_proba = cs_p, sg_p
        result.top_crystal_systems = [ClassScore(CRYSTAL_SYSTEMS[j], int(j), float(cs_p[j]))
                                      for j in np.argsort(-cs_p, kind="stable")[: self.top_k]]
        result.top_space_groups = [ClassScore(space_group_symbol(int(j) + 1), int(j) + 1, float(sg_p[j]))
                                   for j in np.argsort(-sg_p, kind="stable")[: self.top_k]]
        result.space_group_is_overall_top = bool(overall[0])
        record_indexing(indexing, result, CRYSTAL_SYSTEMS[cs])
        if float(cs_p[cs]) < self.min_confidence:
            result.status = "uncertain"
            result.warnings.append(PredictionWarning(
                LOW_CONFIDENCE, f"the most probable crystal system has {100 * cs_p[cs]:.0f} % < the requested "
                f"{100 * self.min_confidence:.0f} %: no single answer, see the candidates"))
            return result
        result.status = "answered"
        result.crystal_system = ClassScore(CRYSTAL_SYSTEMS[cs], cs, float(cs_p[cs]))
        result.space_group = ClassScore(space_group_symbol(sg), sg, float(sg_p[sg - 1]))
        if self.tree is not None and p.row is not None:
            result.rule = self._rule(p.row, result.crystal_system, result.space_group)
        return result

    def _flag_mixture(self, result: PredictionResult, detector_probability: float, indexing, p: CheckedPattern) -> None:
        """Set ``mixture_probability`` and the ``likely_mixture`` warning: the detector's probability, combined
        with the indexing evidence where the detector carries a combiner (``xrdnet.mixture.evidence``)."""
        combiner = getattr(self.mixture, "evidence", None)
        result.mixture_detector_probability = detector_probability
        if combiner is None:
            probability, threshold = detector_probability, float(getattr(self.mixture, "threshold", 0.5))
            source = "the mixture detector gives"
        else:
            from xrdnet.mixture.evidence import evidence_row

            probability = float(combiner.probability(evidence_row(detector_probability, indexing))[0])
            threshold = combiner.threshold
            source = (f"the mixture detector ({100 * detector_probability:.0f} %) and how poorly the best cells "
                      "index the peaks give")
        result.mixture_probability = probability
        if probability >= threshold:
            result.warnings.append(PredictionWarning(
                LIKELY_MIXTURE, f"{source} {100 * probability:.0f} % (threshold {100 * threshold:.0f} %) that peaks "
                "of more than one phase are present; the answer describes at most the main phase"))

    _indexing_evidence = staticmethod(record_indexing)  # its old name: (indexing, result, answer) -> None

    def _rule(self, row: np.ndarray, cs: ClassScore, sg: ClassScore):
        """The surrogate rule of this pattern's leaf, or None when its class is not the answer."""
        return explain(self.tree, row, self.grid, self.wavelength_angstrom, cs, sg)

    def _index(self, p: CheckedPattern):
        """The indexing of a pattern's sharp peaks (Kα2 partners of the model's line dropped), or None."""
        if p.sharp_peaks is None:
            return None
        return index_measured_peaks(*p.sharp_peaks, self.wavelength_angstrom)


_DEFAULT: dict[tuple, Predictor] = {}


def predict(two_theta_deg: Any, intensity: Any, wavelength: str | float | None = None, *,
            x_unit: str | None = None, checkpoint: str | Path | Sequence[str | Path] | None = None,
            prior: str | None = None, min_confidence: float = 0.0, top_k: int = 5, force: bool = False,
            device: str = "cpu", combine_indexing: bool | None = None) -> PredictionResult:
    """Crystal system and space group of one pattern given as arrays (see :class:`Predictor`).

    The predictor of a (checkpoint, prior, min_confidence, top_k, device, combine_indexing) combination
    is loaded once and kept for later calls.
    """
    key = (str(checkpoint), str(prior), float(min_confidence), int(top_k), device, combine_indexing)
    if key not in _DEFAULT:
        _DEFAULT[key] = Predictor(checkpoint, device=device, prior=prior, min_confidence=min_confidence, top_k=top_k,
                                  combine_indexing=combine_indexing)
    return _DEFAULT[key].predict(two_theta_deg, intensity, wavelength=wavelength, x_unit=x_unit, force=force)
