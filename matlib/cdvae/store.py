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


def load(stem: str | Path, device: str | torch.device = "cpu",
         dataset: str | None = None) -> tuple[CDVAE, checkpoints.Checkpoint]:
    """The model and its checkpoint; with ``dataset``, one trained on another dataset is refused."""
    return checkpoints.load_model(stem, lambda config: CDVAE(CDVAEConfig.from_dict(config)), device, "CDVAE",
                                  dataset=dataset)


def load_conditional(stem: str | Path, device: str | torch.device = "cpu",
                     dataset: str | None = None) -> tuple[ConCDVAE, checkpoints.Checkpoint]:
    return checkpoints.load_model(stem, lambda config: ConCDVAE(ConCDVAEConfig.from_dict(config)), device,
                                  "Con-CDVAE", dataset=dataset)


def load_prior(stem: str | Path, device: str | torch.device = "cpu",
               dataset: str | None = None) -> tuple[LatentPrior, checkpoints.Checkpoint]:
    return checkpoints.load_model(stem, lambda config: LatentPrior(LatentPriorConfig.from_dict(config)), device,
                                  "latent prior", dataset=dataset)


def warm_start(stem: str | Path, dataset: str, device: str | torch.device = "cpu") -> tuple[CDVAE, int, list]:
    """A saved model to train on, for a second call when the full training state cannot travel:
    (model with the checkpoint's averaged weights, steps it was trained for, its loss history).
    The optimizer starts afresh. A checkpoint of another dataset (its lattice scaling and atom
    counts would not fit) is refused."""
    model, ckpt = load(stem, device=device, dataset=dataset)
    return model, ckpt.step, list(ckpt.manifest.get("extra", {}).get("history", []))


exists = checkpoints.exists
