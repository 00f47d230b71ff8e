"""Ancestral sampling: space group, then site after site (letter, element, x, y, z), then the lattice.

Each step draws from exactly the conditionals `model.log_prob_terms` scores, so a sampled crystal's
log-likelihood is the sum of the log-probabilities of its draws.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..progress import progress
from . import densities
from .model import WyckoffTransformer
from .sites import SiteBatch, concat, crystals_of


@torch.no_grad()
def sample(model: WyckoffTransformer, count: int, *, batch_size: int = 2048, temperature: float = 1.0,
           space_groups: torch.Tensor | None = None, seed: int | None = None, device=None,
           progress_bar: bool | None = None) -> SiteBatch:
    """``count`` crystals as a SiteBatch (on the CPU). ``space_groups`` fixes each crystal's group;
    ``temperature`` scales the discrete choices' logits (1 = the model's own distribution)."""
    device = torch.device(device or next(model.parameters()).device)
    generator = torch.Generator(device=device).manual_seed(seed) if seed is not None else None
    if seed is not None:
        torch.manual_seed(seed)     # the von Mises sampler draws from the global generator
    model.eval()
    parts = []
    bar = progress(total=count, desc="sampling crystals", disable=progress_bar is False)
    for start in range(0, count, batch_size):
        n = min(batch_size, count - start)
        groups = None if space_groups is None else space_groups[start:start + n].to(device)
        parts.append(_sample_batch(model, n, groups, temperature, generator, device).to("cpu"))
        bar.update(n)
    bar.close()
    return concat(parts)


# Cells outside these bounds are not built (counted as invalid): an axis under 1 Å puts an atom's
# own images on top of it, and neighbour searches on such cells (or on near-empty ones) run for minutes.
MIN_AXIS = 1.0                    # Å
VOLUME_PER_ATOM = (1.0, 200.0)    # Å³ per atom


def to_structures(batch: SiteBatch, primitive: bool = False):
    """Decode a batch: (structures, None where a crystal cannot be built, and a Counter of why)."""
    from collections import Counter

    from ..wyckoff import decode

    structures, skipped = [], Counter()
    for crystal in crystals_of(batch):
        try:
            structure = decode(crystal, primitive=primitive)
            if min(structure.lattice.abc) < MIN_AXIS:
                raise ValueError(f"a lattice vector shorter than {MIN_AXIS} Å")
            if not VOLUME_PER_ATOM[0] <= structure.volume / len(structure) <= VOLUME_PER_ATOM[1]:
                raise ValueError(f"volume per atom outside {VOLUME_PER_ATOM[0]:g} to {VOLUME_PER_ATOM[1]:g} Å³")
            structures.append(structure)
        except ValueError as err:
            structures.append(None)
            skipped[str(err).split(",")[0]] += 1
    return structures, skipped


def _sample_batch(model, n, groups, temperature, generator, device) -> SiteBatch:
    c, rules = model.config, model.rules_on(device)
    if groups is None:
        probs = F.softmax(model.space_group_logits[1:] / temperature, -1)
        groups = torch.multinomial(probs.expand(n, -1), 1, generator=generator)[:, 0] + 1
    S = c.max_sites
    batch = SiteBatch(groups, torch.zeros(n, S, dtype=torch.long, device=device),
                      torch.zeros(n, S, dtype=torch.long, device=device), torch.zeros(n, S, 3, device=device),
                      torch.zeros(n, dtype=torch.long, device=device), torch.ones(n, 6, device=device))
    running = torch.ones(n, dtype=torch.bool, device=device)
    atoms = torch.zeros(n, dtype=torch.long, device=device)
    for t in range(S + 1):
        h = model.hidden(_prefix(batch, t))[:, t]
        previous = batch.wyckoff[:, t - 1] if t else torch.full((n,), -1, device=device)
        allowed = rules.allowed_next(groups, previous, atoms, torch.full((n,), t, device=device))
        letter = torch.multinomial(F.softmax(model.letter_head(h).masked_fill(~allowed, float("-inf")) / temperature, -1),
                                   1, generator=generator)[:, 0]
        stopping = running & (letter == rules.stop)
        running = running & ~stopping
        if t == S or not running.any():
            break
        element = _draw_element(model, h, letter.clamp(max=rules.letters - 1), temperature, generator)
        free = _draw_free(model, h, groups, letter.clamp(max=rules.letters - 1), element, generator)
        live = running
        batch.wyckoff[live, t], batch.element[live, t], batch.free[live, t] = letter[live], element[live], free[live]
        batch.num_sites[live] += 1
        atoms = atoms + torch.where(live, rules.primitive_atoms(groups, letter.clamp(max=rules.letters - 1)[:, None])[:, 0], 0)
    batch.lattice = _draw_lattice(model, batch, generator)
    return batch


def _prefix(batch: SiteBatch, t: int) -> SiteBatch:
    return SiteBatch(batch.space_group, batch.wyckoff[:, :t], batch.element[:, :t], batch.free[:, :t],
                     batch.num_sites, batch.lattice)


def _draw_element(model, h, letter, temperature, generator):
    logits = model.element_head(h + model.letter_embed(letter))
    logits[:, 0] = float("-inf")                      # Z = 0 is padding, never an element
    return torch.multinomial(F.softmax(logits / temperature, -1), 1, generator=generator)[:, 0]


def _draw_free(model, h, groups, letter, element, generator):
    free = torch.zeros(len(h), 3, device=h.device)
    context = h + model.letter_embed(letter) + model.element_embed(element)
    for axis in range(3):
        if axis:
            context = context + model.coord_feedback[axis - 1](model.fourier(free[:, axis - 1]))
        params = densities.von_mises_params(model.coord_heads[axis](context), model.config.coord_components)
        free[:, axis] = densities.von_mises_sample(*params, generator=generator)
    return free * model.rules.free_mask[groups, letter]          # variables the position does not read are 0


def _draw_lattice(model, batch: SiteBatch, generator) -> torch.Tensor:
    h = model.hidden(batch)
    end = h[torch.arange(len(batch), device=h.device), batch.num_sites]
    params = densities.gaussian_mixture_params(model.lattice_head(end), model.config.lattice_components)
    features = densities.gaussian_mixture_sample(*params, generator=generator)
    lattice = densities.lattice_from_features(features, model.conventional_atoms(batch))
    return model.rules.tie_lattice(batch.space_group, lattice)
