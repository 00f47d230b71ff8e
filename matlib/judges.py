"""Judges: property predictors trained in notebook 01 that score every generator in the series.

A judge is independent of the generator it scores (never the generator's own predictor) and
knows which split trained it. ``load_judge("mp_20", "band_gap")(structures)`` returns predictions,
NaN for structures it cannot score (non-finite or collapsed cells, unknown elements).
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from pymatgen.core import Structure

from . import checkpoints
from .batching import GraphCache, Minibatches
from .crystal import MIN_VOLUME_PER_ATOM, CrystalBatch
from .nn.gnn import MAX_Z, GNNConfig, PeriodicGNN
from .paths import checkpoints_dir
from .registry import get_spec
from .training import TrainResult, fit

# The judges notebook 01 trains, and the properties later notebooks ask for.
JUDGE_TASKS: dict[str, tuple[str, ...]] = {
    "mp_20": ("formation_energy_per_atom", "band_gap"),
    "perov_5": ("heat_ref", "dir_gap"),
    "carbon_24": ("energy_per_atom",),
}


def judge_stem(dataset: str, prop: str, folder: Path | None = None) -> Path:
    return (folder or checkpoints_dir() / "judges") / f"{dataset}__{prop}"


def scoreable(s: Structure) -> bool:
    lattice = s.lattice.matrix
    return (np.isfinite(lattice).all() and np.isfinite(s.frac_coords).all() and len(s) > 0
            and s.volume / len(s) >= MIN_VOLUME_PER_ATOM and all(0 < sp.Z <= MAX_Z for sp in s.species))


@dataclass
class Judge:
    model: PeriodicGNN
    dataset: str
    prop: str
    manifest: dict

    @property
    def unit(self) -> str:
        return get_spec(self.dataset).properties[self.prop].unit

    @property
    def trained_on(self) -> str:
        return self.manifest.get("config", {}).get("train_split", "?")

    @property
    def device(self) -> torch.device:
        return self.model.target_mean.device

    def describe(self) -> str:
        mae = self.manifest.get("metrics", {}).get("test_mae")
        mae_text = f", test MAE {mae:.3g} {self.unit}" if isinstance(mae, (int, float)) else ""
        return f"judge {self.dataset}/{self.prop} (GNN trained on the {self.trained_on} split{mae_text})"

    @torch.no_grad()
    def __call__(self, structures: Sequence[Structure], batch_size: int = 256) -> np.ndarray:
        self.model.eval()
        out = np.full(len(structures), np.nan)
        ok = [i for i, s in enumerate(structures) if scoreable(s)]
        for start in range(0, len(ok), batch_size):
            chunk = ok[start:start + batch_size]
            batch = CrystalBatch.from_structures([structures[i] for i in chunk]).to(self.device)
            out[chunk] = self.model.predict(batch)[:, 0].cpu().numpy()
        return out

    def to(self, device) -> "Judge":
        self.model.to(device)
        return self


def load_judge(dataset: str, prop: str, path: str | Path | None = None, device: str | torch.device = "cpu") -> Judge:
    stem = Path(path) if path is not None else judge_stem(dataset, prop)
    if not checkpoints.exists(stem):
        raise FileNotFoundError(f"no judge for {dataset}/{prop} at {stem}.safetensors: run notebook "
                                f"01_periodic_gnn (profile teach or full) to train it")
    ckpt = checkpoints.load(stem)
    return Judge(_judge_model(ckpt, dataset, prop).to(device), dataset, prop, ckpt.manifest)


def _judge_model(ckpt: checkpoints.Checkpoint, dataset: str, prop: str) -> PeriodicGNN:
    settings = ckpt.config.get("model")
    if not isinstance(settings, dict) or "targets" not in settings:
        raise checkpoints.CheckpointError(f"{ckpt.path} is not a judge (a property predictor) checkpoint: its "
                                          f"manifest has no model settings with targets; is it another kind?")
    # a judge answers for the dataset and property it learnt, never for the names a caller gives
    checkpoints.require(ckpt, dataset=get_spec(dataset).name, property=prop)
    try:
        return ckpt.load_into(PeriodicGNN(GNNConfig(**{**settings, "targets": tuple(settings["targets"])})))
    except TypeError as err:
        raise checkpoints.CheckpointError(f"{ckpt.path}: its model settings do not describe a judge ({err})") from None


class JudgeStore:
    """One property's judges seen as a store, for `load_or_train`. A judge's manifest records its
    test errors, so notebook 01 saves it (`save_judge`) once they are measured, not right after training."""

    exists = staticmethod(checkpoints.exists)

    def __init__(self, prop: str):
        self.prop = prop

    def load(self, stem: str | Path, device: str | torch.device = "cpu", *, dataset: str):
        ckpt = checkpoints.load(stem)
        return _judge_model(ckpt, dataset, self.prop).to(device), ckpt

    def save(self, stem, model, **_):
        raise NotImplementedError("a judge is saved with its test errors: judges.save_judge, after measuring them")


def default_judges(dataset: str, device: str | torch.device = "cpu") -> dict[str, Judge]:
    """``{property: judge}`` for the dataset's default property (its energy) when notebook 01 has
    trained that judge, else ``{}``: the evaluation suite then leaves out W(E) instead of failing."""
    prop = get_spec(dataset).default_property
    if not checkpoints.exists(judge_stem(dataset, prop)):
        return {}
    return {prop: load_judge(dataset, prop, device=device)}


def mae_on(model: PeriodicGNN, cache: GraphCache, indices: torch.Tensor, batch_size: int = 512) -> np.ndarray:
    """Mean absolute error per target (original units) on some crystals of a cache."""
    errors = []
    for start in range(0, len(indices), batch_size):
        batch, graph, y = cache.get(indices[start:start + batch_size])
        errors.append((model.predict(batch, graph) - y).abs())
    err = torch.cat(errors)
    return torch.nanmean(err, 0).cpu().numpy()


LOSSES = {"l1": F.l1_loss, "mse": F.mse_loss, "huber": F.smooth_l1_loss}


def regression_step(loss: str = "l1"):
    """A training step on standardised targets. L1 fits the median: fine for most properties, but
    for a target that is mostly zero (Perov-5's band gaps) the median is zero, so use "mse" there."""
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {sorted(LOSSES)}")

    def step(model: PeriodicGNN, item) -> dict[str, torch.Tensor]:
        batch, graph, y = item
        pred = model(batch, graph)
        target = (y - model.target_mean) / model.target_std
        mask = torch.isfinite(target)
        return {"loss": LOSSES[loss](pred[mask].float(), target[mask])}

    return step


def train_property_model(cache: GraphCache, config: GNNConfig, *, steps: int, batch_size: int = 64,
                         lr: float = 2e-3, holdout: float = 0.1, seed: int = 0, eval_every: int = 200,
                         max_seconds: float | None = None, autocast=None, loss: str = "l1",
                         desc: str = "judge") -> tuple[PeriodicGNN, TrainResult]:
    """Train on a cache of the training split, keeping the weights best on a held-out part of it."""
    n = len(cache)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_hold = max(1, int(round(holdout * n))) if holdout > 0 and n > 10 else 0
    held, train = perm[:n_hold], perm[n_hold:]
    model = PeriodicGNN(config).to(cache.batch.device)
    model.set_target_scale(cache.targets[train.to(cache.batch.device)])
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-5)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.05)
    evaluate = (lambda m: {"holdout_mae": float(np.mean(mae_on(m, cache, held)))}) if n_hold else None
    result = fit(model, optimizer, regression_step(loss), Minibatches(cache, train, batch_size, seed=seed), max_steps=steps,
                 max_seconds=max_seconds, scheduler=scheduler, grad_clip=5.0, evaluate=evaluate,
                 eval_every=eval_every, keep_best="holdout_mae" if n_hold else None,
                 autocast=autocast or contextlib.nullcontext, desc=desc)
    return model, result


def save_judge(model: PeriodicGNN, dataset: str, prop: str, *, train_split: str, metrics: dict,
               folder: Path | None = None, extra_config: dict | None = None) -> Path:
    """Half-precision weights (the four committed judges' test MAEs moved by under 1e-5 eV; their
    target statistics stay exact), so they fit the committed-checkpoint budget."""
    config = {"model": model.config.as_dict(), "dataset": dataset, "property": prop, "train_split": train_split,
              **(extra_config or {})}
    return checkpoints.save(judge_stem(dataset, prop, folder), model, config=config,
                            metrics={**metrics, "stored_dtype": "float16"}, weights_dtype=torch.float16,
                            trained_on={"dataset": dataset, "split": train_split, "property": prop})
