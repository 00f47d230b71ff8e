"""CHGNet's energies, forces, stresses and magnetic moments for a batch of crystal graphs, fast.

The same network and weights as ``CHGNet.predict_graph``; two things differ, neither in the result:

* the batch is assembled with whole-batch tensor operations (offsets added to concatenated index
  tensors, one strain tensor for all crystals, cell vectors gathered per atom and per bond) where
  CHGNet's ``BatchedGraph.from_graphs`` runs a dozen small operations per crystal in a Python loop.
  On a GPU each small operation is a kernel launch, forward and backward: with hundreds of small
  crystals per batch the launches, not the arithmetic, set the pace;
* forces and stress come from one backward pass without a second-order graph. CHGNet takes two
  passes with ``create_graph=True``, which training needs and inference does not.

A batch may hold CHGNet's ``CrystalGraph``s or ``GraphArrays`` (the same fields as NumPy arrays,
which is what worker processes send back: cheap to unpickle in the process that runs the network).

``tests/test_oracle.py`` checks this path against ``predict_graph`` crystal by crystal.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np
import torch

EV_PER_A3_IN_GPA = 160.21766208     # CHGNet's stress unit conversion


class GraphArrays(NamedTuple):
    """A CHGNet crystal graph as NumPy arrays: the fields ``predict_batch`` reads. A process pool sends
    these back as plain buffers, about 30 times cheaper to unpickle than a ``CrystalGraph`` of tensors."""
    atomic_number: np.ndarray
    atom_frac_coord: np.ndarray
    lattice: np.ndarray
    atom_graph: np.ndarray
    neighbor_image: np.ndarray
    undirected2directed: np.ndarray
    directed2undirected: np.ndarray
    bond_graph: np.ndarray

    @classmethod
    def of(cls, graph) -> "GraphArrays":
        return cls(*(_numpy(getattr(graph, name)) for name in cls._fields))


def _numpy(value) -> np.ndarray:
    # CHGNet marks some graph tensors as requiring grad; a copy off the graph is what we need
    return value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)


def _exclusive_cumsum(sizes: list[int]) -> np.ndarray:
    return np.cumsum([0] + sizes[:-1], dtype=np.int64)


def _concatenated(graphs: Sequence) -> dict[str, torch.Tensor]:
    """The batch's integer and constant tensors, indices shifted into the batch's numbering.
    ``graphs``: CHGNet ``CrystalGraph``s or ``GraphArrays`` (joined in NumPy, one tensor per field)."""
    def field(name: str, shape: tuple | None = None) -> list[np.ndarray]:
        arrays = [_numpy(getattr(g, name)) for g in graphs]
        return arrays if shape is None else [a.reshape(shape) for a in arrays]

    atomic_numbers = field("atomic_number")
    n_atoms = [len(a) for a in atomic_numbers]
    atom_graphs = field("atom_graph", (-1, 2))            # isolated atoms: an empty 1-d array
    n_directed = [len(a) for a in atom_graphs]
    undirected2directed = field("undirected2directed")
    n_undirected = [len(a) for a in undirected2directed]
    atom_off, directed_off, undirected_off = map(_exclusive_cumsum, (n_atoms, n_directed, n_undirected))
    out = {"atomic_numbers": np.concatenate(atomic_numbers),
           "frac": np.concatenate(field("atom_frac_coord")),
           "lattices": np.stack(field("lattice")),
           "owners": np.repeat(np.arange(len(graphs)), n_atoms),
           "n_atoms": np.asarray(n_atoms, dtype=np.int64),
           "atom_graph": np.concatenate(atom_graphs).astype(np.int64) + np.repeat(atom_off, n_directed)[:, None],
           "image": np.concatenate(field("neighbor_image", (-1, 3))),
           "undirected2directed": np.concatenate(undirected2directed).astype(np.int64)
           + np.repeat(directed_off, n_undirected),
           "directed2undirected": np.concatenate(field("directed2undirected")).astype(np.int64)
           + np.repeat(undirected_off, n_directed)}
    bond_graphs = field("bond_graph", (-1, 5))
    with_angles = [k for k, b in enumerate(bond_graphs) if len(b)]
    if with_angles:
        sizes = [len(bond_graphs[k]) for k in with_angles]
        rows = np.concatenate([bond_graphs[k] for k in with_angles]).astype(np.int64)
        atom_shift, directed_shift, undirected_shift = (np.repeat(off[with_angles], sizes)
                                                        for off in (atom_off, directed_off, undirected_off))
        # CHGNet's bond graph: (centre atom, undirected i, directed i, undirected j, directed j)
        out["bond_graph"] = np.stack([rows[:, 0] + atom_shift, rows[:, 1] + undirected_shift,
                                      rows[:, 3] + undirected_shift], axis=1)
        out["angle_pairs"] = np.stack([rows[:, 2] + directed_shift, rows[:, 4] + directed_shift], axis=1)
    return {name: torch.from_numpy(np.ascontiguousarray(value)) for name, value in out.items()}


def _batched_graph(model, parts: dict[str, torch.Tensor], strain: torch.Tensor):
    """CHGNet's ``BatchedGraph`` of the batch, differentiable in ``strain`` (and the positions)."""
    from chgnet.model.model import BatchedGraph
    device = strain.device
    lattice = parts["lattices"] @ (torch.eye(3, device=device) + strain)
    owners, atom_graph = parts["owners"], parts["atom_graph"]
    positions = torch.einsum("ni,nij->nj", parts["frac"], lattice[owners])
    bond_owner = owners[atom_graph[:, 0]]
    image = torch.einsum("ei,eij->ej", parts["image"], lattice[bond_owner])   # each bond's cell shift, in Å
    bases_ag, bases_bg, bond_vectors = model.bond_basis_expansion(
        center=positions[atom_graph[:, 0]], neighbor=positions[atom_graph[:, 1]],
        undirected2directed=parts["undirected2directed"], image=image, lattice=torch.eye(3, device=device))
    if "bond_graph" in parts:
        pairs = parts["angle_pairs"]
        angle_bases = model.angle_basis_expansion(bond_vectors[pairs[:, 0]], bond_vectors[pairs[:, 1]])
        bond_graph = parts["bond_graph"]
    else:
        angle_bases = bond_graph = torch.tensor([], device=device)
    graph = BatchedGraph(atomic_numbers=parts["atomic_numbers"], bond_bases_ag=bases_ag, bond_bases_bg=bases_bg,
                         angle_bases=angle_bases, batched_atom_graph=atom_graph, batched_bond_graph=bond_graph,
                         atom_owners=owners.to(torch.int32), directed2undirected=parts["directed2undirected"],
                         atom_positions=[positions], strains=[strain],
                         volumes=torch.linalg.det(lattice).detach())      # CHGNet's volumes carry no gradient
    return graph, positions


def _composition_energy(model, parts: dict[str, torch.Tensor]) -> torch.Tensor | float:
    """CHGNet's elemental reference term (AtomRef), per crystal."""
    ref = model.composition_model
    if ref is None:
        return 0.0
    batch = len(parts["n_atoms"])
    counts = torch.zeros(batch * ref.max_num_elements, device=parts["owners"].device)
    counts.index_add_(0, parts["owners"] * ref.max_num_elements + parts["atomic_numbers"].long() - 1,
                      torch.ones_like(parts["owners"], dtype=counts.dtype))
    counts = counts.view(batch, ref.max_num_elements)
    if ref.is_intensive:
        counts = counts / parts["n_atoms"][:, None]
    return ref._get_energy(counts.float())


def predict_batch(model, graphs: Sequence, task: str = "efs") -> list[dict[str, np.ndarray]]:
    """``model.predict_graph(graphs, task=task)`` for one batch: a dict per graph with ``e`` (eV/atom),
    and as ``task`` asks, ``f`` (eV/Å), ``s`` (GPa) and ``m`` (μB)."""
    device = next(model.parameters()).device
    parts = {k: v.to(device) for k, v in _concatenated(graphs).items()}
    model.eval()
    needs_grad = "f" in task or "s" in task
    with torch.set_grad_enabled(needs_grad):
        strain = torch.zeros(len(graphs), 3, 3, device=device, requires_grad=needs_grad)
        graph, positions = _batched_graph(model, parts, strain)
        out = model._compute(graph, compute_magmom="m" in task)
        per_atom = out["e"]
        if needs_grad:
            total = (per_atom * parts["n_atoms"]).sum() if model.is_intensive else per_atom.sum()
            d_positions, d_strain = torch.autograd.grad(total, [positions, strain])
        energies = (per_atom + _composition_energy(model, parts)).detach().cpu().numpy()
    rows = [{"e": np.float32(e)} for e in energies]
    cuts = np.cumsum(parts["n_atoms"].tolist())[:-1]       # one copy off the device per field, then split
    if "f" in task:
        for row, f in zip(rows, np.split((-d_positions).cpu().numpy(), cuts)):
            row["f"] = f
    if "s" in task:
        stress = d_strain * (EV_PER_A3_IN_GPA / graph.volumes)[:, None, None]
        for row, s in zip(rows, stress.cpu().numpy()):
            row["s"] = s
    if "m" in task:
        for row, m in zip(rows, np.split(torch.cat(out["m"]).detach().cpu().numpy(), cuts)):
            row["m"] = m
    return rows


def predict_graphs(model, graphs: Sequence, task: str = "efs", batch_size: int = 64) -> list[dict[str, np.ndarray]]:
    """``predict_batch`` over batches of ``batch_size`` graphs."""
    out: list = []
    for start in range(0, len(graphs), batch_size):
        out += predict_batch(model, graphs[start:start + batch_size], task)
    return out
