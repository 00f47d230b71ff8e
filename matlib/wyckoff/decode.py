"""WyckoffCrystal -> pymatgen Structure: each site expanded by its orbit operations."""
from __future__ import annotations

import numpy as np
from pymatgen.core import Element, Lattice, Structure

from .representation import WyckoffCrystal
from .tables import wyckoff_table

# atoms of one cell closer than this (fractional, periodic) are one atom: a free variable moved
# onto a special position makes two orbit operations give the same point
DUPLICATE_DISTANCE = 1e-3


def check_lattice_params(params) -> np.ndarray:
    """(6,) a, b, c, alpha, beta, gamma as float, or a ValueError saying what is wrong."""
    params = np.asarray(params, dtype=np.float64).reshape(-1)
    if params.shape != (6,) or not np.isfinite(params).all():
        raise ValueError(f"lattice parameters must be 6 finite numbers, got {params}")
    if (params[:3] <= 0).any():
        raise ValueError(f"lattice lengths must be positive, got {params[:3]}")
    if ((params[3:] <= 0) | (params[3:] >= 180)).any():
        raise ValueError(f"lattice angles must lie strictly between 0 and 180 degrees, got {params[3:]}")
    cos = np.cos(np.deg2rad(params[3:]))
    # the squared volume of a unit cell with these angles; <= 0 means no such cell exists
    if 1 - (cos ** 2).sum() + 2 * cos.prod() <= 1e-10:
        raise ValueError(f"the angles {params[3:]} cannot form a cell (zero or imaginary volume)")
    return params


def expand_site(space_group: int, wyckoff_index: int, free: np.ndarray) -> np.ndarray:
    """[m, 3] fractional coordinates in [0, 1) of one site's atoms (conventional cell)."""
    ops = wyckoff_table().orbit_ops(space_group, wyckoff_index)
    frac = ops[:, :, :3] @ np.asarray(free, dtype=np.float64) + ops[:, :, 3]
    frac = frac - np.floor(frac)
    return frac * (frac < 1.0)


def _unique_atoms(frac: np.ndarray) -> np.ndarray:
    """Indices of atoms that are not a copy of an earlier one."""
    diff = frac[:, None, :] - frac[None, :, :]
    distance = np.linalg.norm(diff - np.round(diff), axis=-1)
    earlier_copy = np.tril(distance < DUPLICATE_DISTANCE, k=-1).any(axis=1)
    return np.flatnonzero(~earlier_copy)


def conventional_sites(crystal: WyckoffCrystal) -> tuple[np.ndarray, np.ndarray, int]:
    """Atomic numbers [N], fractional coordinates [N, 3] of the conventional cell, and how many
    duplicate atoms were merged (0 unless a free variable sits on a special position)."""
    numbers, coords = [], []
    for site in crystal.sites:
        frac = expand_site(crystal.space_group, site.wyckoff_index, site.free)
        coords.append(frac)
        numbers.append(np.full(len(frac), Element(site.element).Z))
    if not coords:
        raise ValueError("a crystal needs at least one site")
    numbers, coords = np.concatenate(numbers), np.concatenate(coords)
    keep = _unique_atoms(coords)
    return numbers[keep], coords[keep], len(coords) - len(keep)


def decode(crystal: WyckoffCrystal, primitive: bool = True) -> Structure:
    """pymatgen's primitive cell of the crystal, or with ``primitive=False`` its conventional cell.

    On MP-20 the expansion takes ~0.4 ms a crystal and the primitive reduction 2-3 ms more;
    StructureMatcher accepts either cell, so matching can skip the reduction.
    """
    params = check_lattice_params(crystal.lattice)
    numbers, frac, _ = conventional_sites(crystal)
    structure = Structure(Lattice.from_parameters(*params), numbers.tolist(), frac)
    return structure.get_primitive_structure() if primitive else structure


__all__ = ["decode", "conventional_sites", "expand_site", "check_lattice_params", "DUPLICATE_DISTANCE"]
