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


def standard_error(rate, n):
    """Binomial standard error of a share measured on ``n`` samples: sqrt(p (1 - p) / n)."""
    rate, n = np.asarray(rate, dtype=float), np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, np.sqrt(rate * (1 - rate) / n), np.nan)


def within_noise(rate_a: float, n_a: int, rate_b: float, n_b: int, z: float = 2.0) -> bool:
    """The two shares differ by less than ``z`` standard errors of their difference: samples this
    size cannot tell them apart."""
    spread = float(np.hypot(standard_error(rate_a, n_a), standard_error(rate_b, n_b)))
    return abs(rate_a - rate_b) <= z * spread


def noise_notes(table, baseline, rate: str = "success_rate", n: str = "n", by: str = "task",
                label=lambda row: row["method"]) -> list[str]:
    """One sentence per row that its baseline row (``baseline``: a boolean mask over ``table``, one
    row per ``by`` group) cannot be told apart from at this sample size."""
    notes = []
    base_rows = table[baseline]
    for _, row in table[~baseline].iterrows():
        match = base_rows[base_rows[by] == row[by]]
        if match.empty:
            continue
        base = match.iloc[0]
        if within_noise(row[rate], row[n], base[rate], base[n]):
            notes.append(f"{row[by]}: {label(row)} {row[rate]:.1%} ± {float(standard_error(row[rate], row[n])):.1%} "
                         f"(n = {row[n]}) vs. {label(base)} {base[rate]:.1%} ± "
                         f"{float(standard_error(base[rate], base[n])):.1%} (n = {base[n]}): within two standard "
                         f"errors, so these samples cannot separate them")
    return notes
