"""Save and load a trained diffusion model: half-precision safetensors plus a manifest that
holds the model's own configuration, so a checkpoint rebuilds the right network by itself.
Property adapters are saved on their own and loaded on top of their base model."""
from __future__ import annotations

from pathlib import Path

import torch

from .. import checkpoints
from .adapters import ConditionedDiffusion, PropertyAdapters
from .model import CrystalDiffusion, DiffusionConfig


def save(stem: str | Path, model: CrystalDiffusion, *, dataset: str, split: str, metrics: dict | None = None,
         extra: dict | None = None, step: int = 0, half: bool = True) -> Path:
    """``dataset`` and ``split``: what it was trained on, recorded and checked wherever it is loaded."""
    return checkpoints.save(stem, model, config=model.config.as_dict(), metrics=metrics, extra=extra, step=step,
                            weights_dtype=torch.float16 if half else None,
                            trained_on={"dataset": dataset, "split": split})


def load(stem: str | Path, device: str | torch.device = "cpu",
         dataset: str | None = None) -> tuple[CrystalDiffusion, checkpoints.Checkpoint]:
    """Rebuild the model from the manifest and load the (sha256-verified) weights in float32; with
    ``dataset``, a model trained on another dataset is refused."""
    return checkpoints.load_model(stem, lambda config: CrystalDiffusion(DiffusionConfig.from_dict(config)), device,
                                  "diffusion model", dataset=dataset)

exists = checkpoints.exists


def save_adapters(stem: str | Path, model: ConditionedDiffusion, *, base: str, dataset: str, split: str, prop: str,
                  metrics: dict | None = None, extra: dict | None = None, step: int = 0) -> Path:
    """Only the adapters (the base model lives in its own checkpoint, named by ``base``)."""
    adapters = model.adapters
    first = adapters.blocks[0]
    config = {"base": base, "property": prop, "dim": first.out.in_features, "layers": len(adapters.blocks),
              "cond_dim": adapters.encoding.dim, "hidden": first.mix[0].out_features,
              "mean": float(adapters.encoding.stats[0]), "std": float(adapters.encoding.stats[1]),
              "label_range": adapters.label_range}
    return checkpoints.save(stem, adapters, config=config, metrics=metrics, extra=extra, step=step,
                            weights_dtype=torch.float16,
                            trained_on={"dataset": dataset, "split": split, "property": prop})


def load_adapters(stem: str | Path, base: CrystalDiffusion, *, dataset: str | None = None,
                  prop: str | None = None) -> tuple[ConditionedDiffusion, checkpoints.Checkpoint]:
    """Adapters from ``stem`` on top of ``base`` (which must have the architecture they were trained on);
    adapters trained on another dataset or property than the ones named are refused."""
    def build(c: dict) -> PropertyAdapters:
        if c["dim"] != base.config.denoiser.dim or c["layers"] != len(base.network.layers):
            raise ValueError(f"{stem}: adapters for width {c['dim']} × {c['layers']} blocks do not fit this base model")
        return PropertyAdapters(c["dim"], c["layers"], c["mean"], c["std"], c["cond_dim"], c["hidden"],
                                c.get("label_range"))      # absent from checkpoints saved before it was recorded

    adapters, ckpt = checkpoints.load_model(stem, build, base.device, "set of property adapters", dataset=dataset,
                                            property=prop)
    return ConditionedDiffusion(base, adapters), ckpt


class AdapterStore:
    """Property adapters on one base model, seen as a store (`load_or_train` loads and saves them)."""

    exists = staticmethod(checkpoints.exists)

    def __init__(self, base: CrystalDiffusion, base_name: str, prop: str):
        self.base, self.base_name, self.prop = base, base_name, prop

    def load(self, stem: str | Path, device=None, dataset: str | None = None):
        """The adapters on the base model, on the base model's device (`device` is not used)."""
        return load_adapters(stem, self.base, dataset=dataset, prop=self.prop)

    def save(self, stem: str | Path, model: ConditionedDiffusion, **options) -> Path:
        return save_adapters(stem, model, base=self.base_name, prop=self.prop, **options)
