"""The bird swarm finds the minimum of standard functions and follows its own rules."""
import math

import pytest
import torch

from matlib.search.swarm import SwarmConfig, bird_swarm, flocks, rastrigin, sphere


def random_search_best(f, dims, evaluations, bounds, seed=1):
    x = bounds[0] + (bounds[1] - bounds[0]) * torch.rand(evaluations, dims, generator=torch.Generator().manual_seed(seed))
    return float(f(x).min())


@pytest.mark.parametrize("f, bounds", [(sphere, (-6.0, 6.0)), (rastrigin, (-5.12, 5.12))])
def test_swarm_beats_random_search_by_far_at_the_same_budget(f, bounds):
    config = SwarmConfig(birds=40, iterations=300, bounds=bounds)
    result = bird_swarm(f, 10, config, generator=torch.Generator().manual_seed(0))
    assert result.evaluations == 40 * 301                     # the start plus one swarm per iteration
    assert result.best_f < 1e-3
    assert random_search_best(f, 10, result.evaluations, bounds) > 10.0
    assert float(f(result.best_x[None])) == pytest.approx(result.best_f, abs=1e-6)


def test_history_is_monotone_and_positions_stay_in_bounds():
    seen = []
    config = SwarmConfig(birds=12, iterations=25, flight_every=5, bounds=(-2.0, 3.0))
    result = bird_swarm(sphere, 4, config, generator=torch.Generator().manual_seed(0), keep_positions=True,
                        callback=lambda it, x, f: seen.append(it))
    best = [h["best"] for h in result.history]
    assert all(b2 <= b1 for b1, b2 in zip(best, best[1:]))
    assert seen == list(range(26)) and len(result.positions) == 26
    every = torch.cat(result.positions)
    assert every.min() >= -2.0 and every.max() <= 3.0


def test_a_failed_evaluation_is_a_bad_point_not_a_crash():
    def fragile(x):
        f = sphere(x)
        f[0] = math.nan                                       # e.g. a latent point that decodes to garbage
        return f
    result = bird_swarm(fragile, 3, SwarmConfig(birds=8, iterations=20), generator=torch.Generator().manual_seed(0))
    assert math.isfinite(result.best_f)
    with pytest.raises(ValueError, match="shape"):
        bird_swarm(lambda x: x, 3, SwarmConfig(birds=4, iterations=1))


def test_snapshots_hold_the_personal_bests_found_so_far():
    config = SwarmConfig(birds=10, iterations=20, bounds=(-4.0, 4.0))
    result = bird_swarm(sphere, 3, config, generator=torch.Generator().manual_seed(0), snapshot_every=5)
    assert [it for it, _ in result.snapshots] == [0, 5, 10, 15, 20]
    means = [float(sphere(x).mean()) for _, x in result.snapshots]
    assert all(b <= a for a, b in zip(means, means[1:]))      # personal bests never get worse
    assert torch.equal(result.snapshots[-1][1], result.personal_x)


def test_flocks_search_independently_and_merge_in_order():
    def far_apart(x):                                          # two equally good minima, at -2 and +2
        return torch.minimum(((x - 2) ** 2).sum(-1), ((x + 2) ** 2).sum(-1))
    start = torch.cat([torch.full((10, 2), -1.5), torch.full((10, 2), 1.5)]) + 0.1 * torch.randn(20, 2)
    config = SwarmConfig(birds=10, iterations=60, bounds=(-4.0, 4.0))
    result = flocks(far_apart, 2, config, 2, start=start, generator=torch.Generator().manual_seed(0),
                    snapshot_every=20)
    assert result.personal_x.shape == (20, 2) and result.evaluations == 20 * 61
    assert [it for it, _ in result.snapshots] == [0, 20, 40, 60]
    assert all(points.shape == (20, 2) for _, points in result.snapshots)
    assert torch.allclose(result.snapshots[0][1], start)
    # each flock settles on the minimum it started near: one global best would have pulled all to one
    assert torch.allclose(result.personal_x[:10].mean(0), torch.tensor([-2.0, -2.0]), atol=0.1)
    assert torch.allclose(result.personal_x[10:].mean(0), torch.tensor([2.0, 2.0]), atol=0.1)
    assert result.best_f == pytest.approx(float(far_apart(result.best_x[None])), abs=1e-6)
