"""Random symmetric crystals from pyxtal over all 230 space groups, seeded, in parallel, time-limited.

Structure ``i`` of a run is a pure function of ``(config, seed, i)``: its space group is drawn from
``SeedSequence([seed, i], spawn_key=(0,))`` and attempt ``a`` at building it uses its own stream
``SeedSequence([seed, i], spawn_key=(1, a))`` (elements, counts, then pyxtal's ``random_state``).
Every index delivers exactly one structure: when all ``max_attempts`` attempts at its group fail
(some groups cannot be built within ``max_atoms_per_cell``: F432 needs its 96-fold general position,
or spglib finds Fm-3m), the index draws a new group from ``SeedSequence([seed, i], spawn_key=(0, r))``
for round ``r = 1 .. max_redraws`` (leaving out the groups it gave up) with attempt streams
``spawn_key=(2, r, a)``; when every round
fails, ``generate`` raises ``GenerationError`` naming the groups. So N indices give N structures,
and the first draw of an index is what it always was.
The worker count only decides which process does the work, never what comes out. The one thing
outside the seed is the time limit per attempt. It is measured in CPU seconds of the process
(``ITIMER_PROF``), not wall-clock, so a machine loaded by other work (the simulator, other workers)
does not turn a passing attempt into a timeout; only a much slower CPU could. Keep ``time_limit_s`` well above
the typical attempt time (it is a guard against pyxtal's long tail, not a budget).

Every structure is re-labelled by spglib at ``symprec`` and dropped if the label differs from the
group it was built in; ``GenerationStats`` counts what was dropped and why.

The settings (``SyntheticConfig``, ``space_group_probabilities``) live in
``xrdnet.structures.synthetic_config`` and the CPU-time limit in ``xrdnet.structures.time_limit``;
their names (``DEFAULT_ELEMENTS`` included) stay importable from here, re-exported for one release.
"""

from __future__ import annotations

import multiprocessing
import warnings
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from xrdnet.structures.labelled import LabelledStructure, SpglibLabel, spglib_label, xray_scattering_elements
from xrdnet.structures.synthetic_config import (  # noqa: F401 - DEFAULT_ELEMENTS re-exported for one release
    DEFAULT_ELEMENTS,
    SyntheticConfig,
    space_group_probabilities,
)
from xrdnet.structures.time_limit import AttemptTimeout, _time_limit

_SOURCE = "pyxtal"


@dataclass
class GenerationStats:
    """Counters a ``generate`` run fills in as it goes (safe to read while iterating).

    ``indices_done`` counts indices finished (each yields one structure). Attempts are counted by
    outcome: ``dropped_mismatch`` (spglib found another group), ``dropped_timeout`` (over
    ``time_limit_s``), ``dropped_error`` (pyxtal or spglib raised, or no composition fits the group);
    ``exhausted`` counts space-group draws given up after ``max_attempts`` failures (the index then
    drew another group), ``exhausted_by_group`` and ``mismatch_by_group`` break those down by
    requested space group, and ``mismatch_found`` counts ``(requested, found)`` pairs (usually a
    supergroup: special positions add symmetry).
    """

    generated: int = 0
    dropped_mismatch: int = 0
    dropped_timeout: int = 0
    dropped_error: int = 0
    exhausted: int = 0
    indices_done: int = 0
    exhausted_by_group: Counter = field(default_factory=Counter)
    mismatch_by_group: Counter = field(default_factory=Counter)
    mismatch_found: Counter = field(default_factory=Counter)
    error_examples: list[str] = field(default_factory=list)

    def add_attempt(self, outcome: str, space_group: int, detail: str = "") -> None:
        """Record one failed attempt at ``space_group`` with ``outcome`` in {mismatch, timeout, error}.

        ``detail`` is the group spglib found for a mismatch, the error message for an error.
        """
        if outcome == "mismatch":
            self.dropped_mismatch += 1
            self.mismatch_by_group[space_group] += 1
            if detail:
                self.mismatch_found[(space_group, int(detail))] += 1
        elif outcome == "timeout":
            self.dropped_timeout += 1
        elif outcome == "error":
            self.dropped_error += 1
            if detail and len(self.error_examples) < 10:
                self.error_examples.append(f"space group {space_group}: {detail}")
        else:
            raise ValueError(f"unknown attempt outcome {outcome!r}")

    def summary(self) -> str:
        """One line: how many were generated and what was dropped for which reason."""
        return (
            f"{self.generated} generated from {self.indices_done} indices; dropped attempts: "
            f"{self.dropped_mismatch} space-group mismatch, {self.dropped_timeout} timeout, "
            f"{self.dropped_error} error; {self.exhausted} space-group draws given up and redrawn"
        )


# ----------------------------------------------------------------------------------------------
# One index, run inside a worker (or in-process for workers=1)


@lru_cache(maxsize=None)
def _group(number: int) -> Any:
    from pyxtal.symmetry import Group

    return Group(number)


def _choose_counts(
    group: Any, n_species: int, max_atoms: int, rng: np.random.Generator, attempt: int = 0
) -> list[int] | None:
    """Atoms per species, each a sum of 1-2 Wyckoff multiplicities, that pyxtal can place.

    Drawing orbit multiplicities (rather than arbitrary counts) makes most draws compatible with
    the group; ``check_compatible`` rejects the rest (e.g. one fixed site used twice) and we redraw.
    Later attempts favour orbits with free parameters: crystals built only from fixed special
    positions often have a higher symmetry than requested (the usual cause of a spglib mismatch,
    common in the F-centred cubic groups), so after a few mismatches the draw leans toward the
    general position. The attempt number is part of the seed, so this stays deterministic.
    """
    dof: dict[int, int] = {}
    for wp in group:
        multiplicity = int(wp.multiplicity)
        if multiplicity <= max_atoms:
            dof[multiplicity] = max(dof.get(multiplicity, 0), int(wp.get_dof()))
    if not dof:
        return None
    multiplicities = np.array(sorted(dof))
    weights = (1.0 + np.array([dof[m] for m in multiplicities], dtype=float)) ** (attempt // 3)
    weights /= weights.sum()
    for _ in range(50):
        counts = [
            int(rng.choice(multiplicities, size=int(rng.integers(1, 3)), p=weights).sum())
            for _ in range(n_species)
        ]
        if sum(counts) <= max_atoms and group.check_compatible(counts)[0]:
            return counts
    counts = [int(multiplicities[0])] * n_species
    if sum(counts) <= max_atoms and group.check_compatible(counts)[0]:
        return counts
    return None


def _space_group_of(probabilities: np.ndarray, seed: int, index: int, round: int = 0,
                    exclude: tuple[int, ...] | list[int] = ()) -> int:
    """Space group of draw ``round`` of ``index`` (round 0 is the index's own group), 0 if none is left.

    A redraw leaves out the groups ``exclude`` (those already given up for this index).
    """
    spawn_key = (0,) if round == 0 else (0, round)
    if exclude:
        probabilities = probabilities.copy()
        probabilities[np.asarray(list(exclude), dtype=np.int64) - 1] = 0.0
        total = probabilities.sum()
        if total <= 0:
            return 0
        probabilities = probabilities / total
    rng = np.random.default_rng(np.random.SeedSequence([seed, index], spawn_key=spawn_key))
    return int(rng.choice(230, p=probabilities)) + 1


def _attempt_rng(seed: int, index: int, round: int, attempt: int) -> np.random.Generator:
    spawn_key = (1, attempt) if round == 0 else (2, round, attempt)
    return np.random.default_rng(np.random.SeedSequence([seed, index], spawn_key=spawn_key))


class GenerationError(RuntimeError):
    """pyxtal could not build an index's space group(s) in any attempt of any round."""


# Compact, exactly-picklable form of a finished structure: lattice rows, element symbols,
# fractional coordinates, spglib label. Rebuilt into a Structure the same way whatever the worker count.
_Packed = tuple[np.ndarray, list[str], np.ndarray, SpglibLabel]
# (index, final space group, packed structure or None, failed attempts as (outcome, detail, group),
#  groups given up in order)
_IndexResult = tuple[int, int, "_Packed | None", list[tuple[str, str, int]], list[int]]


class _Mismatch(Exception):
    """The structure pyxtal built has another spglib space group than the one requested."""


def _attempt(config: SyntheticConfig, space_group: int, rng: np.random.Generator, attempt: int) -> _Packed:
    """One try at ``space_group``; raises on failure, ``_Mismatch`` if spglib disagrees."""
    from pyxtal import pyxtal

    group = _group(space_group)
    n_species = int(rng.integers(config.n_species[0], config.n_species[1] + 1))
    # The anion draw happens only when asked for, so configs without anions keep their structures.
    if config.anion_probability > 0 and rng.random() < config.anion_probability:
        others = [e for e in dict.fromkeys(config.elements) if e not in config.anions]
        elements = [str(rng.choice(config.anions))]
        elements += [str(e) for e in rng.choice(others, size=n_species - 1, replace=False)]
    else:
        elements = [str(e) for e in rng.choice(config.elements, size=n_species, replace=False)]
    counts = _choose_counts(group, n_species, config.max_atoms_per_cell, rng, attempt)
    if counts is None:
        raise RuntimeError(f"no composition of {n_species} species within {config.max_atoms_per_cell} atoms fits")
    factor = float(rng.uniform(*config.volume_factor))
    crystal = pyxtal()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        crystal.from_random(
            3,
            group,
            elements,
            counts,
            factor=factor,
            max_count=config.pyxtal_max_count,
            random_state=rng,  # a Generator, so pyxtal's inner retries continue the stream
        )
        if not crystal.valid:
            raise RuntimeError("pyxtal returned an invalid structure")
        structure = crystal.to_pymatgen()
    if len(structure) > config.max_atoms_per_cell:
        raise RuntimeError(f"{len(structure)} atoms > max_atoms_per_cell {config.max_atoms_per_cell}")
    label = spglib_label(structure, config.symprec)
    if label.space_group != space_group:
        raise _Mismatch(label.space_group)
    return (
        np.array(structure.lattice.matrix, dtype=np.float64),
        [site.specie.symbol for site in structure],
        np.array(structure.frac_coords, dtype=np.float64),
        label,
    )


def _generate_index(config: SyntheticConfig, probabilities: np.ndarray, seed: int, index: int) -> _IndexResult:
    """All attempts for one index, over up to ``1 + max_redraws`` space-group draws.

    Returns the first structure that passes, the failed attempts and the groups given up; the
    structure is None only when every round failed.
    """
    failures: list[tuple[str, str, int]] = []
    given_up: list[int] = []
    space_group = 0
    for round in range(config.max_redraws + 1):
        space_group = _space_group_of(probabilities, seed, index, round, exclude=given_up)
        if space_group == 0:
            break  # every group with weight has been given up
        for attempt in range(config.max_attempts):
            rng = _attempt_rng(seed, index, round, attempt)
            try:
                with _time_limit(config.time_limit_s):
                    packed = _attempt(config, space_group, rng, attempt)
                return index, space_group, packed, failures, given_up
            except AttemptTimeout:
                failures.append(("timeout", "", space_group))
            except _Mismatch as exc:
                failures.append(("mismatch", str(exc.args[0]), space_group))
            except Exception as exc:  # noqa: BLE001 - pyxtal raises many kinds; each is one failed attempt
                failures.append(("error", f"{type(exc).__name__}: {exc}", space_group))
        given_up.append(space_group)
    return index, space_group, None, failures, given_up


def _failure_message(config: SyntheticConfig, seed: int, index: int,
                     failures: list[tuple[str, str, int]], given_up: list[int]) -> str:
    """One line: which groups index ``index`` could not build, and why."""
    groups = list(dict.fromkeys(given_up))
    reasons = []
    for group in groups:
        outcomes = Counter(o for o, _, g in failures if g == group)
        found = Counter(d for o, d, g in failures if g == group and o == "mismatch")
        parts = [f"{n} {o}" for o, n in sorted(outcomes.items())]
        if found:
            parts.append("spglib found " + "/".join(f"{sg}" for sg, _ in found.most_common(3)))
        reasons.append(f"{group} ({', '.join(parts)})")
    return (
        f"pyxtal could not build space group(s) {', '.join(map(str, groups))} for index {index} (seed {seed}) "
        f"in {config.max_attempts} attempts each: {'; '.join(reasons)}; "
        "remove them from synthetic.space_groups, or raise synthetic.max_atoms_per_cell, "
        "max_attempts, max_redraws or time_limit_s"
    )


# Per-process state of a worker pool: set once by the initializer, so tasks carry only indices.
_WORKER_STATE: dict[str, Any] = {}


def _init_worker(config: SyntheticConfig, probabilities: np.ndarray, seed: int) -> None:
    _WORKER_STATE.update(config=config, probabilities=probabilities, seed=seed)


def _worker_chunk(indices: range) -> list[_IndexResult]:
    state = _WORKER_STATE
    return [_generate_index(state["config"], state["probabilities"], state["seed"], i) for i in indices]


# ----------------------------------------------------------------------------------------------
# Public entry point


def _unpack(packed: _Packed, space_group: int, seed: int, index: int, symprec: float) -> LabelledStructure:
    from pymatgen.core import Lattice, Structure

    lattice, species, frac_coords, label = packed
    structure = Structure(Lattice(lattice), species, frac_coords)
    return LabelledStructure.from_label(structure, label, f"{_SOURCE}:seed={seed}", index, symprec)


def generate(
    config: SyntheticConfig,
    n: int,
    seed: int,
    start: int = 0,
    workers: int = 1,
    stats: GenerationStats | None = None,
    chunksize: int | None = None,
    mp_context: str = "spawn",
    on_index: Callable[[int, int, list[tuple[str, str, int]], list[int]], None] | None = None,
) -> Iterator[LabelledStructure]:
    """Yield random crystals for indices ``start .. start+n-1`` in index order, lazily.

    Structure ``i`` depends only on ``(config, seed, i)`` (not on ``workers`` or ``start``), so a
    run can be split into ranges or resumed. Each index yields exactly one structure: up to
    ``config.max_attempts`` attempts with fresh sub-seeds at its space group, then (counted in
    ``stats.exhausted``) a new space-group draw, up to ``config.max_redraws`` times; an index whose
    every draw fails raises ``GenerationError`` naming the groups. With ``workers > 1`` the work
    runs in a process pool (``mp_context``, default ``"spawn"``, safe after torch/CUDA is loaded)
    with at most a few chunks of ``chunksize`` indices in flight, so memory stays bounded when the consumer is slow. Closing
    the generator early stops the pool. ``on_index(index, space_group, failures, given_up)`` is
    called once per finished index, before its structure is yielded, with the failed attempts as
    ``(outcome, detail, group)`` and the groups given up (data-set writers keep per-chunk counts).
    """
    if n < 0 or start < 0 or seed < 0:
        raise ValueError(f"n, start and seed must be >= 0, got n={n}, start={start}, seed={seed}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    stats = stats if stats is not None else GenerationStats()
    probabilities = space_group_probabilities(config.space_groups)
    xray_scattering_elements()  # fail here, not in a worker, if pymatgen's file is missing

    def collect(result: _IndexResult) -> LabelledStructure | None:
        index, space_group, packed, failures, given_up = result
        for outcome, detail, group in failures:
            stats.add_attempt(outcome, group, detail)
        stats.exhausted += len(given_up)
        stats.exhausted_by_group.update(given_up)
        if packed is None:
            raise GenerationError(_failure_message(config, seed, index, failures, given_up))
        if on_index is not None:
            on_index(index, space_group, failures, given_up)
        stats.indices_done += 1
        stats.generated += 1
        return _unpack(packed, space_group, seed, index, config.symprec)

    if workers == 1 or n <= 1:
        for index in range(start, start + n):
            item = collect(_generate_index(config, probabilities, seed, index))
            if item is not None:
                yield item
        return

    if chunksize is None:
        chunksize = max(1, min(16, n // (workers * 8)))
    chunks = (range(i, min(i + chunksize, start + n)) for i in range(start, start + n, chunksize))
    context = multiprocessing.get_context(mp_context)
    with context.Pool(workers, initializer=_init_worker, initargs=(config, probabilities, seed)) as pool:
        pending: deque = deque()
        max_in_flight = 4 * workers
        for chunk in chunks:
            pending.append(pool.apply_async(_worker_chunk, (chunk,)))
            if len(pending) < max_in_flight:
                continue
            yield from _drain_one(pending, collect)
        while pending:
            yield from _drain_one(pending, collect)


def _drain_one(pending: deque, collect: Any) -> Iterator[LabelledStructure]:
    for result in pending.popleft().get():
        item = collect(result)
        if item is not None:
            yield item
