"""Fixed-shape training batches: crystals packed into a fixed budget of crystals, atoms and atom
pairs (and, for a model with a graph encoder such as CDVAE's, neighbour-graph edges), so that every
training step has the same tensor shapes and one recorded CUDA graph can replay it
(`matlib.captured_step`).

A packed batch holds up to ``budget.crystals`` real crystals, then one padding crystal that owns
every left-over atom slot (at least one), so the shapes never change. Padding atoms pair only
with themselves, and the losses weigh them, and empty crystal slots, by zero: the loss of a packed
batch equals the loss of its real crystals alone (`tests/test_packing.py`). Padding edges also
join padding atoms to themselves, at the cutoff distance, where the encoder's envelope is zero.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .batching import GraphCache
from .crystal import CrystalBatch
from .graph import PeriodicGraph
from .nn.edges import all_pair_edges


@dataclass(frozen=True)
class Budget:
    crystals: int     # real crystal slots (the padding crystal comes on top)
    atoms: int        # atom slots, padding included
    pairs: int        # ordered atom pairs, padding included
    edges: int = 0    # neighbour-graph edges, padding included (0: the batches carry no graph)

    @classmethod
    def for_data(cls, num_atoms: torch.Tensor, batch_size: int, spread: float = 5.0,
                 edge_counts: torch.Tensor | None = None) -> "Budget":
        """Room for ``batch_size`` crystals drawn at random from a dataset with these atom counts
        (and ``edge_counts``, each crystal's graph edges): the mean batch plus ``spread`` standard
        deviations of each (a rarer, larger draw leaves its last crystals for the next batch), and
        always room for the largest crystal."""
        def room(values: torch.Tensor) -> int:
            values = values.double().cpu()
            spread_of_one = values.std(correction=0).item()      # 0, not NaN, for a single crystal
            mean_batch = batch_size * values.mean().item() + spread * math.sqrt(batch_size) * spread_of_one
            return max(math.ceil(mean_batch), int(values.max())) + 1
        n = num_atoms.long()
        return cls(batch_size, room(n), room(n * (n - 1)), 0 if edge_counts is None else room(edge_counts))


_INDEX_FIELDS = ("batch_index", "centre", "neighbour", "atom_weight", "crystal_weight")


@dataclass
class PackedBatch:
    """Tensors of fixed shape for one training step (C = budget.crystals + 1, A atoms, P pairs, E edges)."""
    crystals: CrystalBatch        # C crystals; num_atoms >= 1 so that no feature divides by zero
    batch_index: torch.Tensor     # (A,) crystal of each atom slot
    centre: torch.Tensor          # (P,)
    neighbour: torch.Tensor       # (P,)
    atom_weight: torch.Tensor     # (A,) 1 for a real atom, 0 for padding
    crystal_weight: torch.Tensor  # (C,) 1 for a real crystal, 0 for an empty slot or the padding crystal
    graph: PeriodicGraph | None = None   # (E edges) the clean crystals' neighbour graph, when the budget has edges

    def tensors(self) -> list[torch.Tensor]:
        c, g = self.crystals, self.graph
        graph = [] if g is None else [g.edge_index, g.image, g.vector, g.distance]
        return [c.atom_types, c.frac_coords, c.lattice, c.num_atoms] + [getattr(self, f) for f in _INDEX_FIELDS] + graph

    def copy_(self, other: "PackedBatch") -> None:
        """Into this batch's own tensors (the addresses a CUDA graph recorded)."""
        for mine, theirs in zip(self.tensors(), other.tensors(), strict=True):
            mine.copy_(theirs, non_blocking=True)

    @property
    def real_crystals(self) -> int:
        return int(self.crystal_weight.sum())


def edges_and_weights(batch: CrystalBatch | PackedBatch):
    """(crystals, (batch_index, (centre, neighbour)), atom_weight, crystal_weight) of a plain batch
    (every ordered pair, unit weights) or of a packed one (its stored pairs and weights)."""
    if isinstance(batch, PackedBatch):
        return batch.crystals, (batch.batch_index, (batch.centre, batch.neighbour)), batch.atom_weight, batch.crystal_weight
    ones = batch.frac_coords.new_ones
    return batch, all_pair_edges(batch.num_atoms), ones(len(batch.atom_types)), ones(len(batch.num_atoms))


class PackedMinibatches:
    """Endless shuffled epochs packed into fixed-shape batches. The crystals are chosen on the host
    (NumPy, from their sizes); their atoms, pairs and edges are gathered on ``device``, where the
    data is kept, with every size known beforehand: no host read, no host-to-device copy of the
    batch (packing on the host took as long as a GPU step at 2,048 crystals). Every crystal is seen
    once per epoch; one that does not fit opens the next batch."""

    def __init__(self, batch: CrystalBatch, budget: Budget, seed: int = 0, device=None,
                 graphs: GraphCache | None = None):
        self.budget, self.device = budget, torch.device(device) if device is not None else batch.device
        self.data = batch.to(self.device)
        self.counts = batch.num_atoms.cpu().numpy()             # the host's copy, to choose crystals by
        self.atom_starts = self.data.offsets
        self.graphs = None if graphs is None else _Graphs(graphs, batch, self.device)
        if (graphs is None) != (budget.edges == 0):
            raise ValueError("graphs and a budget with room for edges (Budget.for_data(..., edge_counts)) go together")
        # what each crystal takes of the budget, and the budget (an edge-free budget never runs out of edges)
        edge_counts = self.graphs.edges.counts if self.graphs else np.zeros_like(self.counts)
        self.costs = np.stack([self.counts, self.counts * (self.counts - 1), edge_counts], 1)
        self.limits = np.array([budget.atoms, budget.pairs, budget.edges or np.iinfo(np.int64).max])
        if (self.costs >= self.limits).any():
            raise ValueError(f"the budget {budget} has no room for the largest crystal ({self.counts.max()} atoms, "
                             f"{edge_counts.max()} edges)")
        # ordered pairs i != j of each crystal, its atoms numbered from 0, all listed once
        templates = [np.argwhere(~np.eye(n, dtype=bool)).T for n in range(int(self.counts.max()) + 1)]
        pairs = np.concatenate([templates[n] for n in self.counts], 1)
        self.pairs = _AtomPairs(torch.from_numpy(pairs).to(self.device), self.costs[:, 1])
        self.rng = np.random.default_rng(seed)

    def __iter__(self):
        queue = np.empty(0, np.int64)    # shuffled epochs, one after another
        while True:
            if len(queue) < self.budget.crystals:
                queue = np.concatenate([queue, self.rng.permutation(len(self.counts))])
            head = queue[:self.budget.crystals]
            # the longest run of the queue's first crystals that leaves a slot of each kind for padding
            fits = (np.cumsum(self.costs[head], 0) < self.limits).all(1)
            take = len(head) if fits.all() else int(np.argmin(fits))
            yield self.pack(head[:take])
            queue = queue[take:]

    def pack(self, chosen: np.ndarray) -> PackedBatch:
        """The chosen crystals, then the padding crystal, in the budget's shapes, on the device."""
        b, d, device = self.budget, self.data, self.device
        slots, real_atoms, real = b.crystals + 1, int(self.counts[chosen].sum()), len(chosen)
        chosen_host, chosen = chosen, _to_device(chosen, device)
        counts = d.num_atoms[chosen]
        offsets = torch.cumsum(counts, 0) - counts
        atom_index = _ranges(self.atom_starts[chosen], counts, real_atoms)
        (centre, neighbour), _ = self.pairs.gather(chosen_host, chosen, offsets)
        pad_atoms, pad_pairs = b.atoms - real_atoms, b.pairs - len(centre)
        arange = lambda n: torch.arange(n, device=device)
        pad_atom = _padding_atoms(pad_pairs, real_atoms, pad_atoms, device)
        types = torch.cat([d.atom_types[atom_index], torch.ones(pad_atoms, dtype=d.atom_types.dtype, device=device)])
        frac = torch.cat([d.frac_coords[atom_index], d.frac_coords.new_zeros(pad_atoms, 3)])
        num_atoms = torch.cat([counts, counts.new_ones(slots - real - 1), counts.new_full((1,), pad_atoms)])
        cells = torch.cat([d.lattice[chosen], (5.0 * torch.eye(3, dtype=d.lattice.dtype, device=device)).expand(
            slots - real, 3, 3)])        # any well-formed cell for the empty slots and the padding crystal
        batch_index = torch.cat([torch.repeat_interleave(arange(real), counts, output_size=real_atoms),
                                 torch.full((pad_atoms,), slots - 1, device=device)])
        crystal_weight = (arange(slots) < real).float()
        graph = self.graphs.pack(chosen_host, chosen, offsets, real_atoms, b) if self.graphs else None
        return PackedBatch(CrystalBatch(types, frac, cells, num_atoms), batch_index, torch.cat([centre, pad_atom]),
                           torch.cat([neighbour, pad_atom]), (arange(b.atoms) < real_atoms).float(), crystal_weight,
                           graph)


def _padding_atoms(count: int, real_atoms: int, pad_atoms: int, device) -> torch.Tensor:
    """The atoms of ``count`` padding pairs or edges, each joining a padding atom to itself, spread
    over all of them: summing thousands of messages into one atom would serialise the scatter's atomic adds."""
    return real_atoms + torch.arange(count, device=device) % pad_atoms


def _to_device(values: np.ndarray, device: torch.device) -> torch.Tensor:
    """A small host array on ``device`` without waiting for the device (through pinned memory)."""
    tensor = torch.from_numpy(np.ascontiguousarray(values))
    return tensor.pin_memory().to(device, non_blocking=True) if device.type == "cuda" else tensor.to(device)


def _ranges(starts: torch.Tensor, counts: torch.Tensor, total: int) -> torch.Tensor:
    """The ranges start, ..., start + count - 1, one after another; ``total``, their length, is
    known on the host, so the device is never asked for it."""
    ends = torch.cumsum(counts, 0)
    return (torch.repeat_interleave(starts - (ends - counts), counts, output_size=total)
            + torch.arange(total, device=starts.device))


class _AtomPairs:
    """Each crystal's atom pairs (atoms numbered within the crystal), one crystal after another,
    on the device; the counts also on the host, which sizes every gather."""

    def __init__(self, local_index: torch.Tensor, counts: np.ndarray):
        self.local_index, self.counts = local_index, counts
        device_counts = torch.from_numpy(counts).to(local_index.device)
        self.device_counts, self.starts = device_counts, torch.cumsum(device_counts, 0) - device_counts

    def gather(self, chosen_host: np.ndarray, chosen: torch.Tensor, atom_offsets: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """The chosen crystals' pairs numbered by the batch's atom slots, and where they are stored."""
        total, counts = int(self.counts[chosen_host].sum()), self.device_counts[chosen]
        stored = _ranges(self.starts[chosen], counts, total)
        return self.local_index[:, stored] + torch.repeat_interleave(atom_offsets, counts, output_size=total), stored


class _Graphs:
    """A GraphCache's edges on the device, each edge's atoms numbered within its crystal."""

    def __init__(self, cache: GraphCache, batch: CrystalBatch, device: torch.device):
        if len(cache) != len(batch) or not torch.equal(cache.batch.num_atoms.cpu(), batch.num_atoms.cpu()):
            raise ValueError("the graphs are of other crystals than the batch")
        g, counts = cache.graph, cache.edge_counts.cpu().numpy()
        crystal_of_edge = torch.from_numpy(np.repeat(np.arange(len(counts)), counts)).to(device)
        atom_starts = cache.batch.offsets.to(device)
        self.edges = _AtomPairs(g.edge_index.to(device) - atom_starts[crystal_of_edge], counts)
        self.image, self.vector, self.distance = (x.to(device) for x in (g.image, g.vector, g.distance))
        self.cutoff = cache.cutoff

    def pack(self, chosen_host: np.ndarray, chosen: torch.Tensor, atom_offsets: torch.Tensor, real_atoms: int,
             budget: Budget) -> PeriodicGraph:
        """The chosen crystals' edges, then padding edges: each joins a padding atom to itself at the
        cutoff, where the encoder's envelope is zero (spread over all padding atoms, as the pairs)."""
        index, edge = self.edges.gather(chosen_host, chosen, atom_offsets)
        pad_edges = budget.edges - len(edge)
        pad_atom = _padding_atoms(pad_edges, real_atoms, budget.atoms - real_atoms, index.device)
        pad_vector = self.vector.new_zeros(pad_edges, 3)
        pad_vector[:, 0] = self.cutoff
        return PeriodicGraph(torch.cat([index, torch.stack([pad_atom, pad_atom])], 1),
                             torch.cat([self.image[edge], self.image.new_zeros(pad_edges, 3)]),
                             torch.cat([self.vector[edge], pad_vector]),
                             torch.cat([self.distance[edge], self.distance.new_full((pad_edges,), self.cutoff)]))
