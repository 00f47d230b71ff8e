"""Learning-rate schedules over a step or a time budget, whichever ends first (``fit`` and the
notebooks use them; ``matlib.training`` re-exports them)."""
from __future__ import annotations

import math
import time

import torch


SCHEDULES = ("constant", "cosine")


def budget_cosine(max_steps: int, seconds: float | None):
    """LambdaLR factor: half a cosine over the fraction of the step or time budget already spent
    (the clock starts at the first call, when the scheduler is made)."""
    start = None

    def factor(step: int) -> float:
        nonlocal start
        start = time.perf_counter() if start is None else start
        spent = step / max_steps
        if seconds:
            spent = max(spent, (time.perf_counter() - start) / seconds)
        return 0.5 * (1 + math.cos(math.pi * min(spent, 1.0)))

    return factor


def budget_schedule(optimizer: torch.optim.Optimizer, schedule: str, max_steps: int, seconds: float | None,
                    warmup_steps: int = 0) -> torch.optim.lr_scheduler.LambdaLR | None:
    """A linear warm-up, then the learning rate held ("constant") or decayed to zero over whichever
    budget ends first ("cosine"); None when that leaves nothing to schedule."""
    if schedule not in SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {SCHEDULES}, got {schedule!r}")
    decay = budget_cosine(max_steps, seconds) if schedule == "cosine" else None
    if decay is None and not warmup_steps:
        return None

    def factor(step: int) -> float:
        ramp = min(1.0, (step + 1) / warmup_steps) if warmup_steps else 1.0
        return ramp * (decay(step) if decay else 1.0)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
