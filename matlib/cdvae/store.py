"""Save and load CDVAE-family models: half-precision safetensors plus a manifest with the configuration."""
from __future__ import annotations

from pathlib import Path

import torch

from .. import checkpoints
from .conditional import ConCDVAE, ConCDVAEConfig
from .latent_prior import LatentPrior, LatentPriorConfig
from .model import CDVAE, CDVAEConfig


def save(stem: str | Path, model: CDVAE | ConCDVAE | LatentPrior, *, metrics: dict | None = None,
         extra: dict | None = None, step: int = 0) -> Path:
    return checkpoints.save(stem, model, config=model.config.as_dict(), metrics=metrics, extra=extra, step=step,
                            weights_dtype=torch.float16)


def load(stem: str | Path, device: str | torch.device = "cpu") -> tuple[CDVAE, checkpoints.Checkpoint]:
    return checkpoints.load_model(stem, lambda config: CDVAE(CDVAEConfig.from_dict(config)), device, "CDVAE")


def load_conditional(stem: str | Path, device: str | torch.device = "cpu") -> tuple[ConCDVAE, checkpoints.Checkpoint]:
    return checkpoints.load_model(stem, lambda config: ConCDVAE(ConCDVAEConfig.from_dict(config)), device,
                                  "Con-CDVAE")


def load_prior(stem: str | Path, device: str | torch.device = "cpu") -> tuple[LatentPrior, checkpoints.Checkpoint]:
    return checkpoints.load_model(stem, lambda config: LatentPrior(LatentPriorConfig.from_dict(config)), device,
                                  "latent prior")


def warm_start(stem: str | Path, dataset: str, device: str | torch.device = "cpu") -> tuple[CDVAE, int, list]:
    """A saved model to train on, for a second call when the full training state cannot travel:
    (model with the checkpoint's averaged weights, steps it was trained for, its loss history).
    The optimizer starts afresh. A checkpoint that names another dataset is refused."""
    model, ckpt = load(stem, device=device)
    saved_on = ckpt.metrics.get("dataset")
    if saved_on is not None and saved_on != dataset:
        raise ValueError(f"{stem} was trained on {saved_on}, not {dataset}: its lattice scaling and atom counts "
                         "would not fit; warm-start from a checkpoint of the same dataset")
    return model, ckpt.step, list(ckpt.manifest.get("extra", {}).get("history", []))


exists = checkpoints.exists
