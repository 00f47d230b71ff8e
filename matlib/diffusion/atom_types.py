"""Atom types: discrete absorbing-state diffusion (D3PM with a [MASK] token), as MatterGen.

Forward: each atom is independently replaced by [MASK] with probability t (MatterGen's "standard"
schedule: the unmasked share 1 - t falls linearly). Tokens: 0 = [MASK], Z = 1..100 = elements.
Reverse from t to s < t: a masked atom stays masked with probability s / t, otherwise it takes an
element drawn from the network's p(a_0 | x_t); unmasked atoms never change.

Research variants of this step (ReMDM remasking, a confidence order) live in the lab
(lab/diffusion_sampling/research_sampler.py); on MP-20 neither beat this plain step
(`lab/findings_by_notebook.md`, section 04).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..nn.elements import MASK_TOKEN, NUM_ELEMENTS


class MaskedTypeDiffusion:
    def mask_probability(self, t: torch.Tensor) -> torch.Tensor:
        return t

    def corrupt(self, types: torch.Tensor, t_atom: torch.Tensor, generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (tokens, masked) for atomic numbers ``types`` at per-atom times ``t_atom``."""
        u = torch.rand(types.shape, device=types.device, generator=generator)
        masked = u < self.mask_probability(t_atom)
        return torch.where(masked, torch.full_like(types, MASK_TOKEN), types), masked

    def loss(self, logits: torch.Tensor, types: torch.Tensor, masked: torch.Tensor,
             t_atom: torch.Tensor | None = None, weight: torch.Tensor | None = None) -> torch.Tensor:
        """Cross-entropy of p(a_0 | x_t) on the masked atoms (the only ones carrying information).

        Without ``t_atom``: the mean over masked atoms, so a crystal at time t weighs in with its
        t·N masked atoms, and the late steps (few atoms left to choose) get little of the gradient.
        With ``t_atom``: the ELBO's weighting (MDLM, Sahoo et al. 2024), each masked atom's term
        divided by its t, summed and divided by the atom count, so every time weighs the same.
        ``weight`` (N,) of 0 leaves padding atoms out. Computed on every atom and weighted, not
        indexed by the mask: no shape depends on the draw, so the step needs no host sync."""
        weight = torch.ones_like(logits[:, 0], dtype=torch.float32) if weight is None else weight
        per_atom = F.cross_entropy(logits.float(), (types - 1).clamp_min(0), reduction="none")
        chosen = masked.float() * weight
        if t_atom is None:
            return (per_atom * chosen).sum() / chosen.sum().clamp_min(1.0)
        return (per_atom * chosen / t_atom.clamp_min(1e-3)).sum() / weight.sum()

    def reverse_step(self, tokens: torch.Tensor, logits: torch.Tensor, t_atom: torch.Tensor, s_atom: torch.Tensor,
                     allowed: torch.Tensor | None = None, generator: torch.Generator | None = None,
                     temperature: float = 1.0) -> torch.Tensor:
        """One ancestral step t -> s. ``allowed`` (100,) bool masks out elements never to be sampled;
        ``temperature`` < 1 sharpens p(a_0 | x_t) toward its most likely elements."""
        masked = tokens == MASK_TOKEN
        if not bool(masked.any()):
            return tokens
        unmask_prob = ((t_atom - s_atom) / t_atom.clamp_min(1e-12)).clamp(0, 1)
        u = torch.rand(tokens.shape, device=tokens.device, generator=generator)
        out = tokens.clone()
        unmask = masked & (u < unmask_prob)
        if not bool(unmask.any()):
            return out
        out[unmask] = self._draw(logits[unmask], allowed, generator, temperature)[0]
        return out

    @staticmethod
    def _draw(logits, allowed, generator, temperature) -> tuple[torch.Tensor, torch.Tensor]:
        """Atomic numbers drawn from the logits, and the probability each draw had."""
        scaled = logits.float() / temperature
        if allowed is not None:
            scaled = scaled.masked_fill(~allowed, float("-inf"))
        probabilities = torch.softmax(scaled, -1)
        index = torch.multinomial(probabilities, 1, generator=generator)
        return index.squeeze(-1) + 1, probabilities.gather(1, index).squeeze(-1)
