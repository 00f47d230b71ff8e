"""A crystal as a space group, Wyckoff sites and six conventional lattice parameters."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pymatgen.core import Element

from .tables import check_space_group, wyckoff_table


class WyckoffEncodingError(ValueError):
    """A structure that could not be written as space group + Wyckoff sites; ``reason`` is a short
    category that encode_many counts its skips by."""

    def __init__(self, message: str, reason: str = "encoding failed"):
        super().__init__(message)
        self.reason = reason


def _frozen_array(values, shape: tuple, name: str) -> np.ndarray:
    array = np.array(values, dtype=np.float64).reshape(-1)
    if array.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {np.shape(values)}")
    array.setflags(write=False)   # the dataclass is frozen; so are its arrays
    return array


@dataclass(frozen=True, eq=False)
class WyckoffSite:
    wyckoff_index: int   # alphabetical: 'a' = 0
    element: str
    free: np.ndarray     # (3,) x, y, z in [0, 1); variables the first operation does not read are 0

    def __post_init__(self):
        object.__setattr__(self, "free", _frozen_array(self.free, (3,), "free"))
        object.__setattr__(self, "wyckoff_index", int(self.wyckoff_index))

    @property
    def atomic_number(self) -> int:
        return Element(self.element).Z

    def sort_key(self) -> tuple:
        return (self.wyckoff_index, self.atomic_number, *self.free.tolist())

    def __eq__(self, other) -> bool:
        return (isinstance(other, WyckoffSite) and (self.wyckoff_index, self.element) == (other.wyckoff_index, other.element)
                and np.array_equal(self.free, other.free))

    __hash__ = None


@dataclass(frozen=True, eq=False)
class WyckoffCrystal:
    space_group: int
    sites: tuple          # WyckoffSite, sorted by wyckoff_index, atomic number, free
    lattice: np.ndarray   # (6,) a, b, c (Å), alpha, beta, gamma (degrees) of the conventional cell

    def __post_init__(self):
        check_space_group(self.space_group)
        table = wyckoff_table()
        for site in self.sites:
            table.check_position(self.space_group, site.wyckoff_index)
        object.__setattr__(self, "space_group", int(self.space_group))
        object.__setattr__(self, "sites", tuple(sorted(self.sites, key=WyckoffSite.sort_key)))
        object.__setattr__(self, "lattice", _frozen_array(self.lattice, (6,), "lattice"))

    def __eq__(self, other) -> bool:
        return (isinstance(other, WyckoffCrystal) and self.space_group == other.space_group
                and self.sites == other.sites and np.array_equal(self.lattice, other.lattice))

    __hash__ = None

    def letters(self) -> list[str]:
        table = wyckoff_table()
        return [table.letter(self.space_group, site.wyckoff_index) for site in self.sites]


def num_atoms(crystal: WyckoffCrystal) -> int:
    """Atoms in the conventional cell: the sum of the sites' multiplicities."""
    multiplicity = wyckoff_table().multiplicity[crystal.space_group]
    return int(sum(multiplicity[site.wyckoff_index] for site in crystal.sites))


__all__ = ["WyckoffSite", "WyckoffCrystal", "WyckoffEncodingError", "num_atoms"]
