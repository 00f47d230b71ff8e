"""Predictor-corrector sampling of the reverse process, batched on the device.

Each step from t to s < t: one Langevin corrector step on the coordinates at level t (optional),
then one network call whose outputs drive three ancestral predictors: coordinates (VE), lattice
(DDPM posterior) and types (unmask a share (t - s) / t of the masked atoms). The last step goes
to s = 0, where noise vanishes: masks are all resolved and the cell and coordinates are the
network's denoised estimate. (Research variants of the element step, such as remasking or a
confidence order, live in the lab: lab/diffusion_sampling/research_sampler.py.)

Hooks for later notebooks: ``denoise_fn`` replaces the network call (classifier-free guidance
mixes two calls), ``constraint(state, s)`` edits the state after each half-step (structure masks
re-impose known atoms and cell vectors).
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Callable

import torch

from ..crystal import CrystalBatch
from ..progress import progress
from .atom_types import MASK_TOKEN
from ..nn.edges import all_pair_edges
from ..nn.fused_pairs import PairPlan


@dataclass
class SamplerConfig:
    steps: int = 200
    corrector: bool = True
    snr: float = 0.4
    type_temperature: float = 1.0   # < 1: sharper element choices (more typical compositions, less variety)
    t_min: float = 1e-3
    batch_size: int = 4096
    record_every: int = 0           # >0: keep every k-th state of the first `record_crystals` crystals
    record_crystals: int = 8
    # "fused": pair messages built and summed on chip (GPU, Triton; nn/fused_pairs.py); as fast as
    # the edge list under torch.compile, no faster (lab/dense_pairs/)
    pairs: str = "edges"


@dataclass
class State:
    tokens: torch.Tensor
    frac: torch.Tensor
    lattice: torch.Tensor
    num_atoms: torch.Tensor

    def to_batch(self) -> CrystalBatch:
        return CrystalBatch(self.tokens.clone(), self.frac.clone(), self.lattice.clone(), self.num_atoms.clone())


@dataclass
class Trajectory:
    times: list[float] = field(default_factory=list)
    frames: list[CrystalBatch] = field(default_factory=list)   # tokens: 0 = still masked


@dataclass
class SampleResult:
    crystals: CrystalBatch
    trajectory: Trajectory
    seconds: float
    network_calls: int


def _record(trajectory: Trajectory, state: State, t: float, keep: int) -> None:
    n = state.num_atoms[:keep]
    atoms = int(n.sum())
    trajectory.times.append(float(t))
    trajectory.frames.append(CrystalBatch(state.tokens[:atoms].cpu(), state.frac[:atoms].cpu(),
                                          state.lattice[:keep].cpu(), n.cpu()))


def sample(model, num_atoms: torch.Tensor | int, config: SamplerConfig = SamplerConfig(), *,
           generator: torch.Generator | None = None, denoise_fn: Callable | None = None,
           constraint: Callable[[State, torch.Tensor], State] | None = None,
           autocast: Callable[[], contextlib.AbstractContextManager] | None = None,
           type_step: Callable | None = None, desc: str = "sampling", progress_bar: bool = True) -> SampleResult:
    """Sample crystals; ``num_atoms`` is a tensor of sizes or a count (sizes from the training histogram).

    Hooks: ``denoise_fn`` replaces the network call (guidance), ``constraint`` edits the state after
    every step (SCIGEN), ``type_step(tokens, logits, t, s, atom_crystal, generator)`` replaces the
    element step t -> s (default: the masked-diffusion step at ``config.type_temperature``).
    """
    if isinstance(num_atoms, int):
        num_atoms = model.sample_num_atoms(num_atoms, generator=generator)
    num_atoms = torch.as_tensor(num_atoms, device=model.device)
    denoise_fn = denoise_fn or model.denoise
    autocast = autocast or contextlib.nullcontext
    model.eval()
    start = time.perf_counter()
    pieces, trajectory, calls = [], Trajectory(), 0
    chunks = torch.split(num_atoms, config.batch_size)
    bar = progress(total=config.steps * len(chunks), desc=desc, disable=not progress_bar)
    grid = torch.cat([torch.linspace(1.0, config.t_min, config.steps), torch.zeros(1)]).tolist()
    with torch.no_grad():
        for index, n in enumerate(chunks):
            state, chunk_calls = _sample_chunk(model, n, grid, config, generator, denoise_fn, constraint, autocast,
                                               trajectory if index == 0 and config.record_every else None, bar,
                                               type_step)
            calls += chunk_calls
            pieces.append(state.to_batch())
    bar.close()
    if model.device.type == "cuda":
        torch.cuda.synchronize()
    return SampleResult(CrystalBatch.collate(pieces), trajectory, time.perf_counter() - start, calls)


def _plain_type_step(model, config):
    def step(tokens, logits, t, s, atom_crystal, generator):
        every = torch.ones(len(atom_crystal), device=tokens.device)
        return model.types.reverse_step(tokens, logits, every * t, every * s, model.allowed_elements, generator,
                                        config.type_temperature)
    return step


def _sample_chunk(model, n, grid, config, generator, denoise_fn, constraint, autocast, trajectory, bar,
                  type_step=None):
    device = model.device
    if config.pairs not in ("edges", "fused"):
        raise ValueError(f"SamplerConfig.pairs is 'edges' or 'fused', not {config.pairs!r}")
    edges = PairPlan.for_sizes(n) if config.pairs == "fused" else all_pair_edges(n)
    atom_crystal = edges.batch_index if config.pairs == "fused" else edges[0]
    atoms = int(n.sum())
    state = State(torch.full((atoms,), MASK_TOKEN, device=device, dtype=torch.long),
                  torch.rand(atoms, 3, device=device, generator=generator),
                  model.lattice.prior(n, generator=generator), n)
    ones = torch.ones(len(n), device=device)
    type_step = type_step or _plain_type_step(model, config)
    if constraint is not None:
        state = constraint(state, ones)
    calls = 0

    def call(t_value: float):
        nonlocal calls
        calls += 1
        with autocast():
            return denoise_fn(state.tokens, state.frac, state.lattice, n, ones * t_value, edges)

    for k in range(len(grid) - 1):
        t, s = grid[k], grid[k + 1]
        if trajectory is not None and k % config.record_every == 0:
            _record(trajectory, state, t, config.record_crystals)
        sigma_t = model.coords.sigma(ones * t, n)[atom_crystal]
        if config.corrector and s > 0:
            coord, _, _ = call(t)
            state.frac = model.coords.corrector(state.frac, coord, sigma_t, config.snr, generator)
            if constraint is not None:
                state = constraint(state, ones * t)
        coord, lattice_eps, logits = call(t)
        sigma_s = model.coords.sigma(ones * s, n)[atom_crystal] if s > 0 else torch.zeros_like(sigma_t)
        state.frac = model.coords.predictor(state.frac, coord, sigma_t, sigma_s, generator)
        state.lattice = model.lattice.predictor(state.lattice, lattice_eps, n, ones * t, ones * s, generator)
        state.tokens = type_step(state.tokens, logits, t, s, atom_crystal, generator)
        if constraint is not None:
            state = constraint(state, ones * s)
        bar.update(1)
    if trajectory is not None:
        _record(trajectory, state, 0.0, config.record_crystals)
    return state, calls
