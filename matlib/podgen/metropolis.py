"""The Metropolis rule, written once for every state space (the toy check and the crystals use it).

With a symmetric proposal q(x' | x) = q(x | x'), accepting x' with probability min(1, π(x') / π(x))
leaves π invariant, so the chain's histogram converges to π whatever π's normalising constant.
"""
from __future__ import annotations

from typing import Callable

import torch


def accept(log_target_current: torch.Tensor, log_target_proposed: torch.Tensor,
           generator: torch.Generator | None = None) -> torch.Tensor:
    """(chains,) bool: accept where log U < Δ log π. A proposal scored -inf (invalid) is never taken;
    NaN scores are refused loudly (they would silently freeze or corrupt a chain)."""
    if torch.isnan(log_target_proposed).any() or torch.isnan(log_target_current).any():
        raise FloatingPointError("the target density returned NaN; invalid states must score -inf")
    uniform = torch.rand(log_target_current.shape, generator=generator, device=log_target_current.device)
    return torch.log(uniform) < (log_target_proposed - log_target_current)


def metropolis_chain(initial, log_target: Callable, propose: Callable, steps: int,
                     generator: torch.Generator | None = None, select: Callable | None = None):
    """Run ``steps`` Metropolis steps from ``initial`` (a tensor of chains' states, first axis = chain).

    ``propose(state, generator)`` makes symmetric proposals; ``log_target(state)`` scores each chain.
    Yields ``(state, accepted, log_target_of_state)`` after every step. ``select(accepted, proposed, state)`` merges
    states of another type than a plain tensor.
    """
    merge = select or (lambda keep, new, old: torch.where(keep.reshape(-1, *[1] * (new.dim() - 1)), new, old))
    state, current = initial, log_target(initial)
    for _ in range(steps):
        proposal = propose(state, generator)
        proposed = log_target(proposal)
        taken = accept(current, proposed, generator)
        state = merge(taken, proposal, state)
        current = torch.where(taken, proposed, current)
        yield state, taken, current


def cosine_temperatures(start: float, end: float, levels: int) -> list[float]:
    """``levels`` temperatures from ``start`` down to ``end`` along half a cosine (PODGen's schedule)."""
    if levels < 2:
        return [end]
    steps = torch.arange(levels, dtype=torch.float64) / (levels - 1)
    return [float(end + (start - end) * 0.5 * (1 + torch.cos(torch.pi * s))) for s in steps]


def converged(trace: list[float], window: int = 10, tolerance: float = 0.5) -> bool:
    """A level's convergence test: the mean log π of the last window moved by less than
    ``tolerance`` (nats) from the window before it."""
    if len(trace) < 2 * window:
        return False
    recent = sum(trace[-window:]) / window
    before = sum(trace[-2 * window:-window]) / window
    return abs(recent - before) < tolerance
