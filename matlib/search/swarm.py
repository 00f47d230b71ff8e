"""The bird swarm algorithm (Meng et al. 2016), as MAGECS used it to search a CDVAE latent space.

Every bird is a point x_i in a box; its fitness f(x_i) is minimised. Each bird remembers its personal
best p_i; the swarm knows the global best g. An iteration moves every bird by one of three rules:

* **foraging** (probability P_i ~ U(0.8, 1) per bird): x_i += c1·r1·(p_i − x_i) + c2·r2·(g − x_i);
* **vigilance** (otherwise): a pull toward the swarm's mean best, weaker for a bird that already has a
  good personal best, and a push toward (or away from) a random other bird k, depending on which of
  the two is better:
  x_i += A1·r·(mean(p) − x_i) + A2·u·(p_k − x_i), u ~ U(−1, 1),
  A1 = a1·exp(−f_i·N / (Σf + ε)), A2 = a2·exp((f_i − f_k) / (|f_k − f_i| + ε) · N·f_k / (Σf + ε))
  (f: personal-best fitness; for minimisation, as in the original code);
* **flight**, every ``flight_every`` iterations instead: the better half of the swarm (by personal best)
  are producers and jump to x_i = p_i·(1 + N(0, 1)); the rest are scroungers and follow a random producer
  k: x_i = p_i + FL·r·(p_k − p_i), FL ~ U(0.5, 0.9).

Positions are clipped to the bounds, every bird is evaluated once per iteration, and the whole swarm
moves as one tensor, so a GPU evaluates all birds in a single batch.

Differences from MAGECS's code, on purpose: mean(p) is the per-dimension mean (its code averaged every
entry into one scalar), r1, r2 are drawn per bird and dimension, and producers are the better half by
fitness (its code split the swarm by index).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import torch

Objective = Callable[[torch.Tensor], torch.Tensor]   # (birds, dims) -> (birds,) fitness, lower is better


@dataclass
class SwarmConfig:
    birds: int = 100
    iterations: int = 100
    flight_every: int = 10           # FQ
    c1: float = 1.5                  # pull toward the personal best (cognitive)
    c2: float = 1.5                  # pull toward the global best (social)
    a1: float = 1.0
    a2: float = 1.0
    forage_probability: tuple[float, float] = (0.8, 1.0)
    follow: tuple[float, float] = (0.5, 0.9)   # FL range for scroungers
    bounds: tuple[float, float] = (-6.0, 6.0)


@dataclass
class SwarmResult:
    best_x: torch.Tensor
    best_f: float
    personal_x: torch.Tensor | None = None   # every bird's best point at the end (birds, dims)
    personal_f: torch.Tensor | None = None
    history: list[dict] = field(default_factory=list)   # per iteration: best, mean of personal bests, evaluations
    positions: list[torch.Tensor] = field(default_factory=list)   # every evaluated swarm, when kept
    snapshots: list[tuple[int, torch.Tensor]] = field(default_factory=list)   # (iteration, personal bests)
    fitness: list[torch.Tensor] = field(default_factory=list)
    evaluations: int = 0


def bird_swarm(objective: Objective, dims: int, config: SwarmConfig = SwarmConfig(), *,
               start: torch.Tensor | None = None, generator: torch.Generator | None = None,
               device: str | torch.device = "cpu", keep_positions: bool = False, snapshot_every: int = 0,
               callback: Callable[[int, torch.Tensor, torch.Tensor], None] | None = None) -> SwarmResult:
    """Minimise ``objective`` over the box ``config.bounds`` in ``dims`` dimensions.

    ``start``: initial positions (birds, dims); default uniform in the box. ``callback(iteration,
    positions, fitness)`` sees every evaluated swarm. ``snapshot_every=k`` keeps every bird's personal
    best at iteration 0, k, 2k, ... (what a search has found so far, to decode and judge).
    """
    low, high = config.bounds
    n = config.birds
    if start is None:
        x = low + (high - low) * torch.rand(n, dims, device=device, generator=generator)
    else:
        x = start.to(device).clone()
        n = len(x)
    result = SwarmResult(best_x=x[0], best_f=math.inf)

    def uniform(*shape, lo=0.0, hi=1.0):
        return lo + (hi - lo) * torch.rand(*shape, device=x.device, generator=generator)

    def evaluate(points: torch.Tensor, iteration: int) -> torch.Tensor:
        f = objective(points).detach().to(points.device).float()
        if f.shape != (len(points),):
            raise ValueError(f"the objective returned shape {tuple(f.shape)}, expected ({len(points)},)")
        f = torch.nan_to_num(f, nan=math.inf)        # an undecodable point is simply a bad one
        result.evaluations += len(points)
        if keep_positions:
            result.positions.append(points.cpu())
            result.fitness.append(f.cpu())
        if callback is not None:
            callback(iteration, points, f)
        return f

    forage_p = uniform(n, lo=config.forage_probability[0], hi=config.forage_probability[1])
    fx = evaluate(x, 0)
    personal, personal_f = x.clone(), fx.clone()
    if snapshot_every:
        result.snapshots.append((0, personal.clone()))
    for iteration in range(1, config.iterations + 1):
        g = personal[personal_f.argmin()]
        if iteration % config.flight_every:
            x = _forage_or_keep_watch(x, personal, personal_f, g, forage_p, config, uniform, generator)
        else:
            x = _fly(personal, personal_f, config, uniform, generator)
        x = x.clamp(low, high)
        fx = evaluate(x, iteration)
        better = fx < personal_f
        personal[better], personal_f[better] = x[better], fx[better]
        if snapshot_every and iteration % snapshot_every == 0:
            result.snapshots.append((iteration, personal.clone()))
        result.history.append({"iteration": iteration, "best": float(personal_f.min()),
                               "mean_personal_best": float(personal_f[torch.isfinite(personal_f)].mean())
                               if torch.isfinite(personal_f).any() else math.inf,
                               "evaluations": result.evaluations})
    best = personal_f.argmin()
    result.best_x, result.best_f = personal[best].clone(), float(personal_f[best])
    result.personal_x, result.personal_f = personal, personal_f
    return result


def _forage_or_keep_watch(x, personal, personal_f, g, forage_p, config: SwarmConfig, uniform, generator):
    """A BSA step on the ground: each bird forages (towards its own and the swarm's best) with its
    foraging probability, else keeps watch (towards the swarm's centre and another bird)."""
    n, dims = x.shape
    eps = torch.finfo(torch.float32).eps
    r1, r2 = uniform(n, dims), uniform(n, dims)
    foraged = x + config.c1 * r1 * (personal - x) + config.c2 * r2 * (g - x)
    finite = torch.where(torch.isfinite(personal_f), personal_f, personal_f[torch.isfinite(personal_f)].max()
                         if torch.isfinite(personal_f).any() else torch.zeros_like(personal_f))
    total = finite.sum() + eps
    k = (torch.arange(n, device=x.device) + torch.randint(1, max(n, 2), (n,), device=x.device,
                                                           generator=generator)) % n   # another bird
    a1 = config.a1 * torch.exp(-finite * n / total)
    gap = finite - finite[k]
    a2 = config.a2 * torch.exp((gap / (gap.abs() + eps) * n * finite[k] / total).clamp(max=20))
    vigilant = (x + a1[:, None] * uniform(n, dims) * (personal.mean(0) - x)
                + a2[:, None] * uniform(n, dims, lo=-1.0) * (personal[k] - x))
    forages = uniform(n) < forage_p
    return torch.where(forages[:, None], foraged, vigilant)


def _fly(personal, personal_f, config: SwarmConfig, uniform, generator):
    """A BSA flight: the better half produces (jumps around its own best), the rest scrounge
    (follow a random producer)."""
    n, dims = personal.shape
    order = torch.argsort(personal_f)
    producers, scroungers = order[: n // 2 + n % 2], order[n // 2 + n % 2:]
    x = personal.clone()
    x[producers] = personal[producers] * (1 + torch.randn(len(producers), dims, device=x.device,
                                                             generator=generator))
    leader = producers[torch.randint(0, len(producers), (len(scroungers),), device=x.device,
                                     generator=generator)]
    follow = uniform(len(scroungers), 1, lo=config.follow[0], hi=config.follow[1])
    x[scroungers] = personal[scroungers] + follow * uniform(len(scroungers), dims) * (
        personal[leader] - personal[scroungers])
    return x


def flocks(objective: Objective, dims: int, config: SwarmConfig, count: int, *, start: torch.Tensor,
           generator: torch.Generator | None = None, device: str | torch.device = "cpu",
           snapshot_every: int = 0) -> SwarmResult:
    """``count`` independent swarms, each with its own share of ``start`` and its own global best.

    One swarm converges on one spot: where its first good point happens to be, so a single run is a
    single draw (a good spot or a bad one) and its birds end up as near-copies. Independent flocks
    average over several such draws and keep as many distinct spots. The result merges them: personal
    bests and snapshots concatenated in the order of ``start``, the overall best, summed evaluations."""
    parts = [bird_swarm(objective, dims, config, start=chunk, generator=generator, device=device,
                        snapshot_every=snapshot_every) for chunk in start.chunk(count)]
    best = min(parts, key=lambda part: part.best_f)
    history = [{"iteration": rows[0]["iteration"], "best": min(r["best"] for r in rows),
                "mean_personal_best": sum(r["mean_personal_best"] for r in rows) / len(rows),
                "evaluations": sum(r["evaluations"] for r in rows)} for rows in zip(*(p.history for p in parts))]
    snapshots = [(steps[0][0], torch.cat([points for _, points in steps]))
                 for steps in zip(*(p.snapshots for p in parts))]
    return SwarmResult(best_x=best.best_x, best_f=best.best_f, personal_x=torch.cat([p.personal_x for p in parts]),
                       personal_f=torch.cat([p.personal_f for p in parts]), history=history, snapshots=snapshots,
                       evaluations=sum(p.evaluations for p in parts))


def sphere(x: torch.Tensor) -> torch.Tensor:
    """Σ x²: one smooth bowl, minimum 0 at the origin."""
    return (x ** 2).sum(-1)


def rastrigin(x: torch.Tensor) -> torch.Tensor:
    """10·d + Σ (x² − 10·cos 2πx): a bowl covered in local minima, global minimum 0 at the origin."""
    return 10 * x.shape[-1] + (x ** 2 - 10 * torch.cos(2 * math.pi * x)).sum(-1)


__all__ = ["SwarmConfig", "SwarmResult", "bird_swarm", "flocks", "sphere", "rastrigin"]
