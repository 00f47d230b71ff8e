"""A small training loop shared by every notebook: progress bar, step and time budgets, a guard
against NaN/Inf losses, periodic checkpoints, and resuming where the last run stopped."""
from __future__ import annotations

import contextlib
import itertools
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping

import torch

from . import checkpoints
from .progress import progress


class NonFiniteLossError(FloatingPointError):
    pass


@dataclass
class TrainResult:
    history: list[dict] = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0
    stopped: str = "max_steps"        # or "time_budget"
    resumed_from: int = 0

    def last(self, key: str = "loss") -> float:
        return self.history[-1][key] if self.history else math.nan


StepFn = Callable[[torch.nn.Module, object], Mapping[str, torch.Tensor]]


def _cycle(batches: Iterable) -> Iterable:
    """Endless epochs over a re-iterable (list, DataLoader); a generator is consumed once."""
    for epoch in itertools.count():
        empty = True
        for batch in batches:
            empty = False
            yield batch
        if empty:
            raise ValueError("the training batches are empty")


def fit(model: torch.nn.Module, optimizer: torch.optim.Optimizer, step_fn: StepFn, batches: Iterable, *,
        max_steps: int, max_seconds: float | None = None, checkpoint: str | Path | None = None,
        checkpoint_every: int = 500, log_every: int = 10, grad_clip: float | None = None,
        scheduler=None, autocast: Callable[[], contextlib.AbstractContextManager] | None = None,
        config: dict | None = None, desc: str = "training") -> TrainResult:
    """Train until `max_steps` (total, counting resumed ones) or `max_seconds` of this call.

    ``step_fn(model, batch)`` returns a dict of losses whose ``"loss"`` entry is minimised; every
    entry is logged. With ``checkpoint``, an existing checkpoint there is resumed (model, optimizer,
    step, history) and the state is saved every ``checkpoint_every`` steps and at the end.
    """
    result = TrainResult()
    if checkpoint is not None and checkpoints.exists(checkpoint):
        ckpt = checkpoints.load(checkpoint, model=model, optimizer=optimizer)
        result.steps = result.resumed_from = ckpt.step
        result.history = list(ckpt.manifest.get("extra", {}).get("history", []))
    autocast = autocast or contextlib.nullcontext
    start = time.perf_counter()
    model.train()
    bar = progress(total=max_steps, initial=result.steps, desc=desc)
    data = _cycle(batches)

    def save():
        if checkpoint is not None:
            checkpoints.save(checkpoint, model, optimizer=optimizer, step=result.steps, config=config,
                             metrics={"loss": result.last()}, extra={"history": result.history})

    try:
        while result.steps < max_steps:
            if max_seconds is not None and time.perf_counter() - start > max_seconds:
                result.stopped = "time_budget"
                break
            batch = next(data)
            with autocast():
                losses = step_fn(model, batch)
            loss = losses["loss"]
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            result.steps += 1
            bar.update(1)
            if result.steps % log_every == 0 or result.steps == max_steps:
                entry = {"step": result.steps, "time": time.perf_counter() - start,
                         **{k: float(v.detach()) for k, v in losses.items()}}
                bad = [k for k, v in entry.items() if not math.isfinite(v)]
                if bad:
                    raise NonFiniteLossError(
                        f"{', '.join(bad)} became {entry[bad[0]]} at step {result.steps} (last logged loss "
                        f"{result.last()}). Lower the learning rate, clip gradients, check the inputs for NaN, "
                        f"or turn mixed precision off. The last good checkpoint is kept.")
                result.history.append(entry)
                bar.set_postfix(loss=f"{entry['loss']:.4g}")
            if checkpoint is not None and result.steps % checkpoint_every == 0:
                save()
    finally:
        bar.close()
    result.seconds = time.perf_counter() - start
    if not math.isnan(result.last()):
        save()
    return result
