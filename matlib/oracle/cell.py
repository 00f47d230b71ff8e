"""A crystal as three arrays (cell rows and Cartesian positions in Å, atomic numbers): what a batched
relaxation sends to the processes that build CHGNet's graphs (a pymatgen ``Structure`` costs about 8
times more to make and pickle, and several times more to unpickle), and what the judges remember of
a relaxed crystal."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from pymatgen.core import Lattice, Structure


class Cell(NamedTuple):
    """An ordered crystal as arrays; ``structure()`` rebuilds the pymatgen ``Structure``."""
    lattice: np.ndarray
    numbers: np.ndarray
    cart: np.ndarray

    @classmethod
    def of(cls, structure: Structure) -> "Cell":
        """AttributeError for a disordered structure (a site without a single element)."""
        numbers = np.array([site.specie.Z for site in structure], dtype=np.int64)
        return cls(np.array(structure.lattice.matrix), numbers, np.array(structure.cart_coords))

    def structure(self) -> Structure:
        return Structure(Lattice(self.lattice), self.numbers, self.cart, coords_are_cartesian=True)
