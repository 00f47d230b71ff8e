"""Crystals as padded tensors of Wyckoff sites, and the rules every sequence must keep.

A crystal is its space group, then its sites in canonical order (Wyckoff letter, then element),
then its lattice. The rules (shared by training, sampling and the MCMC moves, so the likelihood is
exact for every sequence the sampler can produce):

* a letter exists in the space group;
* letters never decrease along the sequence (the canonical order);
* a position without free coordinates holds at most one site (two would put atoms on each other);
* the primitive cell holds at most ``max_atoms`` atoms (MP-20's 20);
* at most ``max_sites`` sites, and at least one before the sequence stops.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from ..wyckoff import WyckoffCrystal, WyckoffSite, pad_crystals, wyckoff_table

# Lattice centring multiplies the conventional cell's atoms: P 1, A/B/C 2, I 2, F 4, R 3 (hexagonal axes).
# crystal systems (0 triclinic ... 6 cubic) whose conventional cell has hexagonal axes: trigonal, hexagonal
HEXAGONAL_AXES = (4, 5)
CENTRING = {"P": 1, "A": 2, "B": 2, "C": 2, "I": 2, "F": 4, "R": 3}


@dataclass
class SiteBatch:
    space_group: torch.Tensor   # (B,) 1..230
    wyckoff: torch.Tensor       # (B, S) letter index, 'a' = 0; padding holds 0
    element: torch.Tensor       # (B, S) atomic number; padding holds 0
    free: torch.Tensor          # (B, S, 3) free variables x, y, z in [0, 1); unused ones 0
    num_sites: torch.Tensor     # (B,)
    lattice: torch.Tensor       # (B, 6) a, b, c (Å), alpha, beta, gamma (degrees), conventional cell

    def __len__(self) -> int:
        return int(self.space_group.numel())

    def to(self, device) -> "SiteBatch":
        return SiteBatch(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})

    def select(self, index) -> "SiteBatch":
        return SiteBatch(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    @property
    def site_mask(self) -> torch.Tensor:
        positions = torch.arange(self.wyckoff.shape[1], device=self.wyckoff.device)
        return positions < self.num_sites[:, None]


def site_batch(crystals: list[WyckoffCrystal], max_sites: int | None = None) -> SiteBatch:
    """Pad a list of crystals into one batch (in canonical order, as `encode` returns them)."""
    if not crystals:
        raise ValueError("no crystals to batch")
    width = max_sites or max(len(c.sites) for c in crystals)
    too_long = [i for i, c in enumerate(crystals) if len(c.sites) > width]
    if too_long:
        raise ValueError(f"{len(too_long)} crystals have more than {width} sites (first: index {too_long[0]})")
    padded = pad_crystals(crystals, dtype=torch.float32)
    batch = SiteBatch(padded["space_group"], padded["wyckoff_index"], padded["atomic_numbers"], padded["free"],
                      padded["site_mask"].sum(1), padded["lattice"])
    return pad_sites(batch, width)


def pad_sites(batch: SiteBatch, width: int) -> SiteBatch:
    """The batch with room for ``width`` sites (padding holds zeros)."""
    extra = width - batch.wyckoff.shape[1]
    if extra == 0:
        return batch
    return SiteBatch(batch.space_group, F.pad(batch.wyckoff, (0, extra)), F.pad(batch.element, (0, extra)),
                     F.pad(batch.free, (0, 0, 0, extra)), batch.num_sites, batch.lattice)


def concat(batches: list[SiteBatch]) -> SiteBatch:
    """One batch of several, padded to the widest."""
    width = max(b.wyckoff.shape[1] for b in batches)
    padded = [pad_sites(b, width) for b in batches]
    return SiteBatch(**{f.name: torch.cat([getattr(b, f.name) for b in padded]) for f in fields(SiteBatch)})


def crystals_of(batch: SiteBatch) -> list[WyckoffCrystal]:
    from pymatgen.core.periodic_table import Element

    batch = batch.to("cpu")
    out = []
    for i in range(len(batch)):
        sites = tuple(WyckoffSite(int(batch.wyckoff[i, j]), Element.from_Z(int(batch.element[i, j])).symbol,
                                  batch.free[i, j].double().numpy() % 1.0)
                      for j in range(int(batch.num_sites[i])))
        out.append(WyckoffCrystal(int(batch.space_group[i]), sites, batch.lattice[i].double().numpy()))
    return out


class Rules:
    """The sequence rules as tensors on one device: which letter may come next."""

    def __init__(self, max_sites: int, max_atoms: int, device="cpu"):
        table = wyckoff_table()
        self.max_sites, self.max_atoms = max_sites, max_atoms
        self.letters = table.multiplicity.shape[1]
        self.stop = self.letters                     # the extra class that ends a sequence
        as_tensor = lambda a, dtype: torch.as_tensor(np.asarray(a), dtype=dtype, device=device)
        self.count = as_tensor(table.count, torch.long)
        self.multiplicity = as_tensor(table.multiplicity, torch.long)
        self.dof = as_tensor(table.dof, torch.long)
        self.free_mask = as_tensor(table.free_mask, torch.bool)
        self.lattice_free = as_tensor(table.lattice_free_mask, torch.bool)
        self.centring = as_tensor(centring_factors(), torch.long)
        self.hexagonal = as_tensor(np.isin(np.asarray(table.crystal_system), HEXAGONAL_AXES), torch.bool)

    def tie_lattice(self, space_group: torch.Tensor, lattice: torch.Tensor) -> torch.Tensor:
        """Copy the free lattice parameters onto the tied ones (b = a, c = a; fixed angles 90° or
        γ = 120° on hexagonal axes), keeping the free ones exactly: the likelihood scores only those."""
        free = self.lattice_free[space_group]
        lengths = torch.where(free[:, :3], lattice[:, :3], lattice[:, :1])
        fixed = torch.full_like(lattice[:, 3:], 90.0)
        fixed[:, 2] = torch.where(self.hexagonal[space_group], 120.0, 90.0)
        return torch.cat([lengths, torch.where(free[:, 3:], lattice[:, 3:], fixed)], dim=1)

    def primitive_atoms(self, space_group: torch.Tensor, wyckoff: torch.Tensor) -> torch.Tensor:
        return self.multiplicity[space_group[:, None], wyckoff] // self.centring[space_group][:, None]

    def allowed_next(self, space_group, previous, atoms_so_far, sites_so_far) -> torch.Tensor:
        """(B, letters + 1) bool: letters (and stop) allowed after ``previous`` (-1 at the start)."""
        letters = torch.arange(self.letters, device=space_group.device)
        exists = letters[None] < self.count[space_group][:, None]
        ordered = letters[None] >= previous[:, None].clamp(min=0)
        repeat_fixed = (letters[None] == previous[:, None]) & (self.dof[space_group][:, letters] == 0)
        atoms = self.multiplicity[space_group] // self.centring[space_group][:, None]
        fits = atoms_so_far[:, None] + atoms <= self.max_atoms
        room = (sites_so_far < self.max_sites)[:, None]
        allowed = exists & ordered & ~repeat_fixed & fits & room
        can_stop = (sites_so_far > 0)[:, None]
        return torch.cat([allowed, can_stop], dim=1)

    def sequence_masks(self, batch: SiteBatch) -> torch.Tensor:
        """(B, S + 1, letters + 1): what was allowed at each step of the batch's own sequences."""
        B, S = batch.wyckoff.shape
        previous = torch.cat([torch.full((B, 1), -1, device=batch.wyckoff.device), batch.wyckoff], dim=1)
        atoms = self.primitive_atoms(batch.space_group, batch.wyckoff) * batch.site_mask
        atoms_before = torch.cat([torch.zeros((B, 1), dtype=torch.long, device=atoms.device), atoms.cumsum(1)], 1)
        steps = torch.arange(S + 1, device=atoms.device)
        masks = [self.allowed_next(batch.space_group, previous[:, t], atoms_before[:, t], steps[t].expand(B))
                 for t in range(S + 1)]
        return torch.stack(masks, dim=1)

    def violations(self, batch: SiteBatch) -> torch.Tensor:
        """(B,) True where a sequence breaks a rule (so its likelihood under the model is zero)."""
        masks = self.sequence_masks(batch)
        B, S = batch.wyckoff.shape
        chosen = torch.where(batch.site_mask, batch.wyckoff, torch.full_like(batch.wyckoff, self.stop))
        chosen = torch.cat([chosen, torch.full((B, 1), self.stop, device=chosen.device)], dim=1)
        taken = masks.gather(2, chosen[..., None])[..., 0]
        live = torch.arange(S + 1, device=chosen.device)[None] <= batch.num_sites[:, None]
        return (live & ~taken).any(1)


@lru_cache(maxsize=1)
def centring_factors() -> np.ndarray:
    """(231,) atoms of the conventional cell per atom of the primitive cell, by space group."""
    from pyxtal.symmetry import Group

    factors = np.ones(231, np.int64)
    for number in range(1, 231):
        factors[number] = CENTRING[Group(number).symbol[0]]
    return factors
