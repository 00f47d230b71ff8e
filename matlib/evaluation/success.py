"""Success rate of targeted generation (the review's Table 3 definition).

success rate = (number of generated samples that are valid AND whose judged property lies in the
target window [lo, hi]) / (number of ALL generated samples, invalid ones included).

A window bound of ``None`` is open (``(None, -2.0)`` means "at most -2.0"). Unjudged or NaN
values never succeed.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def in_window(values: Sequence[float], lo: float | None, hi: float | None) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    lo = -np.inf if lo is None else float(lo)
    hi = np.inf if hi is None else float(hi)
    if lo > hi:
        raise ValueError(f"empty target window [{lo}, {hi}]")
    with np.errstate(invalid="ignore"):
        return np.isfinite(v) & (v >= lo) & (v <= hi)


def success_flags(values: Sequence[float], valid: Sequence[bool], lo: float | None, hi: float | None) -> np.ndarray:
    """Per sample: valid and inside [lo, hi]."""
    valid = np.asarray(valid, dtype=bool)
    if len(valid) != len(values):
        raise ValueError(f"{len(values)} values for {len(valid)} samples")
    return valid & in_window(values, lo, hi)


def success_rate(values: Sequence[float], valid: Sequence[bool], lo: float | None, hi: float | None) -> tuple[float, int, int]:
    """``(rate, n_success, n_samples)`` over all samples."""
    flags = success_flags(values, valid, lo, hi)
    n = len(flags)
    return (float(flags.sum() / n) if n else float("nan")), int(flags.sum()), n


__all__ = ["in_window", "success_flags", "success_rate"]
