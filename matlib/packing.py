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
from dataclasses import dataclass, fields

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

    @classmethod
    def from_tensors(cls, tensors: list[torch.Tensor]) -> "PackedBatch":
        """The inverse of `tensors`."""
        graph = PeriodicGraph(*tensors[9:]) if len(tensors) > 9 else None
        return cls(CrystalBatch(*tensors[:4]), *tensors[4:9], graph=graph)

    def to(self, device) -> "PackedBatch":
        """On ``device``; to a GPU through pinned memory, without blocking the host."""
        device = torch.device(device)
        def move(tensor: torch.Tensor) -> torch.Tensor:
            if device.type == "cuda" and tensor.device.type == "cpu":
                return tensor.pin_memory().to(device, non_blocking=True)
            return tensor.to(device)
        return self.from_tensors([move(tensor) for tensor in self.tensors()])

    def copy_(self, other: "PackedBatch") -> None:
        """Into this batch's own tensors (the addresses a CUDA graph recorded)."""
        for mine, theirs in zip(self.tensors(), other.tensors(), strict=True):
            mine.copy_(theirs, non_blocking=True)

    @property
    def real_crystals(self) -> int:
        return int(self.crystal_weight.sum())


def weighted_mean(values: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """The mean of ``values``, each weighted (a weight of 0 leaves padding out); unweighted without one."""
    return values.mean() if weight is None else (values * weight).sum() / weight.sum()


def edges_and_weights(batch: CrystalBatch | PackedBatch):
    """(crystals, (batch_index, (centre, neighbour)), atom_weight, crystal_weight) of a plain batch
    (every ordered pair, unit weights) or of a packed one (its stored pairs and weights)."""
    if isinstance(batch, PackedBatch):
        return batch.crystals, (batch.batch_index, (batch.centre, batch.neighbour)), batch.atom_weight, batch.crystal_weight
    ones = batch.frac_coords.new_ones
    return batch, all_pair_edges(batch.num_atoms), ones(len(batch.atom_types)), ones(len(batch.num_atoms))


class PackedMinibatches:
    """Endless shuffled epochs packed into fixed-shape batches, built on the CPU (NumPy) and moved
    to ``device``. Every crystal is seen once per epoch; one that does not fit opens the next batch."""

    def __init__(self, batch: CrystalBatch, budget: Budget, seed: int = 0, device=None,
                 graphs: GraphCache | None = None):
        cpu = batch.to("cpu")
        self.budget, self.device = budget, torch.device(device) if device is not None else batch.device
        self.types, self.frac = cpu.atom_types.numpy(), cpu.frac_coords.numpy()
        self.lattice, self.counts = cpu.lattice.numpy(), cpu.num_atoms.numpy()
        self.starts = np.cumsum(self.counts) - self.counts
        self.graphs = None if graphs is None else _HostGraphs(graphs, cpu)
        if (graphs is None) != (budget.edges == 0):
            raise ValueError("graphs and a budget with room for edges (Budget.for_data(..., edge_counts)) go together")
        # what each crystal takes of the budget, and the budget (an edge-free budget never runs out of edges)
        edge_counts = self.graphs.counts if self.graphs else np.zeros_like(self.counts)
        self.costs = np.stack([self.counts, self.counts * (self.counts - 1), edge_counts], 1)
        self.limits = np.array([budget.atoms, budget.pairs, budget.edges or np.iinfo(np.int64).max])
        if (self.costs >= self.limits).any():
            raise ValueError(f"the budget {budget} has no room for the largest crystal ({self.counts.max()} atoms, "
                             f"{edge_counts.max()} edges)")
        # ordered pairs i != j of each crystal, its atoms numbered from 0, all listed once: packing
        # runs on the host beside every step, so it gathers them without a loop over crystals
        templates = [np.argwhere(~np.eye(n, dtype=bool)).T for n in range(int(self.counts.max()) + 1)]
        self.pairs = _AtomPairs(np.concatenate([templates[n] for n in self.counts], 1), self.costs[:, 1])
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
            yield self.pack(head[:take]).to(self.device)
            queue = queue[take:]

    def pack(self, chosen: np.ndarray) -> PackedBatch:
        """The chosen crystals, then the padding crystal, in the budget's shapes."""
        b, counts = self.budget, self.counts[chosen]
        slots, real_atoms = b.crystals + 1, int(counts.sum())
        atom_index = _ranges(self.starts[chosen], counts)
        offsets = np.cumsum(counts) - counts
        (centre, neighbour), _ = self.pairs.gather(chosen, offsets)
        pad_atoms, pad_pairs = b.atoms - real_atoms, b.pairs - len(centre)
        # padding pairs join each padding atom to itself, spread over all of them: summing thousands
        # of messages into one atom would serialise the scatter's atomic adds
        pad_atom = real_atoms + np.arange(pad_pairs) % pad_atoms
        types = np.concatenate([self.types[atom_index], np.ones(pad_atoms, np.int64)])
        frac = np.concatenate([self.frac[atom_index], np.zeros((pad_atoms, 3), self.frac.dtype)])
        num_atoms = np.ones(slots, np.int64)
        num_atoms[:len(chosen)], num_atoms[-1] = counts, pad_atoms
        lattice = np.tile(np.eye(3, dtype=self.lattice.dtype) * 5.0, (slots, 1, 1))  # any well-formed cell
        lattice[:len(chosen)] = self.lattice[chosen]
        batch_index = np.concatenate([np.repeat(np.arange(len(chosen)), counts), np.full(pad_atoms, slots - 1)])
        crystal_weight = np.zeros(slots, np.float32)
        crystal_weight[:len(chosen)] = 1
        t = torch.from_numpy
        graph = self.graphs.pack(chosen, offsets, real_atoms, b) if self.graphs else None
        return PackedBatch(CrystalBatch(t(types), t(frac), t(lattice), t(num_atoms)), t(batch_index),
                           t(np.concatenate([centre, pad_atom])), t(np.concatenate([neighbour, pad_atom])),
                           t((np.arange(b.atoms) < real_atoms).astype(np.float32)), t(crystal_weight), graph)


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The ranges start, ..., start + count - 1, one after another, without a loop."""
    ends = np.cumsum(counts)
    return np.repeat(starts - (ends - counts), counts) + np.arange(ends[-1] if len(ends) else 0)


class _AtomPairs:
    """Each crystal's atom pairs (atoms numbered within the crystal), one crystal after another."""

    def __init__(self, local_index: np.ndarray, counts: np.ndarray):
        self.local_index, self.counts, self.starts = local_index, counts, np.cumsum(counts) - counts

    def gather(self, chosen: np.ndarray, atom_offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The chosen crystals' pairs numbered by the batch's atom slots, and where they are stored."""
        counts = self.counts[chosen]
        stored = _ranges(self.starts[chosen], counts)
        return self.local_index[:, stored] + np.repeat(atom_offsets, counts), stored


class _HostGraphs:
    """A GraphCache's edges as NumPy arrays, each edge's atoms numbered within its crystal."""

    def __init__(self, cache: GraphCache, batch: CrystalBatch):
        if len(cache) != len(batch) or not torch.equal(cache.batch.num_atoms.cpu(), batch.num_atoms):
            raise ValueError("the graphs are of other crystals than the batch")
        g = cache.graph
        self.counts = cache.edge_counts.cpu().numpy()
        crystal_of_edge = np.repeat(np.arange(len(self.counts)), self.counts)
        atom_starts = (torch.cumsum(batch.num_atoms, 0) - batch.num_atoms).numpy()
        self.edges = _AtomPairs(g.edge_index.cpu().numpy() - atom_starts[crystal_of_edge], self.counts)
        self.image, self.vector, self.distance = (x.cpu().numpy() for x in (g.image, g.vector, g.distance))
        self.cutoff = cache.cutoff

    def pack(self, chosen: np.ndarray, atom_offsets: np.ndarray, real_atoms: int, budget: Budget) -> PeriodicGraph:
        """The chosen crystals' edges, then padding edges: each joins a padding atom to itself at the
        cutoff, where the encoder's envelope is zero (spread over all padding atoms, as the pairs)."""
        index, edge = self.edges.gather(chosen, atom_offsets)
        pad_edges, pad_atoms = budget.edges - len(edge), budget.atoms - real_atoms
        pad_atom = real_atoms + np.arange(pad_edges) % pad_atoms
        index = np.concatenate([index, [pad_atom, pad_atom]], 1)
        image = np.concatenate([self.image[edge], np.zeros((pad_edges, 3), self.image.dtype)])
        vector = np.concatenate([self.vector[edge], np.zeros((pad_edges, 3), self.vector.dtype)])
        vector[len(edge):, 0] = self.cutoff
        distance = np.concatenate([self.distance[edge], np.full(pad_edges, self.cutoff, self.distance.dtype)])
        return PeriodicGraph(*(torch.from_numpy(np.ascontiguousarray(x)) for x in (index, image, vector, distance)))
