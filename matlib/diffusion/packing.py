"""Fixed-shape training batches: crystals packed into a fixed budget of crystals, atoms and atom
pairs, so that every training step has the same tensor shapes and one recorded CUDA graph can
replay it (`matlib.captured_step`).

A packed batch holds up to ``budget.crystals`` real crystals, then one padding crystal that owns
every left-over atom slot (at least one), so the shapes never change. Padding atoms pair only
with themselves, and the losses weigh them, and empty crystal slots, by zero: the loss of a packed
batch equals the loss of its real crystals alone (`tests/test_packing.py`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
import torch

from ..crystal import CrystalBatch
from ..nn.edges import all_pair_edges


@dataclass(frozen=True)
class Budget:
    crystals: int     # real crystal slots (the padding crystal comes on top)
    atoms: int        # atom slots, padding included
    pairs: int        # ordered atom pairs, padding included

    @classmethod
    def for_data(cls, num_atoms: torch.Tensor, batch_size: int, spread: float = 5.0) -> "Budget":
        """Room for ``batch_size`` crystals drawn at random from a dataset with these atom counts:
        the mean batch plus ``spread`` standard deviations of atoms and pairs (a rarer, larger draw
        leaves its last crystals for the next batch), and always room for the largest crystal."""
        n = num_atoms.double()
        pairs = n * (n - 1)
        def room(values: torch.Tensor) -> int:
            spread_of_one = values.std(correction=0).item()      # 0, not NaN, for a single crystal
            return math.ceil(batch_size * values.mean().item() + spread * math.sqrt(batch_size) * spread_of_one)
        return cls(batch_size, max(room(n), int(n.max())) + 1, max(room(pairs), int(pairs.max())) + 1)


@dataclass
class PackedBatch:
    """Tensors of fixed shape for one training step (C = budget.crystals + 1, A atoms, P pairs)."""
    crystals: CrystalBatch        # C crystals; num_atoms >= 1 so that no feature divides by zero
    batch_index: torch.Tensor     # (A,) crystal of each atom slot
    centre: torch.Tensor          # (P,)
    neighbour: torch.Tensor       # (P,)
    atom_weight: torch.Tensor     # (A,) 1 for a real atom, 0 for padding
    crystal_weight: torch.Tensor  # (C,) 1 for a real crystal, 0 for an empty slot or the padding crystal

    def to(self, device) -> "PackedBatch":
        """On ``device``; to a GPU through pinned memory, without blocking the host."""
        device = torch.device(device)
        def move(tensor: torch.Tensor) -> torch.Tensor:
            if device.type == "cuda" and tensor.device.type == "cpu":
                return tensor.pin_memory().to(device, non_blocking=True)
            return tensor.to(device)
        c = self.crystals
        return PackedBatch(CrystalBatch(*(move(x) for x in (c.atom_types, c.frac_coords, c.lattice, c.num_atoms))),
                           *(move(getattr(self, f.name)) for f in fields(self)[1:]))

    def tensors(self) -> list[torch.Tensor]:
        c = self.crystals
        return [c.atom_types, c.frac_coords, c.lattice, c.num_atoms] + [getattr(self, f.name) for f in fields(self)[1:]]

    def copy_(self, other: "PackedBatch") -> None:
        """Into this batch's own tensors (the addresses a CUDA graph recorded)."""
        for mine, theirs in zip(self.tensors(), other.tensors()):
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
    """Endless shuffled epochs packed into fixed-shape batches, built on the CPU (NumPy) and moved
    to ``device``. Every crystal is seen once per epoch; one that does not fit opens the next batch."""

    def __init__(self, batch: CrystalBatch, budget: Budget, seed: int = 0, device=None):
        cpu = batch.to("cpu")
        self.budget, self.device = budget, torch.device(device) if device is not None else batch.device
        self.types, self.frac = cpu.atom_types.numpy(), cpu.frac_coords.numpy()
        self.lattice, self.counts = cpu.lattice.numpy(), cpu.num_atoms.numpy()
        self.starts = np.cumsum(self.counts) - self.counts
        if (self.counts.max() >= budget.atoms) or (self.counts * (self.counts - 1)).max() >= budget.pairs:
            raise ValueError(f"the budget {budget} has no room for the largest crystal ({self.counts.max()} atoms)")
        sizes = range(int(self.counts.max()) + 1)
        # ordered pairs i != j of an n-atom crystal, numbered from 0: NumPy on the host, where packing
        # runs beside every step (0.5 ms for 256 crystals; graph.pair_index's torch ops take 14-22 ms)
        self.templates = [np.argwhere(~np.eye(n, dtype=bool)).T for n in sizes]
        self.rng = np.random.default_rng(seed)

    def __iter__(self):
        order, at = self.rng.permutation(len(self.counts)), 0
        while True:
            chosen, atoms, pairs = [], 0, 0
            while len(chosen) < self.budget.crystals:
                if at == len(order):
                    order, at = self.rng.permutation(len(self.counts)), 0
                n = int(self.counts[order[at]])
                if atoms + n >= self.budget.atoms or pairs + n * (n - 1) >= self.budget.pairs:
                    break
                chosen.append(order[at])
                atoms, pairs, at = atoms + n, pairs + n * (n - 1), at + 1
            yield self.pack(np.asarray(chosen)).to(self.device)

    def pack(self, chosen: np.ndarray) -> PackedBatch:
        """The chosen crystals, then the padding crystal, in the budget's shapes."""
        b, counts = self.budget, self.counts[chosen]
        slots, real_atoms = b.crystals + 1, int(counts.sum())
        atom_index = np.concatenate([np.arange(s, s + n) for s, n in zip(self.starts[chosen], counts)])
        offsets = np.cumsum(counts) - counts
        centre, neighbour = (np.concatenate([self.templates[n][k] + o for n, o in zip(counts, offsets)])
                             for k in (0, 1))
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
        return PackedBatch(CrystalBatch(t(types), t(frac), t(lattice), t(num_atoms)), t(batch_index),
                           t(np.concatenate([centre, pad_atom])), t(np.concatenate([neighbour, pad_atom])),
                           t((np.arange(b.atoms) < real_atoms).astype(np.float32)), t(crystal_weight))
