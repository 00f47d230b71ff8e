"""Save and load a trained diffusion model: half-precision safetensors plus a manifest that
holds the model's own configuration, so a checkpoint rebuilds the right network by itself."""
from __future__ import annotations

from pathlib import Path

import torch

from .. import checkpoints
from .model import CrystalDiffusion, DiffusionConfig


def save(stem: str | Path, model: CrystalDiffusion, *, metrics: dict | None = None, extra: dict | None = None,
         step: int = 0, half: bool = True) -> Path:
    return checkpoints.save(stem, model, config=model.config.as_dict(), metrics=metrics, extra=extra, step=step,
                            weights_dtype=torch.float16 if half else None)


def load(stem: str | Path, device: str | torch.device = "cpu") -> tuple[CrystalDiffusion, checkpoints.Checkpoint]:
    """Rebuild the model from the manifest and load the (sha256-verified) weights in float32."""
    ckpt = checkpoints.load(stem)
    try:
        config = DiffusionConfig.from_dict(ckpt.config)
    except (KeyError, TypeError) as err:
        raise ValueError(f"{stem}: the manifest does not describe a diffusion model ({err})") from err
    model = CrystalDiffusion(config)
    ckpt.load_into(model)
    return model.to(device), ckpt


exists = checkpoints.exists
