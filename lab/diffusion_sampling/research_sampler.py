"""Research variants of notebook 04's sampler and training, kept out of the course's `matlib`.

None of them beat the plain sampler on MP-20 (lab/README.md, "diffusion_sampling"), so the teaching
API (`matlib.diffusion.SamplerConfig`, `DiffusionConfig`) no longer carries them. With every
option at its default, `sample` here draws exactly what `matlib.diffusion.sample` draws.

- `remask` = η > 0 (ReMDM, Wang et al. 2025): an unmasked atom goes back to [MASK] with
  probability σ = min(η, s / (1 - t)); masked atoms unmask a little more often to make up for it,
  so that the share still unmasked at s stays 1 - s.
- `unmask_order="confidence"` (MaskGIT, Chang et al. 2022): each crystal unmasks as many atoms as
  the plain step would, but those whose drawn element the network is surest of; `order_noise` = τ
  ranks by log p + τ·Gumbel instead (τ = 1: in proportion to p).
- `element_sweeps` rounds after the last step: reopen a share `sweep_time` of the elements on the
  finished cell and redraw them, one network call per round.
- `type_window` = (a, b): the elements keep a clock of their own, all masked until t = a and all
  chosen by t = b; windows other than (1, 0) need a model trained with `independent_type_time` > 0
  (`ResearchDiffusion`: that share of training crystals masks its elements at a time of its own).
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Callable

import torch

from matlib import checkpoints
from matlib.crystal import CrystalBatch
from matlib.diffusion import CrystalDiffusion, DenoiserConfig, DiffusionConfig, MaskedTypeDiffusion, SamplerConfig
from matlib.diffusion import sample as matlib_sample
from matlib.diffusion.atom_types import MASK_TOKEN
from matlib.diffusion.sampler import SampleResult, State, Trajectory
from matlib.nn import all_pair_edges


def type_time(t: float, window: tuple[float, float]) -> float:
    """The elements' masking time when the positions and cell are at t: 1 until t reaches
    window[0], then falling linearly to 0 at window[1]."""
    start, end = window
    if not 0 <= end < start <= 1:
        raise ValueError(f"type_window must be (start, end) with 0 <= end < start <= 1, not {window!r}")
    return min(1.0, max(0.0, (t - end) / (start - end)))


@dataclass
class ResearchSamplerConfig(SamplerConfig):
    remask: float = 0.0             # ReMDM's η: chance per step that a chosen element is reopened (0: never)
    unmask_order: str = "random"    # or "confidence": each step unmasks the atoms the network is surest of
    order_noise: float = 0.0        # confidence order only: Gumbel noise on log p (1: in proportion to p)
    element_sweeps: int = 0         # >0: afterwards, this many rounds of reopening and redrawing elements
    sweep_time: float = 0.1         # each round reopens this share of the atoms, redrawn at this t
    type_window: tuple[float, float] = (1.0, 0.0)  # elements unmask while t falls from the first to the second

    def __post_init__(self):
        type_time(1.0, self.type_window)   # a bad window fails here, before any network call
        if self.unmask_order not in ("random", "confidence"):
            raise ValueError(f"unmask_order must be 'random' or 'confidence', not {self.unmask_order!r}")


def reverse_step(tokens, logits, t_atom, s_atom, allowed=None, generator=None, temperature=1.0, remask=0.0,
                 order="random", crystal=None, order_noise=0.0):
    """The element step t -> s with ReMDM remasking and a choice of unmasking order."""
    masked = tokens == MASK_TOKEN
    if remask <= 0 and not bool(masked.any()):
        return tokens
    sigma = torch.minimum(torch.full_like(s_atom, remask), s_atom / (1 - t_atom).clamp_min(1e-12))
    # P(unmasked at s) = (1 - t)(1 - σ) + P(unmask) t = 1 - s
    unmask_prob = ((t_atom - s_atom + sigma * (1 - t_atom)) / t_atom.clamp_min(1e-12)).clamp(0, 1)
    u = torch.rand(tokens.shape, device=tokens.device, generator=generator)
    out = tokens.clone()
    if remask > 0:
        out[~masked & (u < sigma)] = MASK_TOKEN
    unmask = masked & (u < unmask_prob)
    if not bool(unmask.any()):
        return out
    if order == "confidence":
        return _unmask_most_confident(out, masked, unmask, logits, crystal, allowed, generator, temperature,
                                      order_noise)
    out[unmask] = MaskedTypeDiffusion._draw(logits[unmask], allowed, generator, temperature)[0]
    return out


def _unmask_most_confident(out, masked, unmask, logits, crystal, allowed, generator, temperature, order_noise=0.0):
    if crystal is None:
        raise ValueError("order='confidence' needs each atom's crystal index")
    crystals = int(crystal.max()) + 1
    quota = torch.zeros(crystals, dtype=torch.long, device=out.device).index_add_(0, crystal, unmask.long())
    draw, confidence = MaskedTypeDiffusion._draw(logits[masked], allowed, generator, temperature)
    score = torch.full(out.shape, -torch.inf, device=out.device)
    score[masked] = confidence.clamp_min(1e-30).log()
    if order_noise > 0:
        u = torch.rand(int(masked.sum()), device=out.device, generator=generator).clamp(1e-12, 1 - 1e-12)
        score[masked] += order_noise * -torch.log(-torch.log(u))
    # rank atoms within their crystal, surest first (stable sorts keep crystals contiguous)
    by_score = torch.argsort(-score, stable=True)
    ranked = by_score[torch.argsort(crystal[by_score], stable=True)]
    sizes = torch.bincount(crystal, minlength=crystals)
    first = torch.cumsum(sizes, 0) - sizes
    rank = torch.empty_like(ranked)
    rank[ranked] = torch.arange(len(ranked), device=out.device) - first[crystal[ranked]]
    drawn = torch.zeros_like(out)
    drawn[masked] = draw
    chosen = masked & (rank < quota[crystal])
    out[chosen] = drawn[chosen]
    return out


def research_type_step(model, config: ResearchSamplerConfig):
    """The element step of matlib's sampler (its `type_step` hook) with remasking, the confidence
    order and the elements' own clock."""
    def step(tokens, logits, t, s, atom_crystal, generator):
        every = torch.ones(len(atom_crystal), device=tokens.device)
        t_types, s_types = type_time(t, config.type_window), type_time(s, config.type_window)
        return reverse_step(tokens, logits, every * t_types, every * s_types, model.allowed_elements, generator,
                            config.type_temperature, config.remask, config.unmask_order, atom_crystal,
                            config.order_noise)
    return step


def sample(model, num_atoms: torch.Tensor | int, config: SamplerConfig = ResearchSamplerConfig(), *,
           generator: torch.Generator | None = None, denoise_fn: Callable | None = None,
           constraint: Callable | None = None, autocast: Callable | None = None,
           desc: str = "sampling") -> SampleResult:
    """`matlib.diffusion.sample` with the research options of ``config`` (a plain SamplerConfig
    samples as matlib does): matlib's loop runs chunk by chunk with the research element step, and
    the element sweeps follow each chunk."""
    if not isinstance(config, ResearchSamplerConfig):
        config = ResearchSamplerConfig(**vars(config))
    if isinstance(num_atoms, int):
        num_atoms = model.sample_num_atoms(num_atoms, generator=generator)
    num_atoms = torch.as_tensor(num_atoms, device=model.device)
    plain = SamplerConfig(**{f.name: getattr(config, f.name) for f in fields(SamplerConfig)})
    start = time.perf_counter()
    pieces, trajectory, calls = [], Trajectory(), 0
    for index, n in enumerate(torch.split(num_atoms, config.batch_size)):
        part = matlib_sample(model, n, replace(plain, record_every=plain.record_every if index == 0 else 0),
                             generator=generator, denoise_fn=denoise_fn, constraint=constraint, autocast=autocast,
                             type_step=research_type_step(model, config), desc=desc)
        crystals, calls = part.crystals, calls + part.network_calls
        if config.element_sweeps:
            crystals, sweep_calls = _sweep_elements(model, crystals, config, generator, denoise_fn, constraint,
                                                    autocast)
            calls += sweep_calls
        trajectory = part.trajectory if index == 0 else trajectory
        pieces.append(crystals)
    return SampleResult(CrystalBatch.collate(pieces), trajectory, time.perf_counter() - start, calls)


def _sweep_elements(model, crystals: CrystalBatch, config, generator, denoise_fn, constraint, autocast):
    """Rounds on the finished crystals, Gibbs-like: reopen a random share `sweep_time` of the
    elements and redraw them given the rest and the settled positions (one network call a round)."""
    n = crystals.num_atoms.to(model.device)
    edges = all_pair_edges(n)
    state = State(crystals.atom_types.to(model.device), crystals.frac_coords.to(model.device),
                  crystals.lattice.to(model.device), n)
    denoise_fn, autocast = denoise_fn or model.denoise, autocast or contextlib.nullcontext
    t, ones = config.sweep_time, torch.ones(len(n), device=model.device)
    every = torch.ones(len(edges[0]), device=model.device)
    with torch.no_grad():
        for _ in range(config.element_sweeps):
            reopen = torch.rand(state.tokens.shape, device=state.tokens.device, generator=generator) < t
            state.tokens = torch.where(reopen, torch.full_like(state.tokens, MASK_TOKEN), state.tokens)
            with autocast():
                _, _, logits = denoise_fn(state.tokens, state.frac, state.lattice, n, ones * t, edges)
            # s = 0: every reopened atom is redrawn
            state.tokens = model.types.reverse_step(state.tokens, logits, every * t, every * 0.0,
                                                    model.allowed_elements, generator, config.type_temperature)
            if constraint is not None:
                state = constraint(state, ones * 0.0)
    return state.to_batch(), config.element_sweeps


@dataclass
class ResearchDiffusionConfig(DiffusionConfig):
    # share of training crystals whose elements are masked at a time of their own, drawn apart from
    # the positions' and cell's: the sampler can then resolve elements on its own clock (type_window)
    independent_type_time: float = 0.0


class ResearchDiffusion(CrystalDiffusion):
    """CrystalDiffusion whose training may give the elements their own clock (`independent_type_time`)."""

    @classmethod
    def from_data(cls, batch: CrystalBatch, denoiser: DenoiserConfig = DenoiserConfig(),
                  independent_type_time: float = 0.0, **overrides) -> "ResearchDiffusion":
        model = super().from_data(batch, denoiser, **overrides)
        model.config = ResearchDiffusionConfig(**vars(model.config), independent_type_time=independent_type_time)
        return model

    def element_times(self, t: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """t itself, except for a share ``independent_type_time`` of the crystals, which draw their own."""
        share = getattr(self.config, "independent_type_time", 0.0)
        if share <= 0:
            return t
        own = self.config.t_min + (1 - self.config.t_min) * torch.rand(t.shape, device=t.device, generator=generator)
        apart = torch.rand(t.shape, device=t.device, generator=generator) < share
        return torch.where(apart, own, t)


def load(stem: str | Path, device: str | torch.device = "cpu", dataset: str | None = None):
    """A diffusion checkpoint whose config may carry `independent_type_time` (the type-clock probe's)."""
    return checkpoints.load_model(stem, lambda c: ResearchDiffusion(ResearchDiffusionConfig.from_dict(c)), device,
                                  "diffusion model", dataset=dataset)
