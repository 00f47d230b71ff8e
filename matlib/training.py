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
from .weight_average import WeightAverage
from .schedules import SCHEDULES, budget_cosine, budget_schedule  # noqa: F401  (notebooks import them from here)


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
        trained_on: dict | None = None, desc: str = "training", update: Callable | None = None) -> TrainResult:
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
    ``update(batch)`` (e.g. a `matlib.captured_step.CapturedStep`) makes the whole update itself
    (forward, backward, clipping, optimizer step) and returns the losses; ``step_fn``, ``grad_clip``
    and ``autocast`` are then its business. The schedule, weight average and checks stay here.
    """
    result = TrainResult()
    if resume and checkpoint is not None and checkpoints.exists(checkpoint):
        _resume(result, model, optimizer, checkpoint, trained_on, recorded=update is not None)
    autocast = autocast or contextlib.nullcontext
    start = time.perf_counter()
    model.train()
    bar = progress(total=max_steps, initial=result.steps, desc=desc)
    data = _cycle(batches)
    run = _Run(model, optimizer, result, start, checkpoint=checkpoint, config=config, trained_on=trained_on,
               log_every=log_every, evaluate=evaluate, keep_best=keep_best, ema_decay=ema_decay, update=update)
    try:
        while result.steps < max_steps:
            if max_seconds is not None and time.perf_counter() - start > max_seconds:
                result.stopped = "time_budget"
                break
            losses = run.train_step(next(data), step_fn, autocast, grad_clip, scheduler)
            bar.update(1)
            run.take_snapshot(snapshot_budget)
            if result.steps % log_every == 0 or result.steps == max_steps:
                bar.set_postfix(loss=f"{run.log(losses)['loss']:.4g}")
            if evaluate is not None and (result.steps % eval_every == 0 or result.steps == max_steps):
                run.evaluation()
            if checkpoint is not None and result.steps % checkpoint_every == 0:
                run.save()
        if evaluate is not None and result.stopped == "time_budget":
            run.evaluation()
        run.check_losses()                     # a time budget may end right after a bad step
    finally:
        bar.close()
    return run.finish()


def _resume(result: TrainResult, model: torch.nn.Module, optimizer: torch.optim.Optimizer, checkpoint: str | Path,
            trained_on: dict | None, recorded: bool = False) -> None:
    """Model, optimizer, step and history from the checkpoint, if it was trained on the same data."""
    if recorded:   # loading would replace the optimizer tensors a recorded step writes
        raise ValueError("a recorded update cannot resume a checkpoint: resume first, then record the step")
    ckpt = checkpoints.load(checkpoint)
    try:
        checkpoints.require(ckpt, **(trained_on or {}))
    except checkpoints.CheckpointError as err:
        raise checkpoints.CheckpointError(f"{err} (resume=False starts afresh and replaces it)") from None
    ckpt.load_into(model)
    optimizer.load_state_dict(checkpoints.optimizer_state(ckpt))
    result.steps = result.resumed_from = ckpt.step
    result.history = list(ckpt.manifest.get("extra", {}).get("history", []))


class _Run:
    """The state one ``fit`` call's steps share: the result so far, the weight average, the best
    weights and whether any loss since the start was not finite."""

    def __init__(self, model, optimizer, result: TrainResult, start: float, *, checkpoint, config, trained_on,
                 log_every: int, evaluate, keep_best: str | None, ema_decay: float | None, update=None):
        self.model, self.optimizer, self.result, self.start = model, optimizer, result, start
        self.checkpoint, self.config, self.trained_on, self.log_every = checkpoint, config, trained_on, log_every
        self.evaluate, self.keep_best = evaluate, keep_best
        self.best_value, self.best_state = math.inf, None
        self.ema = None if ema_decay is None else WeightAverage(model, ema_decay)
        self.returned = model if self.ema is None else self.ema.module      # the weights this call returns
        self.update = update                   # a whole update of its own (fit's ``update``)
        # "some loss since the start was not finite", kept on the loss's device: no host sync per
        # step; read before any save and before returning
        self.nonfinite = None

    def train_step(self, batch, step_fn: StepFn, autocast, grad_clip: float | None, scheduler) -> Mapping:
        losses = self.update(batch) if self.update is not None else self.eager_update(batch, step_fn, autocast, grad_clip)
        bad = ~torch.isfinite(losses["loss"].detach())
        self.nonfinite = bad if self.nonfinite is None else self.nonfinite | bad
        if scheduler is not None:
            scheduler.step()
        if self.ema is not None:
            self.ema.update_parameters(self.model)
        self.result.steps += 1
        return losses

    def eager_update(self, batch, step_fn: StepFn, autocast, grad_clip: float | None) -> Mapping:
        with autocast():
            losses = step_fn(self.model, batch)
        self.optimizer.zero_grad(set_to_none=True)
        losses["loss"].backward()
        if grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), grad_clip)
        self.optimizer.step()
        return losses

    def take_snapshot(self, budget: tuple[int, float | None] | None) -> None:
        """Copy the returned weights the first time the step or time budget is reached."""
        if budget is None or self.result.snapshot is not None:
            return
        elapsed = time.perf_counter() - self.start
        if self.result.steps >= budget[0] or (budget[1] is not None and elapsed >= budget[1]):
            self.result.snapshot = {"steps": self.result.steps, "seconds": elapsed, "state": _state_copy(self.returned)}

    def log(self, losses: Mapping[str, torch.Tensor]) -> dict:
        result = self.result
        entry = {"step": result.steps, "time": time.perf_counter() - self.start,
                 **{k: float(v.detach()) for k, v in losses.items()}}
        bad = [k for k, v in entry.items() if not math.isfinite(v)]
        if bad:
            raise NonFiniteLossError(
                f"{', '.join(bad)} became {entry[bad[0]]} at step {result.steps} (last logged loss "
                f"{result.last()}). Lower the learning rate, clip gradients, check the inputs for NaN, "
                f"or turn mixed precision off. The last good checkpoint is kept.")
        self.check_losses()                    # a bad step between two logged ones
        result.history.append(entry)
        return entry

    def evaluation(self) -> None:
        self.returned.eval()
        with torch.no_grad():
            scores = {k: float(v) for k, v in self.evaluate(self.returned).items()}
        self.model.train()
        self.result.history.append({"step": self.result.steps, "time": time.perf_counter() - self.start, **scores})
        if self.keep_best is not None and scores[self.keep_best] < self.best_value:
            self.best_value = scores[self.keep_best]
            self.best_state = _state_copy(self.returned)

    def check_losses(self) -> None:
        if self.nonfinite is not None and bool(self.nonfinite):
            raise NonFiniteLossError(
                f"the loss was not finite at a step up to {self.result.steps} (last logged loss {self.result.last()}, "
                f"logged every {self.log_every} steps). Lower the learning rate, clip gradients, check the inputs "
                f"for NaN, or turn mixed precision off. Nothing was saved after it; the last good checkpoint "
                f"is kept.")

    def save(self) -> None:
        if self.checkpoint is not None:
            self.check_losses()
            checkpoints.save(self.checkpoint, self.model, optimizer=self.optimizer, step=self.result.steps,
                             config=self.config, metrics={"loss": self.result.last()},
                             extra={"history": self.result.history}, trained_on=self.trained_on)

    def finish(self) -> TrainResult:
        """The best (or averaged) weights into the model, the final save, the result."""
        result = self.result
        if self.best_state is not None:
            result.best = {self.keep_best: self.best_value}
            if self.ema is None:
                self.model.load_state_dict(self.best_state)
        result.seconds = time.perf_counter() - self.start
        if not math.isnan(result.last()):
            self.save()   # with EMA, the raw weights: a resumed run continues from them
        if self.ema is not None and result.steps > result.resumed_from:
            self.model.load_state_dict(self.best_state if self.best_state is not None else self.ema.module.state_dict())
        return result
