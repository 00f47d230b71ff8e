"""Wyckoff positions of all 230 space groups as padded numpy arrays, read from pyxtal's tables.

Positions are indexed alphabetically ('a' = 0, ...; after 'z' comes 'A', in group 47).
pyxtal lists them general-first, so its order is reversed here. Settings are pyxtal's standard
ones: monoclinic unique axis b, rhombohedral groups (146, 148, 155, 160, 161, 166, 167) on
hexagonal axes (a = b, gamma = 120), origin choice 2 where the tables have two.

Every orbit operation acts on a site's FREE variables (x, y, z), not on its position: the j-th atom
of a site is ``orbit_ops[j] @ (x, y, z, 1) mod 1``, and ``orbit_ops[0]`` is the first operation
(the representative). Operations of all positions are stored ragged (one array plus offsets):
14,433 operations in all, 1.4 MB, where a dense [230, 27, 192] block would take 57 MB.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

NUM_GROUPS = 230
MAX_POSITIONS = 27          # group 47 (Pmmm)
MAX_MULTIPLICITY = 192      # general position of the F-centred cubic groups
CRYSTAL_SYSTEMS = ("triclinic", "monoclinic", "orthorhombic", "tetragonal", "trigonal", "hexagonal", "cubic")
# last space group number of each crystal system, in CRYSTAL_SYSTEMS order
_SYSTEM_ENDS = (2, 15, 74, 142, 167, 194, 230)
# which of (a, b, c, alpha, beta, gamma) a crystal system leaves free (monoclinic: unique axis b)
_FREE_LATTICE = {0: (1, 1, 1, 1, 1, 1), 1: (1, 1, 1, 0, 1, 0), 2: (1, 1, 1, 0, 0, 0), 3: (1, 0, 1, 0, 0, 0),
                 4: (1, 0, 1, 0, 0, 0), 5: (1, 0, 1, 0, 0, 0), 6: (1, 0, 0, 0, 0, 0)}


def crystal_system_of(space_group: int) -> int:
    """0 (triclinic) .. 6 (cubic), the index into CRYSTAL_SYSTEMS."""
    check_space_group(space_group)
    return int(np.searchsorted(_SYSTEM_ENDS, space_group))


def check_space_group(space_group) -> None:
    if not (isinstance(space_group, (int, np.integer)) and 1 <= space_group <= NUM_GROUPS):
        raise ValueError(f"space group must be an integer in 1..{NUM_GROUPS}, got {space_group!r}")


@dataclass(frozen=True)
class WyckoffTable:
    """Row 0 of every [231, ...] array is unused, so that a space group number indexes directly."""
    count: np.ndarray             # [231] int, positions per group
    multiplicity: np.ndarray      # [231, W] int, atoms per conventional cell; 0 where absent
    dof: np.ndarray               # [231, W] int, free variables of the position
    free_mask: np.ndarray         # [231, W, 3] bool, which of x, y, z the first operation reads
    first_op: np.ndarray          # [231, W, 3, 4] float, (R | t) of the first operation
    letters: list                 # [231] lists of letters, alphabetical
    crystal_system: np.ndarray    # [231] int, 0 (triclinic) .. 6 (cubic)
    lattice_free_mask: np.ndarray  # [231, 6] bool, free among (a, b, c, alpha, beta, gamma)
    ops: np.ndarray               # [total, 3, 4] float, every orbit operation of every position
    ops_offset: np.ndarray        # [231, W] int, where a position's operations start in ops

    def check_position(self, space_group: int, wyckoff_index: int) -> None:
        check_space_group(space_group)
        if not 0 <= wyckoff_index < self.count[space_group]:
            raise ValueError(f"space group {space_group} has Wyckoff positions 0..{self.count[space_group] - 1}, "
                             f"got {wyckoff_index}")

    def orbit_ops(self, space_group: int, wyckoff_index: int) -> np.ndarray:
        """[m, 3, 4] operations (centring included) that map free variables to the m atoms."""
        self.check_position(space_group, wyckoff_index)
        start = self.ops_offset[space_group, wyckoff_index]
        return self.ops[start:start + self.multiplicity[space_group, wyckoff_index]]

    def letter(self, space_group: int, wyckoff_index: int) -> str:
        self.check_position(space_group, wyckoff_index)
        return self.letters[space_group][wyckoff_index]


def _affine(op) -> np.ndarray:
    return np.asarray(op.affine_matrix, dtype=np.float64)[:3, :]


@lru_cache(maxsize=1)
def wyckoff_table() -> WyckoffTable:
    """Built once per process from pyxtal (about 1 s): small enough that a disk cache would only
    add a file to invalidate when pyxtal's tables change."""
    from pyxtal.symmetry import Group

    shape = (NUM_GROUPS + 1, MAX_POSITIONS)
    count = np.zeros(NUM_GROUPS + 1, dtype=np.int64)
    multiplicity, dof, offset = np.zeros(shape, np.int64), np.zeros(shape, np.int64), np.zeros(shape, np.int64)
    free_mask = np.zeros(shape + (3,), dtype=bool)
    first_op = np.zeros(shape + (3, 4))
    letters: list = [[]]
    ops: list = []
    total = 0
    for number in range(1, NUM_GROUPS + 1):
        positions = list(reversed(Group(number).Wyckoff_positions))   # alphabetical
        count[number] = len(positions)
        letters.append([wp.letter for wp in positions])
        for index, wp in enumerate(positions):
            orbit = np.stack([_affine(op) for op in wp.ops])
            multiplicity[number, index] = len(orbit)
            dof[number, index] = wp.get_dof()
            first_op[number, index] = orbit[0]
            free_mask[number, index] = np.any(orbit[0, :, :3] != 0, axis=0)
            offset[number, index] = total
            ops.append(orbit)
            total += len(orbit)
    systems = np.array([0] + [crystal_system_of(n) for n in range(1, NUM_GROUPS + 1)])
    lattice_free = np.array([(0,) * 6] + [_FREE_LATTICE[s] for s in systems[1:]], dtype=bool)
    return WyckoffTable(count, multiplicity, dof, free_mask, first_op, letters, systems, lattice_free,
                        np.concatenate(ops), offset)


__all__ = ["WyckoffTable", "wyckoff_table", "crystal_system_of", "check_space_group", "CRYSTAL_SYSTEMS",
           "NUM_GROUPS", "MAX_POSITIONS", "MAX_MULTIPLICITY"]
