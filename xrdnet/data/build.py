"""``xrdnet simulate``: structures from a source -> K rendered patterns each -> one HDF5 data set.

How a run survives being killed. HDF5 is not crash-safe while it writes (a SIGKILL between
metadata flushes can leave a file the library refuses to open), so a run never appends into the
file it will hand over. It works in *units* (generation indices, CIF file positions or rows of an
earlier data set) grouped into chunks of ``chunk_structures`` units; each chunk becomes its own
small HDF5 file in ``OUT.parts/``, written under a temporary name, flushed, closed and renamed into
place, so a chunk file either exists complete or not at all. ``--resume`` keeps the finished chunks
and redoes the rest; when all chunks exist they are streamed into ``OUT`` (again via a temporary
name and a rename) and the parts are removed. Everything a chunk holds is a pure function of the
resolved config, the seed and the unit range (structure ``i`` from ``(seed, i)``, pattern ``k`` of
unit ``i`` drawn from ``(seed, i·K + k)``), so a resumed run, a sharded run joined by
``xrdnet merge`` and an uninterrupted run hold exactly the same data.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from xrdnet import __version__
from xrdnet.config import config_to_dict, config_to_json
from xrdnet.data import hdf5 as h5io
from xrdnet.data.records import StructureRecords
from xrdnet.data.splits import assign_splits, check_fractions, structure_keys
from xrdnet.simulate import SimulatorConfig, XRDSimulator
from xrdnet.structures.sources import SOURCES as _SOURCE_REGISTRY
from xrdnet.structures.sources import UnitLog, check_source_settings, n_units, open_source
from xrdnet.structures.synthetic_config import SyntheticConfig


@dataclass(frozen=True)
class SimulateConfig:
    """Settings of ``xrdnet simulate`` (a YAML file in ``configs/``; command-line flags override).

    ``n_structures`` counts units of the source: generation indices for ``synthetic`` (each gives
    exactly one structure, or the run stops with an error naming the space groups), CIF files
    for ``cif``, records of the ``jsonl_files`` (in the order given) for ``jsonl`` and stored
    structures for ``hdf5`` (0 = all of them). ``patterns_per_structure`` is
    K. ``chunk_structures`` units make one committed chunk (the most work a kill can lose).
    ``split_seed`` and ``split_fractions`` (train, val, test) set the per-structure hash splits.
    """

    seed: int = 0
    n_structures: int = 1000
    patterns_per_structure: int = 4
    source: str = "synthetic"
    cif_dir: str | None = None
    structures_file: str | None = None
    jsonl_files: tuple[str, ...] = ()
    symprec: float = 0.1
    workers: int = 2
    device: str = "auto"
    dtype: str = "float16"
    compression: str | None = None
    chunk_structures: int = 256
    split_seed: int = 0
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    simulator: SimulatorConfig = field(default_factory=SimulatorConfig)

    def __post_init__(self) -> None:
        check_source_settings(self)
        if self.patterns_per_structure < 1:
            raise ValueError(f"patterns_per_structure must be >= 1, got {self.patterns_per_structure}")
        if self.dtype not in ("float16", "float32"):
            raise ValueError(f"dtype must be float16 or float32, got {self.dtype!r}")
        if self.compression not in (None, "gzip", "lzf"):
            raise ValueError(f"compression must be null, gzip or lzf, got {self.compression!r}")
        if self.chunk_structures < 1 or self.workers < 1 or self.seed < 0:
            raise ValueError("chunk_structures and workers must be >= 1 and seed >= 0")
        for name, limit in _LIMITS.items():
            if getattr(self, name) > limit:
                raise ValueError(f"{name} = {getattr(self, name)} is beyond any sensible run (at most {limit})")
        if self.split_seed < 0:
            raise ValueError(f"split_seed must be >= 0, got {self.split_seed}")
        if not (math.isfinite(self.symprec) and 0 < self.symprec <= 5):
            raise ValueError(f"symprec must be in (0, 5] Å, got {self.symprec}")
        if self.device != "auto":
            try:
                torch.device(self.device)
            except (RuntimeError, ValueError, TypeError):
                raise ValueError(f"device must be auto, cpu, cuda or cuda:N, got {self.device!r}") from None
        check_fractions(self.split_fractions)
        check_simulator_config(self.simulator)


# Upper bounds that only a typo reaches (and that would otherwise exhaust memory or the OS).
_LIMITS = {"n_structures": 10**9, "patterns_per_structure": 10**4, "chunk_structures": 10**7, "workers": 1024,
           "seed": 2**63 - 1, "split_seed": 2**63 - 1}
MAX_GRID_POINTS = 1_000_000


def check_simulator_config(config: SimulatorConfig) -> None:
    """``ValueError`` unless an ``XRDSimulator`` can be made from ``config`` with a sensible grid."""
    lo, hi = (float(v) for v in config.two_theta_range)
    if not (math.isfinite(lo) and math.isfinite(hi) and 0.0 <= lo < hi < 180.0):
        raise ValueError(f"simulator.two_theta_range must satisfy 0 <= min < max < 180°, got {config.two_theta_range}")
    step = float(config.step)
    if not (math.isfinite(step) and step > 0) or (hi - lo) / step + 1 > MAX_GRID_POINTS:
        raise ValueError(f"simulator.step {config.step}° gives more than {MAX_GRID_POINTS} grid points "
                         f"over {lo:g}..{hi:g}° (or is not > 0)")
    try:
        XRDSimulator.from_config(config, device=torch.device("cpu"))
    except (ValueError, KeyError, TypeError, ArithmeticError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        raise ValueError(f"simulator: {message}") from None


def parse_shard(text: str | None) -> tuple[int, int]:
    """``"I/N"`` -> ``(I, N)`` with 0 <= I < N; None -> ``(0, 1)``."""
    if text is None:
        return 0, 1
    try:
        index, count = (int(v) for v in str(text).split("/"))
    except ValueError:
        raise ValueError(f"--shard must look like I/N (e.g. 0/4), got {text!r}") from None
    if not (count >= 1 and 0 <= index < count):
        raise ValueError(f"--shard {text}: need 0 <= I < N")
    return index, count


def resolve_device(device: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; a CUDA request without CUDA is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but torch sees no CUDA device")
    return dev


# ----------------------------------------------------------------------------------------------
# Chunks


def _chunk_name(start: int, stop: int) -> str:
    return f"chunk-{start:012d}-{stop:012d}.h5"


def _write_atomically(path: Path, write) -> None:
    """Run ``write(h5)`` on ``path.tmp``, flush and fsync, then rename to ``path``."""
    import h5py

    tmp = path.with_name(path.name + ".tmp")
    with h5py.File(tmp, "w") as h5:
        write(h5)
        h5.flush()
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)


@dataclass
class BuildReport:
    """What a run produced (``xrdnet simulate`` prints it; the bench reads the timings)."""

    path: Path
    n_structures: int = 0
    n_patterns: int = 0
    seconds: dict[str, float] = field(default_factory=lambda: Counter())
    generation: dict[str, int] = field(default_factory=dict)
    n_skipped: int = 0
    resumed_chunks: int = 0


def _base_attrs(config: SimulateConfig, sim: XRDSimulator, shard: tuple[int, int], start: int, stop: int) -> dict:
    lo, hi = sim.two_theta_range
    return {
        "format": h5io.FORMAT,
        "schema_version": h5io.SCHEMA_VERSION,
        "xrdnet_version": __version__,
        "wavelength": str(config.simulator.wavelength),
        "wavelength_angstrom": float(sim.wavelength_angstrom),
        "kalpha1_angstrom": float(sim.radiation.kalpha1_angstrom or sim.wavelength_angstrom),
        "kalpha2_angstrom": float(sim.radiation.kalpha2_angstrom) if sim.radiation.has_doublet else 0.0,
        "two_theta_min_deg": lo,
        "two_theta_max_deg": hi,
        "two_theta_step_deg": sim.step,
        "seed": config.seed,
        "patterns_per_structure": config.patterns_per_structure,
        "source": config.source,
        "config": config_to_dict(config),
        "unit_start": start,
        "unit_stop": stop,
        "shard": f"{shard[0]}/{shard[1]}",
    }


def _render_chunk(
    records: StructureRecords, units: np.ndarray, config: SimulateConfig, sim: XRDSimulator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Patterns ``[S·K, G]`` (storage dtype), structure rows and global pattern ids of one chunk."""
    k = config.patterns_per_structure
    dtype = np.float16 if config.dtype == "float16" else np.float32
    if len(records) == 0:
        return np.zeros((0, sim.n_points), dtype), np.zeros(0, np.int64), np.zeros(0, np.int64)
    # Ids hang on the structure's source index (= the unit for pyxtal and CIF sources), so
    # re-rendering a stored data set with the same seed reproduces its patterns exactly.
    ids = (records.source_index.astype(np.int64)[:, None] * k + np.arange(k)[None, :]).reshape(-1)
    patterns = sim.patterns(records.to_batch(), seed=config.seed, patterns_per_structure=k, pattern_ids=ids)
    torch_dtype = torch.float16 if dtype == np.float16 else torch.float32
    out = patterns.to(torch_dtype).cpu().numpy()
    return out, np.repeat(np.arange(len(records)), k), ids


def build_dataset(
    config: SimulateConfig, out: str | Path, resume: bool = False, shard: str | None = None, progress: bool = True
) -> BuildReport:
    """Make (or, with ``resume``, complete) the data set ``out`` for ``config``; see the module docstring."""
    from tqdm import tqdm

    out = Path(out)
    shard_i, shard_n = parse_shard(shard)
    parts = out.with_name(out.name + ".parts")
    config_json = config_to_json(config)
    if out.exists():
        if resume and _is_complete_same(out, config_json, shard_i, shard_n):
            print(f"{out} is already complete; nothing to do")
            return _report_of(out)
        raise FileExistsError(f"{out} already exists: delete it or choose another --out")
    if parts.exists() and not resume:
        raise FileExistsError(
            f"{parts} holds an interrupted run: pass --resume to complete it, or delete the folder to start over"
        )
    if resume and parts.exists():
        saved = json.loads((parts / "run.json").read_text()) if (parts / "run.json").is_file() else {}
        if saved.get("config") != json.loads(config_json) or saved.get("shard") != [shard_i, shard_n]:
            raise ValueError(
                f"--resume: {parts} was started with a different config or shard; rerun with the same "
                "config and flags, or delete the folder to start over"
            )
    parts.mkdir(parents=True, exist_ok=True)
    (parts / "run.json").write_text(json.dumps({"config": json.loads(config_json), "shard": [shard_i, shard_n]}))
    for stale in parts.glob("*.tmp"):
        stale.unlink()  # a chunk that was being written when the run died

    source = open_source(config)
    total = n_units(source, config.n_structures)
    start, stop = total * shard_i // shard_n, total * (shard_i + 1) // shard_n
    size = config.chunk_structures
    chunks = [(a, min(a + size, stop)) for a in range(start, stop, size)]
    todo = [c for c in chunks if not (parts / _chunk_name(*c)).is_file()]
    device = resolve_device(config.device)
    sim = XRDSimulator.from_config(config.simulator, device=device)
    grid = sim.two_theta_deg().cpu().numpy()
    report = BuildReport(path=out, resumed_chunks=len(chunks) - len(todo))
    seconds: Counter = Counter()

    done_units = sum(b - a for a, b in chunks) - sum(b - a for a, b in todo)
    bar = tqdm(total=stop - start, initial=done_units, unit="struct", desc=f"simulate {out.name}",
               disable=not progress, dynamic_ncols=True)
    t_run = time.perf_counter()
    n_struct_run = n_pat_run = 0
    threads_before = torch.get_num_threads()
    if device.type == "cpu" and source.uses_worker_processes and config.workers > 1:
        # pyxtal workers hold most cores; torch threads competing with them spin-wait and run the
        # simulation ~10x slower than on the cores left over.
        torch.set_num_threads(max(1, (os.cpu_count() or 1) - config.workers))
    # Contiguous runs of missing chunks: each is one pass of the source (a resumed run has one).
    runs: list[list[tuple[int, int]]] = []
    for c in todo:
        if runs and runs[-1][-1][1] == c[0]:
            runs[-1].append(c)
        else:
            runs.append([c])
    for run in runs:
        log = UnitLog()
        stream = source.records(run[0][0], run[-1][1], log)
        pending: tuple[int, StructureRecords] | None = None
        for chunk_start, chunk_stop in run:
            items: list[StructureRecords] = []
            units: list[int] = []
            t0 = time.perf_counter()
            while True:
                if pending is None:
                    pending = next(stream, None)
                    if pending is None:
                        break
                unit, rec = pending
                if unit >= chunk_stop:
                    break
                items.append(rec)
                units.append(unit)
                pending = None
                bar.update(max(0, unit + 1 - start - bar.n))
            seconds["structures"] += time.perf_counter() - t0
            records = StructureRecords.concatenate(items)
            t0 = time.perf_counter()
            patterns, structure_index, ids = _render_chunk(records, np.asarray(units, np.int64), config, sim)
            seconds["simulate"] += time.perf_counter() - t0
            t0 = time.perf_counter()
            chunk_units = range(chunk_start, chunk_stop)
            counts = Counter()
            for u in chunk_units:
                counts.update(log.attempts.pop(u, Counter()))
            generation = {
                "units": len(chunk_units),
                "structures": len(records),
                "dropped_mismatch": counts["mismatch"],
                "dropped_timeout": counts["timeout"],
                "dropped_error": counts["error"],
                "exhausted": sum(log.exhausted.pop(u, 0) for u in chunk_units),
            }
            skipped = [log.skipped.pop(u) for u in chunk_units if u in log.skipped]
            keys = structure_keys(records.source, records.source_index)

            def write(h5, records=records, patterns=patterns, structure_index=structure_index, ids=ids,
                      generation=generation, skipped=skipped, keys=keys, a=chunk_start, b=chunk_stop):
                h5io.set_attrs(h5, _base_attrs(config, sim, (shard_i, shard_n), a, b) | {"generation": generation})
                h5io.write_records(
                    h5,
                    records,
                    assign_splits(keys, config.split_seed, config.split_fractions),
                    assign_splits(records.structure_type, config.split_seed, config.split_fractions),
                )
                h5io.write_patterns(h5, patterns, structure_index, ids, grid)
                h5io.write_skipped(h5, skipped)

            _write_atomically(parts / _chunk_name(chunk_start, chunk_stop), write)
            seconds["write"] += time.perf_counter() - t0
            n_struct_run += len(records)
            n_pat_run += len(patterns)
            bar.n = chunk_stop - start
            elapsed = max(time.perf_counter() - t_run, 1e-9)
            bar.set_postfix_str(f"{n_struct_run / elapsed:.1f} structures/s, {n_pat_run / elapsed:.1f} patterns/s")
            bar.refresh()
        stream.close()
    bar.close()
    torch.set_num_threads(threads_before)

    t0 = time.perf_counter()
    _assemble([parts / _chunk_name(*c) for c in chunks], out, config, sim, (shard_i, shard_n), start, stop, seconds)
    seconds["assemble"] += time.perf_counter() - t0
    shutil.rmtree(parts)
    report = _report_of(out)
    report.seconds = dict(seconds)
    report.resumed_chunks = len(chunks) - len(todo)
    return report


def _assemble(
    chunk_files: list[Path],
    out: Path,
    config: SimulateConfig,
    sim: XRDSimulator,
    shard: tuple[int, int],
    start: int,
    stop: int,
    seconds: Counter,
) -> None:
    """Stream the chunk files, in unit order, into one file ``out`` (via ``out.tmp`` + rename)."""
    import h5py

    records, skipped, generation, splits, splits_type = [], [], Counter(), [], []
    n_pat, n_points = 0, sim.n_points
    for path in chunk_files:
        with h5py.File(path, "r") as h5:
            records.append(h5io.read_records(h5))
            splits.append(h5["structures/split"][()])
            splits_type.append(h5["structures/split_by_type"][()])
            skipped.extend(h5io.read_skipped(h5))
            generation.update(json.loads(h5.attrs["generation"]))
            n_pat += h5["patterns"].shape[0]
    merged = StructureRecords.concatenate(records)
    dtype = np.float16 if config.dtype == "float16" else np.float32
    generation_all = dict(generation) | {"seconds": {k: round(v, 3) for k, v in seconds.items()}}

    def write(h5):
        h5io.set_attrs(h5, _base_attrs(config, sim, shard, start, stop) | {"generation": generation_all})
        h5io.write_records(
            h5,
            merged,
            np.concatenate(splits) if splits else np.zeros(0, np.int8),
            np.concatenate(splits_type) if splits_type else np.zeros(0, np.int8),
        )
        h5io.write_skipped(h5, skipped)
        rows = h5io.pattern_chunk_rows(n_points, np.dtype(dtype).itemsize)
        patterns = h5.create_dataset(
            "patterns", shape=(n_pat, n_points), dtype=dtype,
            chunks=(min(rows, max(n_pat, 1)), n_points) if n_pat else None, compression=config.compression,
        )
        structure_index = h5.create_dataset("pattern/structure_index", shape=(n_pat,), dtype=np.int64)
        pattern_id = h5.create_dataset("pattern/id", shape=(n_pat,), dtype=np.int64)
        h5.create_dataset("two_theta_deg", data=sim.two_theta_deg().cpu().numpy().astype(np.float32))
        row = offset = 0
        for path, rec in zip(chunk_files, records):
            with h5py.File(path, "r") as part:
                n = part["patterns"].shape[0]
                # Copy in blocks of about 64 MB so a huge chunk never sits in memory twice.
                block = max(1, (64 << 20) // max(1, n_points * np.dtype(dtype).itemsize))
                for a in range(0, n, block):
                    b = min(a + block, n)
                    patterns[row + a : row + b] = part["patterns"][a:b]
                structure_index[row : row + n] = part["pattern/structure_index"][()] + offset
                pattern_id[row : row + n] = part["pattern/id"][()]
            row += n
            offset += len(rec)

    _write_atomically(out, write)
    if skipped:
        from xrdnet.structures.cif_folder import SkipReport

        what = _SOURCE_REGISTRY[config.source].unit_name
        report = SkipReport(skipped=list(skipped), n_ok=len(merged), unit=what)
        path = report.write(out.with_name(out.stem + ".skipped.tsv"))
        print(f"{len(skipped)} {what} skipped ({report.summary()}); reasons in {path}")


def _is_complete_same(out: Path, config_json: str, shard_i: int, shard_n: int) -> bool:
    import h5py

    try:
        with h5py.File(out, "r") as h5:
            return (json.loads(h5.attrs["config"]) == json.loads(config_json)
                    and h5.attrs.get("shard") == f"{shard_i}/{shard_n}")
    except (OSError, KeyError, ValueError):
        return False


def _report_of(out: Path) -> BuildReport:
    import h5py

    with h5py.File(out, "r") as h5:
        generation = json.loads(h5.attrs.get("generation", "{}") or "{}")
        return BuildReport(
            path=out,
            n_structures=int(h5["structures/space_group"].shape[0]),
            n_patterns=int(h5["patterns"].shape[0]),
            generation={k: v for k, v in generation.items() if k != "seconds"},
            n_skipped=len(h5io.read_skipped(h5)),
        )


# What re-rendering a stored data set keeps from that file's config unless told otherwise: how its
# patterns were rendered (simulator and profile ranges), how many per structure, how they are
# stored and split.
RENDER_SETTINGS = ("simulator", "patterns_per_structure", "dtype", "compression", "split_seed", "split_fractions")


def stored_config(path: str | Path) -> dict:
    """The resolved ``simulate`` config stored in data set ``path`` (plain data), or ``DatasetFileError``."""
    path = Path(path)
    with h5io.open_dataset_file(path, "structures file") as h5:
        text = h5.attrs.get("config", "")
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    try:
        config = json.loads(text) if text else {}
    except (TypeError, ValueError):
        raise h5io.DatasetFileError(f"{path}: its stored config attribute is not JSON") from None
    if not isinstance(config, dict):
        raise h5io.DatasetFileError(f"{path}: its stored config attribute is not a mapping")
    return config


def rerender_config(path: str | Path, base: SimulateConfig) -> SimulateConfig:
    """``base`` with the rendering settings (``RENDER_SETTINGS``) of the data set ``path``.

    ``xrdnet simulate --structures-from FILE`` without ``--config`` starts from this, so re-rendered
    patterns get the same profile ranges as the file's own (and, with the same seed, the same
    patterns). Also reads every stored structure (``n_structures = 0``). A file whose stored config
    this version cannot read is a ``ConfigError`` naming the file.
    """
    from xrdnet.config import config_from_dict

    stored = stored_config(path)
    merged = config_to_dict(base) | {k: stored[k] for k in RENDER_SETTINGS if k in stored}
    merged.update(source="hdf5", structures_file=str(path), n_structures=0)
    return config_from_dict(SimulateConfig, merged, where=f"{path}: stored config")


def describe_simulator(config: SimulateConfig) -> str:
    """One line naming the rendering settings: wavelength, grid, K and the profile's ranges."""
    from xrdnet.simulate import ProfileConfig

    sim = config.simulator
    profile, default = config_to_dict(sim.profile), config_to_dict(ProfileConfig())
    changed = {k: v for k, v in profile.items() if default.get(k) != v}
    shown = ", ".join(f"{k}={v}" for k, v in changed.items()) if changed else "the clean defaults"
    lo, hi = sim.two_theta_range
    return (f"{sim.wavelength}, 2θ {lo:g}..{hi:g}° step {sim.step:g}°, K={config.patterns_per_structure}, "
            f"profile: {shown}")


def with_overrides(config: SimulateConfig, **overrides) -> SimulateConfig:
    """``config`` with the non-None ``overrides`` applied (command-line flags over the YAML)."""
    return replace(config, **{k: v for k, v in overrides.items() if v is not None})
