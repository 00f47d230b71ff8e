"""The all-pairs score network, shared by the diffusion denoiser and CDVAE's decoder: periodic message
passing on fractional differences (DiffCSP's CSPNet idea).

Inputs are invariant by construction: fractional differences x_j - x_i (periodic translations
cancel, wrapped so the image does not matter) enter through Fourier features sin/cos(2 pi k d);
the cell enters through its Gram matrix (rotations cancel) normalised by the mean cell; atoms are
a set (sum/mean aggregation, no order). Outputs per atom: sigma * score of the fractional
coordinates (3) and element logits (100); per crystal: the symmetric lattice noise (6 entries).

Cost: every layer touches every ordered atom pair, so the first edge linear layer is split into a
per-atom part (computed once per atom, then gathered) and a per-edge Fourier part.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Callable

import torch
from torch import nn

from .edges import all_pair_edges
from .element_features import element_feature_table
from .elements import NUM_ELEMENTS
from .fused_pairs import PairPlan, fused_pair_messages


@dataclass
class DenoiserConfig:
    dim: int = 256
    layers: int = 4
    num_freqs: int = 24
    time_dim: int = 64
    global_context: bool = False   # each block also sees its crystal's mean atom state (the cell's make-up)
    element_features: bool = False  # elements enter and leave through periodic-table features as well

    def as_dict(self) -> dict:
        return asdict(self)


def fourier_features(diff: torch.Tensor, num_freqs: int) -> torch.Tensor:
    k = torch.arange(1, num_freqs + 1, device=diff.device, dtype=diff.dtype)
    angles = 2 * math.pi * diff.unsqueeze(-1) * k                  # (E, 3, K)
    return torch.cat([angles.sin(), angles.cos()], -1).flatten(1)   # (E, 6K)


def time_features(t: torch.Tensor, dim: int) -> torch.Tensor:
    freqs = torch.exp(torch.linspace(0, math.log(1000), dim // 2, device=t.device))
    angles = t[:, None] * freqs
    return torch.cat([angles.sin(), angles.cos()], -1)


def upper_six(matrix: torch.Tensor) -> torch.Tensor:
    """The six upper-triangle entries (00, 01, 02, 11, 12, 22) of (..., 3, 3) symmetric matrices.
    Slices, not an index tensor: no host-to-device copy, so a recorded CUDA graph can hold it."""
    return torch.stack([matrix[..., i, j] for i, j in ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))], -1)


def symmetric_from_six(six: torch.Tensor) -> torch.Tensor:
    """The symmetric (..., 3, 3) matrices whose upper triangles are ``six`` (upper_six's order)."""
    a, b, c, d, e, f = six.unbind(-1)
    return torch.stack([a, b, c, b, d, e, c, e, f], -1).unflatten(-1, (3, 3))


class ScoreLayer(nn.Module):
    def __init__(self, dim: int, edge_dim: int, global_context: bool = False):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.centre = nn.Linear(dim, dim)
        # pair messages mix each neighbour's element with its noisy offset; a per-crystal mean gives
        # every atom the cell's composition directly, which counting charges needs
        self.crystal_mean = nn.Linear(dim, dim, bias=False) if global_context else None
        self.neighbour = nn.Linear(dim, dim, bias=False)
        self.edge = nn.Linear(edge_dim, dim, bias=False)
        self.message = nn.Sequential(nn.SiLU(), nn.Linear(dim, dim), nn.SiLU())
        self.update = nn.Sequential(nn.Linear(2 * dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, h, context, centre, neighbour, edge_features, inverse_degree, batch_index=None,
                inverse_atoms=None, plan: PairPlan | None = None, frac=None):
        hn = self.norm(h)
        per_atom = self.centre(hn) + context
        if self.crystal_mean is not None:
            means = torch.zeros(len(inverse_atoms), h.shape[1], device=h.device, dtype=hn.dtype)
            means = means.index_add_(0, batch_index, hn) * inverse_atoms.to(hn.dtype)
            per_atom = per_atom + self.crystal_mean(means)[batch_index]
        if plan is not None:    # the same messages, built and summed on chip (``fused_pairs``)
            linear = self.message[1]
            aggregated = fused_pair_messages(per_atom, self.neighbour(hn), frac, self.edge.weight,
                                             linear.weight.to(per_atom.dtype), linear.bias, plan,
                                             self.edge.in_features // 6, inverse_degree).to(h.dtype)
        else:
            m = self.message(per_atom[centre] + self.neighbour(hn)[neighbour] + self.edge(edge_features))
            aggregated = torch.zeros_like(h).index_add_(0, centre, m.to(h.dtype)) * inverse_degree
        return h + self.update(torch.cat([hn, aggregated], -1))


class ScoreNetwork(nn.Module):
    def __init__(self, config: DenoiserConfig = DenoiserConfig()):
        super().__init__()
        self.config = config
        d = config.dim
        self.embed = nn.Embedding(NUM_ELEMENTS + 1, d)  # token 0 = [MASK]
        if config.element_features:
            # a buffer, so a checkpoint keeps the table it was trained with; row 0 ([MASK]) stays zero
            table = element_feature_table()
            self.register_buffer("element_table", torch.cat([table.new_zeros(1, table.shape[1]), table]))
            self.element_in = nn.Linear(table.shape[1], d, bias=False)
            self.element_out = nn.Linear(d, table.shape[1], bias=False)
        self.time = nn.Sequential(nn.Linear(config.time_dim, d), nn.SiLU(), nn.Linear(d, d))
        context_in = d + 6 + 1  # time, normalised Gram matrix, log N
        self.contexts = nn.ModuleList(nn.Linear(context_in, d, bias=False) for _ in range(config.layers))
        self.layers = nn.ModuleList(ScoreLayer(d, 6 * config.num_freqs, config.global_context)
                                    for _ in range(config.layers))
        self.out_norm = nn.LayerNorm(d)
        self.coord_out = nn.Linear(d, 3, bias=False)
        self.type_out = nn.Linear(d, NUM_ELEMENTS)
        self.lattice_out = nn.Sequential(nn.Linear(d + context_in, d), nn.SiLU(), nn.Linear(d, 6))

    def forward(self, tokens: torch.Tensor, frac: torch.Tensor, lattice: torch.Tensor, num_atoms: torch.Tensor,
                t: torch.Tensor, mean_edge: torch.Tensor, edges: tuple[torch.Tensor, torch.Tensor] | None = None,
                layer_hook: Callable[[int, torch.Tensor], torch.Tensor] | None = None):
        """tokens (N,), frac (N,3), lattice (B,3,3) symmetric, num_atoms (B,), t (B,), mean_edge (B,)
        the mean cell's edge length. ``edges`` = (batch_index, edge_index) if precomputed, or a
        ``PairPlan`` for the fused pair messages (sampling on a GPU; no gradients).
        ``layer_hook(i, h)`` may modify atom features after block i (adapters use it)."""
        plan = edges if isinstance(edges, PairPlan) else None
        if plan is not None:
            batch_index, centre, neighbour, edge_features = plan.batch_index, None, None, None
        else:
            batch_index, (centre, neighbour) = edges if edges is not None else all_pair_edges(num_atoms)
            diff = frac[neighbour] - frac[centre]
            diff = diff - torch.round(diff)
            edge_features = fourier_features(diff, self.config.num_freqs)
        gram = lattice @ lattice.transpose(-1, -2) / (mean_edge ** 2)[:, None, None]
        crystal = torch.cat([self.time(time_features(t, self.config.time_dim)), upper_six(gram),
                             torch.log(num_atoms.float())[:, None] / 3], -1)
        per_atom_crystal = crystal[batch_index]
        inverse_degree = 1.0 / (num_atoms[batch_index] - 1).clamp_min(1).to(frac.dtype)[:, None]
        inverse_atoms = 1.0 / num_atoms.clamp_min(1).to(frac.dtype)[:, None]
        h = self.embed(tokens) + per_atom_crystal[:, :self.config.dim]
        if self.config.element_features:
            h = h + self.element_in(self.element_table[tokens])
        for i, (layer, context) in enumerate(zip(self.layers, self.contexts)):
            h = layer(h, context(per_atom_crystal), centre, neighbour, edge_features, inverse_degree, batch_index,
                      inverse_atoms, plan, frac)
            if layer_hook is not None:
                h = layer_hook(i, h)
        h = self.out_norm(h)
        pooled = torch.zeros(len(num_atoms), h.shape[1], device=h.device, dtype=h.dtype).index_add_(0, batch_index, h)
        pooled = pooled / num_atoms[:, None].to(h.dtype)
        lattice_eps = symmetric_from_six(self.lattice_out(torch.cat([pooled, crystal.to(pooled.dtype)], -1)))
        logits = self.type_out(h)
        if self.config.element_features:
            # each element's logit also reads its features: chemically alike elements share evidence
            logits = logits + self.element_out(h) @ self.element_table[1:].to(h.dtype).T
        return self.coord_out(h), lattice_eps, logits

