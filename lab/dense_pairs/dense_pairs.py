"""The all-pairs score network on padded per-crystal tensors, tried as a GPU fast path (issue 40).

Measured on an H100 (docs/RESULTS.md, Performance): slower than the edge list for MP-20 sampling
(0.56x eager, 0.98x compiled), because padding every crystal to the largest (20 atoms) triples the
pairs; about even for training. Kept here, not in matlib, as the reference for fused-kernel work.

`ScoreNetwork` visits every ordered atom pair through an edge list: gathers, then an `index_add`
back to the atoms. Crystals of MP-20 hold at most 20 atoms, so every pair of a batch also fits a
dense [B, M, M, d] tensor (M: the largest crystal of the batch). Each pair message then becomes one
batched matrix product and the sum over neighbours a reduction along one axis, which `torch.compile`
can fuse. Same weights, same outputs (up to floating-point summation order); padded atoms and the
pairs i = i are masked out of every sum.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from matlib.nn.score_network import ScoreNetwork, fourier_features, symmetric_from_six, time_features, upper_six


class DenseScoreNetwork(nn.Module):
    """A `ScoreNetwork`'s forward on padded tensors; it shares (does not copy) the network's weights."""

    def __init__(self, network: ScoreNetwork):
        super().__init__()
        self.network = network
        self.config = network.config

    def forward(self, tokens: torch.Tensor, frac: torch.Tensor, lattice: torch.Tensor, num_atoms: torch.Tensor,
                t: torch.Tensor, mean_edge: torch.Tensor, edges=None,
                layer_hook: Callable[[int, torch.Tensor], torch.Tensor] | None = None):
        """The arguments and outputs of `ScoreNetwork.forward` (atoms in batch order)."""
        net, c = self.network, self.config
        crystals, size = len(num_atoms), int(num_atoms.max())
        crystal_of = torch.repeat_interleave(torch.arange(crystals, device=frac.device), num_atoms)
        slot = torch.arange(len(tokens), device=frac.device) - (torch.cumsum(num_atoms, 0) - num_atoms)[crystal_of]
        real = torch.arange(size, device=frac.device)[None, :] < num_atoms[:, None]            # (B, M)
        pairs = (real[:, :, None] & real[:, None, :] & ~torch.eye(size, dtype=torch.bool, device=frac.device))
        padded = frac.new_zeros(crystals, size, 3)
        padded[crystal_of, slot] = frac
        diff = padded[:, None, :, :] - padded[:, :, None, :]          # (B, i, j, 3): x_j - x_i
        diff = diff - torch.round(diff)
        edge_features = fourier_features(diff.reshape(-1, 3), c.num_freqs).reshape(crystals, size, size, -1)
        gram = lattice @ lattice.transpose(-1, -2) / (mean_edge ** 2)[:, None, None]
        crystal = torch.cat([net.time(time_features(t, c.time_dim)), upper_six(gram),
                             torch.log(num_atoms.float())[:, None] / 3], -1)
        inverse_degree = 1.0 / (num_atoms - 1).clamp_min(1).to(frac.dtype)[:, None, None]
        inverse_atoms = 1.0 / num_atoms.clamp_min(1).to(frac.dtype)[:, None]
        atoms = net.embed(tokens) + crystal[crystal_of][:, :c.dim]
        if c.element_features:
            atoms = atoms + net.element_in(net.element_table[tokens])
        h = atoms.new_zeros(crystals, size, atoms.shape[1])
        h[crystal_of, slot] = atoms
        for i, (layer, context) in enumerate(zip(net.layers, net.contexts)):
            h = _dense_layer(layer, h, context(crystal), edge_features, pairs, real, inverse_degree, inverse_atoms)
            if layer_hook is not None:     # hooks (adapters) see and return atoms in batch order
                h = h.index_put((crystal_of, slot), layer_hook(i, h[crystal_of, slot]))
        h = net.out_norm(h)
        pooled = (h * real[..., None].to(h.dtype)).sum(1) * inverse_atoms.to(h.dtype)
        lattice_eps = symmetric_from_six(net.lattice_out(torch.cat([pooled, crystal.to(pooled.dtype)], -1)))
        h = h[crystal_of, slot]
        logits = net.type_out(h)
        if c.element_features:
            logits = logits + net.element_out(h) @ net.element_table[1:].to(h.dtype).T
        return net.coord_out(h), lattice_eps, logits


def _dense_layer(layer, h, context, edge_features, pairs, real, inverse_degree, inverse_atoms):
    """`ScoreLayer.forward` on (B, M, d) atoms and (B, M, M, 6K) pair features."""
    hn = layer.norm(h)
    per_atom = layer.centre(hn) + context[:, None, :]
    if layer.crystal_mean is not None:
        means = (hn * real[..., None].to(hn.dtype)).sum(1) * inverse_atoms.to(hn.dtype)
        per_atom = per_atom + layer.crystal_mean(means)[:, None, :]
    messages = layer.message(per_atom[:, :, None, :] + layer.neighbour(hn)[:, None, :, :] + layer.edge(edge_features))
    aggregated = (messages * pairs[..., None].to(messages.dtype)).sum(2).to(h.dtype) * inverse_degree
    return h + layer.update(torch.cat([hn, aggregated], -1))
