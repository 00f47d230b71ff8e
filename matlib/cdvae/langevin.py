"""CDVAE's generation: from z, predict atom count, lattice and composition, then anneal atoms in.

For each noise level σ (most noise first) take ``steps_per_level`` Langevin steps on the fractional
coordinates, x <- x + ε·score + sqrt(2ε)·noise with ε = σ_frac² (CDVAE's step_lr 1e-4 Å² scaled by
(σ/0.01 Å)², which is exactly σ²), wrapped to [0, 1); the elements are the decoder's argmax at
every step. The lattice and atom count stay as the heads predicted them. CDVAE used 100 steps at
each of 50 levels: 5,000 decoder calls per crystal.
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

import torch

from ..crystal import CrystalBatch, lattice_from_params, wrap_frac
from ..diffusion.denoiser import all_pair_edges
from ..progress import progress


@dataclass
class LangevinConfig:
    steps_per_level: int = 10
    num_atoms: str = "argmax"        # argmax (CDVAE) | sample (from the predicted distribution)
    record_every: int = 0            # > 0: keep the state every k steps (crystal 0 only)


@dataclass
class DecodeResult:
    crystals: CrystalBatch
    frames: list[CrystalBatch]
    seconds: float
    decoder_calls: int


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
    composition = torch.softmax(heads["composition"].float(), -1)[atom_crystal]
    tokens = torch.multinomial(composition, 1, generator=generator).squeeze(-1) + 1
    frac = torch.rand(int(n.sum()), 3, device=z.device, generator=generator)
    frames, calls = [], 0
    levels = torch.arange(model.config.levels, device=z.device)
    bar = progress(total=len(levels) * config.steps_per_level, desc=desc)
    for level in levels:
        level_crystal = level.repeat(len(n))
        sigma = model.noise.fractional(model.noise.coord_sigma(level_crystal), lattice)[atom_crystal][:, None]
        t = model.noise.time(level_crystal)
        step = sigma ** 2                              # CDVAE's step_lr (σ/σ_min)², in fractional units
        for _ in range(config.steps_per_level):
            with autocast():
                out, logits = model.decoder(z, tokens, frac, lattice, n, t, edges)
            calls += 1
            noise = torch.randn(frac.shape, device=frac.device, generator=generator)
            frac = wrap_frac(frac + step * out.float() / sigma + (2 * step).sqrt() * noise)
            tokens = logits.float().argmax(-1) + 1
            if config.record_every and calls % config.record_every == 0:
                keep = int(n[0])
                frames.append(CrystalBatch(tokens[:keep].cpu(), frac[:keep].cpu(), lattice[:1].cpu(), n[:1].cpu()))
            bar.update(1)
    bar.close()
    return DecodeResult(CrystalBatch(tokens, frac, lattice, n), frames, time.perf_counter() - start, calls)


__all__ = ["LangevinConfig", "DecodeResult", "decode"]
