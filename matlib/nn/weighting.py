"""Means that leave padding out: a packed batch's padding atoms and crystals weigh 0 (`matlib.packing`)."""
from __future__ import annotations

import torch


def weighted_mean(values: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """The mean of ``values``, each weighted (a weight of 0 leaves padding out); unweighted without one."""
    return values.mean() if weight is None else (values * weight).sum() / weight.sum()
