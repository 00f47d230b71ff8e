"""Load a trained model or train one, the route every training notebook takes.

1. an explicit checkpoint (it must exist), else a committed one where the profile uses it: load it;
2. otherwise train: from scratch, from the weights of `warm_start` (a fresh optimizer), or, inside the
   notebook's `train`, resuming the full training state of an earlier run in the same folder;
3. save what was trained (safetensors plus manifest: config, metrics, what it was trained on).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

import torch

from . import checkpoints
from .results import hardware


class Store(Protocol):
    """How a kind of model is loaded and saved: `cdvae.store`, `diffusion.store`, `diffusion.store.AdapterStore`,
    `matgan.wgan.GeneratorStore`, `judges.JudgeStore`."""

    def load(self, stem: str | Path, device: Any = "cpu", dataset: str | None = None) -> tuple[Any, Any]: ...

    def save(self, stem: str | Path, model: Any, *, dataset: str, split: str, step: int, extra: dict,
             metrics: dict) -> Path: ...


@dataclass
class Trained:
    """A model ready to use, and where it came from."""

    model: Any
    steps: int
    seconds: float | None
    history: list[dict] = field(default_factory=list)
    splits: list[str] = field(default_factory=list)   # every split its weights saw: novelty checks all
    loaded: Path | None = None                         # the checkpoint it was loaded from
    saved: Path | None = None                          # the checkpoint this run wrote
    checkpoint: checkpoints.Checkpoint | None = None   # the loaded checkpoint's manifest
    run: Any = None                                    # this run's TrainResult (None when loaded)


def pick_checkpoint(explicit: str | Path | None, *candidates: str | Path | None) -> Path | None:
    """`explicit` (which must exist), else the first candidate that exists, else None (train)."""
    if explicit is not None:
        if not checkpoints.exists(explicit):
            raise FileNotFoundError(f"checkpoint {explicit}(.safetensors/.json) not found")
        return Path(explicit)
    return next((Path(c) for c in candidates if c is not None and checkpoints.exists(c)), None)


def load_or_train(store: Store, train: Callable[[Any], tuple[Any, Any]], *, model: Any = None, dataset: str,
                  split: str, save_to: str | Path | None, checkpoint: str | Path | None = None,
                  warm_start: str | Path | None = None, device: Any = "cpu",
                  metrics: Callable[[Any, list], dict] | None = None, save_loaded: bool = False) -> Trained:
    """Load `checkpoint` when given, else train (from `model`, or from the weights of `warm_start`).

    `train(model) -> (model, TrainResult)` trains the model it is given; `metrics(run, history)` adds
    entries to the saved manifest's metrics. `save_to=None` leaves saving to the caller (a judge is
    saved once its test errors are measured); `save_loaded` also copies a loaded checkpoint there.
    """
    if checkpoint is not None and warm_start is not None:
        raise ValueError("warm_start trains on from a checkpoint: do not also load one (checkpoint=None)")
    if save_loaded and save_to is None:
        raise ValueError("save_loaded copies the loaded checkpoint to save_to: name a save_to")
    if checkpoint is not None:
        model, ckpt = store.load(checkpoint, device=device, dataset=dataset)
        found = ckpt.metrics
        # older manifests kept the seconds (adapters) under another name
        trained = Trained(model, ckpt.step, found.get("train_seconds", found.get("seconds")), _history(ckpt),
                          [ckpt.trained_on.get("split")], loaded=Path(checkpoint), checkpoint=ckpt)
        if save_loaded:   # the copy keeps the original's metrics (its hardware, its budget)
            trained.saved = store.save(save_to, model, dataset=dataset, split=trained.splits[0], step=trained.steps,
                                       extra={"history": trained.history}, metrics=dict(found))
        return trained
    steps_before, history_before, splits = 0, [], [split]
    if warm_start is not None:   # its weights; the optimizer starts afresh
        model, ckpt = store.load(warm_start, device=device, dataset=dataset)
        steps_before, history_before = ckpt.step, _history(ckpt)
        splits.append(ckpt.trained_on.get("split"))
    model, run = train(model)
    history = history_before + [dict(row, step=row["step"] + steps_before) for row in run.history]
    trained = Trained(model, steps_before + run.steps, run.seconds, history, splits, run=run)
    if save_to is not None:
        trained.saved = store.save(save_to, model, dataset=dataset, split=split, step=trained.steps,
                                   extra={"history": history},
                                   metrics={"train_seconds": run.seconds, "train_split": split, "dataset": dataset,
                                            "hardware": hardware(torch.device(device)),
                                            **(metrics(run, history) if metrics else {})})
    return trained


def _history(ckpt: checkpoints.Checkpoint) -> list[dict]:
    """A checkpoint's loss history (older MatGAN manifests kept it among the metrics)."""
    return list(ckpt.manifest.get("extra", {}).get("history") or ckpt.metrics.get("history") or [])
