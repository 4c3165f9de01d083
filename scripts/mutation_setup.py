"""Mutation testing of one part of xrdnet: mutmut's ``setup.cfg``, a random sample of mutants, the figure.

    python scripts/mutation_setup.py xrdnet/simulate                  # writes setup.cfg
    pip install mutmut==3.8.1
    export OMP_NUM_THREADS=1                                          # see below
    mutmut run --max-children 2 'xrdnet.simulate.profile_presets*'    # makes every mutant and the test stats
    mutmut run --max-children 2 $(python scripts/mutation_setup.py xrdnet/simulate --sample 700)
    python scripts/mutation_setup.py xrdnet/simulate --report         # killed share, its 95 % interval

Run it in a copy of the repository (mutmut writes ``mutants/`` and ``setup.cfg`` beside the package).
mutmut 3 first runs the selected tests once and records which tests call each mutated function; every
mutant then runs only those tests, in a process forked from one that has already imported everything.
Two things keep a run to about an hour on 2 cores. The selection: the tests of the part itself
(``QUICK_TESTS``) without the ``slow``, ``gpu`` and ``exhaustive`` marks (an exhaustive reference comparison
has a quick sample test beside it), never the whole suite (tests of training and of the pipeline call the
simulator too, but cost 20-60 s a mutant). And, for a part with thousands of mutants, a seeded uniform
random sample of them (``--sample``): the killed share of the sample estimates the whole part's, with a
Wilson 95 % interval (``--report``), at a fraction of the time; a surviving mutant costs every selected test.
``OMP_NUM_THREADS=1``: mutmut forks each mutant's run from a process in which torch has started its OpenMP
threads; a forked child then spins in OpenMP until mutmut's CPU limit kills it, and the mutant is counted as a
"timeout" (which mutmut counts as killed) without any test having run. With one thread there is no pool.
``also_copy`` is every other entry of the package (and the configs and scripts tests read), so the mutated
copy imports and runs as the real one does.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The part of the package -> the tests that are its quick selection (paths relative to the repository).
QUICK_TESTS = {
    "xrdnet/simulate": ["tests/simulate"],
    "xrdnet/features.py": ["tests/test_features.py", "tests/explain/test_features_interpretable.py"],
    "xrdnet/peak_finder.py": ["tests/test_features.py"],
    "xrdnet/units.py": ["tests/test_units.py"],
    "xrdnet/data/splits.py": ["tests/data/test_splits.py"],
}
MARKS = "not slow and not gpu and not exhaustive"
REPOSITORY_FILES = ("configs", "scripts", "README.md")  # read by tests (recipes, reference structures)


def setup_cfg(part: str, root: Path = ROOT) -> str:
    """The ``[mutmut]`` section that mutates ``part`` with its quick tests (``QUICK_TESTS``)."""
    if part not in QUICK_TESTS:
        raise SystemExit(f"{part}: no quick test selection; known parts: {', '.join(sorted(QUICK_TESTS))}")
    target = root / part
    package = root / "xrdnet"
    also_copy = []
    for entry in sorted(package.iterdir()):
        rel = entry.relative_to(root)
        if entry.name == "__pycache__" or rel == Path(part):
            continue
        if target.is_relative_to(entry) and entry.is_dir():
            # the part lies inside this folder: copy its siblings, not the folder (it would overwrite mutants)
            also_copy += [p.relative_to(root) for p in sorted(entry.iterdir())
                          if p.name != "__pycache__" and not target.is_relative_to(p)]
            continue
        also_copy.append(rel)
    also_copy += [Path(name) for name in REPOSITORY_FILES if (root / name).exists()]
    lines = ["# Written by scripts/mutation_setup.py: mutation testing of one part of xrdnet (README, Development).",
             "[mutmut]", "source_paths=", f"    {part}", "pytest_add_cli_args_test_selection="]
    lines += [f"    {t}" for t in QUICK_TESTS[part]]
    lines += ["pytest_add_cli_args=", "    -m", f"    {MARKS}", "    -p", "    no:cacheprovider", "also_copy="]
    lines += [f"    {p.as_posix()}" for p in also_copy]
    return "\n".join(lines) + "\n"


def mutant_results(part: str, mutants: Path = Path("mutants")) -> dict[str, int | None]:
    """Every mutant of ``part`` that mutmut has made, with its exit code (None: not run yet)."""
    import json

    target = mutants / part
    metas = sorted(target.rglob("*.meta")) if target.is_dir() else [target.with_name(target.name + ".meta")]
    out: dict[str, int | None] = {}
    for meta in metas:
        if meta.is_file():
            out.update(json.loads(meta.read_text())["exit_code_by_key"])
    if not out:
        raise SystemExit(f"{target}: no mutants yet; run mutmut once first (see this script's docstring)")
    return out


def sample_mutants(names: list[str], n: int, seed: int) -> list[str]:
    """``n`` of ``names`` drawn uniformly without replacement, the same for the same names and seed."""
    import random

    return sorted(random.Random(seed).sample(sorted(names), min(n, len(names))))


# mutmut's exit codes (mutmut/stats.py): killed, timed out (counted as killed, as mutmut does), survived
KILLED, TIMEOUT, SURVIVED, NO_TESTS = {1, 3}, {36, -24, 24, 152, 255}, {0}, {5, 33}


def wilson_interval(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion k / n."""
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def report(results: dict[str, int | None], sample: list[str] | None) -> list[dict]:
    """Per module and in all: mutants, run, killed (incl. timeouts), survived, no tests, share and interval."""
    names = sample if sample is not None else list(results)
    rows: dict[str, dict] = {}
    for name in names:
        module = name.split(".x")[0] if ".x" in name else name.rsplit(".", 1)[0]
        for key in (module, "all"):
            row = rows.setdefault(key, {"module": key, "mutants": 0, "run": 0, "killed": 0, "survived": 0,
                                        "no_tests": 0, "other": 0})
            code = results.get(name)
            row["mutants"] += 1
            if code is None:
                continue
            row["run"] += 1
            if code in KILLED or code in TIMEOUT:
                row["killed"] += 1
            elif code in SURVIVED:
                row["survived"] += 1
            elif code in NO_TESTS:
                row["no_tests"] += 1
            else:
                row["other"] += 1
    for row in rows.values():
        lo, hi = wilson_interval(row["killed"], row["run"])
        row.update(share=row["killed"] / row["run"] if row["run"] else float("nan"), low=lo, high=hi)
    return sorted(rows.values(), key=lambda r: (r["module"] == "all", r["module"]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("part", help=f"one of {', '.join(sorted(QUICK_TESTS))}")
    ap.add_argument("--out", type=Path, default=Path("setup.cfg"))
    ap.add_argument("--sample", type=int, default=None, help="print the names of this many random mutants")
    ap.add_argument("--seed", type=int, default=0, help="seed of --sample")
    ap.add_argument("--report", action="store_true", help="the killed share (of the --sample mutants, if given)")
    args = ap.parse_args(argv)
    part = args.part.rstrip("/")
    if args.sample is not None or args.report:
        results = mutant_results(part)
        sample = sample_mutants(list(results), args.sample, args.seed) if args.sample is not None else None
        if not args.report:
            print("\n".join(sample))
            return 0
        print("| module | mutants | run | killed | survived | no tests | killed share (95 % interval) |")
        print("|---|---:|---:|---:|---:|---:|---|")
        for r in report(results, sample):
            print(f"| {r['module']} | {r['mutants']} | {r['run']} | {r['killed']} | {r['survived']} | {r['no_tests']} | "
                  f"{r['share']:.1%} ({r['low']:.1%}–{r['high']:.1%}) |")
        return 0
    args.out.write_text(setup_cfg(part))
    print(f"wrote {args.out}: mutating {part} with {' '.join(QUICK_TESTS[part])} (-m '{MARKS}')")
    return 0


if __name__ == "__main__":
    sys.exit(main())
