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
    best: dict = field(default_factory=dict)   # the kept metric's best value, with keep_best
    snapshot: dict | None = None   # with snapshot_budget: {"steps", "seconds", "state"} (averaged weights if EMA)

    def last(self, key: str = "loss") -> float:
        values = [h[key] for h in self.history if key in h]
        return values[-1] if values else math.nan

    def curve(self, key: str) -> tuple[list[int], list[float]]:
        """(steps, values) of one logged quantity, for learning-curve plots."""
        rows = [(h["step"], h[key]) for h in self.history if key in h]
        return [r[0] for r in rows], [r[1] for r in rows]


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


StepFn = Callable[[torch.nn.Module, object], Mapping[str, torch.Tensor]]


def _state_copy(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


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
        evaluate: Callable[[torch.nn.Module], Mapping[str, float]] | None = None, eval_every: int = 100,
        keep_best: str | None = None, config: dict | None = None, ema_decay: float | None = None,
        resume: bool = True, snapshot_budget: tuple[int, float | None] | None = None,
        trained_on: dict | None = None, desc: str = "training") -> TrainResult:
    """Train until `max_steps` (total, counting resumed ones) or `max_seconds` of this call.

    ``step_fn(model, batch)`` returns a dict of losses whose ``"loss"`` entry is minimised; every
    entry is logged. With ``checkpoint``, an existing checkpoint there is resumed (model, optimizer,
    step, history) unless ``resume=False`` (then it is overwritten), and the state is saved every
    ``checkpoint_every`` steps and at the end.
    ``evaluate(model)`` (e.g. validation MAE) runs every ``eval_every`` steps and at the end; its
    values join the history. ``keep_best="val_mae"`` restores the weights with the lowest value.
    ``ema_decay`` (e.g. 0.999) keeps an exponential moving average of the weights and leaves it in
    ``model`` at the end (diffusion models sample better from averaged weights); checkpoints hold
    the raw weights, so a resumed run restarts the average. With both, ``evaluate`` sees the
    averaged weights (the ones this call returns), and ``keep_best`` keeps the best of those.
    ``snapshot_budget=(steps, seconds)`` copies the weights (averaged ones with EMA) the first time
    either is reached, so one long run also gives the model a shorter budget would have given.
    ``trained_on`` (e.g. ``{"dataset": "perov_5", "split": "val"}``) is recorded in the checkpoints,
    and a checkpoint of other data is never resumed.
    """
    result = TrainResult()
    if resume and checkpoint is not None and checkpoints.exists(checkpoint):
        ckpt = checkpoints.load(checkpoint)
        try:
            checkpoints.require(ckpt, **(trained_on or {}))
        except checkpoints.CheckpointError as err:
            raise checkpoints.CheckpointError(f"{err} (resume=False starts afresh and replaces it)") from None
        ckpt.load_into(model)
        optimizer.load_state_dict(checkpoints.optimizer_state(ckpt))
        result.steps = result.resumed_from = ckpt.step
        result.history = list(ckpt.manifest.get("extra", {}).get("history", []))
    autocast = autocast or contextlib.nullcontext
    start = time.perf_counter()
    model.train()
    bar = progress(total=max_steps, initial=result.steps, desc=desc)
    data = _cycle(batches)
    best_value, best_state = math.inf, None
    ema = None if ema_decay is None else torch.optim.swa_utils.AveragedModel(
        model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(ema_decay))
    returned = model if ema is None else ema.module      # the weights this call returns

    def run_evaluation() -> None:
        nonlocal best_value, best_state
        returned.eval()
        with torch.no_grad():
            scores = {k: float(v) for k, v in evaluate(returned).items()}
        model.train()
        result.history.append({"step": result.steps, "time": time.perf_counter() - start, **scores})
        if keep_best is not None and scores[keep_best] < best_value:
            best_value = scores[keep_best]
            best_state = _state_copy(returned)

    nonfinite = None          # "some loss since the start was not finite", kept on the loss's device:
    #                           no host sync per step; read before any save and before returning

    def check_losses() -> None:
        if nonfinite is not None and bool(nonfinite):
            raise NonFiniteLossError(
                f"the loss was not finite at a step up to {result.steps} (last logged loss {result.last()}, "
                f"logged every {log_every} steps). Lower the learning rate, clip gradients, check the inputs "
                f"for NaN, or turn mixed precision off. Nothing was saved after it; the last good checkpoint "
                f"is kept.")

    def save():
        if checkpoint is not None:
            check_losses()
            checkpoints.save(checkpoint, model, optimizer=optimizer, step=result.steps, config=config,
                             metrics={"loss": result.last()}, extra={"history": result.history},
                             trained_on=trained_on)

    try:
        while result.steps < max_steps:
            if max_seconds is not None and time.perf_counter() - start > max_seconds:
                result.stopped = "time_budget"
                break
            batch = next(data)
            with autocast():
                losses = step_fn(model, batch)
            loss = losses["loss"]
            bad = ~torch.isfinite(loss.detach())
            nonfinite = bad if nonfinite is None else nonfinite | bad
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            if ema is not None:
                ema.update_parameters(model)
            result.steps += 1
            bar.update(1)
            if snapshot_budget is not None and result.snapshot is None:
                elapsed = time.perf_counter() - start
                if result.steps >= snapshot_budget[0] or (snapshot_budget[1] is not None
                                                          and elapsed >= snapshot_budget[1]):
                    result.snapshot = {"steps": result.steps, "seconds": elapsed, "state": _state_copy(returned)}
            if result.steps % log_every == 0 or result.steps == max_steps:
                entry = {"step": result.steps, "time": time.perf_counter() - start,
                         **{k: float(v.detach()) for k, v in losses.items()}}
                bad = [k for k, v in entry.items() if not math.isfinite(v)]
                if bad:
                    raise NonFiniteLossError(
                        f"{', '.join(bad)} became {entry[bad[0]]} at step {result.steps} (last logged loss "
                        f"{result.last()}). Lower the learning rate, clip gradients, check the inputs for NaN, "
                        f"or turn mixed precision off. The last good checkpoint is kept.")
                check_losses()                 # a bad step between two logged ones
                result.history.append(entry)
                bar.set_postfix(loss=f"{entry['loss']:.4g}")
            if evaluate is not None and (result.steps % eval_every == 0 or result.steps == max_steps):
                run_evaluation()
            if checkpoint is not None and result.steps % checkpoint_every == 0:
                save()
        if evaluate is not None and result.stopped == "time_budget":
            run_evaluation()
        check_losses()                         # a time budget may end right after a bad step
    finally:
        bar.close()
    if best_state is not None:
        result.best = {keep_best: best_value}
        if ema is None:
            model.load_state_dict(best_state)
    result.seconds = time.perf_counter() - start
    if not math.isnan(result.last()):
        save()   # with EMA, the raw weights: a resumed run continues from them
    if ema is not None and result.steps > result.resumed_from:
        model.load_state_dict(best_state if best_state is not None else ema.module.state_dict())
    return result
