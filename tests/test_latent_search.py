"""The latent surrogate learns a property from z, and searches move z toward a target."""
import numpy as np
import pytest
import torch
from pymatgen.core import Lattice, Structure

from matlib.cdvae import CDVAE
from matlib.crystal import CrystalBatch
from matlib.nn import DenoiserConfig
from matlib.nn.gnn import GNNConfig
from matlib.evaluation.success import in_window
from matlib.search.latent_search import (LatentPredictor, encode_posteriors, fit_latent_predictor, gradient_search,
                                  window_fitness)


def cells():
    return [Structure(Lattice.cubic(3.0 + 0.1 * i), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]) for i in range(40)]


def test_surrogate_reads_a_property_from_the_latent_space_better_than_the_mean():
    batch = CrystalBatch.from_structures(cells())
    torch.manual_seed(0)
    model = CDVAE.from_data(batch, latent=8, hidden=16, encoder=GNNConfig(targets=("z",), dim=16, layers=2),
                            decoder=DenoiserConfig(dim=16, layers=1, num_freqs=2), levels=4)
    torch.nn.init.zeros_(model.encoder.logvar.weight)         # a sharp posterior, as after training,
    torch.nn.init.constant_(model.encoder.logvar.bias, -8.0)  # so z carries what the encoder saw
    values = batch.lattice_params()[0][:, 0]                  # the cell edge: the encoder sees distances
    mu, sigma = encode_posteriors(model, batch, chunk=16)
    assert mu.shape == (40, 8) and (sigma > 0).all()
    predictor, fit = fit_latent_predictor(model, batch, values, steps=400, holdout=0.25, hidden=32)
    assert fit.holdout_mae < 0.5 * fit.mean_baseline_mae
    with_nan = values.clone()
    with_nan[:5] = float("nan")                                # unlabelled rows are dropped, not learned
    _, fit_nan = fit_latent_predictor(model, batch, with_nan, steps=50, hidden=8)
    assert np.isfinite(fit_nan.holdout_mae)
    far = 20 * torch.randn(40, 8)                              # nowhere near a training latent
    assert predictor.spread(far).mean() > 3 * predictor.spread(mu).mean()


def test_ensemble_members_are_independent_networks():
    torch.manual_seed(0)
    predictor = LatentPredictor(4, hidden=8, members=3)
    z = torch.randn(6, 4)
    each = predictor.per_member(z)
    assert each.shape == (3, 6) and predictor(z).shape == (6,)
    assert torch.allclose(predictor(z), each.mean(0)) and (predictor.spread(z) > 0).all()
    with torch.no_grad():
        predictor.weights[0][1].zero_()                       # changing member 1 moves only member 1
    changed = predictor.per_member(z)
    assert torch.equal(changed[0], each[0]) and torch.equal(changed[2], each[2]) and not torch.equal(changed[1], each[1])


def test_gradient_search_and_window_fitness_agree_on_the_target():
    torch.manual_seed(0)
    predictor = LatentPredictor(4, hidden=8)
    predictor.mean.fill_(1.0)
    frames = gradient_search(predictor, torch.randn(32, 4), target=2.0, steps=300, lr=0.05, record_every=100)
    assert len(frames) == 4
    fitness = window_fitness(predictor, 2.0, power=1.0)
    assert fitness(frames[-1]).mean() < 0.5 * fitness(frames[0]).mean()
    assert torch.allclose(fitness(frames[0]), (predictor(frames[0]) - 2.0).abs())
    cautious = window_fitness(predictor, 2.0, power=1.0, caution=2.0)
    assert torch.allclose(cautious(frames[0]), fitness(frames[0]) + 2.0 * predictor.spread(frames[0]))
    inside = window_fitness(predictor, 2.0, power=1.0, inside=10.0)
    assert (inside(frames[0]) == 0).all()
    assert in_window(np.array([0.9, 1.2, 1.6, np.nan]), 0.75, 1.25).mean() == pytest.approx(0.5)


def test_latent_search_refuses_absurd_targets_and_windows():
    predictor = LatentPredictor(4, hidden=8)
    predictor.mean.fill_(0.5)
    predictor.std.fill_(0.25)                      # a Perov-5-like heat_ref: 0.5 ± 0.25 eV/atom
    for target in (float("nan"), float("inf"), -5.0, 1000.0):
        with pytest.raises(ValueError, match="finite|outside"):
            window_fitness(predictor, target)
        with pytest.raises(ValueError, match="finite|outside"):
            gradient_search(predictor, torch.randn(2, 4), target, steps=1)
    for inside in (float("nan"), -0.1):
        with pytest.raises(ValueError, match="half-width"):
            window_fitness(predictor, 0.5, inside=inside)
    fitness = window_fitness(predictor, 5.0, allow_extrapolation=True)   # 18 standard deviations, asked for
    assert torch.isfinite(fitness(torch.randn(3, 4))).all()
