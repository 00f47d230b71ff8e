"""From z to what the decoder needs before it starts: atom count, lattice, composition (CDVAE)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.elements import NUM_ELEMENTS
from ..nn.weighting import weighted_mean


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
               atom_types: torch.Tensor, atom_crystal: torch.Tensor, atom_weight: torch.Tensor | None = None,
               crystal_weight: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Atom count: cross-entropy; lattice: MSE of the standardised six numbers; composition:
        every atom's element under its crystal's predicted distribution (CDVAE's per-atom CE).
        The weights (0 for a packed batch's padding) average over real atoms and crystals only."""
        logits = out["num_atoms"].float()
        # a packed batch's padding crystal may hold more atoms than there are classes: weighed out, but in range
        count_target = num_atoms.clamp(max=logits.shape[-1] - 1)
        lattice_error = ((out["lattice"].float() - scaled_lattice.float()) ** 2).mean(-1)
        composition = F.cross_entropy(out["composition"].float()[atom_crystal], atom_types - 1, reduction="none")
        return {"num_atoms": weighted_mean(F.cross_entropy(logits, count_target, reduction="none"), crystal_weight),
                "lattice": weighted_mean(lattice_error, crystal_weight),
                "composition": weighted_mean(composition, atom_weight)}
