"""Searching a CDVAE's latent space for crystals with a target property (MAGECS; CDVAE's optimisation).

A search needs a cheap score for every candidate z. MAGECS decoded each z and ran a property GNN on
the crystal; here a small MLP reads the property straight from z (a *surrogate*), trained on posterior
samples z ~ q(z|x) of the training crystals, so thousands of candidates cost one matrix product. The
crystals a search proposes are decoded and scored by an independent judge (notebook 01's GNN), never
by the surrogate that steered it.

* :class:`LatentPredictor` and :func:`fit_latent_predictor`: the surrogate ŷ(z), a small ensemble whose
  disagreement marks where it is guessing;
* :func:`window_fitness`: MAGECS's fitness |ŷ(z) − target|^p, minimised by the swarm;
* :func:`gradient_search`: Adam on z against (ŷ(z) − target)², CDVAE's own property optimisation.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..crystal import CrystalBatch
from ..targets import check_finite, check_labels, check_target, label_range


class LatentPredictor(nn.Module):
    """An ensemble of small MLPs ŷ_m(z), evaluated as one batched matrix product per layer.

    Members start from different weights and see different minibatches, so where the training
    latents are dense they agree and away from them they disagree: :meth:`spread` measures how far a
    search has left what the surrogate knows."""

    def __init__(self, latent: int, hidden: int = 256, layers: int = 2, members: int = 5):
        super().__init__()
        widths = [latent] + [hidden] * layers + [1]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in zip(widths[:-1], widths[1:]):
            bound = fan_in ** -0.5                       # nn.Linear's default initialisation
            self.weights.append(nn.Parameter(torch.empty(members, fan_in, fan_out).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(torch.empty(members, 1, fan_out).uniform_(-bound, bound)))
        self.register_buffer("mean", torch.zeros(()))
        self.register_buffer("std", torch.ones(()))
        self.value_range: tuple[float, float] | None = None     # of the training values, set when fitted

    @property
    def members(self) -> int:
        return self.weights[0].shape[0]

    def standardised(self, z: torch.Tensor) -> torch.Tensor:
        """Every member's prediction in standard units, shape (members, len(z)); z may also be
        (members, batch, latent), one batch per member."""
        h = z if z.dim() == 3 else z.expand(self.members, *z.shape)
        for i, (weight, bias) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(bias, h, weight)
            if i < len(self.weights) - 1:
                h = nn.functional.silu(h)
        return h.squeeze(-1)

    def per_member(self, z: torch.Tensor) -> torch.Tensor:
        return self.standardised(z) * self.std + self.mean

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """The ensemble's mean prediction, in the property's own units, one value per latent vector."""
        return self.per_member(z).mean(0)

    def spread(self, z: torch.Tensor) -> torch.Tensor:
        """The members' standard deviation: small near the training latents, large away from them."""
        return self.per_member(z).std(0)


@dataclass
class PredictorFit:
    holdout_mae: float
    mean_baseline_mae: float
    steps: int


@torch.no_grad()
def encode_posteriors(model, batch: CrystalBatch, chunk: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """(μ, σ) of q(z|x) for every crystal, in chunks."""
    model.eval()
    mus, sigmas = [], []
    for part in batch.split(chunk):
        mu, logvar, _ = model.encoder(part)
        mus.append(mu.float())
        sigmas.append(torch.exp(0.5 * logvar.float()))
    return torch.cat(mus), torch.cat(sigmas)


def fit_latent_predictor(model, batch: CrystalBatch, values: torch.Tensor, *, steps: int = 3000,
                         batch_size: int = 256, lr: float = 1e-3, holdout: float = 0.1, hidden: int = 256,
                         members: int = 5, seed: int = 0) -> tuple[LatentPredictor, PredictorFit]:
    """Train the ensemble ŷ(z) on fresh posterior samples z = μ + σ·ε of the crystals in ``batch``
    (labels ``values``, NaN rows dropped), each member on its own minibatches; the ensemble's MAE on a
    held-out tenth, with z = μ, says how far to trust it."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)                               # the members' initial weights
    mu, sigma = encode_posteriors(model, batch.to(model.device))
    values = values.to(mu.device).float()
    keep = torch.isfinite(values)
    mu, sigma, values = mu[keep], sigma[keep], values[keep]
    order = torch.randperm(len(values), generator=generator).to(mu.device)
    n_hold = max(1, int(round(holdout * len(values))))
    held, train = order[:n_hold], order[n_hold:]
    check_labels(values, "surrogate training values")
    predictor = LatentPredictor(mu.shape[1], hidden, members=members).to(mu.device)
    predictor.mean.fill_(values[train].mean())
    predictor.std.fill_(values[train].std().clamp_min(1e-6))
    predictor.value_range = (float(values[train].min()), float(values[train].max()))
    optimizer = torch.optim.AdamW(predictor.parameters(), lr=lr, weight_decay=1e-4)
    for _ in range(steps):
        pick = train[torch.randint(0, len(train), (members, batch_size), generator=generator).to(mu.device)]
        eps = torch.randn(members, batch_size, mu.shape[1], generator=generator).to(mu.device)
        z = mu[pick] + sigma[pick] * eps
        loss = nn.functional.mse_loss(predictor.standardised(z), (values[pick] - predictor.mean) / predictor.std)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    predictor.eval()
    with torch.no_grad():
        mae = float((predictor(mu[held]) - values[held]).abs().mean())
    baseline = float((values[held] - values[train].mean()).abs().mean())
    return predictor, PredictorFit(mae, baseline, steps)


def _checked_target(predictor: LatentPredictor, target, allow_extrapolation: bool) -> float:
    lo, hi = label_range(predictor.value_range, float(predictor.mean), float(predictor.std))
    return check_target(target, lo, hi, name="search target", allow_extrapolation=allow_extrapolation)


def window_fitness(predictor: LatentPredictor, target: float, power: float = 0.25, inside: float = 0.0,
                   caution: float = 0.0, *, allow_extrapolation: bool = False):
    """MAGECS's fitness |ŷ(z) − target|^power, lower is better (the power only reshapes the swarm's
    fitness-weighted moves, not which z is best). With ``inside`` > 0 every z whose prediction is
    within ``inside`` of the target scores 0: a window, not a point, so a bird keeps the first good z
    it finds instead of chasing the surrogate's idea of a perfect one. ``caution`` adds that many
    ensemble spreads to the distance: a z only counts as close when the members agree, so the swarm
    cannot win by finding a spot where one surrogate is wrong. A non-finite target or window, or a
    target far outside the surrogate's training values (unless ``allow_extrapolation``), is an error."""
    target = _checked_target(predictor, target, allow_extrapolation)
    inside, caution, power = (check_finite(v, name) for v, name in ((inside, "window half-width (inside)"),
                                                                     (caution, "caution"), (power, "power")))
    if inside < 0:
        raise ValueError(f"the window half-width (inside) must be >= 0, got {inside}")

    @torch.no_grad()
    def fitness(z: torch.Tensor) -> torch.Tensor:
        predictions = predictor.per_member(z)
        distance = (predictions.mean(0) - target).abs()
        if caution:
            distance = distance + caution * predictions.std(0)
        return (distance - inside).clamp_min(0) ** power
    return fitness


def gradient_search(predictor: LatentPredictor, start: torch.Tensor, target: float, *, steps: int = 1000,
                    lr: float = 1e-2, record_every: int = 100, allow_extrapolation: bool = False) -> list[torch.Tensor]:
    """Adam on z against (ŷ(z) − target)² (CDVAE minimised ŷ itself; a window needs a distance).
    Returns z at step 0 and every ``record_every`` steps. The target is checked as in window_fitness."""
    target = _checked_target(predictor, target, allow_extrapolation)
    z = start.detach().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([z], lr=lr)
    frames = [z.detach().clone()]
    for step in range(1, steps + 1):
        loss = ((predictor(z) - target) ** 2).sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % record_every == 0:
            frames.append(z.detach().clone())
    return frames


__all__ = ["LatentPredictor", "PredictorFit", "encode_posteriors", "fit_latent_predictor", "window_fitness",
           "gradient_search"]
