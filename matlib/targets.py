"""What a property target may be: a finite number near the labels the model learnt from.

Guidance (notebook 06) and latent search (notebook 08) steer toward a target value. NaN or inf
would silently mean "no condition" or crash deep inside sampling; a value far outside the labels
makes the model extrapolate blindly. Both fail here, at the call, with what to do instead.
Models record their labels' range; for older checkpoints that hold only a mean and a standard
deviation, the range is taken as the mean ± 4 standard deviations.
"""
from __future__ import annotations

import math

import torch

FALLBACK_SIGMAS = 4.0


def check_finite(value, name: str) -> float:
    """``value`` as a float, or a ValueError naming it when it is not a finite number."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return number


def label_range(recorded: tuple[float, float] | None, mean: float, std: float,
                sigmas: float = FALLBACK_SIGMAS) -> tuple[float, float]:
    """The labels' range a model recorded, else mean ± ``sigmas`` standard deviations (for
    checkpoints saved before models recorded their range)."""
    if recorded is not None:
        return float(recorded[0]), float(recorded[1])
    return mean - sigmas * std, mean + sigmas * std


def check_target(target, lo: float, hi: float, *, name: str = "target", allow_extrapolation: bool = False) -> float:
    """The target as a float, after checking it is finite and (unless ``allow_extrapolation``)
    inside [lo, hi], the range of the labels the model learnt from."""
    value = check_finite(target, name)
    if not allow_extrapolation and not lo <= value <= hi:
        raise ValueError(f"{name} = {value:g} lies outside [{lo:.3g}, {hi:.3g}], the range of the labels the model "
                         f"learnt from, where it extrapolates blindly. Pass allow_extrapolation=True to try anyway.")
    return value


MAX_ABS_LABEL = 1e6     # no property of these datasets comes near (the largest are energies of about 1e2 eV)


def check_labels(values, name: str = "labels") -> None:
    """Training labels a model may be scaled on: NaN means "not labelled"; ±inf or a magnitude
    beyond ``MAX_ABS_LABEL`` is a broken row, and would make the scale (and every prediction) absurd."""
    values = torch.as_tensor(values, dtype=torch.float64)
    known = values[~torch.isnan(values)]
    if not len(known):
        raise ValueError(f"{name}: no labelled value (all NaN)")
    bad = known[~torch.isfinite(known) | (known.abs() > MAX_ABS_LABEL)]
    if len(bad):
        raise ValueError(f"{name}: {len(bad)} value(s) are infinite or beyond ±{MAX_ABS_LABEL:g} (e.g. {float(bad[0]):g}); "
                         f"fix or drop those rows (NaN marks a crystal without a label)")


__all__ = ["FALLBACK_SIGMAS", "MAX_ABS_LABEL", "check_finite", "check_labels", "check_target", "label_range"]
