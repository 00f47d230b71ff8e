"""A trained, calibrated classifier as a sampler uses it, and its checkpoint.

``Classifier.log_probability(batch)`` gives log p(condition | crystal) on a `CrystalBatch` on any
device (no pymatgen round trip), for a target density log π(x) = log p_gen(x)/T + Σ_i log p_i(y_i|x).
Crystals it cannot score (non-finite or collapsed cells, unknown elements) get NaN, which a sampler
must treat as a rejection.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from pymatgen.core import Structure

from .. import checkpoints
from ..crystal import MIN_VOLUME_PER_ATOM, CrystalBatch
from ..jsonsafe import jsonable
from ..judges import scoreable
from ..nn.gnn import MAX_Z
from ..paths import checkpoints_dir
from .calibration import expected_calibration_error
from .conditions import CONDITIONS, label_matrix
from .model import ClassifierConfig, ConditionGNN

KIND = "property-classifier"


def scoreable_mask(batch: CrystalBatch) -> torch.Tensor:
    """`judges.scoreable` on tensors: which crystals of a batch the classifier can score."""
    bad_atom = ~torch.isfinite(batch.frac_coords).all(1) | (batch.atom_types <= 0) | (batch.atom_types > MAX_Z)
    bad_atoms = torch.zeros(len(batch), device=batch.device).index_add_(0, batch.batch_index, bad_atom.float())
    finite_cell = torch.isfinite(batch.lattice).flatten(1).all(1)
    volume = torch.linalg.det(torch.nan_to_num(batch.lattice.double())).abs()
    roomy = volume >= MIN_VOLUME_PER_ATOM * batch.num_atoms.clamp(min=1)
    return (bad_atoms == 0) & finite_cell & roomy & (batch.num_atoms > 0)


@dataclass
class Classifier:
    model: ConditionGNN
    manifest: dict = field(default_factory=dict)
    last_unscoreable: int = 0        # structures the last `probabilities` call could not score

    @property
    def conditions(self) -> tuple[str, ...]:
        return self.model.classifier_config.conditions

    @property
    def temperatures(self) -> np.ndarray:
        return self.model.temperature.detach().cpu().numpy()

    @property
    def device(self) -> torch.device:
        return self.model.temperature.device

    def describe(self) -> str:
        split = self.manifest.get("config", {}).get("train_split", "?")
        parts = [f"{n} ({CONDITIONS[n].describe()}, T={t:.2f})" for n, t in zip(self.conditions, self.temperatures)]
        return f"classifier trained on the {split} split: " + "; ".join(parts)

    def log_probability(self, batch: CrystalBatch, calibrated: bool = True, grad: bool = False) -> torch.Tensor:
        """log p(condition | crystal), shape (crystals, conditions), on the batch's device; NaN rows
        for crystals it cannot score. log-sigmoid of the scaled logit: finite where p underflows.
        ``grad=True`` keeps the autograd graph (gradient guidance); MCMC needs none."""
        self.model.eval()
        with torch.set_grad_enabled(grad):
            return self._log_probability(batch, calibrated)

    def _log_probability(self, batch: CrystalBatch, calibrated: bool) -> torch.Tensor:
        home = batch.device
        batch = batch.to(self.device)
        ok = scoreable_mask(batch)
        out = torch.full((len(batch), len(self.conditions)), float("nan"), device=self.device)
        if ok.any():
            out[ok] = F.logsigmoid(self.model.logits(batch.select(ok.nonzero()[:, 0]), calibrated=calibrated))
        return out.to(home)

    @torch.no_grad()
    def probabilities(self, structures: Sequence[Structure], batch_size: int = 256, calibrated: bool = True) -> np.ndarray:
        """p(condition | structure), shape (structures, conditions); NaN rows for unscoreable ones."""
        out = np.full((len(structures), len(self.conditions)), np.nan)
        ok = [i for i, s in enumerate(structures) if scoreable(s)]
        self.last_unscoreable = len(structures) - len(ok)
        for start in range(0, len(ok), batch_size):
            chunk = ok[start:start + batch_size]
            batch = CrystalBatch.from_structures([structures[i] for i in chunk]).to(self.device)
            out[chunk] = self.log_probability(batch, calibrated).exp().cpu().numpy()
        return out

    def to(self, device) -> "Classifier":
        self.model.to(device)
        return self


def evaluate(classifier: Classifier, structures: Sequence[Structure], table: pd.DataFrame, bins: int = 10) -> pd.DataFrame:
    """Per condition on labelled crystals: positive rate, AUROC, ECE before and after temperature scaling."""
    from sklearn.metrics import roc_auc_score

    labels = label_matrix(table, classifier.conditions)
    raw, scaled = classifier.probabilities(structures, calibrated=False), classifier.probabilities(structures)
    rows = []
    for column, name in enumerate(classifier.conditions):
        y, keep = labels[:, column], np.isfinite(labels[:, column]) & np.isfinite(scaled[:, column])
        both = len(np.unique(y[keep])) == 2
        rows.append({"condition": name, "n": int(keep.sum()), "positive_rate": float(np.mean(y[keep])),
                     "auroc": float(roc_auc_score(y[keep], scaled[keep, column])) if both else np.nan,
                     "ece_raw": expected_calibration_error(raw[:, column], y, bins),
                     "ece_scaled": expected_calibration_error(scaled[:, column], y, bins),
                     "temperature": float(classifier.temperatures[column]),
                     "unscoreable": classifier.last_unscoreable})
    return pd.DataFrame(rows)


def classifier_stem(dataset: str, folder: Path | None = None) -> Path:
    return (folder or checkpoints_dir() / "classifiers") / dataset


def save_classifier(model: ConditionGNN, stem: str | Path, *, dataset: str, train_split: str,
                    metrics: dict | None = None, step: int = 0, extra: dict | None = None) -> Path:
    """Full-precision weights; the manifest records the conditions' definitions and temperatures."""
    config = {"kind": KIND, "classifier": model.classifier_config.as_dict(), "dataset": dataset,
              "train_split": train_split, "temperatures": model.temperature.tolist(),
              "conditions": {n: CONDITIONS[n].as_dict() for n in model.classifier_config.conditions}}
    return checkpoints.save(stem, model, config=config, metrics={**(metrics or {}), "train_split": train_split},
                            step=step, extra=extra, trained_on={"dataset": dataset, "split": train_split})


def _classifier_model(ckpt: checkpoints.Checkpoint) -> ConditionGNN:
    settings = ckpt.config.get("classifier")
    if ckpt.config.get("kind") != KIND or not isinstance(settings, dict):
        raise checkpoints.CheckpointError(f"{ckpt.path} is not a property classifier checkpoint (its manifest's "
                                          f"config has no kind {KIND!r}); is it a judge or a generator?")
    for name, saved in ckpt.config.get("conditions", {}).items():
        # the labels it learnt must mean what they mean now
        if name not in CONDITIONS or jsonable(CONDITIONS[name].as_dict()) != saved:
            raise checkpoints.CheckpointError(f"{ckpt.path} learnt {name} as {saved}, which is no longer the "
                                              f"declared condition {CONDITIONS.get(name)}; retrain it")
    try:
        config = ClassifierConfig(**{**settings, "conditions": tuple(settings["conditions"])})
    except (TypeError, KeyError, ValueError) as err:
        raise checkpoints.CheckpointError(f"{ckpt.path}: its settings do not describe a classifier ({err})") from None
    return ckpt.load_into(ConditionGNN(config)).eval()


class ClassifierStore:
    """Classifiers seen as a store, for `load_or_train` (`train` there returns `train_classifier`'s pair)."""

    exists = staticmethod(checkpoints.exists)

    def load(self, stem: str | Path, device: str | torch.device = "cpu", *, dataset: str | None = None):
        ckpt = checkpoints.load(stem)
        checkpoints.require(ckpt, dataset=dataset)
        return _classifier_model(ckpt).to(device), ckpt

    def save(self, stem, model, *, dataset: str, split: str, step: int = 0, extra: dict | None = None,
             metrics: dict | None = None) -> Path:
        return save_classifier(model, stem, dataset=dataset, train_split=split, metrics=metrics, step=step, extra=extra)


def load_classifier(stem: str | Path, device: str | torch.device = "cpu", dataset: str | None = None) -> Classifier:
    if not checkpoints.exists(stem):
        raise FileNotFoundError(f"no classifier at {stem}.safetensors: train one with "
                                f"matlib.classifiers.train_classifier and save it with save_classifier")
    model, ckpt = ClassifierStore().load(stem, device, dataset=dataset)
    return Classifier(model, ckpt.manifest)
