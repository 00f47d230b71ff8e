"""Notebook 01's periodic GNN with one logit per condition, trained with BCE and then calibrated.

The network is the judges' `PeriodicGNN`; only the head's meaning changes (logits, not standardised
values) and a temperature per condition is added. It is trained apart from the judges, so the
judges that later score a sampler's success stay independent of the classifiers that steered it.
Plain BCE, no class weights: re-weighting the rare class would make the probabilities wrong, and
the sampler needs them right.
"""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from ..batching import GraphCache, Minibatches
from ..crystal import CrystalBatch
from ..graph import PeriodicGraph
from ..nn.gnn import GNNConfig, PeriodicGNN
from ..training import TrainResult, fit
from .calibration import binary_nll, fit_temperature
from .conditions import CONDITIONS


@dataclass
class ClassifierConfig:
    conditions: tuple[str, ...] = tuple(CONDITIONS)
    dim: int = 64
    layers: int = 3
    rbf: int = 48
    cutoff: float = 6.0
    max_neighbors: int | None = 24
    lr: float = 2e-3

    def __post_init__(self):
        unknown = [name for name in self.conditions if name not in CONDITIONS]
        if unknown:
            raise ValueError(f"unknown conditions {unknown}; declared: {sorted(CONDITIONS)}")
        self.conditions = tuple(self.conditions)

    def gnn_config(self) -> GNNConfig:
        return GNNConfig(targets=self.conditions, dim=self.dim, layers=self.layers, rbf=self.rbf,
                         cutoff=self.cutoff, max_neighbors=self.max_neighbors)

    def as_dict(self) -> dict:
        return {**asdict(self), "conditions": list(self.conditions)}


class ConditionGNN(PeriodicGNN):
    """Raw logits from `forward`; `logits(..., calibrated=True)` divides them by the fitted
    temperatures (a buffer, so they travel with the weights and into the checkpoint)."""

    def __init__(self, config: ClassifierConfig):
        super().__init__(config.gnn_config())
        self.classifier_config = config
        self.register_buffer("temperature", torch.ones(len(config.conditions)))

    def logits(self, batch: CrystalBatch, graph: PeriodicGraph | None = None, calibrated: bool = True) -> torch.Tensor:
        raw = self(batch, graph).float()
        return raw / self.temperature if calibrated else raw


def classification_step(model: ConditionGNN, item) -> dict[str, torch.Tensor]:
    """BCE with logits over the labelled (finite) entries; a condition without a label is skipped."""
    batch, graph, labels = item
    logits = model(batch, graph).float()
    mask = torch.isfinite(labels)
    if not mask.any():
        return {"loss": logits.sum() * 0.0}
    return {"loss": F.binary_cross_entropy_with_logits(logits[mask], labels[mask])}


@torch.no_grad()
def logits_on(model: ConditionGNN, cache: GraphCache, indices: torch.Tensor, batch_size: int = 512,
              calibrated: bool = False) -> torch.Tensor:
    """Logits of some crystals of a cache, shape (len(indices), conditions)."""
    out = [model.logits(*cache.get(indices[start:start + batch_size])[:2], calibrated=calibrated)
           for start in range(0, len(indices), batch_size)]
    return torch.cat(out)


def calibrate(model: ConditionGNN, cache: GraphCache, indices: torch.Tensor) -> dict:
    """Fit the temperatures on some labelled crystals of a cache; the held-out NLL before and after."""
    logits, labels = logits_on(model, cache, indices), cache.targets[indices]
    before = binary_nll(logits, labels)
    model.temperature.copy_(fit_temperature(logits, labels).to(model.temperature.device))
    after = binary_nll(logits / model.temperature, labels)
    return {"temperatures": model.temperature.tolist(), "calibration_nll_raw": before.tolist(),
            "calibration_nll_scaled": after.tolist()}


def train_classifier(cache: GraphCache, labels, config: ClassifierConfig, *, steps: int, batch_size: int = 64,
                     device=None, seed: int = 0, holdout_fraction: float = 0.2, eval_every: int = 50,
                     max_seconds: float | None = None, desc: str = "classifier") -> tuple[ConditionGNN, TrainResult]:
    """Train on a cache of the training split, ``labels`` (crystals, conditions) with NaN for unknown.

    ``holdout_fraction`` of the crystals never trains the weights: it picks the best weights and then
    fits the temperatures. The result's last history row holds the calibration (temperatures, NLLs).
    ``device`` must be the cache's (build the cache there); None takes the cache's.
    """
    device = cache.batch.device if device is None else torch.device(device)
    if device.type != cache.batch.device.type:
        raise ValueError(f"the cache is on {cache.batch.device}, not {device}: build the GraphCache on {device}")
    labelled = copy.copy(cache)          # the caller's cache keeps its own targets
    labelled.targets = torch.as_tensor(labels, dtype=torch.float32).reshape(len(cache), -1).to(cache.batch.device)
    if labelled.targets.shape[1] != len(config.conditions):
        raise ValueError(f"labels have {labelled.targets.shape[1]} columns for {len(config.conditions)} conditions")
    n = len(cache)
    n_held = int(round(holdout_fraction * n))
    if not 0 < n_held < n:
        raise ValueError(f"holdout_fraction {holdout_fraction} of {n} crystals leaves no calibration or no training part")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).to(cache.batch.device)
    held, train = perm[:n_held], perm[n_held:]
    with torch.random.fork_rng():          # seeded weights, the caller's random stream untouched
        torch.manual_seed(seed)
        model = ConditionGNN(config).to(cache.batch.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=1e-5)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=steps, pct_start=max(0.05, 2 / max(steps, 2)))

    def evaluate(m):
        return {"calibration_nll": float(binary_nll(logits_on(m, labelled, held), labelled.targets[held]).mean())}

    result = fit(model, optimizer, classification_step, Minibatches(labelled, train, batch_size, seed=seed),
                 max_steps=steps, max_seconds=max_seconds, scheduler=scheduler, grad_clip=5.0, evaluate=evaluate,
                 eval_every=eval_every, keep_best="calibration_nll", desc=desc)
    model.eval()
    result.history.append({"step": result.steps, **calibrate(model, labelled, held)})
    return model, result
