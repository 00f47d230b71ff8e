"""A batch of crystals as flat tensors, and exact round trips to pymatgen `Structure`.

Layout (the one every model in the series uses): atoms of all crystals are concatenated.

* ``atom_types``  (N_total,) long, atomic numbers Z
* ``frac_coords`` (N_total, 3) fractional coordinates in [0, 1)
* ``lattice``     (B, 3, 3) lattice vectors as rows (pymatgen's convention: cart = frac @ lattice)
* ``num_atoms``   (B,) long
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Sequence

import numpy as np
import torch
from pymatgen.core import Lattice, Structure


# Å³ per atom: real solids have more than 5; below 1 a cell has collapsed, and neighbour lists
# and fingerprints of it explode in size and time. Judges and fingerprints skip such cells.
MIN_VOLUME_PER_ATOM = 1.0


class CrystalError(ValueError):
    """A structure that the batched representation cannot hold."""


@dataclass
class CrystalBatch:
    atom_types: torch.Tensor
    frac_coords: torch.Tensor
    lattice: torch.Tensor
    num_atoms: torch.Tensor

    # ---- construction -------------------------------------------------------------------
    @classmethod
    def from_structures(cls, structures: Sequence[Structure], dtype: torch.dtype = torch.float32,
                        wrap: bool = True) -> "CrystalBatch":
        if len(structures) == 0:
            raise CrystalError("cannot batch an empty list of structures")
        types, coords, lattices, counts = [], [], [], []
        for index, s in enumerate(structures):
            if not s.is_ordered:
                raise CrystalError(f"structure {index} ({s.composition.reduced_formula}) is disordered "
                                   "(partial occupancies); order it first, e.g. with OrderDisorderedStructureTransformation")
            types.append(np.array([site.specie.Z for site in s], dtype=np.int64))
            coords.append(np.asarray(s.frac_coords, dtype=np.float64))
            lattices.append(np.asarray(s.lattice.matrix, dtype=np.float64))
            counts.append(len(s))
        frac = np.concatenate(coords)
        batch = cls(atom_types=torch.as_tensor(np.concatenate(types)),
                    frac_coords=torch.as_tensor(wrap_frac(frac) if wrap else frac, dtype=dtype),
                    lattice=torch.as_tensor(np.stack(lattices), dtype=dtype),
                    num_atoms=torch.as_tensor(counts, dtype=torch.long))
        return batch

    @classmethod
    def from_lattice_params(cls, atom_types, frac_coords, lengths, angles, num_atoms) -> "CrystalBatch":
        return cls(torch.as_tensor(atom_types), torch.as_tensor(frac_coords),
                   lattice_from_params(torch.as_tensor(lengths), torch.as_tensor(angles)),
                   torch.as_tensor(num_atoms))

    @classmethod
    def collate(cls, batches: Iterable["CrystalBatch"]) -> "CrystalBatch":
        """Concatenate batches (crystals of different sizes are fine)."""
        batches = list(batches)
        return cls(torch.cat([b.atom_types for b in batches]), torch.cat([b.frac_coords for b in batches]),
                   torch.cat([b.lattice for b in batches]), torch.cat([b.num_atoms for b in batches]))

    # ---- views --------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.num_atoms.numel())

    @property
    def num_crystals(self) -> int:
        return len(self)

    @property
    def device(self) -> torch.device:
        return self.frac_coords.device

    @property
    def batch_index(self) -> torch.Tensor:
        """For each atom, the index of its crystal."""
        return torch.repeat_interleave(torch.arange(len(self), device=self.device), self.num_atoms)

    @property
    def offsets(self) -> torch.Tensor:
        """Index of each crystal's first atom."""
        return torch.cumsum(self.num_atoms, 0) - self.num_atoms

    def cart_coords(self) -> torch.Tensor:
        lat = self.lattice[self.batch_index]
        return torch.einsum("ni,nij->nj", self.frac_coords, lat)

    def volumes(self) -> torch.Tensor:
        return torch.linalg.det(self.lattice).abs()

    def lattice_params(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Lengths (Å) and angles (degrees) of each cell."""
        return params_from_lattice(self.lattice)

    def to(self, device: torch.device | str) -> "CrystalBatch":
        return replace(self, atom_types=self.atom_types.to(device), frac_coords=self.frac_coords.to(device),
                       lattice=self.lattice.to(device), num_atoms=self.num_atoms.to(device))

    def select(self, indices: Sequence[int] | torch.Tensor) -> "CrystalBatch":
        """A new batch holding the chosen crystals, in the given order."""
        idx = torch.as_tensor(indices, dtype=torch.long, device=self.device).reshape(-1)
        starts, counts = self.offsets[idx], self.num_atoms[idx]
        atom_idx = torch.repeat_interleave(starts, counts) + _ranges(counts)
        return CrystalBatch(self.atom_types[atom_idx], self.frac_coords[atom_idx], self.lattice[idx], counts)

    def split(self, size: int) -> list["CrystalBatch"]:
        return [self.select(torch.arange(i, min(i + size, len(self)))) for i in range(0, len(self), size)]

    # ---- back to pymatgen -----------------------------------------------------------------
    def to_structures(self) -> list[Structure]:
        types = self.atom_types.detach().cpu().numpy()
        frac = self.frac_coords.detach().cpu().double().numpy()
        lat = self.lattice.detach().cpu().double().numpy()
        out, start = [], 0
        for b, n in enumerate(self.num_atoms.tolist()):
            # atomic numbers go straight in: much faster than Element objects for big batches
            out.append(Structure(Lattice(lat[b]), types[start:start + n].tolist(), frac[start:start + n]))
            start += n
        return out


def wrap_frac(frac):
    """Fractional coordinates into [0, 1), numpy or torch.

    Plain ``x % 1.0`` returns 1.0 for tiny negative x (1 - 1e-17 rounds to 1), and pymatgen keeps
    coordinates of exactly 1.0 after Niggli reduction: both would break the canonical cell.
    """
    wrapped = frac - (torch.floor(frac) if isinstance(frac, torch.Tensor) else np.floor(frac))
    return wrapped * (wrapped < 1.0)


def _ranges(counts: torch.Tensor) -> torch.Tensor:
    """[0..c0-1, 0..c1-1, ...] for a vector of counts."""
    total = int(counts.sum())
    starts = torch.cumsum(counts, 0) - counts
    return torch.arange(total, device=counts.device) - torch.repeat_interleave(starts, counts)


def lattice_from_params(lengths: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """(B,3) lengths in Å and (B,3) angles in degrees to (B,3,3) row vectors.

    Same orientation as pymatgen's `Lattice.from_parameters` (c along z, a in the xz plane), so
    the result equals pymatgen's matrix up to float rounding.
    """
    a, b, c = lengths.unbind(-1)
    alpha, beta, gamma = torch.deg2rad(angles).unbind(-1)
    cos_a, cos_b, cos_g = torch.cos(alpha), torch.cos(beta), torch.cos(gamma)
    sin_a, sin_b = torch.sin(alpha), torch.sin(beta)
    cos_gamma_star = ((cos_a * cos_b - cos_g) / (sin_a * sin_b)).clamp(-1.0, 1.0)
    sin_gamma_star = torch.sqrt(1.0 - cos_gamma_star ** 2)
    zero = torch.zeros_like(a)
    va = torch.stack([a * sin_b, zero, a * cos_b], -1)
    vb = torch.stack([-b * sin_a * cos_gamma_star, b * sin_a * sin_gamma_star, b * cos_a], -1)
    vc = torch.stack([zero, zero, c], -1)
    return torch.stack([va, vb, vc], -2)


def params_from_lattice(lattice: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = lattice.norm(dim=-1)
    a, b, c = lattice.unbind(-2)

    def angle(u, v):
        cos = (u * v).sum(-1) / (u.norm(dim=-1) * v.norm(dim=-1))
        return torch.rad2deg(torch.arccos(cos.clamp(-1.0, 1.0)))

    return lengths, torch.stack([angle(b, c), angle(a, c), angle(a, b)], -1)


def length_per_atom(batch: CrystalBatch) -> torch.Tensor:
    """(V/N)^(1/3): the scale CDVAE divides lattice lengths by, and pymatgen's RMS normaliser."""
    return (batch.volumes() / batch.num_atoms).pow(1.0 / 3.0)


__all__ = ["CrystalBatch", "CrystalError", "MIN_VOLUME_PER_ATOM", "lattice_from_params", "params_from_lattice", "length_per_atom"]
