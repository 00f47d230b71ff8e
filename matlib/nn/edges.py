"""Edge builders: which atom pairs a network's message passing visits.

The all-pairs score networks (the diffusion denoiser and CDVAE's decoder) connect every ordered
pair i != j within each crystal; the radius-based periodic graph is ``matlib.graph``.
"""
from __future__ import annotations

import torch

from ..graph import pair_index


def all_pair_edges(num_atoms: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """Atom -> crystal index, and every ordered pair i != j within each crystal (centre, neighbour)."""
    batch_index = torch.repeat_interleave(torch.arange(len(num_atoms), device=num_atoms.device), num_atoms)
    return batch_index, pair_index(num_atoms)
