"""Fine-tune a trained diffusion model on labelled crystals: adapters only, or all weights.

"adapters": the base network is frozen and only the zero-initialised adapters learn (MatterGen's
default; small, and the unconditional model is kept exactly). "all": every weight learns, with a
smaller learning rate, at the same time budget. Either way the condition is dropped for
``drop_probability`` of the crystals, which keeps an unconditional score for guidance. Crystals
without a label (NaN) always train unconditionally: a small-label experiment sets most labels to NaN.
``lr_schedule="cosine"`` lowers the learning rate to zero over whichever budget (steps or seconds)
ends first, so a time-budgeted run still ends on small, careful steps.
"""
from __future__ import annotations

import copy

import torch

from ..batching import crystal_minibatches
from ..crystal import CrystalBatch
from ..training import TrainResult, budget_schedule, fit
from .adapters import ConditionedDiffusion
from .model import CrystalDiffusion

MODES = {"adapters": 1e-3, "all": 1e-4}   # mode -> default learning rate


def fine_tune(base: CrystalDiffusion, batch: CrystalBatch, labels: torch.Tensor, *, mode: str = "adapters",
              seconds: float | None = 60.0, max_steps: int = 100_000, batch_size: int = 256, lr: float | None = None,
              drop_probability: float = 0.2, ema_decay: float | None = 0.999, seed: int = 0, autocast=None,
              lr_schedule: str = "constant", snapshot_budget: tuple[int, float | None] | None = None,
              desc: str = "fine-tuning") -> tuple[ConditionedDiffusion, TrainResult]:
    """A ``ConditionedDiffusion`` trained on ``batch`` (prepared: symmetric cells) and ``labels`` (NaN = none).

    The base model is copied, never changed. With ``snapshot_budget`` (steps, seconds), the result
    also holds the weights at that shorter budget: ``snapshot_model(model, result)`` rebuilds them.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {sorted(MODES)}, got {mode!r}")
    if len(labels) != len(batch):
        raise ValueError(f"{len(labels)} labels for {len(batch)} crystals")
    with torch.random.fork_rng(devices=[]):       # the adapters' initial weights follow `seed` too
        torch.manual_seed(seed)
        model = ConditionedDiffusion.from_base(copy.deepcopy(base), labels.float())
    model.freeze_base(mode == "adapters")
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=lr or MODES[mode])
    scheduler = budget_schedule(optimizer, lr_schedule, max_steps, seconds)
    batch = batch.to(model.device)
    batches = crystal_minibatches(batch, min(batch_size, len(batch)), seed, values=labels.float())
    generator = torch.Generator(device=model.device).manual_seed(seed)

    def step(m, item):
        crystals, values = item
        return m.loss(crystals, values, drop_probability, generator)

    result = fit(model, optimizer, step, batches, max_steps=max_steps, max_seconds=seconds, grad_clip=1.0,
                 scheduler=scheduler, autocast=autocast, ema_decay=ema_decay, snapshot_budget=snapshot_budget,
                 log_every=max(1, min(50, max_steps // 20)), desc=desc)
    model.eval()
    return model, result


def snapshot_model(model: ConditionedDiffusion, result: TrainResult) -> ConditionedDiffusion:
    """The model as it was at ``result.snapshot``; the final model itself when the run ended first."""
    if result.snapshot is None:
        return model
    earlier = copy.deepcopy(model)
    earlier.load_state_dict(result.snapshot["state"])
    return earlier.eval()


__all__ = ["MODES", "fine_tune", "snapshot_model"]
