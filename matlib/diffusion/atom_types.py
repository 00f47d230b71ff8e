"""Atom types: discrete absorbing-state diffusion (D3PM with a [MASK] token), as MatterGen.

Forward: each atom is independently replaced by [MASK] with probability t (MatterGen's "standard"
schedule: the unmasked share 1 - t falls linearly). Tokens: 0 = [MASK], Z = 1..100 = elements.
Reverse from t to s < t: a masked atom stays masked with probability s / t, otherwise it takes an
element drawn from the network's p(a_0 | x_t); unmasked atoms never change.

Remasking (ReMDM, Wang et al. 2025), ``remask`` = η > 0: an unmasked atom goes back to [MASK] with
probability σ = min(η, s / (1 - t)), and masked atoms unmask a little more often to make up for it,
so that the share still unmasked at s stays 1 - s. An element chosen early, before the other atoms
and the positions took shape, can then be chosen again later.

Unmasking order, ``order="confidence"`` (MaskGIT, Chang et al. 2022): each crystal unmasks as many
atoms as the plain step would, but the ones whose drawn element the network is surest of, so the
cell's backbone is settled before its uncertain sites. This leaves the learned distribution: on
MP-20 the network is surest of oxygen, and half the atoms become O (`lab/findings_by_notebook.md`, section 04).
``order_noise`` = τ > 0 ranks by log p + τ·Gumbel instead: τ = 1 picks atoms in proportion to p,
large τ is the random order again.
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
             t_atom: torch.Tensor | None = None) -> torch.Tensor:
        """Cross-entropy of p(a_0 | x_t) on the masked atoms (the only ones carrying information).

        Without ``t_atom``: the mean over masked atoms, so a crystal at time t weighs in with its
        t·N masked atoms, and the late steps (few atoms left to choose) get little of the gradient.
        With ``t_atom``: the ELBO's weighting (MDLM, Sahoo et al. 2024), each masked atom's term
        divided by its t, summed and divided by the atom count, so every time weighs the same."""
        if not bool(masked.any()):
            return logits.sum() * 0.0
        per_atom = F.cross_entropy(logits[masked].float(), types[masked] - 1, reduction="none")
        if t_atom is None:
            return per_atom.mean()
        return (per_atom / t_atom[masked].clamp_min(1e-3)).sum() / len(types)

    def reverse_step(self, tokens: torch.Tensor, logits: torch.Tensor, t_atom: torch.Tensor, s_atom: torch.Tensor,
                     allowed: torch.Tensor | None = None, generator: torch.Generator | None = None,
                     temperature: float = 1.0, remask: float = 0.0, order: str = "random",
                     crystal: torch.Tensor | None = None, order_noise: float = 0.0) -> torch.Tensor:
        """One ancestral step t -> s. ``allowed`` (100,) bool masks out elements never to be sampled;
        ``temperature`` < 1 sharpens p(a_0 | x_t) toward its most likely elements; ``remask`` = η of
        ReMDM (0: the plain absorbing-state posterior); ``order``: which masked atoms unmask, "random"
        or "confidence" (needs ``crystal``, each atom's crystal index)."""
        if order not in ("random", "confidence"):
            raise ValueError(f"order must be 'random' or 'confidence', not {order!r}")
        masked = tokens == MASK_TOKEN
        if remask <= 0 and not bool(masked.any()):
            return tokens
        sigma = torch.minimum(torch.full_like(s_atom, remask), s_atom / (1 - t_atom).clamp_min(1e-12))
        # P(unmasked at s) = (1 - t)(1 - σ) + P(unmask) t = 1 - s
        unmask_prob = ((t_atom - s_atom + sigma * (1 - t_atom)) / t_atom.clamp_min(1e-12)).clamp(0, 1)
        u = torch.rand(tokens.shape, device=tokens.device, generator=generator)
        out = tokens.clone()
        if remask > 0:
            out[~masked & (u < sigma)] = MASK_TOKEN
        unmask = masked & (u < unmask_prob)
        if not bool(unmask.any()):
            return out
        if order == "confidence":
            return self._unmask_most_confident(out, masked, unmask, logits, crystal, allowed, generator, temperature,
                                               order_noise)
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

    def _unmask_most_confident(self, out, masked, unmask, logits, crystal, allowed, generator, temperature,
                               order_noise=0.0):
        if crystal is None:
            raise ValueError("order='confidence' needs each atom's crystal index")
        crystals = int(crystal.max()) + 1
        quota = torch.zeros(crystals, dtype=torch.long, device=out.device).index_add_(0, crystal, unmask.long())
        draw, confidence = self._draw(logits[masked], allowed, generator, temperature)
        score = torch.full(out.shape, -torch.inf, device=out.device)
        score[masked] = confidence.clamp_min(1e-30).log()
        if order_noise > 0:
            u = torch.rand(int(masked.sum()), device=out.device, generator=generator).clamp(1e-12, 1 - 1e-12)
            score[masked] += order_noise * -torch.log(-torch.log(u))
        # rank atoms within their crystal, surest first (stable sorts keep crystals contiguous)
        by_score = torch.argsort(-score, stable=True)
        ranked = by_score[torch.argsort(crystal[by_score], stable=True)]
        sizes = torch.bincount(crystal, minlength=crystals)
        first = torch.cumsum(sizes, 0) - sizes
        rank = torch.empty_like(ranked)
        rank[ranked] = torch.arange(len(ranked), device=out.device) - first[crystal[ranked]]
        drawn = torch.zeros_like(out)
        drawn[masked] = draw
        chosen = masked & (rank < quota[crystal])
        out[chosen] = drawn[chosen]
        return out
