"""The autoregressive Wyckoff model: exact densities, the sequence rules, training, sampling, storage."""
import math

import numpy as np
import pytest
import torch

from matlib.autoregressive import densities
from matlib.autoregressive.model import ARConfig, WyckoffTransformer
from matlib.autoregressive.sampling import sample, to_structures
from matlib.autoregressive.sites import site_batch
from matlib.autoregressive.training import ARStore, mean_nll, train

SMALL = ARConfig(dim=32, layers=1, heads=2, ffn=64, coord_components=3, lattice_components=2, max_sites=16)


@pytest.fixture(scope="module")
def crystals(encoded_mp20_val):
    kept = encoded_mp20_val(120, SMALL.max_sites)
    assert len(kept) >= 100
    return kept


def test_von_mises_mixture_integrates_to_one():
    torch.manual_seed(0)
    logits, mean, kappa = densities.von_mises_params(torch.randn(4 * 5) * 2, 5)
    x = torch.linspace(0, 1, 20001)[:-1]
    density = densities.von_mises_log_density(x, logits, mean, kappa).exp()
    assert abs(float(density.mean()) - 1.0) < 1e-3


def test_gaussian_mixture_integrates_over_free_dimensions_only():
    torch.manual_seed(0)
    logits, mean, log_std = densities.gaussian_mixture_params(torch.randn(3 + 2 * 3 * 6)[None] * 0.3, 3)
    grid = torch.linspace(-8, 8, 4001)
    y = torch.zeros(len(grid), 6)
    y[:, 2] = grid
    free = torch.zeros(len(grid), 6, dtype=torch.bool)
    free[:, 2] = True                      # one free dimension: a 1-D density in it
    expand = lambda t: t.expand(len(grid), *t.shape[1:])
    density = densities.gaussian_mixture_log_density(y, free, expand(logits), expand(mean), expand(log_std)).exp()
    assert abs(float(torch.trapezoid(density, grid)) - 1.0) < 1e-3


def test_lattice_features_round_trip():
    lattice = torch.tensor([[4.0, 5.0, 6.0, 90.0, 100.0, 90.0]])
    atoms = torch.tensor([8])
    back = densities.lattice_from_features(densities.lattice_features(lattice, atoms), atoms)
    assert torch.allclose(back, lattice, atol=1e-4)


def test_training_crystals_keep_the_rules_and_the_model_learns(crystals):
    torch.manual_seed(0)
    model = WyckoffTransformer(SMALL)
    batch = site_batch(crystals, SMALL.max_sites)
    assert not model.rules.violations(batch).any()
    before = mean_nll(model, batch)
    model, run = train(model, batch, steps=60, batch_size=32, lr=3e-3, eval_every=30)
    after = mean_nll(model, batch)
    assert math.isfinite(after) and after < before - 5, (before, after)


def test_samples_keep_the_rules_decode_and_repeat_with_a_seed(crystals):
    torch.manual_seed(0)
    model = WyckoffTransformer(SMALL)
    model, _ = train(model, site_batch(crystals, SMALL.max_sites), steps=30, batch_size=32, lr=3e-3)
    first, again = sample(model, 40, seed=3), sample(model, 40, seed=3)
    assert torch.equal(first.wyckoff, again.wyckoff) and torch.equal(first.element, again.element)
    assert not model.rules.violations(first).any()
    assert torch.isfinite(model.log_prob(first)).all()
    free = model.rules.free_mask[first.space_group[:, None], first.wyckoff]
    assert (first.free[~free] == 0).all(), "variables a position does not read stay 0"
    tied = model.rules.tie_lattice(first.space_group, first.lattice)
    assert torch.equal(tied, first.lattice), "sampled lattices already obey their crystal system"
    structures, skipped = to_structures(first)
    built = [s for s in structures if s is not None]
    assert len(built) + sum(skipped.values()) == 40 and len(built) > 0
    assert all(len(s) > 0 and s.volume > 0 for s in built)


def test_tie_lattice_keeps_free_parameters_and_is_idempotent():
    model = WyckoffTransformer(SMALL)
    groups = torch.tensor([1, 14, 62, 123, 166, 194, 225])
    raw = torch.tensor([[4.0, 5.0, 6.0, 80.0, 100.0, 110.0]]).repeat(len(groups), 1)
    tied = model.rules.tie_lattice(groups, raw)
    free = model.rules.lattice_free[groups]
    assert torch.equal(tied[free], raw[free])
    assert torch.equal(model.rules.tie_lattice(groups, tied), tied)
    assert tied[-1].tolist() == [4.0, 4.0, 4.0, 90.0, 90.0, 90.0]          # cubic
    assert tied[-2].tolist() == [4.0, 4.0, 6.0, 90.0, 90.0, 120.0]         # hexagonal
    assert tied[-3].tolist() == [4.0, 4.0, 6.0, 90.0, 90.0, 120.0]         # rhombohedral, hexagonal axes


def test_store_round_trip(tmp_path, crystals):
    model = WyckoffTransformer(SMALL)
    batch = site_batch(crystals[:20], SMALL.max_sites)
    ARStore.save(tmp_path / "ar", model, dataset="mp_20", split="val", step=5)
    loaded, ckpt = ARStore.load(tmp_path / "ar", dataset="mp_20")
    assert ckpt.step == 5 and loaded.config == model.config
    model.eval(), loaded.eval()                      # dropout off: compare the deterministic densities
    # half-precision weights: log-likelihoods agree to well under a nat
    assert np.allclose(loaded.log_prob(batch).detach(), model.log_prob(batch).detach(), atol=0.3)
