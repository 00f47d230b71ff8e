"""PODGen's three moves on a batch of chains (crystals as Wyckoff sites). Every move is symmetric,
so plain Metropolis is exact. Space group and Wyckoff letters never change: a chain stays in its
seed's symmetry template.

* element: one site of each chain takes an element drawn uniformly from a vocabulary;
* coordinates: Gaussian noise on the free variables (mod 1), so the site stays on its Wyckoff position;
* lattice: Gaussian noise on the free lattice parameters, the tied ones copied back (symmetrised).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..autoregressive.sites import Rules, SiteBatch

MOVES = ("element", "coordinates", "lattice")


@dataclass
class MoveConfig:
    weights: tuple[float, float, float] = (3.0, 6.0, 6.0)   # PODGen's: element 3, coordinates 6, lattice 6
    coordinate_sigma: float = 0.01        # in fractional units
    length_sigma: float = 0.01            # relative to each chain's starting mean length (a constant: symmetric)
    angle_sigma: float = 0.5              # degrees


def canonical_order(state: SiteBatch) -> SiteBatch:
    """Sort each chain's sites by (letter, element), the order the model was trained on."""
    key = state.wyckoff * 1000 + state.element
    key = torch.where(state.site_mask, key, torch.full_like(key, 10 ** 9))
    order = key.argsort(dim=1, stable=True)
    take = lambda t: t.gather(1, order if t.dim() == 2 else order[..., None].expand_as(t))
    return SiteBatch(state.space_group, take(state.wyckoff), take(state.element), take(state.free),
                     state.num_sites, state.lattice)


def element_move(state: SiteBatch, vocabulary: torch.Tensor, generator=None) -> SiteBatch:
    n = len(state)
    device = state.wyckoff.device
    site = (torch.rand(n, generator=generator, device=device) * state.num_sites).long()
    new = vocabulary[torch.randint(len(vocabulary), (n,), generator=generator, device=device)]
    element = state.element.clone()
    element[torch.arange(n, device=device), site] = new
    return canonical_order(SiteBatch(state.space_group, state.wyckoff, element, state.free, state.num_sites,
                                     state.lattice))


def coordinate_move(state: SiteBatch, rules: Rules, sigma: float, generator=None) -> SiteBatch:
    free_mask = rules.free_mask[state.space_group[:, None], state.wyckoff] & state.site_mask[..., None]
    noise = torch.randn(state.free.shape, generator=generator, device=state.free.device) * sigma
    return SiteBatch(state.space_group, state.wyckoff, state.element, (state.free + noise * free_mask) % 1.0,
                     state.num_sites, state.lattice)


def lattice_move(state: SiteBatch, rules: Rules, length_scale: torch.Tensor, config: MoveConfig,
                 generator=None) -> SiteBatch:
    free = rules.lattice_free[state.space_group]
    noise = torch.randn(state.lattice.shape, generator=generator, device=state.lattice.device)
    step = torch.cat([noise[:, :3] * config.length_sigma * length_scale[:, None], noise[:, 3:] * config.angle_sigma], 1)
    lattice = rules.tie_lattice(state.space_group, state.lattice + step * free)
    return SiteBatch(state.space_group, state.wyckoff, state.element, state.free, state.num_sites, lattice)


def plausible_cell(lattice: torch.Tensor) -> torch.Tensor:
    """(B,) bool: positive lengths and angles that make a cell with positive volume."""
    lengths_ok = (lattice[:, :3] > 0.5).all(1)
    angles = torch.deg2rad(lattice[:, 3:])
    cos = torch.cos(angles)
    volume_term = 1 - (cos ** 2).sum(1) + 2 * cos.prod(1)
    return lengths_ok & ((lattice[:, 3:] > 20) & (lattice[:, 3:] < 160)).all(1) & (volume_term > 1e-3)
