"""Training by maximum likelihood, and the checkpoint store (half-precision safetensors + manifest)."""
from __future__ import annotations

from pathlib import Path

import torch

from .. import checkpoints
from ..batching import shuffled_indices
from ..training import TrainResult, fit
from .model import ARConfig, WyckoffTransformer, nll_loss
from .sites import SiteBatch


def nll_step(model: WyckoffTransformer, batch: SiteBatch) -> dict[str, torch.Tensor]:
    return nll_loss(model, batch)


@torch.no_grad()
def mean_nll(model: WyckoffTransformer, batch: SiteBatch, batch_size: int = 4096) -> float:
    """Mean negative log-likelihood per crystal of a batch (nats)."""
    model.eval()
    total = sum(float(-model.log_prob(batch.select(slice(s, s + batch_size))).sum())
                for s in range(0, len(batch), batch_size))
    model.train()
    return total / len(batch)


def train(model: WyckoffTransformer, data: SiteBatch, *, steps: int, batch_size: int = 256, lr: float = 1e-3,
          holdout: float = 0.05, seed: int = 0, max_seconds: float | None = None, eval_every: int = 250,
          desc: str = "autoregressive model") -> tuple[WyckoffTransformer, TrainResult]:
    """Maximum likelihood on ``data`` (a SiteBatch on the training device); a held-out part of it
    picks the best weights, so a long run cannot end on an over-fitted model."""
    n = len(data)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_hold = max(1, int(round(holdout * n))) if holdout > 0 and n > 20 else 0
    held, kept = order[:n_hold], order[n_hold:]
    held_batch = data.select(held.to(data.wyckoff.device)) if n_hold else None
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-2)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=max(steps, 2),
                                                    pct_start=max(0.05, 2 / max(steps, 2)))
    evaluate = (lambda m: {"holdout_nll": mean_nll(m, held_batch)}) if n_hold else None
    batches = (data.select(kept[i].to(data.wyckoff.device))
               for i in shuffled_indices(len(kept), min(batch_size, len(kept)), seed=seed))
    result = fit(model, optimizer, nll_step, batches,
                 max_steps=steps, max_seconds=max_seconds, scheduler=scheduler, grad_clip=1.0, evaluate=evaluate,
                 eval_every=eval_every, keep_best="holdout_nll" if n_hold else None, desc=desc,
                 log_every=max(10, steps // 200))     # a short history: it is saved in the manifest
    return model, result


class ARStore:
    """The autoregressive model as a store for `load_or_train`."""

    exists = staticmethod(checkpoints.exists)

    @staticmethod
    def save(stem: str | Path, model: WyckoffTransformer, *, dataset: str, split: str, step: int = 0,
             extra: dict | None = None, metrics: dict | None = None) -> Path:
        return checkpoints.save(stem, model, config=model.config.as_dict(), metrics=metrics, extra=extra, step=step,
                                weights_dtype=torch.float16, trained_on={"dataset": dataset, "split": split})

    @staticmethod
    def load(stem: str | Path, device="cpu", dataset: str | None = None):
        return checkpoints.load_model(stem, lambda config: WyckoffTransformer(ARConfig(**config)), device,
                                      "autoregressive Wyckoff model", dataset=dataset)
