"""Batched, differentiable expansion of Wyckoff sites into atoms for models and samplers.

Sites come padded per crystal: ``wyckoff_index [B, S]``, ``free [B, S, 3]``, ``site_mask [B, S]``.
Atoms come out flat, crystal after crystal (matlib.crystal.CrystalBatch's layout): only the
operations of the requested (group, position) pairs are gathered, one row per atom, so nothing
is padded to the largest multiplicity (192).
Duplicate atoms (a free variable moved onto a special position) are kept, unlike ``decode``.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np
import torch
from pymatgen.core import Element

from ..crystal import CrystalBatch, lattice_from_params, wrap_frac
from .lattice import symmetrise_lattice
from .representation import WyckoffCrystal
from .tables import wyckoff_table


@lru_cache(maxsize=4)
def _table_tensors(device: str) -> tuple[torch.Tensor, ...]:
    # ragged operations, their offsets, multiplicities and position counts, once per device
    table = wyckoff_table()
    return tuple(torch.as_tensor(array).to(device)
                 for array in (table.ops, table.ops_offset, table.multiplicity, table.count))


def _ranges(counts: torch.Tensor) -> torch.Tensor:
    """[0..c0-1, 0..c1-1, ...]."""
    starts = torch.cumsum(counts, 0) - counts
    return torch.arange(int(counts.sum()), device=counts.device) - torch.repeat_interleave(starts, counts)


def expand(space_group: torch.Tensor, wyckoff_index: torch.Tensor, free: torch.Tensor,
           site_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Conventional-cell atoms of padded sites: frac [N, 3] in [0, 1), crystal index [N] and
    (padded) site index [N], atoms ordered by crystal, then site, then orbit operation."""
    batch, num_sites = wyckoff_index.shape
    if space_group.shape != (batch,) or free.shape != (batch, num_sites, 3) or site_mask.shape != (batch, num_sites):
        raise ValueError("expected space_group [B], wyckoff_index [B, S], free [B, S, 3], site_mask [B, S]")
    ops, offsets, multiplicity, count = _table_tensors(str(free.device))
    crystal, site = torch.nonzero(site_mask, as_tuple=True)        # row-major: crystal, then site
    groups, positions = space_group.long()[crystal], wyckoff_index.long()[crystal, site]
    if ((groups < 1) | (groups > 230)).any() or ((positions < 0) | (positions >= count[groups])).any():
        raise ValueError("a site names a space group outside 1..230 or a Wyckoff position its group lacks")
    atoms_per_site = multiplicity[groups, positions]
    site_of_atom = torch.repeat_interleave(torch.arange(len(groups), device=free.device), atoms_per_site)
    op = ops[offsets[groups, positions][site_of_atom] + _ranges(atoms_per_site)].to(free.dtype)
    frac = torch.einsum("nij,nj->ni", op[:, :, :3], free[crystal, site][site_of_atom]) + op[:, :, 3]
    return wrap_frac(frac), crystal[site_of_atom], site[site_of_atom]


def to_crystal_batch(space_group: torch.Tensor, wyckoff_index: torch.Tensor, free: torch.Tensor,
                     site_mask: torch.Tensor, atomic_numbers: torch.Tensor, lattice: torch.Tensor,
                     symmetrise: bool = True) -> CrystalBatch:
    """A CrystalBatch of conventional cells; ``atomic_numbers [B, S]``, ``lattice [B, 6]``
    (a, b, c in Å, angles in degrees), tied by crystal system first unless ``symmetrise=False``."""
    frac, crystal, site = expand(space_group, wyckoff_index, free, site_mask)
    params = symmetrise_lattice(space_group, lattice) if symmetrise else lattice
    return CrystalBatch(atom_types=atomic_numbers.long()[crystal, site], frac_coords=frac,
                        lattice=lattice_from_params(params[:, :3], params[:, 3:]),
                        num_atoms=torch.bincount(crystal, minlength=len(space_group)))


def pad_crystals(crystals: Sequence[WyckoffCrystal], dtype: torch.dtype = torch.float64) -> dict[str, torch.Tensor]:
    """The padded tensors of expand / to_crystal_batch for a list of crystals (S = most sites)."""
    if not crystals:
        raise ValueError("cannot pad an empty list of crystals")
    batch, num_sites = len(crystals), max(len(c.sites) for c in crystals)
    out = {"space_group": torch.tensor([c.space_group for c in crystals]),
           "wyckoff_index": torch.zeros(batch, num_sites, dtype=torch.long),
           "free": torch.zeros(batch, num_sites, 3, dtype=dtype),
           "site_mask": torch.zeros(batch, num_sites, dtype=torch.bool),
           "atomic_numbers": torch.zeros(batch, num_sites, dtype=torch.long),
           "lattice": torch.tensor(np.stack([c.lattice for c in crystals]), dtype=dtype)}
    for b, crystal in enumerate(crystals):
        for s, site in enumerate(crystal.sites):
            out["wyckoff_index"][b, s] = site.wyckoff_index
            out["free"][b, s] = torch.tensor(site.free.tolist(), dtype=dtype)
            out["site_mask"][b, s] = True
            out["atomic_numbers"][b, s] = Element(site.element).Z
    return out


__all__ = ["expand", "to_crystal_batch", "pad_crystals"]
