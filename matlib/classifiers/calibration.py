"""Temperature scaling and reliability tables for binary probabilities.

A classifier trained with cross-entropy is often over-confident: its logits are too large. One
positive scalar per output, fitted on held-out data, divides the logit (Guo et al. 2017); it never
changes the ranking (AUROC), only how far the probabilities trust themselves.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

LOG_TEMPERATURE_RANGE = 4.0   # temperatures in [e^-4, e^4]: past that the held-out set is too small to tell


def binary_nll(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean BCE per column over the finite labels, shape (columns,)."""
    mask = torch.isfinite(labels)
    losses = F.binary_cross_entropy_with_logits(logits, torch.nan_to_num(labels), reduction="none") * mask
    return losses.sum(0) / mask.sum(0).clamp(min=1)


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor, iterations: int = 100) -> torch.Tensor:
    """One temperature per column minimising the NLL of ``sigmoid(logit / T)`` (NaN labels ignored).

    A column whose labels hold only one class keeps T = 1: with one class, shrinking T always
    lowers the NLL, so the fit would say nothing about calibration."""
    logits, labels = logits.detach().double().cpu().reshape(len(logits), -1), labels.double().cpu().reshape(len(labels), -1)
    finite = torch.isfinite(labels)
    both = ((labels == 1) & finite).any(0) & ((labels == 0) & finite).any(0)
    log_t = torch.zeros(logits.shape[1], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.5, max_iter=iterations, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = (binary_nll(logits / log_t.exp(), labels) * both).sum()   # columns are independent
        loss.backward()
        return loss

    optimizer.step(closure)
    fitted = log_t.detach().clamp(-LOG_TEMPERATURE_RANGE, LOG_TEMPERATURE_RANGE).exp()
    return torch.where(both, fitted, torch.ones_like(fitted)).float()


def _finite_pairs(probabilities, labels) -> tuple[np.ndarray, np.ndarray]:
    p, y = np.asarray(probabilities, dtype=np.float64).ravel(), np.asarray(labels, dtype=np.float64).ravel()
    keep = np.isfinite(p) & np.isfinite(y)
    return p[keep], y[keep]


def reliability(probabilities, labels, bins: int = 10) -> pd.DataFrame:
    """Equal-width bins of predicted probability: mean prediction, observed frequency and count per
    bin (rows with a NaN probability or label are left out; empty bins have count 0)."""
    p, y = _finite_pairs(probabilities, labels)
    which = np.clip((p * bins).astype(int), 0, bins - 1)   # p = 1 joins the last bin
    count = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_predicted = np.bincount(which, weights=p, minlength=bins) / count
        observed = np.bincount(which, weights=y, minlength=bins) / count
    edges = np.linspace(0.0, 1.0, bins + 1)
    return pd.DataFrame({"bin": np.arange(bins), "low": edges[:-1], "high": edges[1:],
                         "mean_predicted": mean_predicted, "observed_frequency": observed, "count": count})


def expected_calibration_error(probabilities, labels, bins: int = 10) -> float:
    """Count-weighted mean gap between mean prediction and observed frequency over the bins."""
    table = reliability(probabilities, labels, bins)
    used = table[table["count"] > 0]
    if used.empty:
        return float("nan")
    gaps = (used["mean_predicted"] - used["observed_frequency"]).abs()
    return float((gaps * used["count"]).sum() / used["count"].sum())
