"""Structure -> WyckoffCrystal through pyxtal's symmetry search, and the inverse of a Wyckoff
position's first operation that recovers a site's free variables from its position."""
from __future__ import annotations

import collections
import itertools
from functools import partial
from typing import Sequence

import numpy as np
from pymatgen.core import Structure

from .representation import WyckoffCrystal, WyckoffEncodingError, WyckoffSite
from .tables import wyckoff_table

# integer shifts tried for R @ free + t = position + k: x - y and 2x reach beyond one cell
_SHIFTS = np.array(list(itertools.product(range(-2, 3), repeat=3)), dtype=np.float64)
# a position further than this (fractional) from its Wyckoff position is an error, not rounding
SOLVE_TOLERANCE = 1e-4


def periodic_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a - b folded into [-0.5, 0.5): the shortest difference between fractional coordinates."""
    diff = np.asarray(a) - np.asarray(b)
    return diff - np.round(diff)


def solve_free(first_op: np.ndarray, position: np.ndarray) -> tuple[np.ndarray, float]:
    """Free variables (x, y, z) in [0, 1) with (R @ free + t) mod 1 closest to ``position`` mod 1,
    and that distance (max over coordinates). Variables R does not read stay 0.

    R has integer entries, so shifting a solution by whole cells (the mod 1 of free) keeps it on the
    position; the integer k of R @ free + t = position + k is found by trying every small k.
    """
    rotation, translation = first_op[:, :3], first_op[:, 3]
    read = np.any(rotation != 0, axis=0)
    free = np.zeros(3)
    if read.any():
        targets = np.asarray(position, dtype=np.float64) - translation + _SHIFTS   # [125, 3]
        solutions = targets @ np.linalg.pinv(rotation[:, read]).T                   # [125, dof]
        residual = np.abs(solutions @ rotation[:, read].T - targets).max(axis=1)
        free[read] = solutions[np.argmin(residual)]
        free = free - np.floor(free)
        free[free >= 1.0] = 0.0    # 1 - 1e-17 rounds to 1.0
    error = np.abs(periodic_difference(rotation @ free + translation, position)).max()
    return free, float(error)


def _site_free(space_group: int, wyckoff_index: int, position: np.ndarray) -> np.ndarray:
    table = wyckoff_table()
    free, error = solve_free(table.first_op[space_group, wyckoff_index], position)
    if error > SOLVE_TOLERANCE:
        # pyxtal stored another atom of the orbit: map it back with each general operation
        general = table.orbit_ops(space_group, table.count[space_group] - 1)
        for op in general:
            free, error = solve_free(table.first_op[space_group, wyckoff_index], op[:, :3] @ position + op[:, 3])
            if error <= SOLVE_TOLERANCE:
                break
    if error > SOLVE_TOLERANCE:
        raise WyckoffEncodingError(f"position {position} is {error:.2g} from Wyckoff position "
                                   f"{table.letter(space_group, wyckoff_index)} of group {space_group}",
                                   reason="position off its Wyckoff position")
    return free


def check_structure(structure) -> None:
    """Reject what pyxtal would crash or hang on, with the reason."""
    if not isinstance(structure, Structure):
        raise WyckoffEncodingError(f"expected a pymatgen Structure, got {type(structure).__name__}", "not a Structure")
    if not structure.is_ordered:
        raise WyckoffEncodingError("structure is disordered (partial occupancies)", "disordered")
    matrix = structure.lattice.matrix
    if not np.isfinite(matrix).all() or not np.isfinite(structure.frac_coords).all():
        raise WyckoffEncodingError("lattice or coordinates are not finite", "invalid lattice")
    if abs(np.linalg.det(matrix)) < 1e-6:
        raise WyckoffEncodingError("lattice has zero volume", "invalid lattice")


def encode(structure: Structure, tol: float = 0.01) -> WyckoffCrystal:
    """Space group (pyxtal's standard setting), Wyckoff sites and conventional lattice of a structure."""
    from pyxtal import pyxtal

    check_structure(structure)
    xtal = pyxtal()
    try:
        xtal.from_seed(structure, tol=tol)
    except Exception as error:   # pyxtal raises many kinds; all mean "no symmetrised crystal"
        raise WyckoffEncodingError(f"pyxtal could not symmetrise the structure: {type(error).__name__}: {error}",
                                   "pyxtal failed") from error
    table, group = wyckoff_table(), int(xtal.group.number)
    sites = []
    for atom in xtal.atom_sites:
        index = int(table.count[group] - 1 - atom.wp.index)
        if not np.allclose(np.asarray(atom.wp.ops[0].affine_matrix)[:3], table.first_op[group, index]):
            raise WyckoffEncodingError(f"pyxtal used a non-standard setting of group {group}", "non-standard setting")
        sites.append(WyckoffSite(index, str(atom.specie), _site_free(group, index, np.asarray(atom.position))))
    return WyckoffCrystal(group, tuple(sites), np.array(xtal.lattice.get_para(degree=True), dtype=np.float64))


def _encode_or_reason(structure, tol: float) -> tuple[WyckoffCrystal | None, str | None]:
    # module level so that a process pool can pickle it
    try:
        return encode(structure, tol=tol), None
    except WyckoffEncodingError as error:
        return None, error.reason


def encode_many(structures: Sequence[Structure], tol: float = 0.01, workers: int = 1,
                progress_bar: bool | None = None) -> tuple[list[WyckoffCrystal | None], collections.Counter]:
    """Encode each structure; a failure leaves None in its place and is counted by reason.

    ``workers > 1`` spreads chunks over a process pool (pyxtal takes ~20 ms a crystal);
    ``progress_bar=None`` shows a bar for more than 100 structures.
    """
    from ..parallel import parallel_map, process_pool

    structures = list(structures)
    show = len(structures) > 100 if progress_bar is None else bool(progress_bar)
    work = partial(_encode_or_reason, tol=tol)
    if workers > 1:
        with process_pool(workers) as pool:
            results = parallel_map(work, structures, executor=pool, desc="Wyckoff encoding", progress_bar=show)
    else:
        results = parallel_map(work, structures, desc="Wyckoff encoding", progress_bar=show)
    skipped = collections.Counter(reason for _, reason in results if reason is not None)
    return [crystal for crystal, _ in results], skipped


__all__ = ["encode", "encode_many", "solve_free", "periodic_difference", "check_structure", "SOLVE_TOLERANCE"]
