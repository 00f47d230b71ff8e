"""CDVAE parts on tiny models: lattice scaling, noise levels, posterior, training and Langevin decoding."""
import math

import numpy as np
import pytest
import torch
from pymatgen.core import Lattice, Structure

from matlib.cdvae import (CDVAE, CDVAEConfig, CrystalEncoder, LangevinConfig, LatticeScaler, NoiseLevels, decode,
                          prior_draws)
from matlib.checkpoints import CheckpointError
from matlib.crystal import CrystalBatch
from matlib.nn import DenoiserConfig
from matlib.nn.gnn import GNNConfig


def rocksalt_like():
    return [Structure(Lattice.cubic(4.2 + 0.1 * i), ["Na", "Cl", "Na", "Cl"],
                      [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0, 0, 0.5]]) for i in range(6)] + [
        Structure(Lattice.hexagonal(3.0, 5.0), ["Mg", "O"], [[0, 0, 0], [1 / 3, 2 / 3, 0.5]])]


def tiny(levels=10):
    batch = CrystalBatch.from_structures(rocksalt_like())
    torch.manual_seed(0)
    model = CDVAE.from_data(batch, latent=16, hidden=32, encoder=GNNConfig(targets=("z",), dim=32, layers=2),
                            decoder=DenoiserConfig(dim=32, layers=2, num_freqs=4), levels=levels)
    return model, batch


def test_lattice_scaler_round_trips_and_standardises():
    batch = CrystalBatch.from_structures(rocksalt_like())
    scaler = LatticeScaler().fit(batch)
    lengths, angles = batch.lattice_params()
    scaled = scaler.encode(lengths, angles, batch.num_atoms)
    assert torch.allclose(scaled.mean(0), torch.zeros(6), atol=1e-5)
    back_lengths, back_angles = scaler.decode(scaled, batch.num_atoms)
    assert torch.allclose(back_lengths, lengths, atol=1e-4) and torch.allclose(back_angles, angles, atol=1e-3)


def test_noise_levels_are_cdvae_geometric_schedules():
    noise = NoiseLevels(50)
    levels = torch.arange(50)
    sigma = noise.coord_sigma(levels)
    assert sigma[0] == pytest.approx(10.0) and sigma[-1] == pytest.approx(0.01)
    ratios = sigma[1:] / sigma[:-1]
    assert torch.allclose(ratios, ratios[0].expand_as(ratios), rtol=1e-4)
    assert noise.type_sigma(levels)[0] == pytest.approx(5.0) and noise.type_sigma(levels)[-1] == pytest.approx(0.01)
    cube = 5.0 * torch.eye(3)[None]
    assert noise.fractional(torch.tensor([2.0]), cube) == pytest.approx(0.4)


def test_type_noise_follows_the_composition_at_high_sigma_and_the_truth_at_low():
    types = torch.full((2000,), 11)
    composition = torch.zeros(2000, 100)
    composition[:, 16] = 1.0                                  # the predicted composition says Cl
    g = torch.Generator().manual_seed(0)
    low = NoiseLevels.corrupt_types(types, composition, torch.full((2000,), 0.01), g)
    high = NoiseLevels.corrupt_types(types, composition, torch.full((2000,), 5.0), g)
    assert (low == 11).float().mean() > 0.97
    assert (high == 17).float().mean() == pytest.approx(5 / 6, abs=0.03)


def test_kl_vanishes_for_the_prior_and_grows_away_from_it():
    zero = torch.zeros(4, 8)
    assert float(CrystalEncoder.kl(zero, zero)) == pytest.approx(0.0)
    assert float(CrystalEncoder.kl(zero + 1.0, zero)) == pytest.approx(4.0)     # 0.5 * 8 * 1²


def test_training_lowers_every_decoder_loss_and_config_round_trips(tmp_path):
    from matlib.cdvae import store
    model, batch = tiny()
    assert CDVAEConfig.from_dict(model.config.as_dict()) == model.config
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    g = torch.Generator().manual_seed(0)
    history = []
    for _ in range(120):
        losses = model.loss(batch, generator=g)
        opt.zero_grad()
        losses["loss"].backward()
        opt.step()
        history.append({k: float(v.detach()) for k, v in losses.items()})
    first, last = history[:20], history[-20:]
    for key in ("loss", "num_atoms", "composition", "types"):
        assert np.mean([h[key] for h in last]) < 0.7 * np.mean([h[key] for h in first]), key
    too_big = CrystalBatch.from_structures([Structure(Lattice.cubic(9.0), ["Na"] * 30, np.random.rand(30, 3))])
    with pytest.raises(ValueError, match="at most"):
        model.loss(too_big)
    store.save(tmp_path / "cdvae", model, dataset="perov_5", split="val", step=120)
    reloaded, ckpt = store.load(tmp_path / "cdvae")
    assert ckpt.step == 120 and reloaded.config == model.config
    assert torch.allclose(reloaded.lattice_scaler.mean, model.lattice_scaler.mean, rtol=1e-3)
    z = torch.randn(3, 16)
    assert torch.allclose(reloaded.heads(z)["lattice"], model.heads(z)["lattice"], atol=0.05)


def test_langevin_decoding_returns_complete_crystals_from_the_heads():
    model, _ = tiny(levels=6)
    z = torch.randn(5, 16, generator=torch.Generator().manual_seed(0))
    result = decode(model, z, LangevinConfig(steps_per_level=3, record_every=2), generator=torch.Generator().manual_seed(1))
    crystals = result.crystals
    assert result.decoder_calls == 6 * 3 and len(result.frames) == 9
    assert len(crystals.num_atoms) == 5 and (crystals.num_atoms >= 1).all()
    assert (crystals.num_atoms <= model.config.max_atoms).all()
    assert len(crystals.atom_types) == int(crystals.num_atoms.sum())
    assert ((crystals.frac_coords >= 0) & (crystals.frac_coords < 1)).all() and torch.isfinite(crystals.lattice).all()
    assert ((crystals.atom_types >= 1) & (crystals.atom_types <= 100)).all()
    heads = model.heads(z)
    logits = heads["num_atoms"].clone()
    logits[:, 0] = float("-inf")
    assert torch.equal(crystals.num_atoms, logits.argmax(-1))                  # CDVAE: argmax of the count head
    assert len(crystals.to_structures()) == 5
    with pytest.raises(ValueError, match="argmax"):
        decode(model, z, LangevinConfig(num_atoms="mode"))


def test_rounded_composition_has_whole_counts_that_add_up_to_n():
    from matlib.cdvae.langevin import initial_elements, round_composition
    p = torch.zeros(3, 100)
    p[0, [7, 21, 55]] = torch.tensor([0.6, 0.2, 0.2])     # O, Ti, Ba: a perovskite's head
    p[1, [0, 1]] = 0.5                                     # an even split over an odd count
    p[2, 5] = 1.0
    n = torch.tensor([5, 3, 8])
    counts = round_composition(p, n)
    assert torch.equal(counts.sum(-1), n)
    assert counts[0, [7, 21, 55]].tolist() == [3, 1, 1]
    assert sorted(counts[1, [0, 1]].tolist()) == [1, 2] and counts[2, 5] == 8
    assert ((counts - p * n[:, None]).abs() < 1).all()    # never more than one atom from p·N
    start = initial_elements(p, n, "round")
    assert sorted(start[:5].tolist()) == [8, 8, 8, 22, 56] and (start[-8:] == 6).all()
    drawn = initial_elements(p, n, "sample", torch.Generator().manual_seed(0))
    assert len(drawn) == 16 and set(drawn[:5].tolist()) <= {8, 22, 56}
    with pytest.raises(ValueError, match="round"):
        initial_elements(p, n, "argmax")


def test_elements_stay_as_started_until_the_relabelling_threshold():
    from matlib.cdvae.langevin import initial_elements
    model, _ = tiny(levels=6)
    z = torch.randn(6, 16, generator=torch.Generator().manual_seed(0))
    kept = decode(model, z, LangevinConfig(steps_per_level=2, relabel_below=0.0)).crystals
    heads = model.heads(z)
    start = initial_elements(torch.softmax(heads["composition"], -1), kept.num_atoms, "round")
    assert torch.equal(kept.atom_types, start)                           # never relabelled
    relabelled = decode(model, z, LangevinConfig(steps_per_level=2, relabel_below=math.inf)).crystals   # CDVAE
    assert torch.equal(relabelled.num_atoms, kept.num_atoms)
    assert not torch.equal(relabelled.atom_types, start)                 # an untrained decoder disagrees


def test_a_precomputed_encoder_graph_gives_the_same_loss():
    from matlib.graph import radius_graph
    model, batch = tiny()
    cfg = model.config.encoder
    graph = radius_graph(batch, cfg.cutoff, cfg.max_neighbors)
    fresh = model.loss(batch, generator=torch.Generator().manual_seed(3))
    cached = model.loss(batch, generator=torch.Generator().manual_seed(3), graph=graph)
    for key in ("loss", "kl", "coords", "types"):
        assert torch.allclose(fresh[key], cached[key]), key


def test_prior_draws_scale_the_standard_normal_and_reject_a_bad_temperature():
    draws = prior_draws(4000, 16, generator=torch.Generator().manual_seed(0))
    cooler = prior_draws(4000, 16, temperature=0.5, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(cooler, 0.5 * draws)                       # same noise, scaled by τ
    assert abs(float(draws.std()) - 1) < 0.02 and abs(float(draws.mean())) < 0.02
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="temperature"):
            prior_draws(2, 16, temperature=bad)


def test_warm_start_returns_the_saved_weights_steps_and_history_and_refuses_another_dataset(tmp_path):
    from matlib.cdvae import store
    model, _ = tiny()
    history = [{"step": 50, "loss": 2.0}, {"step": 100, "loss": 1.5}]
    store.save(tmp_path / "cdvae", model, dataset="perov_5", split="val", step=100, extra={"history": history})
    warm, steps, past = store.warm_start(tmp_path / "cdvae", "perov_5")
    assert steps == 100 and past == history and warm.config == model.config
    z = torch.randn(2, 16)
    assert torch.allclose(warm.heads(z)["lattice"], model.heads(z)["lattice"], atol=0.05)   # fp16 weights
    with pytest.raises(CheckpointError, match="trained on dataset 'perov_5', not 'mp_20'"):
        store.warm_start(tmp_path / "cdvae", "mp_20")
    with pytest.raises(CheckpointError, match="trained on dataset 'perov_5', not 'mp_20'"):
        store.load(tmp_path / "cdvae", dataset="mp_20")


def test_the_committed_perov_5_cdvae_refuses_a_warm_start_on_mp_20():
    from matlib import paths
    from matlib.cdvae import store

    committed = paths.project_root() / "data" / "checkpoints" / "cdvae" / "perov_5"
    with pytest.raises(CheckpointError, match="trained on dataset 'perov_5', not 'mp_20'"):
        store.warm_start(committed, "mp_20")
    assert store.warm_start(committed, "perov_5")[1] > 0
