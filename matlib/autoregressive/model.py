"""A CrystalFormer-style autoregressive transformer with an exact likelihood.

p(crystal) = p(space group) · Π_sites p(letter | before) p(element | letter, before) p(free x, y, z | ...)
             · p(stop | before) · p(free lattice parameters | all sites)

One token per Wyckoff site. The hidden state after site i predicts site i + 1 in three stages
(letter, then element, then the free coordinates one after another), each stage conditioned on the
choices already made, so the factorisation is exact. Letters are drawn only among those the rules
allow (`sites.Rules`), renormalised, so the likelihood covers exactly the sequences the sampler makes.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import densities
from .sites import Rules, SiteBatch

MAX_Z = 94


@dataclass
class ARConfig:
    dim: int = 128
    layers: int = 3
    heads: int = 4
    ffn: int = 256
    dropout: float = 0.1           # the training split is small (9,047 crystals): it over-fits without
    coord_components: int = 8
    lattice_components: int = 4
    frequencies: int = 4           # Fourier features of each coordinate fed back into the sequence
    max_sites: int = 16
    max_atoms: int = 20            # primitive-cell atoms, MP-20's limit

    def as_dict(self) -> dict:
        return asdict(self)


class WyckoffTransformer(nn.Module):
    def __init__(self, config: ARConfig):
        super().__init__()
        self.config = c = config
        self.rules = Rules(c.max_sites, c.max_atoms)
        letters = self.rules.letters
        self.space_group_logits = nn.Parameter(torch.zeros(231))
        self.space_group_embed = nn.Embedding(231, c.dim)
        self.letter_embed = nn.Embedding(letters, c.dim)
        self.element_embed = nn.Embedding(MAX_Z + 1, c.dim)
        self.coord_embed = nn.Linear(6 * c.frequencies, c.dim)
        self.position_embed = nn.Embedding(c.max_sites + 1, c.dim)
        layer = nn.TransformerEncoderLayer(c.dim, c.heads, c.ffn, dropout=c.dropout, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, c.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(c.dim)
        self.letter_head = nn.Linear(c.dim, letters + 1)
        self.element_head = _mlp(c.dim, MAX_Z + 1)
        self.coord_feedback = nn.ModuleList(nn.Linear(2 * c.frequencies, c.dim) for _ in range(2))
        self.coord_heads = nn.ModuleList(_mlp(c.dim, 4 * c.coord_components) for _ in range(3))
        self.lattice_head = _mlp(c.dim, c.lattice_components * 13)
        self._rules_device = torch.device("cpu")

    # ---- pieces ---------------------------------------------------------------------------
    def rules_on(self, device) -> Rules:
        if self._rules_device != torch.device(device):
            self.rules = Rules(self.config.max_sites, self.config.max_atoms, device)
            self._rules_device = torch.device(device)
        return self.rules

    def fourier(self, x: torch.Tensor) -> torch.Tensor:
        k = torch.arange(1, self.config.frequencies + 1, device=x.device, dtype=x.dtype)
        angle = densities.TWO_PI * x[..., None] * k
        return torch.cat([angle.sin(), angle.cos()], dim=-1)

    def hidden(self, batch: SiteBatch) -> torch.Tensor:
        """(B, S + 1, dim): position t has seen the space group and sites < t."""
        rules = self.rules_on(batch.space_group.device)
        free = batch.free * rules.free_mask[batch.space_group[:, None], batch.wyckoff]
        coords = self.fourier(free).flatten(-2)
        sites = self.letter_embed(batch.wyckoff) + self.element_embed(batch.element) + self.coord_embed(coords)
        tokens = torch.cat([self.space_group_embed(batch.space_group)[:, None], sites], dim=1)
        tokens = tokens + self.position_embed.weight[: tokens.shape[1]]
        causal = nn.Transformer.generate_square_subsequent_mask(tokens.shape[1], device=tokens.device)
        return self.norm(self.encoder(tokens, mask=causal, is_causal=True))

    def coordinate_contexts(self, h, letter, element, free):
        """Contexts of x, y, z: each sees the letter, the element and the coordinates before it."""
        context = h + self.letter_embed(letter) + self.element_embed(element)
        contexts = [context]
        for axis in range(2):
            context = context + self.coord_feedback[axis](self.fourier(free[..., axis]))
            contexts.append(context)
        return contexts

    # ---- likelihood -------------------------------------------------------------------------
    def log_prob_terms(self, batch: SiteBatch) -> dict[str, torch.Tensor]:
        """Per-crystal log-likelihood split by factor (each (B,)); their sum is log p(crystal)."""
        rules = self.rules_on(batch.space_group.device)
        B, S = batch.wyckoff.shape
        h = self.hidden(batch)
        mask = batch.site_mask
        allowed = rules.sequence_masks(batch)
        letter_logits = self.letter_head(h).masked_fill(~allowed, float("-inf"))
        chosen = torch.where(mask, batch.wyckoff, torch.full_like(batch.wyckoff, rules.stop))
        chosen = torch.cat([chosen, torch.full((B, 1), rules.stop, device=chosen.device)], dim=1)
        live = torch.arange(S + 1, device=h.device)[None] <= batch.num_sites[:, None]
        letter_lp = F.log_softmax(letter_logits, -1).gather(2, chosen[..., None])[..., 0]
        terms = {"space_group": F.log_softmax(self.space_group_logits[1:], -1)[batch.space_group - 1],
                 "letters": torch.where(live, letter_lp, 0.0).sum(1)}
        site_h = h[:, :S]
        element_lp = F.log_softmax(self.element_head(site_h + self.letter_embed(batch.wyckoff)), -1)
        terms["elements"] = (element_lp.gather(2, batch.element[..., None])[..., 0] * mask).sum(1)
        free_mask = rules.free_mask[batch.space_group[:, None], batch.wyckoff] & mask[..., None]
        coord_lp = torch.zeros(B, device=h.device)
        contexts = self.coordinate_contexts(site_h, batch.wyckoff, batch.element, batch.free)
        for axis, (context, head) in enumerate(zip(contexts, self.coord_heads)):
            params = densities.von_mises_params(head(context), self.config.coord_components)
            lp = densities.von_mises_log_density(batch.free[..., axis], *params)
            coord_lp = coord_lp + (lp * free_mask[..., axis]).sum(1)
        terms["coordinates"] = coord_lp
        terms["lattice"] = self.lattice_log_prob(h, batch)
        return terms

    def lattice_log_prob(self, h: torch.Tensor, batch: SiteBatch) -> torch.Tensor:
        rules = self.rules
        end = h[torch.arange(len(batch), device=h.device), batch.num_sites]
        atoms = self.conventional_atoms(batch)
        features = densities.lattice_features(batch.lattice, atoms)
        params = densities.gaussian_mixture_params(self.lattice_head(end), self.config.lattice_components)
        free = rules.lattice_free[batch.space_group]
        log_density = densities.gaussian_mixture_log_density(features, free, *params)
        # change of variables: lengths were modelled as logs, angles in radians
        jacobian = (torch.log(batch.lattice[:, :3]) * free[:, :3]).sum(1) + free[:, 3:].sum(1) * math.log(180 / math.pi)
        return log_density - jacobian

    def conventional_atoms(self, batch: SiteBatch) -> torch.Tensor:
        rules = self.rules_on(batch.space_group.device)
        return (rules.multiplicity[batch.space_group[:, None], batch.wyckoff] * batch.site_mask).sum(1)

    def log_prob(self, batch: SiteBatch) -> torch.Tensor:
        """(B,) exact log-likelihood (nats; densities per unit of fractional coordinate, Å and degree)."""
        return sum(self.log_prob_terms(batch).values())


def _mlp(dim: int, out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, out))


def nll_loss(model: WyckoffTransformer, batch: SiteBatch) -> dict[str, torch.Tensor]:
    """Mean negative log-likelihood per crystal ("loss"), and its factors for the training log."""
    terms = model.log_prob_terms(batch)
    parts = {f"nll_{name}": -value.mean() for name, value in terms.items()}
    return {"loss": sum(parts.values()), **{name: value.detach() for name, value in parts.items()}}
