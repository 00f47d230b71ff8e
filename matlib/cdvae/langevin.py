"""CDVAE's generation: from z, predict atom count, lattice and composition, then anneal atoms in.

The starting elements follow the predicted composition: ``composition="round"`` (CDVAE's
``sample_composition``) turns the probabilities into whole counts that add up to N, so a crystal
whose head says {A: 0.2, B: 0.2, X: 0.6} with N = 5 starts as exactly A B X3; ``"sample"`` draws
each atom independently (only 17 % of such draws give 1:1:3).

For each noise level σ (most noise first) take ``steps_per_level`` Langevin steps on the fractional
coordinates, x <- x + ε·score + sqrt(2ε)·noise with ε = σ_frac² (CDVAE's step_lr 1e-4 Å² scaled by
(σ/0.01 Å)², which is exactly σ²), wrapped to [0, 1). CDVAE replaces the elements by the decoder's
argmax at every step; ``relabel_below`` starts that only once the element noise σ_type is below it,
because at high noise the argmax turns minority elements into the majority one (notebook 02 shows
it). The lattice and atom count stay as the heads predicted them. CDVAE used 100 steps at each of
50 levels: 5,000 decoder calls per crystal.
"""
from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass

import torch

from ..crystal import CrystalBatch, lattice_from_params, wrap_frac
from ..nn.edges import all_pair_edges
from ..progress import progress


@dataclass
class LangevinConfig:
    steps_per_level: int = 10
    num_atoms: str = "argmax"        # argmax (CDVAE) | sample (from the predicted distribution)
    composition: str = "round"       # round (CDVAE: whole counts from p·N) | sample (each atom drawn from p)
    relabel_below: float = 0.1       # the decoder's argmax replaces the elements once σ_type < this (CDVAE: inf)
    record_every: int = 0            # > 0: keep the state every k steps (crystal 0 only)


@dataclass
class DecodeResult:
    crystals: CrystalBatch
    frames: list[CrystalBatch]
    seconds: float
    decoder_calls: int


def round_composition(probabilities: torch.Tensor, num_atoms: torch.Tensor) -> torch.Tensor:
    """Whole element counts (B, elements) that sum to each crystal's N, closest to p·N.

    Largest remainders: floor(p·N), then one more atom for the elements with the largest leftover
    fractions (CDVAE rounds p·N, then draws or trims atoms to fix the total; for the usual
    compositions both give the same counts, and this one needs no loop over crystals).
    """
    expected = probabilities.float() * num_atoms[:, None].float()
    counts = expected.floor()
    missing = num_atoms.float() - counts.sum(-1)
    rank = torch.argsort(torch.argsort(expected - counts, dim=-1, descending=True), dim=-1)
    return (counts + (rank < missing[:, None])).long()


def initial_elements(probabilities: torch.Tensor, num_atoms: torch.Tensor, mode: str = "round",
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """Atomic numbers (sum N,) to start decoding from, crystal after crystal."""
    if mode == "round":
        counts = round_composition(probabilities, num_atoms)
        elements = torch.arange(1, probabilities.shape[1] + 1, device=counts.device).expand_as(counts)
        return torch.repeat_interleave(elements.reshape(-1), counts.reshape(-1))
    if mode == "sample":
        per_atom = torch.repeat_interleave(probabilities, num_atoms, dim=0)
        return torch.multinomial(per_atom, 1, generator=generator).squeeze(-1) + 1
    raise ValueError("composition must be 'round' or 'sample'")


def prior_draws(n: int, latent: int, *, temperature: float = 1.0, generator: torch.Generator | None = None,
                device=None) -> torch.Tensor:
    """n latent vectors from the prior N(0, τ² I). CDVAE samples at τ = 1; τ < 1 keeps the draws in
    the dense middle of the posteriors, where fewer land between two crystals' compositions, and
    pays for it in diversity (COV-R)."""
    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"prior temperature must be a positive number, not {temperature!r}")
    return temperature * torch.randn(n, latent, device=device, generator=generator)


@torch.no_grad()
def decode(model, z: torch.Tensor, config: LangevinConfig = LangevinConfig(), *,
           generator: torch.Generator | None = None, autocast=None, desc: str = "Langevin decoding") -> DecodeResult:
    autocast = autocast or contextlib.nullcontext
    model.eval()
    start = time.perf_counter()
    heads = model.heads(z)
    logits_n = heads["num_atoms"].float()
    logits_n[:, 0] = float("-inf")                     # a crystal has at least one atom
    if config.num_atoms == "argmax":
        n = logits_n.argmax(-1)
    elif config.num_atoms == "sample":
        n = torch.multinomial(torch.softmax(logits_n, -1), 1, generator=generator).squeeze(-1)
    else:
        raise ValueError("num_atoms must be 'argmax' or 'sample'")
    lengths, angles = model.lattice_scaler.decode(heads["lattice"].float(), n)
    lattice = lattice_from_params(lengths, angles)
    edges = all_pair_edges(n)
    atom_crystal = edges[0]
    tokens = initial_elements(torch.softmax(heads["composition"].float(), -1), n, config.composition, generator)
    frac = torch.rand(int(n.sum()), 3, device=z.device, generator=generator)
    frames, calls = [], 0
    levels = torch.arange(model.config.levels, device=z.device)
    bar = progress(total=len(levels) * config.steps_per_level, desc=desc)
    for level in levels:
        level_crystal = level.repeat(len(n))
        sigma = model.noise.fractional(model.noise.coord_sigma(level_crystal), lattice)[atom_crystal][:, None]
        t = model.noise.time(level_crystal)
        step = sigma ** 2                              # CDVAE's step_lr (σ/σ_min)², in fractional units
        type_sigma = float(model.noise.type_sigma(level))
        for _ in range(config.steps_per_level):
            with autocast():
                out, logits = model.decoder(z, tokens, frac, lattice, n, t, edges)
            calls += 1
            noise = torch.randn(frac.shape, device=frac.device, generator=generator)
            frac = wrap_frac(frac + step * out.float() / sigma + (2 * step).sqrt() * noise)
            if type_sigma < config.relabel_below:
                tokens = logits.float().argmax(-1) + 1
            if config.record_every and calls % config.record_every == 0:
                keep = int(n[0])
                frames.append(CrystalBatch(tokens[:keep].cpu(), frac[:keep].cpu(), lattice[:1].cpu(), n[:1].cpu()))
            bar.update(1)
    bar.close()
    if z.device.type == "cuda":
        torch.cuda.synchronize()                       # the time of the queued kernels, not of queuing them
    return DecodeResult(CrystalBatch(tokens, frac, lattice, n), frames, time.perf_counter() - start, calls)


__all__ = ["LangevinConfig", "DecodeResult", "decode", "prior_draws", "round_composition", "initial_elements"]
