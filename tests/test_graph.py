"""The torch periodic neighbour list must equal pymatgen's, pair by pair."""
import numpy as np
import pytest
import torch
from pymatgen.core import Lattice, Structure

from matlib.crystal import CrystalBatch
from matlib.graph import all_pairs, radius_graph

N_RANDOM = 60  # random structures in the agreement test (quoted in the closing note)


def random_structures(n: int, seed: int = 0) -> list[tuple[Structure, float]]:
    """Mixed cells: ordinary, strongly skewed, and smaller than the cutoff."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        kind = k % 3
        if kind == 0:    # ordinary triclinic
            lat = Lattice.from_parameters(*rng.uniform(3, 8, 3), *rng.uniform(70, 110, 3))
        elif kind == 1:  # skewed: a random matrix, far from orthogonal
            while True:
                m = rng.normal(size=(3, 3)) * rng.uniform(3, 6)
                if abs(np.linalg.det(m)) > 20:
                    break
            lat = Lattice(m)
        else:            # tiny cell: every length below the cutoff
            lat = Lattice.from_parameters(*rng.uniform(1.5, 3.0, 3), *rng.uniform(60, 120, 3))
        n_atoms = int(rng.integers(1, 7))
        species = rng.choice(["C", "O", "Na", "Cl", "Fe"], n_atoms).tolist()
        out.append((Structure(lat, species, rng.random((n_atoms, 3))), float(rng.uniform(3.0, 6.5))))
    return out


def pymatgen_edges(s: Structure, cutoff: float) -> dict:
    centre, nbr, images, dist = s.get_neighbor_list(cutoff)
    return {(int(i), int(j), *map(int, np.round(img))): d for i, j, img, d in zip(centre, nbr, images, dist)}


@pytest.mark.parametrize("case", range(N_RANDOM))
def test_neighbour_list_matches_pymatgen(case):
    structure, cutoff = random_structures(N_RANDOM)[case]
    graph = radius_graph(CrystalBatch.from_structures([structure], dtype=torch.float64), cutoff)
    ours = {(int(i), int(j), *map(int, img)): float(d)
            for (i, j), img, d in zip(graph.edge_index.T.tolist(), graph.image.tolist(), graph.distance.tolist())}
    theirs = pymatgen_edges(structure, cutoff)
    # pymatgen's own boundary tolerance is 1e-8: drop pairs sitting exactly on the cutoff
    near_edge = {k for k, d in {**ours, **theirs}.items() if abs(d - cutoff) < 1e-6}
    assert set(ours) - near_edge == set(theirs) - near_edge
    for key in set(theirs) - near_edge:
        assert ours[key] == pytest.approx(theirs[key], abs=1e-5)


def test_agreement_cases_are_not_empty():
    edges = [len(pymatgen_edges(s, c)) for s, c in random_structures(N_RANDOM)]
    assert sum(e > 0 for e in edges) >= 0.9 * N_RANDOM and sum(edges) > 10_000


def test_batched_graph_equals_per_crystal_graphs():
    cases = random_structures(9, seed=1)
    cutoff = 5.0
    batch = CrystalBatch.from_structures([s for s, _ in cases], dtype=torch.float64)
    graph = radius_graph(batch, cutoff, chunk_size=500)  # small chunks exercise the chunking
    offsets = batch.offsets.tolist()
    for b, (s, _) in enumerate(cases):
        mine = (graph.edge_index[0] >= offsets[b]) & (graph.edge_index[0] < offsets[b] + len(s))
        assert int(mine.sum()) == len(s.get_neighbor_list(cutoff)[0])
        assert torch.all(graph.edge_index[1, mine] >= offsets[b])


def test_bond_vectors_are_consistent():
    s, cutoff = random_structures(3)[1]
    batch = CrystalBatch.from_structures([s], dtype=torch.float64)
    g = radius_graph(batch, cutoff)
    cart = batch.cart_coords()
    expected = cart[g.edge_index[1]] + g.image.double() @ batch.lattice[0] - cart[g.edge_index[0]]
    assert torch.allclose(g.vector, expected, atol=1e-10)
    assert torch.allclose(g.distance, g.vector.norm(dim=-1))


def test_max_neighbors_keeps_the_nearest():
    s, _ = random_structures(3)[2]
    batch = CrystalBatch.from_structures([s], dtype=torch.float64)
    full = radius_graph(batch, 6.0)
    capped = radius_graph(batch, 6.0, max_neighbors=4)
    for centre in range(len(s)):
        d_full = torch.sort(full.distance[full.edge_index[0] == centre]).values
        d_cap = torch.sort(capped.distance[capped.edge_index[0] == centre]).values
        assert len(d_cap) == min(4, len(d_full))
        assert torch.allclose(d_cap, d_full[: len(d_cap)])


def test_all_pairs_counts_and_wrapping():
    cases = [s for s, _ in random_structures(4)]
    batch = CrystalBatch.from_structures(cases, dtype=torch.float64)
    edge_index, diff = all_pairs(batch)
    assert edge_index.shape[1] == sum(len(s) * (len(s) - 1) for s in cases)
    assert torch.all(diff >= -0.5) and torch.all(diff < 0.5)
    crystal = batch.batch_index
    assert torch.equal(crystal[edge_index[0]], crystal[edge_index[1]])
