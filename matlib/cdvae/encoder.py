"""CDVAE's encoder: a periodic GNN gives a crystal vector, then a Gaussian posterior over z."""
from __future__ import annotations

import torch
from torch import nn

from ..crystal import CrystalBatch
from ..nn.gnn import GNNConfig, PeriodicGNN
from ..graph import PeriodicGraph
from ..nn.weighting import weighted_mean


class CrystalEncoder(nn.Module):
    def __init__(self, gnn: GNNConfig, latent: int):
        super().__init__()
        self.gnn = PeriodicGNN(gnn)
        self.mu = nn.Linear(gnn.dim, latent)
        self.logvar = nn.Linear(gnn.dim, latent)

    def forward(self, batch: CrystalBatch, generator: torch.Generator | None = None,
                graph: PeriodicGraph | None = None, batch_index: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(mu, logvar, z) with z = mu + sigma * eps (the reparameterisation trick). ``graph``: the
        batch's neighbour graph when precomputed (clean crystals never move, so a GraphCache can serve
        it); ``batch_index``: each atom's crystal when known (a packed batch's)."""
        h = self.gnn.crystal_vectors(batch, graph, batch_index)
        mu, logvar = self.mu(h), self.logvar(h).clamp(-10, 10)
        eps = torch.randn(mu.shape, device=mu.device, generator=generator, dtype=mu.dtype)
        return mu, logvar, mu + torch.exp(0.5 * logvar) * eps

    @staticmethod
    def kl(mu: torch.Tensor, logvar: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        """KL(q(z|x) || N(0, I)), summed over latent dimensions, averaged over crystals (``weight``
        (B,) of 0 leaves a packed batch's empty slots out)."""
        return weighted_mean(-0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(-1), weight)
