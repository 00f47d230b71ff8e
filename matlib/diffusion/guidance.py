"""Classifier-free guidance: mix the conditional and unconditional outputs at every step.

    s = s_uncond + gamma * (s_cond - s_uncond)

on the coordinate score, the lattice noise and the element logits alike. gamma = 0 is the
unconditional model, gamma = 1 the conditional one, gamma > 1 pushes further toward the
condition (sharper, less diverse). With adapters the unconditional output is the base model's.
"""
from __future__ import annotations

import torch

from ..targets import check_finite, check_target, label_range
from .adapters import ConditionedDiffusion


def guided_denoiser(model: ConditionedDiffusion, target: float, gamma: float, *, allow_extrapolation: bool = False):
    """A ``denoise_fn`` for ``sampler.sample`` that steers toward ``target`` with strength ``gamma``.

    A non-finite target or γ is an error (NaN would silently mean "no condition"), and so is a
    target far outside the fine-tuning labels unless ``allow_extrapolation``."""
    gamma = check_finite(gamma, "guidance strength gamma")
    if gamma < 0:
        raise ValueError(f"guidance strength must be >= 0, got {gamma}")
    mean, std = (float(v) for v in model.adapters.encoding.stats)
    lo, hi = label_range(model.adapters.label_range, mean, std)
    target = check_target(target, lo, hi, name="guidance target", allow_extrapolation=allow_extrapolation)

    def denoise_fn(tokens, frac, lattice, num_atoms, t, edges=None):
        unconditional = model.denoise(tokens, frac, lattice, num_atoms, t, edges)
        if gamma == 0:
            return unconditional
        values = torch.full((len(num_atoms),), float(target), device=num_atoms.device)
        conditional = model.denoise(tokens, frac, lattice, num_atoms, t, edges, values=values)
        if gamma == 1:
            return conditional
        return tuple(u + gamma * (c - u) for u, c in zip(unconditional, conditional))

    return denoise_fn


__all__ = ["guided_denoiser"]
