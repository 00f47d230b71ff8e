"""Graphs computed once per dataset, served as shuffled mini-batches.

Neighbour search costs far more than a training step on a CPU, and the crystals of a property
dataset never move, so the graph of every crystal is built once and sliced per batch.
"""
from __future__ import annotations

import torch

from .crystal import CrystalBatch, _ranges
from .graph import PeriodicGraph, radius_graph


class GraphCache:
    def __init__(self, batch: CrystalBatch, cutoff: float, max_neighbors: int | None = None,
                 targets: torch.Tensor | None = None):
        self.batch, self.targets, self.cutoff = batch, targets, cutoff
        graph = radius_graph(batch, cutoff, max_neighbors)
        crystal_of_edge = batch.batch_index[graph.edge_index[0]]
        order = torch.argsort(crystal_of_edge, stable=True)
        self.graph = PeriodicGraph(graph.edge_index[:, order], graph.image[order], graph.vector[order],
                                   graph.distance[order])
        self.edge_counts = torch.bincount(crystal_of_edge, minlength=len(batch))
        self.edge_starts = torch.cumsum(self.edge_counts, 0) - self.edge_counts

    def __len__(self) -> int:
        return len(self.batch)

    def get(self, indices: torch.Tensor) -> tuple[CrystalBatch, PeriodicGraph, torch.Tensor | None]:
        idx = torch.as_tensor(indices, dtype=torch.long, device=self.batch.device)
        sub = self.batch.select(idx)
        counts = self.edge_counts[idx]
        edges = torch.repeat_interleave(self.edge_starts[idx], counts) + _ranges(counts)
        # renumber atoms from positions in the full batch to positions in the sub-batch
        shift = torch.repeat_interleave(sub.offsets - self.batch.offsets[idx], counts)
        g = self.graph
        sub_graph = PeriodicGraph(g.edge_index[:, edges] + shift, g.image[edges], g.vector[edges], g.distance[edges])
        return sub, sub_graph, None if self.targets is None else self.targets[idx]


class Minibatches:
    """Re-iterable: each pass is a new shuffled epoch over `indices` (what `training.fit` cycles)."""

    def __init__(self, cache: GraphCache, indices: torch.Tensor, batch_size: int, shuffle: bool = True,
                 seed: int = 0):
        self.cache, self.indices, self.batch_size, self.shuffle = cache, torch.as_tensor(indices), batch_size, shuffle
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return -(-len(self.indices) // self.batch_size)

    def __iter__(self):
        order = self.indices[torch.randperm(len(self.indices), generator=self.generator)] if self.shuffle else self.indices
        for start in range(0, len(order), self.batch_size):
            yield self.cache.get(order[start:start + self.batch_size])


def shuffled_indices(count: int, batch_size: int, seed: int = 0, device=None):
    """Endless shuffled epochs of index mini-batches over ``count`` items, on ``device``."""
    generator = torch.Generator().manual_seed(seed)
    while True:
        order = torch.randperm(count, generator=generator).to(device)
        # full batches only (a short last one would skew the loss), unless the set is smaller than one batch
        for start in range(0, max(count - batch_size, 0) + 1, batch_size):
            yield order[start:start + batch_size]


def crystal_minibatches(batch: CrystalBatch, batch_size: int, seed: int = 0, values: torch.Tensor | None = None):
    """Endless shuffled epochs of crystal mini-batches, sliced on the batch's own device.

    With ``values`` (one per crystal, e.g. property labels) each item is ``(minibatch, its values)``.
    """
    if values is not None:
        values = values.to(batch.device)
    for chosen in shuffled_indices(len(batch), batch_size, seed, batch.device):
        yield batch.select(chosen) if values is None else (batch.select(chosen), values[chosen])
