"""PODGen: Metropolis over log π(x) = log p_gen(x) / T + Σ_i α_i log p_i(target_i | x).

Chains start from training crystals (their symmetry templates), anneal T on the generative term
from ``temperature_start`` to 1 along a cosine (each level until a convergence test passes or its
step cap), then sample at T = 1, harvesting every ``harvest_every`` steps the crystals whose
classifier probabilities all pass their thresholds.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import torch

from ..autoregressive.sites import Rules, SiteBatch
from ..progress import progress
from . import moves as mv
from .metropolis import converged, cosine_temperatures, metropolis_chain


@dataclass
class PodgenConfig:
    temperature_start: float = 10.0
    levels: int = 8
    level_min_steps: int = 20
    level_max_steps: int = 60
    sampling_steps: int = 50
    harvest_every: int = 10
    moves: mv.MoveConfig = field(default_factory=mv.MoveConfig)


class TargetDensity:
    """log π of a batch of chains, and its parts. ``classify(state) -> (B, conditions)`` gives
    log p(target | crystal) per condition (NaN where a crystal cannot be scored)."""

    def __init__(self, log_p_gen: Callable, classify: Callable, alpha: torch.Tensor):
        self.log_p_gen, self.classify, self.alpha = log_p_gen, classify, alpha

    def parts(self, state: SiteBatch) -> tuple[torch.Tensor, torch.Tensor]:
        ok = mv.plausible_cell(state.lattice)
        gen = torch.full((len(state),), float("-inf"), device=state.lattice.device)
        cls = torch.full((len(state), len(self.alpha)), float("-inf"), device=state.lattice.device)
        if ok.any():
            gen[ok] = self.log_p_gen(state.select(ok)).float()
            cls[ok] = torch.nan_to_num(self.classify(state.select(ok)).float(), nan=float("-inf"))
        return gen, cls

    def __call__(self, state: SiteBatch, temperature: float) -> torch.Tensor:
        gen, cls = self.parts(state)
        return gen / temperature + (cls * self.alpha).sum(1)


@dataclass
class ChainRun:
    trace: list[dict] = field(default_factory=list)          # one row per step
    harvested: list[SiteBatch] = field(default_factory=list)
    snapshots: list[SiteBatch] = field(default_factory=list)  # every harvest_every steps at T = 1, all chains
    seconds: float = 0.0

    def acceptance(self) -> dict[str, float]:
        rates = {}
        for move in mv.MOVES:
            rows = [r["accepted"] for r in self.trace if r["move"] == move]
            rates[move] = sum(rows) / len(rows) if rows else float("nan")
        return rates


@torch.no_grad()
def run_chains(seeds: SiteBatch, target: TargetDensity, rules: Rules, passes: Callable, vocabulary: torch.Tensor,
               config: PodgenConfig = PodgenConfig(), seed: int = 0, progress_bar: bool | None = None) -> ChainRun:
    """Anneal, then sample. ``passes(state) -> (B,) bool`` is the harvest test (classifier thresholds)."""
    device = seeds.wyckoff.device
    generator = torch.Generator(device=device).manual_seed(seed)
    length_scale = seeds.lattice[:, :3].mean(1)
    weights = torch.tensor(config.moves.weights, dtype=torch.float)
    move_generator = torch.Generator().manual_seed(seed)     # one move type per step, for the whole batch
    run, start, state = ChainRun(), time.perf_counter(), mv.canonical_order(seeds)
    schedule = cosine_temperatures(config.temperature_start, 1.0, config.levels)
    bar = progress(total=config.levels * config.level_max_steps + config.sampling_steps, desc="PODGen chains",
                   disable=progress_bar is False)
    chosen: list[str] = []

    def propose(current: SiteBatch, gen) -> SiteBatch:
        move = mv.MOVES[int(torch.multinomial(weights, 1, generator=move_generator))]
        chosen.append(move)
        if move == "element":
            return mv.element_move(current, vocabulary, gen)
        if move == "coordinates":
            return mv.coordinate_move(current, rules, config.moves.coordinate_sigma, gen)
        return mv.lattice_move(current, rules, length_scale, config.moves, gen)

    select = lambda keep, new, old: SiteBatch(*(torch.where(keep.reshape(-1, *[1] * (a.dim() - 1)), a, b) for a, b in zip(
        (new.space_group, new.wyckoff, new.element, new.free, new.num_sites, new.lattice),
        (old.space_group, old.wyckoff, old.element, old.free, old.num_sites, old.lattice))))
    for level, temperature in enumerate(schedule + [1.0]):
        sampling = level == len(schedule)
        steps = config.sampling_steps if sampling else config.level_max_steps
        log_target = lambda s, t=temperature: target(s, t)
        level_trace: list[float] = []
        for step, (state, taken, score) in enumerate(metropolis_chain(state, log_target, propose, steps, generator,
                                                                      select)):
            level_trace.append(float(score[torch.isfinite(score)].mean()) if torch.isfinite(score).any() else float("nan"))
            run.trace.append({"level": level, "temperature": temperature, "move": chosen[-1],
                              "accepted": float(taken.float().mean()), "log_target": level_trace[-1]})
            bar.update(1)
            if sampling and (step + 1) % config.harvest_every == 0:
                run.snapshots.append(state)
                keep = passes(state)
                if keep.any():
                    run.harvested.append(state.select(keep))
            if not sampling and step + 1 >= config.level_min_steps and converged(level_trace):
                break
    bar.close()
    run.seconds = time.perf_counter() - start
    return run
