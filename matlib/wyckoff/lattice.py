"""Lattice parameters tied by crystal system, in torch (batched, differentiable) and numpy.

Settings are pyxtal's: monoclinic unique axis b (beta free), trigonal groups (rhombohedral ones
included) on hexagonal axes, so a = b and gamma = 120 for every trigonal and hexagonal group.
Tied lengths are replaced by their mean; fixed angles by their value.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from .tables import wyckoff_table

# per crystal system (triclinic .. cubic): groups of lengths that are equal, and fixed angles
# (None = free)
TIED_LENGTHS = ([[0], [1], [2]], [[0], [1], [2]], [[0], [1], [2]], [[0, 1], [2]],
                [[0, 1], [2]], [[0, 1], [2]], [[0, 1, 2]])
FIXED_ANGLES = ((None, None, None), (90.0, None, 90.0), (90.0, 90.0, 90.0), (90.0, 90.0, 90.0),
                (90.0, 90.0, 120.0), (90.0, 90.0, 120.0), (90.0, 90.0, 90.0))


def symmetrise_lattice_numpy(space_groups, params) -> np.ndarray:
    """[B] space groups and [B, 6] (a, b, c, alpha, beta, gamma) -> [B, 6] with the crystal
    system's ties imposed; one crystal at a time, the reference for the torch version."""
    systems = wyckoff_table().crystal_system[np.asarray(space_groups, dtype=np.int64).reshape(-1)]
    out = np.array(params, dtype=np.float64).reshape(len(systems), 6)
    for row, system in zip(out, systems):
        for tied in TIED_LENGTHS[system]:
            row[tied] = row[tied].mean()
        for axis, angle in enumerate(FIXED_ANGLES[system]):
            if angle is not None:
                row[3 + axis] = angle
    return out


@lru_cache(maxsize=8)
def _system_tables(device: str, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    # crystal system per group; [7, 3, 3] averaging matrix of lengths; [7, 3] fixed angles (nan = free)
    averaging = torch.zeros(7, 3, 3, dtype=dtype)
    for system, groups in enumerate(TIED_LENGTHS):
        for tied in groups:
            for i in tied:
                averaging[system, i, tied] = 1.0 / len(tied)
    fixed = torch.tensor([[np.nan if a is None else a for a in angles] for angles in FIXED_ANGLES], dtype=dtype)
    systems = torch.as_tensor(wyckoff_table().crystal_system, dtype=torch.long)
    return systems.to(device), averaging.to(device), fixed.to(device)


def symmetrise_lattice(space_groups: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
    """[B] space groups and [B, 6] (a, b, c, alpha, beta, gamma) -> [B, 6] obeying the crystal
    system of each group: lengths averaged where tied, fixed angles set. Differentiable."""
    if params.ndim != 2 or params.shape[-1] != 6 or space_groups.shape != params.shape[:1]:
        raise ValueError(f"expected space groups [B] and params [B, 6], got {tuple(space_groups.shape)} "
                         f"and {tuple(params.shape)}")
    if ((space_groups < 1) | (space_groups > 230)).any():
        raise ValueError("space groups must lie in 1..230")
    systems, averaging, fixed = _system_tables(str(params.device), params.dtype)
    system = systems[space_groups.long()]
    lengths = torch.einsum("bij,bj->bi", averaging[system], params[:, :3])
    fixed_angles = fixed[system]
    angles = torch.where(torch.isnan(fixed_angles), params[:, 3:], fixed_angles)
    return torch.cat([lengths, angles], dim=-1)


__all__ = ["symmetrise_lattice", "symmetrise_lattice_numpy", "TIED_LENGTHS", "FIXED_ANGLES"]
