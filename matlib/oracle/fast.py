"""CHGNet's energies, forces, stresses and magnetic moments for a batch of crystal graphs, fast.

The same network and weights as ``CHGNet.predict_graph``; two things differ, neither in the result:

* the batch is assembled with whole-batch tensor operations (offsets added to concatenated index
  tensors, one strain tensor for all crystals, cell vectors gathered per atom and per bond) where
  CHGNet's ``BatchedGraph.from_graphs`` runs a dozen small operations per crystal in a Python loop.
  On a GPU each small operation is a kernel launch, forward and backward: with hundreds of small
  crystals per batch the launches, not the arithmetic, set the pace;
* forces and stress come from one backward pass without a second-order graph. CHGNet takes two
  passes with ``create_graph=True``, which training needs and inference does not.

``tests/test_oracle.py`` checks this path against ``predict_graph`` crystal by crystal.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

EV_PER_A3_IN_GPA = 160.21766208     # CHGNet's stress unit conversion


def _exclusive_cumsum(sizes: list[int]) -> torch.Tensor:
    return torch.cumsum(torch.tensor([0] + sizes[:-1], dtype=torch.long), 0)


def _per_row(offsets: torch.Tensor, sizes: list[int]) -> torch.Tensor:
    """Each graph's offset repeated once per row it contributes."""
    return torch.repeat_interleave(offsets, torch.tensor(sizes, dtype=torch.long))


def _concatenated(graphs: Sequence) -> dict[str, torch.Tensor]:
    """The batch's integer and constant tensors, indices shifted into the batch's numbering."""
    n_atoms = [int(g.atomic_number.shape[0]) for g in graphs]
    atom_graphs = [g.atom_graph.reshape(-1, 2) for g in graphs]   # isolated atoms: an empty 1-d tensor
    n_directed = [len(a) for a in atom_graphs]
    n_undirected = [len(g.undirected2directed) for g in graphs]
    atom_off, directed_off, undirected_off = map(_exclusive_cumsum, (n_atoms, n_directed, n_undirected))
    out = {"atomic_numbers": torch.cat([g.atomic_number for g in graphs]),
           "frac": torch.cat([g.atom_frac_coord for g in graphs]),
           "lattices": torch.stack([g.lattice for g in graphs]),
           "owners": torch.repeat_interleave(torch.arange(len(graphs)), torch.tensor(n_atoms)),
           "n_atoms": torch.tensor(n_atoms),
           "atom_graph": torch.cat(atom_graphs).long() + _per_row(atom_off, n_directed)[:, None],
           "image": torch.cat([g.neighbor_image.reshape(-1, 3) for g in graphs]),
           "undirected2directed": torch.cat([g.undirected2directed for g in graphs]).long()
           + _per_row(directed_off, n_undirected),
           "directed2undirected": torch.cat([g.directed2undirected for g in graphs]).long()
           + _per_row(undirected_off, n_directed)}
    with_angles = [k for k, g in enumerate(graphs) if len(g.bond_graph)]
    if with_angles:
        sizes = [len(graphs[k].bond_graph) for k in with_angles]
        rows = torch.cat([graphs[k].bond_graph.reshape(-1, 5) for k in with_angles]).long()
        picked = torch.tensor(with_angles)
        atom_shift, directed_shift, undirected_shift = (_per_row(off[picked], sizes)
                                                         for off in (atom_off, directed_off, undirected_off))
        # CHGNet's bond graph: (centre atom, undirected i, directed i, undirected j, directed j)
        out["bond_graph"] = torch.stack([rows[:, 0] + atom_shift, rows[:, 1] + undirected_shift,
                                         rows[:, 3] + undirected_shift], dim=1)
        out["angle_pairs"] = torch.stack([rows[:, 2] + directed_shift, rows[:, 4] + directed_shift], dim=1)
    return out


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
