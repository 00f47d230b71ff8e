"""PODGen's sampler: the Metropolis rule on a toy target, the moves' invariants, and chains that
follow the classifier term."""

import numpy as np
import pytest
import torch

from matlib.autoregressive.model import ARConfig, WyckoffTransformer
from matlib.autoregressive.sites import site_batch
from matlib.podgen import moves as mv
from matlib.podgen.metropolis import accept, converged, cosine_temperatures, metropolis_chain
from matlib.podgen.sampler import PodgenConfig, TargetDensity, run_chains
from matlib.wyckoff import to_crystal_batch

SMALL = ARConfig(dim=32, layers=1, heads=2, ffn=64, coord_components=3, lattice_components=2, max_sites=16)


def test_chain_histogram_matches_an_exact_discrete_target():
    """A random walk on a ring of 7 states with Metropolis acceptance must visit each state with
    the target's exact probability."""
    energy = torch.tensor([0.0, 1.5, 0.3, 2.0, 0.1, 1.0, 3.0])
    exact = torch.softmax(-energy, 0)
    log_target = lambda state: -energy[state]
    propose = lambda state, g: (state + torch.where(torch.rand(state.shape, generator=g) < 0.5, 1, -1)) % 7
    generator = torch.Generator().manual_seed(0)
    counts = torch.zeros(7)
    start = torch.randint(7, (400,), generator=generator)
    for step, (state, _, _) in enumerate(metropolis_chain(start, log_target, propose, 1500, generator)):
        if step >= 200:
            counts += torch.bincount(state, minlength=7)
    observed = counts / counts.sum()
    total_variation = 0.5 * float((observed - exact).abs().sum())
    assert total_variation < 0.01, (observed, exact)


def test_accept_refuses_nan_and_never_takes_invalid_states():
    current = torch.zeros(1000)
    assert not accept(current, torch.full((1000,), float("-inf"))).any()
    assert accept(current, torch.full((1000,), 50.0)).all()
    with pytest.raises(FloatingPointError):
        accept(current, torch.full((1000,), float("nan")))


def test_cosine_schedule_and_convergence_test():
    temps = cosine_temperatures(10.0, 1.0, 5)
    assert temps[0] == pytest.approx(10.0) and temps[-1] == pytest.approx(1.0)
    assert all(a > b for a, b in zip(temps, temps[1:]))
    assert converged([1.0] * 20) and not converged(list(range(20)))


@pytest.fixture(scope="module")
def seeds(encoded_mp20_val):
    return site_batch(encoded_mp20_val(60, SMALL.max_sites), SMALL.max_sites)


def test_moves_keep_the_template_and_the_rules(seeds):
    model = WyckoffTransformer(SMALL)
    rules, g = model.rules, torch.Generator().manual_seed(0)
    vocabulary = torch.arange(1, 84)
    state = mv.canonical_order(seeds)
    for move in range(30):
        state = [mv.element_move(state, vocabulary, g), mv.coordinate_move(state, rules, 0.05, g),
                 mv.lattice_move(state, rules, state.lattice[:, :3].mean(1), mv.MoveConfig(), g)][move % 3]
    assert torch.equal(state.space_group, seeds.space_group) and torch.equal(state.num_sites, seeds.num_sites)
    assert torch.equal(state.wyckoff.sort(1).values, seeds.wyckoff.sort(1).values)
    assert not rules.violations(state).any()
    assert torch.equal(rules.tie_lattice(state.space_group, state.lattice), state.lattice)
    fixed = ~rules.free_mask[state.space_group[:, None], state.wyckoff]
    assert torch.equal(state.free[fixed], seeds.free[fixed]), "coordinates a position fixes never move"


def test_chains_follow_the_classifier_term(seeds):
    """With a 'classifier' that wants oxygen, annealed chains hold more oxygen than their seeds."""
    torch.manual_seed(0)
    model = WyckoffTransformer(SMALL).eval()          # dropout off: a deterministic target density
    rules = model.rules

    def wants_oxygen(state):
        share = ((state.element == 8) & state.site_mask).sum(1) / state.num_sites
        return torch.log(share.clamp(min=1e-3))[:, None]

    target = TargetDensity(model.log_prob, wants_oxygen, torch.ones(1))
    config = PodgenConfig(temperature_start=4.0, levels=3, level_min_steps=5, level_max_steps=20, sampling_steps=20,
                          harvest_every=10, moves=mv.MoveConfig(weights=(1.0, 0.0, 0.0)))
    vocabulary = torch.tensor([8, 12, 14, 26])
    run = run_chains(seeds, target, rules, lambda s: wants_oxygen(s)[:, 0] > np.log(0.5), vocabulary, config, seed=0)
    oxygen = lambda s: float(((s.element == 8) & s.site_mask).sum() / s.num_sites.sum())
    assert oxygen(run.snapshots[-1]) > oxygen(seeds) + 0.1
    assert len(run.snapshots) == 2 and all(len(h) > 0 for h in run.harvested)
    assert 0 < run.acceptance()["element"] <= 1
    structures = to_crystal_batch(run.snapshots[-1].space_group, run.snapshots[-1].wyckoff, run.snapshots[-1].free,
                                  run.snapshots[-1].site_mask, run.snapshots[-1].element, run.snapshots[-1].lattice)
    assert structures.num_crystals == len(seeds)


def test_classifier_term_applies_the_fitted_temperatures_unless_told_not_to(seeds):
    from matlib import classifiers
    from matlib.podgen import classifier_term

    torch.manual_seed(0)
    config = classifiers.ClassifierConfig(conditions=("gap_window",), dim=16, layers=1, rbf=8, max_neighbors=8)
    model = classifiers.ConditionGNN(config).eval()
    model.temperature.fill_(3.0)
    classifier = classifiers.Classifier(model)
    state = seeds.select(slice(0, 8))
    scaled = classifier_term(classifier, ["gap_window"])(state)
    raw = classifier_term(classifier, ["gap_window"], calibrated=False)(state)
    assert torch.isfinite(raw).all() and not torch.allclose(raw, scaled)
    assert torch.allclose(torch.sigmoid(torch.logit(raw.double().exp()) / 3), scaled.double().exp(), atol=1e-5)
