"""Save and load CDVAE-family models: half-precision safetensors plus a manifest with the configuration."""
from __future__ import annotations

from pathlib import Path

import torch

from .. import checkpoints
from .conditional import ConCDVAE, ConCDVAEConfig
from .latent_prior import LatentPrior, LatentPriorConfig
from .model import CDVAE, CDVAEConfig


def save(stem: str | Path, model: CDVAE | ConCDVAE | LatentPrior, *, dataset: str, split: str,
         metrics: dict | None = None, extra: dict | None = None, step: int = 0) -> Path:
    """``dataset`` and ``split``: what it was trained on, recorded and checked wherever it is loaded."""
    return checkpoints.save(stem, model, config=model.config.as_dict(), metrics=metrics, extra=extra, step=step,
                            weights_dtype=torch.float16, trained_on={"dataset": dataset, "split": split})


def _load(stem, build, device, what: str, dataset: str | None):
    model, ckpt = checkpoints.load_model(stem, build, device, what)
    checkpoints.require(ckpt, dataset=dataset)
    return model, ckpt


def load(stem: str | Path, device: str | torch.device = "cpu",
         dataset: str | None = None) -> tuple[CDVAE, checkpoints.Checkpoint]:
    """The model and its checkpoint; with ``dataset``, one trained on another dataset is refused."""
    return _load(stem, lambda config: CDVAE(CDVAEConfig.from_dict(config)), device, "CDVAE", dataset)


def load_conditional(stem: str | Path, device: str | torch.device = "cpu",
                     dataset: str | None = None) -> tuple[ConCDVAE, checkpoints.Checkpoint]:
    return _load(stem, lambda config: ConCDVAE(ConCDVAEConfig.from_dict(config)), device, "Con-CDVAE", dataset)


def load_prior(stem: str | Path, device: str | torch.device = "cpu",
               dataset: str | None = None) -> tuple[LatentPrior, checkpoints.Checkpoint]:
    return _load(stem, lambda config: LatentPrior(LatentPriorConfig.from_dict(config)), device, "latent prior",
                 dataset)


def warm_start(stem: str | Path, dataset: str, device: str | torch.device = "cpu") -> tuple[CDVAE, int, list]:
    """A saved model to train on, for a second call when the full training state cannot travel:
    (model with the checkpoint's averaged weights, steps it was trained for, its loss history).
    The optimizer starts afresh. A checkpoint of another dataset (its lattice scaling and atom
    counts would not fit) is refused."""
    model, ckpt = load(stem, device=device, dataset=dataset)
    return model, ckpt.step, list(ckpt.manifest.get("extra", {}).get("history", []))


exists = checkpoints.exists
