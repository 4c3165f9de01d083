"""Fuzz: malformed non-pattern inputs end cleanly (issue 14, item 3).

Hundreds of inputs are derived from valid ones (truncations at every section, random byte flips,
non-UTF-8 bytes, absurd numbers, wrong layouts) for the four kinds of file xrdnet reads besides
measured patterns:

- CIF files (``--cif-dir``) and JSON-lines structure files (``--structures-jsonl``): every bad record
  is skipped with a reason that names it, and the good records of the same run are still used.
- YAML configs and HDF5 data sets: every bad file ends in one ``ValueError`` (``ConfigError``,
  ``DatasetFileError``) whose one-line message starts with the file's path, never in a traceback
  from yaml/h5py internals; the CLI exits non-zero with one line on stderr.

The mutations are seeded, so a failure reproduces. Each test prints how many inputs it tried.
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from pymatgen.io.cif import CifWriter

from xrdnet.config import ConfigError, load_stage_config, save_config
from xrdnet.data import PatternDataset, SimulateConfig, build_dataset
from xrdnet.data.build import rerender_config
from xrdnet.data.reader import format_summary
from xrdnet.simulate import ProfileConfig, SimulatorConfig
from xrdnet.structures import SyntheticConfig
from xrdnet.structures.cif_folder import (
    BAD_OCCUPANCY,
    IMPLAUSIBLE_CELL,
    NO_SCATTERING,
    NO_STRUCTURE,
    SPGLIB_FAILED,
    UNPARSABLE,
)
from xrdnet.structures.jsonl import NOT_JSON, count_records

SIM = SimulatorConfig(two_theta_range=(10.0, 60.0), step=0.1, profile=ProfileConfig())
CATEGORIES = (UNPARSABLE, NO_STRUCTURE, NO_SCATTERING, SPGLIB_FAILED, BAD_OCCUPANCY, IMPLAUSIBLE_CELL, NOT_JSON)


def small(**kw) -> SimulateConfig:
    base = dict(seed=1, n_structures=4, patterns_per_structure=1, workers=1, device="cpu", chunk_structures=64,
                synthetic=SyntheticConfig(max_atoms_per_cell=8, n_species=(1, 2)), simulator=SIM)
    base.update(kw)
    return SimulateConfig(**base)


# ---------------------------------------------------------------------------------------------
# Generic byte-level mutations


def byte_mutants(data: bytes, rng: np.random.Generator, n_flips: int = 12, n_cuts: int = 10) -> list[bytes]:
    """Truncations (at line starts and at random offsets), byte flips, non-UTF-8 and junk."""
    out: list[bytes] = [b"", data[:1], b"\x00" * 64, bytes(rng.integers(0, 256, 256, dtype=np.uint8))]
    starts = [i + 1 for i, c in enumerate(data) if c == 0x0A]
    for cut in sorted(set(rng.choice(starts, min(n_cuts, len(starts)), replace=False).tolist())) if starts else []:
        out.append(data[:cut])
    for cut in rng.integers(1, max(2, len(data)), n_cuts // 2):
        out.append(data[: int(cut)])
    for _ in range(n_flips):
        buf = bytearray(data)
        for pos in rng.integers(0, len(buf), int(rng.integers(1, 8))):
            buf[int(pos)] = int(rng.integers(0, 256))
        out.append(bytes(buf))
    pos = int(rng.integers(0, len(data)))
    out.append(data[:pos] + b"\xff\xfe\xc3\x28\x80" + data[pos:])  # invalid UTF-8 in the middle
    out.append(data.decode("utf-8", "replace").encode("utf-16"))  # the right text, the wrong encoding
    return out


def one_line_naming(message: str, path: Path) -> bool:
    return "\n" not in message.strip() and (str(path) in message or path.name in message)


# ---------------------------------------------------------------------------------------------
# Structures: CIF folders and JSON-lines files


def good_structures() -> dict[str, Structure]:
    fs = Structure.from_spacegroup
    disordered = Structure(Lattice.cubic(3.6), [{"Cu": 0.5, "Au": 0.5}], [[0, 0, 0]])
    return {
        "nacl": fs("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
        "rutile": fs("P4_2/mnm", Lattice.tetragonal(4.59, 2.96), ["Ti", "O"], [[0, 0, 0], [0.305, 0.305, 0]]),
        "quartz": fs(154, Lattice.hexagonal(4.913, 5.405), ["Si", "O"], [[0.4697, 0, 0], [0.4135, 0.2669, 0.2144]]),
        "cuau": disordered,
    }


def good_cifs() -> dict[str, str]:
    return {name: str(CifWriter(s, symprec=0.1 if name != "cuau" else None)) for name, s in good_structures().items()}


def cif_mutants(text: str, rng: np.random.Generator) -> list[bytes]:
    """Semantic mutations of one CIF (absurd cells, unknown elements, bad occupancies, broken loops)."""
    lines = text.splitlines()
    out: list[str] = []
    cell = {i: l for i, l in enumerate(lines) if l.startswith("_cell_length") or l.startswith("_cell_angle")}
    for i, line in cell.items():
        key = line.split()[0]
        values = ("1e308", "nan", "-5", "0", "inf", "1e-9", "5000", "abc", "180", "?", ".")
        for value in rng.choice(values, 4, replace=False):
            out.append("\n".join(lines[:i] + [f"{key}   {value}"] + lines[i + 1 :]))
    atoms = [i for i, l in enumerate(lines) if l.startswith("  ") and len(l.split()) >= 6]
    for i in atoms[:1]:
        parts = lines[i].split()
        for element in ("Xx", "X", "D", "Q", "1", ""):
            out.append("\n".join(lines[:i] + ["  " + "  ".join([element] + parts[1:])] + lines[i + 1 :]))
        for occupancy in ("2.0", "-1", "nan", "1e300", "0"):
            out.append("\n".join(lines[:i] + ["  " + "  ".join(parts[:-1] + [occupancy])] + lines[i + 1 :]))
        for coordinate in ("nan", "1e300", "inf", "?"):
            out.append("\n".join(lines[:i] + ["  " + "  ".join(parts[:3] + [coordinate] + parts[4:])] + lines[i + 1 :]))
        out.append("\n".join(lines[: i + 1] + [lines[i]] * 3 + lines[i + 1 :]))  # one site given four times
    out.append("\n".join(l for l in lines if not l.startswith("_cell")))  # no cell
    out.append("\n".join(l for i, l in enumerate(lines) if i not in atoms))  # no atoms
    out.append("\n".join(l for l in lines if "symmetry_equiv" not in l and "'" not in l))  # no symmetry loop
    out.append(text.replace("data_", "", 1))  # no data block
    out.append("\n".join(lines[:3]))  # header only
    out.append(text + "\n" + text)  # two blocks
    return [t.encode() for t in out] + byte_mutants(text.encode(), rng, n_flips=6, n_cuts=6)


def test_cif_folder_skips_every_bad_file_with_a_reason_and_keeps_the_good_ones(tmp_path):
    rng = np.random.default_rng(1401)
    folder = tmp_path / "cifs"
    folder.mkdir()
    good = good_cifs()
    for name, text in good.items():
        (folder / f"good_{name}.cif").write_text(text)
    n_bad = 0
    for name, text in good.items():
        mutants = cif_mutants(text, rng)
        for j, data in enumerate(mutants):
            (folder / f"bad_{name}_{j:03d}.cif").write_bytes(data)
        n_bad += len(mutants)
    n_files = len(good) + n_bad
    out = tmp_path / "cif.h5"
    report = build_dataset(small(source="cif", cif_dir=str(folder), n_structures=0), out, progress=False)
    print(f"fuzz: {n_bad} malformed CIF files tried ({report.n_skipped} skipped, "
          f"{report.n_structures - len(good)} still readable)")
    assert report.n_structures + report.n_skipped == n_files
    with PatternDataset(out) as ds:
        sources = set(ds.source)
        skipped = ds.skipped()
        assert np.all(np.isfinite(ds.read_patterns(np.arange(len(ds)))))
    assert {f"good_{name}.cif" for name in good} <= sources
    for path, reason in skipped:
        assert reason.split(":", 1)[0] in CATEGORIES, reason
        assert Path(path).name in reason or Path(path).name in path, (path, reason)
    tsv = (tmp_path / "cif.skipped.tsv").read_text().splitlines()
    assert len(tsv) == 2 + report.n_skipped  # summary, header, one line per skipped file


def jsonl_lines(rng: np.random.Generator) -> tuple[list[str], list[bytes]]:
    """Good JSON lines (ids mp-good-*) and bad or mutated lines."""
    good = [json.dumps({"material_id": f"mp-good-{name}", "cif": cif}) for name, cif in good_cifs().items()]
    cif = good_cifs()["rutile"]
    bad: list[bytes] = [
        b"{not json", b"[1, 2, 3]", b"null", b"42", b'"a string"', b"{}",
        json.dumps({"material_id": "mp-no-cif"}).encode(),
        json.dumps({"material_id": "mp-cif-null", "cif": None}).encode(),
        json.dumps({"material_id": "mp-cif-number", "cif": 3.5}).encode(),
        json.dumps({"material_id": "mp-cif-list", "cif": [cif]}).encode(),
        json.dumps({"material_id": "mp-empty", "cif": ""}).encode(),
        json.dumps({"material_id": "mp-garbage", "cif": "hello world"}).encode(),
        json.dumps({"material_id": "mp-binary", "cif": "\x00\x01\x02data_x\n"}).encode(),
        json.dumps({"material_id": {"nested": 1}, "cif": "data_x"}).encode(),
        b'{"material_id": "mp-\xff\xfe", "cif": "data_x"}',
        b"\xff\xfe\x00\x00 not utf-8 at all",
        b'{"material_id": "mp-\\ud800\\u0000", "cif": "data_x\\u0000"}',  # lone surrogate and NUL (JSON escapes)
    ]
    for j, data in enumerate(cif_mutants(cif, rng)[::3]):
        bad.append(json.dumps({"material_id": f"mp-mutant-{j}", "cif": data.decode("utf-8", "replace")}).encode())
    line = good[1].encode()
    for _ in range(25):
        buf = bytearray(line)
        for pos in rng.integers(0, len(buf), int(rng.integers(1, 6))):
            buf[int(pos)] = int(rng.integers(0, 256))
        bad.append(bytes(buf).replace(b"\n", b" "))
    return good, bad


def test_jsonl_files_skip_every_bad_record_and_keep_the_good_ones(tmp_path):
    rng = np.random.default_rng(1402)
    good, bad = jsonl_lines(rng)
    mixed = []
    for j, data in enumerate(bad):
        mixed.append(data)
        mixed.append(good[j % len(good)].encode())
    files = []
    plain = tmp_path / "mixed.jsonl"
    plain.write_bytes(b"\n".join(mixed) + b"\n")
    files.append(plain)
    body = ("\n".join(good) + "\n").encode()
    compressors = {".gz": gzip.compress, ".bz2": bz2.compress, ".xz": lzma.compress}
    n_truncated = 0
    for suffix, compress in compressors.items():
        packed = compress(body)
        for k, cut in enumerate((len(packed) // 3, len(packed) // 2, len(packed) - 9, len(packed) - 1)):
            path = tmp_path / f"truncated{k}.jsonl{suffix}"
            path.write_bytes(packed[:cut])
            files.append(path)
            n_truncated += 1
        flipped = bytearray(packed)
        flipped[len(flipped) // 2] ^= 0xFF
        path = tmp_path / f"flipped.jsonl{suffix}"
        path.write_bytes(bytes(flipped))
        files.append(path)
        path = tmp_path / f"magic_only.jsonl{suffix}"
        path.write_bytes(packed[:6])
        files.append(path)
    for name, data in {"empty.jsonl": b"", "blank.jsonl": b"\n\n  \n", "utf16.jsonl": body.decode().encode("utf-16"),
                       "latin1.jsonl": "\n".join(good).replace("O", "Ö").encode("latin-1"),
                       "random.jsonl.gz": bytes(rng.integers(0, 256, 300, dtype=np.uint8))}.items():
        (tmp_path / name).write_bytes(data)
        files.append(tmp_path / name)
    last_good = tmp_path / "good.jsonl.gz"
    weird = json.dumps({"material_id": "mp-weird-\ud800\u0000", "cif": good_cifs()["nacl"]})
    last_good.write_bytes(gzip.compress(body + weird.encode() + b"\n"))
    files.append(last_good)
    out = tmp_path / "db.h5"
    config = small(source="jsonl", jsonl_files=tuple(map(str, files)), n_structures=0)
    report = build_dataset(config, out, progress=False)
    n_inputs = len(bad) + n_truncated + 3 * 2 + 5
    print(f"fuzz: {n_inputs} malformed JSON-lines records and files tried ({report.n_skipped} records skipped, "
          f"{report.n_structures} structures kept)")
    with PatternDataset(out) as ds:
        sources = ds.source
        skipped = ds.skipped()
    # Every good record of the mixed file and of the intact file after the broken ones is kept.
    for name in ("nacl", "rutile", "quartz", "cuau"):
        assert f"mixed:mp-good-{name}" in sources and f"good:mp-good-{name}" in sources
    # The interleaved good lines all survive (byte-flipped copies of a good line may survive too).
    assert sum(s.startswith("mixed:mp-good-") for s in sources) >= len(bad)
    assert report.n_structures + report.n_skipped == sum(count_records(f) for f in files)
    assert any(s.startswith("good:mp-weird-") for s in sources)  # an odd id is stored, cleaned
    for location, reason in skipped:
        assert reason.split(":", 1)[0] in CATEGORIES, reason
        assert ".jsonl" in location and ":" in location, location
    assert any("breaks off" in reason for _, reason in skipped)


# ---------------------------------------------------------------------------------------------
# YAML configs


def config_mutants(text: str, rng: np.random.Generator) -> list[bytes]:
    import yaml

    data = yaml.safe_load(text)
    out: list[bytes] = [b"", b"   \n# only a comment\n", b"- a\n- list\n", b"just a string\n", b"42\n",
                        b"simulate: [1, 2]\n", b"{{{", b"key: [unclosed\n", b"a: b: c\n", b"\tseed: 1\n",
                        b"seed: 1\nseed: 2\n", b"!!python/object:os.system 'ls'\n", b"&a [*a]\n"]
    out += byte_mutants(text.encode(), rng, n_flips=15, n_cuts=12)
    bad_values = ["abc", -1, 0, 1e308, 10**30, float("nan"), float("inf"), -float("inf"), None, True, [1, 2], {"x": 1}]

    def leaves(node, prefix=()):
        for key, value in node.items():
            if isinstance(value, dict):
                yield from leaves(value, prefix + (key,))
            else:
                yield prefix + (key,)

    paths = list(leaves(data))
    for path in paths:
        for value in bad_values if len(path) == 1 else [bad_values[int(i)] for i in rng.choice(len(bad_values), 4,
                                                                                                replace=False)]:
            mutated = json.loads(json.dumps(data))
            node = mutated
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = value
            out.append(yaml.safe_dump(mutated).encode())
    for section in ([], ["simulator"], ["simulator", "profile"], ["synthetic"]):
        mutated = json.loads(json.dumps(data))
        node = mutated
        for key in section:
            node = node[key]
        node["no_such_key"] = 1
        out.append(yaml.safe_dump(mutated).encode())
    return out


def test_bad_configs_end_in_one_line_naming_the_file(tmp_path):
    rng = np.random.default_rng(1403)
    base = tmp_path / "base.yaml"
    save_config(small(), base)
    mutants = config_mutants(base.read_text(), rng)
    loaded = errors = 0
    for j, data in enumerate(mutants):
        path = tmp_path / f"config_{j:03d}.yaml"
        path.write_bytes(data)
        try:
            config = load_stage_config(path, SimulateConfig, "simulate")
        except ConfigError as exc:
            errors += 1
            assert str(exc).startswith(str(path)) and "\n" not in str(exc), repr(str(exc))
            continue
        loaded += 1
        assert isinstance(config, SimulateConfig)
    print(f"fuzz: {len(mutants)} malformed YAML configs tried ({errors} refused, {loaded} valid after all)")
    assert errors >= 0.8 * len(mutants)


# ---------------------------------------------------------------------------------------------
# HDF5 data sets


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz_h5")
    (folder / "cifs").mkdir()
    for name, text in good_cifs().items():
        (folder / "cifs" / f"{name}.cif").write_text(text)
    path = folder / "good.h5"
    config = small(source="cif", cif_dir=str(folder / "cifs"), patterns_per_structure=2, n_structures=0)
    build_dataset(config, path, progress=False)
    return path


def layout_mutants(source: Path, folder: Path, rng: np.random.Generator) -> list[Path]:
    """Copies of ``source`` with one dataset, group or attribute removed or replaced."""
    with h5py.File(source, "r") as h5:
        names: list[str] = []
        h5.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
        attrs = list(h5.attrs)
        shapes = {name: h5[name].shape for name in names}
    edits = []
    for name in names:
        edits.append(("delete", name))
        edits.append(("strings", name))
        edits.append(("empty", name))
        edits.append(("scalar", name))
        if len(shapes[name]) >= 1 and shapes[name][0] > 1:
            edits.append(("shorter", name))
    for group in ("structures", "sites", "pattern", "skipped"):
        edits.append(("delete", group))
    for attr in attrs:
        edits.append(("delete_attr", attr))
        edits.append(("attr_text", attr))
    edits += [("values", "structures/site_start"), ("values", "structures/site_count"),
              ("values", "pattern/structure_index"), ("values", "sites/atomic_number"),
              ("values", "structures/lattice"),
              ("values", "sites/frac_coords"), ("values", "sites/occupancy"), ("values", "patterns"),
              ("values", "structures/space_group"), ("values", "structures/crystal_system"),
              ("values", "structures/split"), ("values", "two_theta_deg"), ("attr_json", "config"),
              ("attr_json", "generation")]
    out = []
    for j, (kind, name) in enumerate(edits):
        path = folder / f"layout_{j:03d}.h5"
        shutil.copyfile(source, path)
        with h5py.File(path, "r+") as h5:
            if kind == "delete":
                del h5[name]
            elif kind in ("strings", "empty", "scalar", "shorter", "values"):
                old = h5[name][()]
                del h5[name]
                if kind == "strings":
                    h5.create_dataset(name, data=np.array(["x"] * max(1, len(np.atleast_1d(old))), dtype=object),
                                      dtype=h5py.string_dtype())
                elif kind == "empty":
                    h5.create_dataset(name, shape=(0,) + old.shape[1:], dtype=old.dtype)
                elif kind == "scalar":
                    h5.create_dataset(name, data=np.float64(3.0))
                elif kind == "shorter":
                    h5.create_dataset(name, data=old[:-1])
                else:
                    bad = np.asarray(old).copy()
                    if bad.dtype.kind == "f":
                        bad.flat[int(rng.integers(0, bad.size))] = np.nan
                        bad.flat[int(rng.integers(0, bad.size))] = np.finfo(bad.dtype).max
                    elif bad.dtype.kind in "iu":
                        bad.flat[int(rng.integers(0, bad.size))] = -7
                        bad.flat[int(rng.integers(0, bad.size))] = np.iinfo(bad.dtype).max
                    h5.create_dataset(name, data=bad)
            elif kind == "delete_attr":
                del h5.attrs[name]
            elif kind == "attr_text":
                h5.attrs[name] = "garbage"
            elif kind == "attr_json":
                h5.attrs[name] = "[1, 2" if name == "config" else '{"units": "many"}'
        out.append(path)
    return out


def use_dataset(path: Path) -> None:
    """What ``xrdnet info``, training and ``--structures-from`` do with a data set."""
    with PatternDataset(path) as ds:
        format_summary(ds.summary())
        ds.read_patterns(np.arange(len(ds)))
        for kind in ("structure", "structure_type", "compound"):
            ds.indices("train", kind)
        ds.records().to_batch()


def test_bad_hdf5_files_end_in_one_line_naming_the_file(dataset, tmp_path):
    rng = np.random.default_rng(1404)
    data = dataset.read_bytes()
    paths = []
    for j, blob in enumerate(byte_mutants(data, rng, n_flips=40, n_cuts=16)):
        path = tmp_path / f"bytes_{j:03d}.h5"
        path.write_bytes(blob)
        paths.append(path)
    for name, blob in {"text.h5": b"hello\n", "json.h5": b'{"patterns": []}', "gzip.h5": gzip.compress(data),
                       "zeros.h5": bytes(len(data))}.items():
        (tmp_path / name).write_bytes(blob)
        paths.append(tmp_path / name)
    paths += layout_mutants(dataset, tmp_path, rng)
    ok = refused = 0
    for path in paths:
        try:
            use_dataset(path)
            ok += 1
        except ValueError as exc:  # DatasetFileError (a ValueError), naming the file
            refused += 1
            assert one_line_naming(str(exc), path), f"{path.name}: {exc!r}"
    print(f"fuzz: {len(paths)} malformed HDF5 files tried ({refused} refused, {ok} still readable)")
    assert refused >= 0.6 * len(paths)


def test_rerendering_a_bad_hdf5_file_ends_in_one_line(dataset, tmp_path):
    rng = np.random.default_rng(1405)
    paths = layout_mutants(dataset, tmp_path, rng)
    paths = [paths[int(i)] for i in sorted(rng.choice(len(paths), 40, replace=False))]
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(dataset.read_bytes()[:5000])
    paths.append(truncated)
    refused = 0
    for j, path in enumerate(paths):
        try:
            config = rerender_config(path, small())
            build_dataset(config, tmp_path / f"out_{j:03d}.h5", progress=False)
        except ValueError as exc:
            refused += 1
            assert one_line_naming(str(exc), path), f"{path.name}: {exc!r}"
    print(f"fuzz: {len(paths)} malformed HDF5 files re-rendered ({refused} refused)")
    assert refused >= len(paths) // 2


# ---------------------------------------------------------------------------------------------
# Through the command line


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "xrdnet.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def assert_one_line_error(proc: subprocess.CompletedProcess, path: Path) -> None:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and path.name in lines[0], proc.stderr


def test_cli_refuses_bad_configs_and_data_sets_in_one_line(dataset, tmp_path):
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("simulate:\n  seed: [unclosed\n")
    assert_one_line_error(run_cli("simulate", "--config", str(bad_yaml), "--out", "x.h5", "--quiet", cwd=tmp_path),
                          bad_yaml)
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(dataset.read_bytes()[:3000])
    # One process for the rest: info on a truncated file, then in-process runs of the other cases.
    script = f"""
import sys
from xrdnet.cli import main
sys.exit(main(["info", {str(truncated)!r}]))
"""
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1"))
    assert_one_line_error(proc, truncated)


@pytest.mark.parametrize("case", ["yaml_types", "yaml_absurd", "yaml_empty", "yaml_binary", "h5_layout", "h5_bytes"])
def test_cli_in_process_one_line_errors(dataset, tmp_path, capsys, case):
    from xrdnet.cli import main

    if case.startswith("yaml"):
        path = tmp_path / f"{case}.yaml"
        path.write_bytes({"yaml_types": b"simulate:\n  simulator:\n    step: fast\n",
                          "yaml_absurd": b"simulate:\n  simulator:\n    step: 1.0e-12\n",
                          "yaml_empty": b"",
                          "yaml_binary": b"\x89PNG\r\n\x1a\n\x00\x00\xff"}[case])
        args = ["simulate", "--config", str(path), "--out", str(tmp_path / "x.h5"), "--quiet"]
    else:
        path = tmp_path / f"{case}.h5"
        if case == "h5_layout":
            shutil.copyfile(dataset, path)
            with h5py.File(path, "r+") as h5:
                del h5["sites/atomic_number"]
        else:
            blob = bytearray(dataset.read_bytes())
            blob[:8] = b"\x00" * 8
            path.write_bytes(bytes(blob))
        args = ["simulate", "--structures-from", str(path), "--out", str(tmp_path / "x.h5"), "--quiet"]
    assert main(args) != 0
    err = capsys.readouterr().err
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1 and path.name in lines[0] and "Traceback" not in err, err
    assert not (tmp_path / "x.h5").exists()
