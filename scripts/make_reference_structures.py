"""Write the seeded set of random pyxtal crystals the simulator is checked against pymatgen with.

The structures are stored (``tests/data/reference_structures.json.gz``) so the test suite does not pay
pyxtal's generation time; the comparison itself always runs live pymatgen. About a quarter of the
structures get disordered orbits (mixed species or vacancies on every site of one Wyckoff orbit,
which keeps the symmetry) and some cells hold 100-200 atoms.

    python scripts/make_reference_structures.py [--n 240] [--seed 2026] [--out tests/data/reference_structures.json.gz]
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing as mp
import warnings

import numpy as np

ELEMENTS = ["Li", "Na", "K", "Mg", "Ca", "Sr", "Ba", "Al", "Si", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni",
            "Cu", "Zn", "Ga", "Ge", "Zr", "Nb", "Mo", "Ag", "Sn", "La", "W", "Pb", "Bi", "O", "S", "Se", "F", "Cl", "N"]
# One space group range per crystal system, so every system is well represented.
SYSTEM_RANGES = [(1, 2), (3, 15), (16, 74), (75, 142), (143, 167), (168, 194), (195, 230)]


def random_crystal(rng: np.random.Generator, space_group: int, target_atoms: int):
    from pyxtal import pyxtal
    from pyxtal.symmetry import Group

    group = Group(space_group)
    mults = sorted({w.multiplicity for w in group.Wyckoff_positions})
    n_species = int(rng.integers(1, 4))
    species = [str(e) for e in rng.choice(ELEMENTS, size=n_species, replace=False)]
    per = max(1, target_atoms // n_species)
    num_ions = []
    for _ in species:
        m = int(rng.choice([m for m in mults if m <= max(per, mults[0])] or mults[:1]))
        num_ions.append(m * max(1, per // m))
    crystal = pyxtal()
    crystal.from_random(3, space_group, species, num_ions, factor=1.2, random_state=int(rng.integers(2**31)))
    if not crystal.valid:
        return None
    return crystal.to_pymatgen()


def add_disorder(rng: np.random.Generator, structure):
    """Give every site of one symmetry orbit a mixed or partial occupancy (symmetry preserved)."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    sym = SpacegroupAnalyzer(structure, symprec=1e-3).get_symmetrized_structure()
    orbit = sym.equivalent_indices[int(rng.integers(len(sym.equivalent_indices)))]
    host = structure[orbit[0]].specie.symbol
    if rng.random() < 0.5:
        guest = str(rng.choice([e for e in ELEMENTS if e != host]))
        x = float(np.round(rng.uniform(0.2, 0.8), 3))
        species = {host: x, guest: 1 - x}
    else:
        species = {host: float(np.round(rng.uniform(0.5, 0.95), 3))}
    for i in orbit:
        structure.replace(i, species, coords=structure[i].frac_coords)
    return structure


def _attempt(args):
    seed, space_group, target, disorder = args
    warnings.filterwarnings("ignore")
    rng = np.random.default_rng(seed)
    try:
        s = random_crystal(rng, space_group, target)
    except Exception:  # incompatible Wyckoff combinations: the caller tries another seed
        return None
    if s is None or len(s) > 200:
        return None
    return (add_disorder(rng, s) if disorder else s).as_dict()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=240)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", default="tests/data/reference_structures.json.gz")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    rng = np.random.default_rng(args.seed)
    records = []
    pool = mp.get_context("fork").Pool(1)
    while len(records) < args.n:
        i = len(records)
        lo, hi = SYSTEM_RANGES[i % 7]
        sg = int(rng.integers(lo, hi + 1))
        big = i % 8 == 7
        target = int(rng.integers(100, 200)) if big else int(rng.integers(2, 40))
        disordered = bool(rng.random() < 0.25)
        job = pool.apply_async(_attempt, ((int(rng.integers(2**31)), sg, target, disordered),))
        try:
            s = job.get(timeout=10)
        except mp.TimeoutError:  # pyxtal's tail is long and sometimes stuck in C code: kill it
            pool.terminate()
            pool = mp.get_context("fork").Pool(1)
            continue
        if s is None:
            continue
        records.append({"space_group": sg, "disordered": disordered, "structure": s})
        print(f"{len(records):4d} sg={sg:3d} atoms={len(s['sites']):4d} disordered={disordered}", flush=True)
    with gzip.open(args.out, "wt") as fh:
        json.dump(records, fh)
    print(f"wrote {len(records)} structures to {args.out}")


if __name__ == "__main__":
    main()
