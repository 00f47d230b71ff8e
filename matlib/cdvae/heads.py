"""From z to what the decoder needs before it starts: atom count, lattice, composition (CDVAE)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.elements import NUM_ELEMENTS


def mlp(inputs: int, hidden: int, outputs: int, layers: int = 2) -> nn.Sequential:
    blocks, width = [], inputs
    for _ in range(layers):
        blocks += [nn.Linear(width, hidden), nn.SiLU()]
        width = hidden
    return nn.Sequential(*blocks, nn.Linear(width, outputs))


class PropertyHeads(nn.Module):
    def __init__(self, latent: int, hidden: int, max_atoms: int):
        super().__init__()
        self.num_atoms = mlp(latent, hidden, max_atoms + 1)
        self.lattice = mlp(latent, hidden, 6)
        self.composition = mlp(latent, hidden, NUM_ELEMENTS)

    def forward(self, z: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"num_atoms": self.num_atoms(z), "lattice": self.lattice(z), "composition": self.composition(z)}

    @staticmethod
    def losses(out: dict[str, torch.Tensor], num_atoms: torch.Tensor, scaled_lattice: torch.Tensor,
               atom_types: torch.Tensor, atom_crystal: torch.Tensor) -> dict[str, torch.Tensor]:
        """Atom count: cross-entropy; lattice: MSE of the standardised six numbers; composition:
        every atom's element under its crystal's predicted distribution (CDVAE's per-atom CE)."""
        return {"num_atoms": F.cross_entropy(out["num_atoms"].float(), num_atoms),
                "lattice": F.mse_loss(out["lattice"].float(), scaled_lattice.float()),
                "composition": F.cross_entropy(out["composition"].float()[atom_crystal], atom_types - 1)}
