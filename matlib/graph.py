"""Periodic graphs in plain torch (no compiled PyG extensions, so it runs wherever torch does).

Edge convention, the same as pymatgen's `Structure.get_neighbor_list`: edge e goes from centre
atom ``edge_index[0, e]`` to neighbour ``edge_index[1, e]`` sitting in the periodic image
``image[e]`` (integer lattice offset), so the bond vector is
``x[nbr] + image @ lattice - x[centre]``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .crystal import CrystalBatch, _ranges, wrap_frac


@dataclass
class PeriodicGraph:
    edge_index: torch.Tensor  # (2, E) global atom indices: centre, neighbour
    image: torch.Tensor       # (E, 3) integer lattice offsets of the neighbour
    vector: torch.Tensor      # (E, 3) Cartesian bond vectors, Å
    distance: torch.Tensor    # (E,) bond lengths, Å

    @property
    def num_edges(self) -> int:
        return int(self.distance.numel())

    def degree(self, num_nodes: int) -> torch.Tensor:
        return torch.bincount(self.edge_index[0], minlength=num_nodes)


def images_needed(lattice: torch.Tensor, cutoff: float) -> torch.Tensor:
    """How many lattice images along each axis can hold a neighbour within `cutoff`.

    The spacing of lattice planes normal to axis i is 1/|b_i| with b = inv(L)^T, so an image n
    planes away is at least n/|b_i| distant; frac coords in [0,1) add one more plane.
    """
    recip = torch.linalg.inv(lattice).transpose(-1, -2)
    return torch.ceil(cutoff * recip.norm(dim=-1)).long() + 1


def radius_graph(batch: CrystalBatch, cutoff: float, max_neighbors: int | None = None,
                 chunk_size: int = 4_000_000) -> PeriodicGraph:
    """All neighbours within `cutoff` Å across periodic images, crystal by crystal (batched).

    Cells smaller than the cutoff are handled: an atom then neighbours its own images.
    `max_neighbors` keeps each centre's nearest ones (ties broken by order), as CDVAE's decoder does.
    """
    device = batch.device
    frac = wrap_frac(batch.frac_coords)
    n_img = images_needed(batch.lattice.double(), cutoff)            # (B, 3)
    spans = 2 * n_img + 1
    n_offsets = spans.prod(-1)                                        # images per crystal
    n = batch.num_atoms
    triples_per_crystal = n * n * n_offsets
    crystal_starts = batch.offsets
    chunks = []
    # Chunk over crystals so one huge batch does not need all (i, j, image) triples at once.
    for crystals in _chunks(triples_per_crystal, chunk_size):
        crystal = torch.repeat_interleave(crystals, triples_per_crystal[crystals])
        local = _ranges(triples_per_crystal[crystals])
        k = local % n_offsets[crystal]
        pair = local // n_offsets[crystal]
        i = pair // n[crystal] + crystal_starts[crystal]
        j = pair % n[crystal] + crystal_starts[crystal]
        span = spans[crystal]
        ox = k // (span[:, 1] * span[:, 2]) - n_img[crystal, 0]
        oy = (k // span[:, 2]) % span[:, 1] - n_img[crystal, 1]
        oz = k % span[:, 2] - n_img[crystal, 2]
        image = torch.stack([ox, oy, oz], -1)
        delta = frac[j] - frac[i] + image.to(frac.dtype)
        vec = torch.einsum("ei,eij->ej", delta, batch.lattice[crystal])
        dist = vec.norm(dim=-1)
        keep = (dist <= cutoff) & ~((i == j) & (image == 0).all(-1))
        chunks.append((torch.stack([i[keep], j[keep]]), image[keep], vec[keep], dist[keep]))
    edge_index = torch.cat([c[0] for c in chunks], 1) if chunks else torch.zeros(2, 0, dtype=torch.long, device=device)
    graph = PeriodicGraph(edge_index, torch.cat([c[1] for c in chunks]), torch.cat([c[2] for c in chunks]),
                          torch.cat([c[3] for c in chunks]))
    if max_neighbors is not None:
        graph = _keep_nearest(graph, max_neighbors)
    return graph


def _chunks(cost: torch.Tensor, budget: int):
    """Consecutive groups of crystal indices whose summed cost stays near `budget`."""
    start, running = 0, 0
    for idx, c in enumerate(cost.tolist()):
        if running and running + c > budget:
            yield torch.arange(start, idx, device=cost.device)
            start, running = idx, 0
        running += c
    if start < len(cost):
        yield torch.arange(start, len(cost), device=cost.device)


def _keep_nearest(graph: PeriodicGraph, k: int) -> PeriodicGraph:
    order = torch.argsort(graph.distance, stable=True)
    order = order[torch.argsort(graph.edge_index[0, order], stable=True)]
    centres = graph.edge_index[0, order]
    counts = torch.bincount(centres)
    rank = _ranges(counts[counts > 0])
    keep = order[rank < k]
    keep, _ = torch.sort(keep)
    return PeriodicGraph(graph.edge_index[:, keep], graph.image[keep], graph.vector[keep], graph.distance[keep])


def pair_index(num_atoms: torch.Tensor, self_loops: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(centre, neighbour): every ordered atom pair within each crystal, atoms numbered as in a batch."""
    n = num_atoms
    per_crystal = n * n
    crystal = torch.repeat_interleave(torch.arange(len(n), device=n.device), per_crystal)
    local = _ranges(per_crystal)
    start = (torch.cumsum(n, 0) - n)[crystal]
    i = local // n[crystal] + start
    j = local % n[crystal] + start
    if not self_loops:
        keep = i != j
        i, j = i[keep], j[keep]
    return i, j


def all_pairs(batch: CrystalBatch, self_loops: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Every ordered atom pair within each crystal (DiffCSP-style fully connected graph).

    Returns ``edge_index`` (2, E) and the wrapped fractional difference ``frac[j] - frac[i]`` in
    [-0.5, 0.5), which is what translation-invariant score networks consume.
    """
    i, j = pair_index(batch.num_atoms, self_loops)
    diff = batch.frac_coords[j] - batch.frac_coords[i]
    diff = diff - torch.round(diff)
    return torch.stack([i, j]), diff
