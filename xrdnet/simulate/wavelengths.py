"""X-ray wavelengths by name (pymatgen's table) and the Kα1/Kα2 doublet of each anode."""

from __future__ import annotations

from dataclasses import dataclass


def _pymatgen_wavelengths() -> dict[str, float]:
    from pymatgen.analysis.diffraction.xrd import WAVELENGTHS

    return dict(WAVELENGTHS)


@dataclass(frozen=True)
class Radiation:
    """A resolved radiation.

    Attributes:
        name: the name given ("CuKa") or "" for a bare wavelength.
        wavelength_angstrom: the single line used for stick positions (pymatgen's value for the
            name: "CuKa" is the weighted Kα average 1.54184 Å).
        kalpha1_angstrom, kalpha2_angstrom: the doublet of the anode when the name is a Kα line of
            an anode pymatgen knows, else None. Profiles use them when the Kα2 option is on.
    """

    name: str
    wavelength_angstrom: float
    kalpha1_angstrom: float | None = None
    kalpha2_angstrom: float | None = None

    @property
    def has_doublet(self) -> bool:
        return self.kalpha1_angstrom is not None and self.kalpha2_angstrom is not None


def known_wavelength_names() -> list[str]:
    """Every radiation name accepted (pymatgen's ``WAVELENGTHS`` keys)."""
    return sorted(_pymatgen_wavelengths())


LINE_MATCH_ANGSTROM = 5e-5
"""How close a wavelength must be to a tabulated line to be called by its name (the table has 5-6 digits)."""


def line_name(wavelength_angstrom: float) -> str | None:
    """The name of the tabulated line nearest ``wavelength_angstrom`` ("CuKa1"), None when none is within
    ``LINE_MATCH_ANGSTROM``."""
    value = float(wavelength_angstrom)
    name, line = min(_pymatgen_wavelengths().items(), key=lambda item: abs(item[1] - value))
    return name if abs(line - value) <= LINE_MATCH_ANGSTROM else None


def describe_wavelength(wavelength_angstrom: float) -> str:
    """``"Cu Kα1, λ = 1.54056 Å"`` for a tabulated line, else ``"λ = 0.41458 Å"`` (a synchrotron energy).

    Messages that assume a wavelength must say which: a model trained on Mo Kα1 assumes Mo, not Cu.
    """
    value = float(wavelength_angstrom)
    name = line_name(value)
    if name is None:
        return f"λ = {value:.5f} Å"
    anode, kind = name[:2], name[2:]
    greek = kind.replace("Ka", "Kα").replace("Kb", "Kβ")
    return f"{anode} {greek}{' (Kα1/Kα2 average)' if kind == 'Ka' else ''}, λ = {value:.5f} Å"


def resolve_radiation(wavelength: str | float) -> Radiation:
    """Turn a pymatgen radiation name ("CuKa", "MoKa1", ...) or a wavelength in Å into a ``Radiation``.

    "XKa" and "XKa1" names carry the anode's Kα1/Kα2 pair so profiles can render the doublet;
    "XKa2", Kβ and bare numbers (e.g. synchrotron) are single lines.
    """
    table = _pymatgen_wavelengths()
    if isinstance(wavelength, bool):
        raise TypeError("wavelength must be a name or a number in Å")
    if isinstance(wavelength, (int, float)):
        value = float(wavelength)
        if not 0.05 <= value <= 5.0:
            raise ValueError(f"wavelength {value} Å is outside the X-ray range 0.05..5 Å")
        return Radiation(name="", wavelength_angstrom=value)
    if isinstance(wavelength, str):
        key = wavelength.strip()
        # accept a number written as text, e.g. from the command line
        try:
            return resolve_radiation(float(key))
        except ValueError as exc:
            if "outside" in str(exc):
                raise
        matches = [k for k in table if k.lower() == key.lower()]
        if not matches:
            raise ValueError(f"unknown wavelength {wavelength!r}; use a value in Å or one of {known_wavelength_names()}")
        key = matches[0]
        anode = key[:2]
        k1, k2 = table.get(anode + "Ka1"), table.get(anode + "Ka2")
        if key.endswith(("Ka", "Ka1")) and k1 is not None and k2 is not None:
            return Radiation(key, table[key], k1, k2)
        return Radiation(key, table[key])
    raise TypeError(f"wavelength must be a name or a number in Å, got {type(wavelength).__name__}")
