"""A periodic message-passing network (CGCNN/SchNet family), built from small parts.

Pieces, in the order notebook 01 introduces them:
  GaussianBasis     distances -> smooth features (a "soft histogram" of bond lengths)
  cosine_envelope   weights that fall to zero at the cutoff, so edges appear/disappear smoothly
  GatedConv         message passing with a sigmoid gate on each message (CGCNN's update)
  scatter_mean      pooling atoms into one vector per crystal
  PeriodicGNN       embedding -> convs -> pooling -> property head

The network sees only species and interatomic distances (periodic images included), so its output
cannot depend on the choice of unit cell, on translations, on rotations or on atom order.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..crystal import CrystalBatch
from ..graph import PeriodicGraph, radius_graph

MAX_Z = 100


class GaussianBasis(nn.Module):
    """Centres evenly spaced from ``start`` to ``cutoff``; Con-CDVAE reuses it for property values."""

    def __init__(self, cutoff: float, size: int = 48, start: float = 0.0):
        super().__init__()
        self.register_buffer("centers", torch.linspace(start, cutoff, size))
        self.gamma = 1.0 / ((cutoff - start) / (size - 1)) ** 2  # width = spacing: neighbours overlap smoothly

    def forward(self, distance: torch.Tensor) -> torch.Tensor:
        return torch.exp(-self.gamma * (distance[:, None] - self.centers) ** 2)


def cosine_envelope(distance: torch.Tensor, cutoff: float) -> torch.Tensor:
    return 0.5 * (torch.cos(math.pi * distance / cutoff) + 1.0) * (distance < cutoff)


def scatter_sum(values: torch.Tensor, index: torch.Tensor, size: int) -> torch.Tensor:
    out = torch.zeros(size, *values.shape[1:], dtype=values.dtype, device=values.device)
    return out.index_add_(0, index, values)


def scatter_mean(values: torch.Tensor, index: torch.Tensor, size: int, counts: torch.Tensor | None = None) -> torch.Tensor:
    """Mean of the values with each index; ``counts`` (how many there are) when known, as a batch's
    atom counts (counting them on a GPU reads the largest index back to the host)."""
    counts = torch.bincount(index, minlength=size) if counts is None else counts
    return scatter_sum(values, index, size) / counts.clamp(min=1).to(values.dtype)[:, None]


class GatedConv(nn.Module):
    """h_i <- h_i + act(norm(sum_j sigmoid(W_g z_ij) * softplus(W_c z_ij))), z_ij = [h_i, h_j, e_ij]."""

    def __init__(self, dim: int, edge_dim: int):
        super().__init__()
        self.linear = nn.Linear(2 * dim + edge_dim, 2 * dim)
        self.norm = nn.LayerNorm(dim)

    def joined_product(self, h: torch.Tensor, edge_index: torch.Tensor, edge_features: torch.Tensor) -> torch.Tensor:
        """W [h_i, h_j, e_ij] + b for every edge: the gate's and the core's inputs side by side."""
        centre, neighbour = edge_index
        return self.linear(torch.cat([h[centre], h[neighbour], edge_features], -1))

    def forward(self, h: torch.Tensor, edge_index: torch.Tensor, edge_features: torch.Tensor,
                envelope: torch.Tensor) -> torch.Tensor:
        centre = edge_index[0]
        gate, core = self.joined_product(h, edge_index, edge_features).chunk(2, -1)
        messages = torch.sigmoid(gate) * F.softplus(core) * envelope[:, None]
        # sum in (at least) float32: bf16 sums over many neighbours lose precision
        messages = messages.to(torch.promote_types(messages.dtype, h.dtype))
        return h + F.silu(self.norm(scatter_sum(messages, centre, h.shape[0])))


@dataclass
class GNNConfig:
    targets: tuple[str, ...] = ("formation_energy_per_atom",)
    dim: int = 96
    layers: int = 4
    rbf: int = 48
    cutoff: float = 6.0
    max_neighbors: int | None = 24

    def as_dict(self) -> dict:
        d = asdict(self)
        d["targets"] = list(self.targets)
        return d


class PeriodicGNN(nn.Module):
    """Crystal -> vector -> properties. Targets are learned standardised; `predict` undoes that."""

    def __init__(self, config: GNNConfig):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(MAX_Z + 1, config.dim)
        self.basis = GaussianBasis(config.cutoff, config.rbf)
        self.convs = nn.ModuleList(GatedConv(config.dim, config.rbf) for _ in range(config.layers))
        self.head = nn.Sequential(nn.Linear(config.dim, config.dim), nn.SiLU(), nn.Linear(config.dim, len(config.targets)))
        self.register_buffer("target_mean", torch.zeros(len(config.targets)))
        self.register_buffer("target_std", torch.ones(len(config.targets)))

    def set_target_scale(self, targets: torch.Tensor) -> None:
        """Standardise with the training targets' mean and std (NaN rows ignored; infinite or
        absurd values refused)."""
        from ..targets import check_labels

        for column, name in enumerate(self.config.targets):
            check_labels(targets.reshape(len(targets), -1)[:, column], f"training targets of {name}")
        self.target_mean.copy_(torch.nanmean(targets, 0))
        centred = targets - self.target_mean
        self.target_std.copy_(torch.sqrt(torch.nanmean(centred ** 2, 0)).clamp(min=1e-6))

    def graph(self, batch: CrystalBatch) -> PeriodicGraph:
        return radius_graph(batch, self.config.cutoff, self.config.max_neighbors)

    def crystal_vectors(self, batch: CrystalBatch, graph: PeriodicGraph | None = None,
                        batch_index: torch.Tensor | None = None) -> torch.Tensor:
        """Each crystal's mean atom vector. ``batch_index``: each atom's crystal when known (a packed
        batch's); derived from the atom counts, its length is read back to the host."""
        graph = graph if graph is not None else self.graph(batch)
        h = self.embed(batch.atom_types)
        edge_features = self.basis(graph.distance.to(h.dtype))
        envelope = cosine_envelope(graph.distance.to(h.dtype), self.config.cutoff)
        for conv in self.convs:
            h = conv(h, graph.edge_index, edge_features, envelope)
        batch_index = batch.batch_index if batch_index is None else batch_index
        return scatter_mean(h, batch_index, len(batch), counts=batch.num_atoms)

    def forward(self, batch: CrystalBatch, graph: PeriodicGraph | None = None) -> torch.Tensor:
        """Standardised predictions, shape (crystals, targets)."""
        return self.head(self.crystal_vectors(batch, graph))

    @torch.no_grad()
    def predict(self, batch: CrystalBatch, graph: PeriodicGraph | None = None) -> torch.Tensor:
        return self(batch, graph).float() * self.target_std + self.target_mean


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
