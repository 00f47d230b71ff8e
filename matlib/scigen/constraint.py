"""SCIGEN's constrained sampling: re-noise the known part to the current level and merge it in.

An unchanged, unconditionally trained diffusion model samples crystals that contain a chosen
motif: after *every* half-step of the sampler (corrector at level t, predictor at level s), the
known part (motif atoms' positions and elements, the in-plane cell) is replaced by a fresh
forward-process sample of its true value at that level, x_k = forward(x0_known, s), and merged:

    x <- m * x_k + (1 - m) * x                       (for coordinates, cell and atom types)

At s = 0 the forward noise vanishes, so the motif is imposed exactly, while the free atoms have
spent the whole reverse process adapting to a motif that was always present at the right noise
level (the inpainting argument of the SCIGEN paper).

The cell lives in the symmetric frame S = sqrt(A A^T) (see ``diffusion.lattice``). There, "a and b
fixed, c perpendicular to the plane with a free length" is a linear mask: S = [[B, 0], [0, c]] with
B = sqrt of the in-plane Gram matrix, so 8 entries are known and S[2, 2] is free. SCIGEN's default
(c in any direction) is not linear in this frame; its ``c_vert`` option, used here, is.
Motif atoms are the first k atoms of each crystal.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from pymatgen.core import Element

from ..crystal import CrystalBatch, wrap_frac
from ..nn.elements import MASK_TOKEN
from ..diffusion.sampler import SampleResult, SamplerConfig, State, sample
from .bond_lengths import BondLengths
from .templates import Motif, Template

LATTICE_MASK = torch.tensor([[1, 1, 1], [1, 1, 1], [1, 1, 0]], dtype=torch.bool)  # S[2, 2] = |c| is free


@dataclass
class StructureConstraint:
    """Known values and masks for a batch: per atom (motif or free) and per crystal (the cell)."""
    known_atom: torch.Tensor      # (atoms,) bool
    frac: torch.Tensor            # (atoms, 3) true positions where known_atom
    tokens: torch.Tensor          # (atoms,) atomic numbers where known_atom
    lattice: torch.Tensor         # (B, 3, 3) symmetric cell; S[2, 2] unused
    lattice_mask: torch.Tensor    # (3, 3) bool
    num_atoms: torch.Tensor       # (B,)
    motifs: list[Motif]
    elements: list[str]

    def to(self, device) -> "StructureConstraint":
        return StructureConstraint(self.known_atom.to(device), self.frac.to(device), self.tokens.to(device),
                                   self.lattice.to(device), self.lattice_mask.to(device), self.num_atoms.to(device),
                                   self.motifs, self.elements)

    def inpainter(self, model, generator: torch.Generator | None = None):
        """The sampler's ``constraint(state, s)`` hook for ``model`` (a ``CrystalDiffusion``)."""
        known, mask = self.known_atom, self.lattice_mask
        crystal_of_atom = torch.repeat_interleave(torch.arange(len(self.num_atoms), device=known.device),
                                                  self.num_atoms)

        def merge(state: State, s: torch.Tensor) -> State:
            level = s[crystal_of_atom]
            sigma = torch.where(level > 0, model.coords.sigma(level, state.num_atoms[crystal_of_atom]),
                                torch.zeros_like(level))
            noise = torch.randn(self.frac.shape, device=known.device, generator=generator)
            frac_k = wrap_frac(self.frac + sigma[:, None] * noise)
            masked = torch.rand(level.shape, device=known.device, generator=generator) < level
            tokens_k = torch.where(masked, torch.full_like(self.tokens, MASK_TOKEN), self.tokens)
            lattice_k, _ = model.lattice.corrupt(self.lattice, state.num_atoms, s, generator)
            state.frac = torch.where(known[:, None], frac_k, state.frac)
            state.tokens = torch.where(known, tokens_k, state.tokens)
            state.lattice = torch.where(mask, lattice_k, state.lattice)
            return state

        return merge


def draw_num_atoms(model, template: Template, n: int, generator: torch.Generator | None = None,
                   free_atoms: int | None = None) -> torch.Tensor:
    """Atoms per cell: ``num_sites + free_atoms`` if given, else the training histogram restricted to
    [num_sites, template.max_atoms] (uniform over that range if the histogram has nothing there)."""
    k = template.num_sites
    if free_atoms is not None:
        if free_atoms < 0 or k + free_atoms > model.config.max_atoms:
            raise ValueError(f"free_atoms must be in 0..{model.config.max_atoms - k} for {template.name}")
        return torch.full((n,), k + free_atoms, dtype=torch.long)
    top = min(template.max_atoms, model.config.max_atoms)
    weights = model.atom_count_weights.detach().cpu().clone()[: top + 1]
    weights[:k] = 0
    if weights.sum() <= 0:
        weights[k:] = 1
    return torch.multinomial(weights, n, replacement=True, generator=generator)


def build_constraint(template: Template, elements: Sequence[str], bond_lengths: Sequence[float],
                     num_atoms: torch.Tensor, height: float = 0.5) -> StructureConstraint:
    """Masks and known values for one motif per crystal (``elements``/``bond_lengths``: one per crystal)."""
    num_atoms = torch.as_tensor(num_atoms, dtype=torch.long).cpu()
    if not len(elements) == len(bond_lengths) == len(num_atoms):
        raise ValueError("one element and one bond length per crystal")
    k = template.num_sites
    if int(num_atoms.min()) < k:
        raise ValueError(f"{template.name} needs at least {k} atoms per cell")
    atoms = int(num_atoms.sum())
    known_atom = torch.zeros(atoms, dtype=torch.bool)
    frac = torch.zeros(atoms, 3)
    tokens = torch.zeros(atoms, dtype=torch.long)
    lattice = torch.zeros(len(num_atoms), 3, 3)
    motifs = []
    starts = torch.cumsum(num_atoms, 0) - num_atoms
    for b, (element, d, start) in enumerate(zip(elements, bond_lengths, starts.tolist())):
        motif = template.motif(float(d), height)
        motifs.append(motif)
        known_atom[start:start + k] = True
        frac[start:start + k] = torch.as_tensor(motif.frac, dtype=torch.float32)
        tokens[start:start + k] = Element(element).Z
        lattice[b, :2, :2] = torch.as_tensor(motif.in_plane_block, dtype=torch.float32)
    return StructureConstraint(known_atom, frac, tokens, lattice, LATTICE_MASK.clone(), num_atoms, motifs,
                               list(elements))


def draw_bond_lengths(chosen: Sequence[str], bond_lengths: BondLengths, rng: np.random.Generator) -> np.ndarray:
    """One bond length per crystal for its motif element. Elements take their draws in order of first
    appearance: a set's order changes with each process's string hashing, and so would the crystals."""
    lengths = np.empty(len(chosen))
    for element in dict.fromkeys(chosen):
        where = [i for i, e in enumerate(chosen) if e == element]
        lengths[where] = bond_lengths.draw(element, len(where), rng)
    return lengths


def sample_with_motif(model, template: Template, n: int, elements: str | Sequence[str], bond_lengths: BondLengths,
                      config: SamplerConfig = SamplerConfig(), *, seed: int = 0, free_atoms: int | None = None,
                      height: float = 0.5, autocast=None, desc: str = "constrained sampling",
                      progress_bar: bool = True) -> tuple[SampleResult, StructureConstraint]:
    """``n`` crystals that contain ``template``'s motif; each draws its element from ``elements`` and
    its bond length from ``bond_lengths``. The base model is used unchanged."""
    rng = np.random.default_rng(seed)
    pool = [elements] if isinstance(elements, str) else list(elements)
    allowed = model.allowed_elements.cpu()
    for element in pool:
        if not allowed[Element(element).Z - 1]:
            raise ValueError(f"{element} never occurs in the model's training data; it cannot sample it")
    chosen = [pool[i] for i in rng.integers(len(pool), size=n)]
    lengths = draw_bond_lengths(chosen, bond_lengths, rng)
    torch_generator = torch.Generator().manual_seed(seed)
    num_atoms = draw_num_atoms(model, template, n, torch_generator, free_atoms)
    constraint = build_constraint(template, chosen, lengths, num_atoms, height)
    device_generator = torch.Generator(device=model.device).manual_seed(seed)
    results = []
    for start in range(0, n, config.batch_size):   # one constraint per sampler chunk
        part = _select(constraint, start, min(n, start + config.batch_size)).to(model.device)
        results.append(sample(model, part.num_atoms, config, generator=device_generator, autocast=autocast,
                              constraint=part.inpainter(model, device_generator), desc=desc,
                              progress_bar=progress_bar))
    merged = SampleResult(CrystalBatch.collate([r.crystals for r in results]), results[0].trajectory,
                          sum(r.seconds for r in results), sum(r.network_calls for r in results))
    return merged, constraint


def _select(constraint: StructureConstraint, start: int, stop: int) -> StructureConstraint:
    offsets = torch.cumsum(constraint.num_atoms, 0) - constraint.num_atoms
    a0 = int(offsets[start])
    a1 = int(offsets[stop - 1] + constraint.num_atoms[stop - 1])
    return StructureConstraint(constraint.known_atom[a0:a1], constraint.frac[a0:a1], constraint.tokens[a0:a1],
                               constraint.lattice[start:stop], constraint.lattice_mask,
                               constraint.num_atoms[start:stop], constraint.motifs[start:stop],
                               constraint.elements[start:stop])


__all__ = ["LATTICE_MASK", "StructureConstraint", "build_constraint", "draw_num_atoms", "sample_with_motif"]
