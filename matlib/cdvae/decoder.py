"""CDVAE's decoder: a noise-conditional score network, told what to build by z.

Noise, as CDVAE, at one of ``levels`` geometric levels per crystal (level 0 = most noise):

* coordinates: Cartesian σ from 10 Å down to 0.01 Å, applied as a wrapped normal on fractional
  coordinates with σ_frac = σ / V^(1/3) (the cell's own edge), so the network predicts σ·score;
* atom types: each atom's element is redrawn from one-hot(true) + σ_type · p_composition(z), with
  σ_type from 5 down to 0.01: at high noise the elements follow the predicted composition.

The network is notebook 04's all-pairs ``ScoreNetwork``; z enters after every block through a
linear map added to each atom's features, and the level through its time input.
"""
from __future__ import annotations

import torch
from torch import nn

from ..nn import DenoiserConfig, ScoreNetwork, WrappedNormalVE


def cell_edge(lattice: torch.Tensor) -> torch.Tensor:
    """V^(1/3) per cell: the length that turns Cartesian noise into fractional noise."""
    return torch.linalg.det(lattice.float()).abs().clamp_min(1e-6) ** (1 / 3)


class NoiseLevels:
    def __init__(self, levels: int = 50, coord_max: float = 10.0, coord_min: float = 0.01, type_max: float = 5.0,
                 type_min: float = 0.01):
        self.levels = levels
        self.coord_max, self.coord_min, self.type_max, self.type_min = coord_max, coord_min, type_max, type_min

    def time(self, level: torch.Tensor) -> torch.Tensor:
        """Level 0 (most noise) -> t = 1, the last level -> t = 0."""
        return 1.0 - level.float() / max(self.levels - 1, 1)

    def coord_sigma(self, level: torch.Tensor) -> torch.Tensor:
        """Cartesian σ in Å."""
        return self.coord_min * (self.coord_max / self.coord_min) ** self.time(level)

    def type_sigma(self, level: torch.Tensor) -> torch.Tensor:
        return self.type_min * (self.type_max / self.type_min) ** self.time(level)

    @staticmethod
    def fractional(sigma: torch.Tensor, lattice: torch.Tensor) -> torch.Tensor:
        return sigma / cell_edge(lattice)

    @staticmethod
    def corrupt_types(types: torch.Tensor, composition: torch.Tensor, type_sigma_atom: torch.Tensor,
                      generator: torch.Generator | None = None) -> torch.Tensor:
        """Redraw each element from one-hot(true) + σ · p (``composition``: per-atom probabilities).
        Drawn by inverting the cumulative weights at a uniform number: no host read, so a recorded
        CUDA graph can hold it."""
        weights = composition * type_sigma_atom[:, None]
        weights = weights.scatter_add(1, (types - 1)[:, None], torch.ones_like(weights[:, :1]))
        cumulative = weights.cumsum(-1)
        u = torch.rand(len(weights), 1, device=weights.device, generator=generator) * cumulative[:, -1:]
        return (cumulative <= u).sum(-1).clamp(max=weights.shape[-1] - 1) + 1


class ScoreDecoder(nn.Module):
    def __init__(self, config: DenoiserConfig, latent: int):
        super().__init__()
        self.network = ScoreNetwork(config)
        self.inject = nn.ModuleList(nn.Linear(latent, config.dim) for _ in range(config.layers))
        self.coords = WrappedNormalVE(scale_by_atoms=False)   # the wrapped-normal score and its corruption

    def forward(self, z: torch.Tensor, tokens: torch.Tensor, frac: torch.Tensor, lattice: torch.Tensor,
                num_atoms: torch.Tensor, t: torch.Tensor, edges=None) -> tuple[torch.Tensor, torch.Tensor]:
        """(σ·score of the fractional coordinates (N, 3), element logits (N, 100))."""
        atom_crystal = edges[0] if edges is not None else torch.repeat_interleave(
            torch.arange(len(num_atoms), device=num_atoms.device), num_atoms)
        shifts = [proj(z)[atom_crystal] for proj in self.inject]
        coord, _, logits = self.network(tokens, frac, lattice, num_atoms, t, cell_edge(lattice), edges=edges,
                                        layer_hook=lambda i, h: h + shifts[i].to(h.dtype))
        return coord.float(), logits.float()


__all__ = ["NoiseLevels", "ScoreDecoder"]
