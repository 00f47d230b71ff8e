"""Save and load a CDVAE: half-precision safetensors plus a manifest holding its configuration."""
from __future__ import annotations

from pathlib import Path

import torch

from .. import checkpoints
from .model import CDVAE, CDVAEConfig


def save(stem: str | Path, model: CDVAE, *, metrics: dict | None = None, extra: dict | None = None,
         step: int = 0) -> Path:
    return checkpoints.save(stem, model, config=model.config.as_dict(), metrics=metrics, extra=extra, step=step,
                            weights_dtype=torch.float16)


def load(stem: str | Path, device: str | torch.device = "cpu") -> tuple[CDVAE, checkpoints.Checkpoint]:
    return checkpoints.load_model(stem, lambda config: CDVAE(CDVAEConfig.from_dict(config)), device, "CDVAE")

exists = checkpoints.exists
