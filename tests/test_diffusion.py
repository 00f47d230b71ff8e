"""The three corruption processes, the score network's symmetries and the sampler."""
import math

import numpy as np
import pytest
import torch
from pymatgen.core import Element, Lattice, Structure

from matlib.crystal import CrystalBatch
from matlib.diffusion import (MASK_TOKEN, CrystalDiffusion, DenoiserConfig, MaskedTypeDiffusion, SamplerConfig,
                              SymmetricLatticeVP, WrappedNormalVE, sample, symmetric_lattice, symmetric_noise,
                              wrapped_normal_score)
from matlib.diffusion import DiffusionConfig, NUM_ELEMENTS, store
from matlib.nn import all_pair_edges
from matlib.nn.element_features import OXIDATION_STATES, element_feature_table


def log_wrapped_density(delta, sigma, images=50):
    k = torch.arange(-images, images + 1, dtype=torch.float64)
    return torch.logsumexp(-(delta[..., None] + k) ** 2 / (2 * sigma ** 2), -1)


@pytest.mark.parametrize("sigma", [0.05, 0.3, 1.0, 3.0])
def test_wrapped_score_is_gradient_of_wrapped_log_density(sigma):
    delta = torch.linspace(-0.5, 0.5, 41, dtype=torch.float64, requires_grad=True)
    expected, = torch.autograd.grad(log_wrapped_density(delta, sigma).sum(), delta)
    got = wrapped_normal_score(delta.detach(), torch.full_like(delta, sigma), images=5)
    assert torch.allclose(got, expected, atol=1e-6 / sigma ** 2)
    # odd: pulled toward the nearest image of x0 from either side
    assert torch.allclose(wrapped_normal_score(-delta.detach(), torch.full_like(delta, sigma), images=5), -got)


def test_small_noise_target_is_minus_eps_and_denoising_step_recovers_x0():
    torch.manual_seed(0)
    process = WrappedNormalVE()
    x0 = torch.rand(500, 3)
    sigma = torch.full((500,), 0.002)
    xt, target = process.corrupt(x0, sigma)
    assert ((xt >= 0) & (xt < 1)).all()
    delta = xt - x0 - torch.round(xt - x0)
    assert torch.allclose(target, -delta / 0.002, atol=1e-3)
    back = process.predictor(xt, target, sigma, torch.zeros(500))
    err = back - x0
    assert (err - torch.round(err)).abs().max() < 1e-5


def test_coordinate_noise_scales_with_atoms_and_time():
    process = WrappedNormalVE()
    t = torch.tensor([0.0, 1.0, 1.0])
    sigma = process.sigma(t, torch.tensor([1, 1, 8]))
    assert sigma[0] == pytest.approx(0.01) and sigma[1] == pytest.approx(5.0) and sigma[2] == pytest.approx(2.5)


def test_mask_share_follows_time_and_reverse_unmasks_into_allowed_elements():
    torch.manual_seed(0)
    types = torch.randint(1, 90, (20000,))
    diffusion = MaskedTypeDiffusion()
    for t in (0.1, 0.5, 0.9):
        tokens, masked = diffusion.corrupt(types, torch.full((20000,), t))
        assert abs(masked.float().mean().item() - t) < 0.02
        assert (tokens[~masked] == types[~masked]).all() and (tokens[masked] == MASK_TOKEN).all()
    tokens, masked = diffusion.corrupt(types, torch.full((20000,), 0.8))
    allowed = torch.zeros(100, dtype=torch.bool)
    allowed[[7, 25]] = True  # N and Fe
    logits = torch.randn(20000, 100)
    half = diffusion.reverse_step(tokens, logits, torch.full((20000,), 0.8), torch.full((20000,), 0.4), allowed)
    still = (half == MASK_TOKEN).float().sum() / masked.float().sum()
    assert abs(still.item() - 0.5) < 0.03                     # stays masked with probability s / t
    assert (half[~masked] == types[~masked]).all()              # unmasked atoms never change
    done = diffusion.reverse_step(half, logits, torch.full((20000,), 0.4), torch.zeros(20000), allowed)
    assert not (done == MASK_TOKEN).any()
    assert set(done[masked].unique().tolist()) <= {8, 26}


def test_symmetric_lattice_is_rotation_free():
    torch.manual_seed(0)
    cells = torch.randn(10, 3, 3, dtype=torch.float64) + 4 * torch.eye(3, dtype=torch.float64)
    q, _ = torch.linalg.qr(torch.randn(10, 3, 3, dtype=torch.float64))
    sym = symmetric_lattice(cells)
    assert torch.allclose(sym, sym.transpose(-1, -2), atol=1e-10)
    assert torch.allclose(sym @ sym.transpose(-1, -2), cells @ cells.transpose(-1, -2), atol=1e-9)
    assert torch.allclose(symmetric_lattice(cells @ q.transpose(-1, -2)), sym, atol=1e-9)


def test_symmetric_noise_statistics():
    e = symmetric_noise((200000,), generator=torch.Generator().manual_seed(0))
    assert torch.allclose(e, e.transpose(-1, -2))
    assert torch.allclose(e.var(0), torch.ones(3, 3), atol=0.02)


def test_lattice_forward_reaches_prior_and_exact_noise_reverses_it():
    torch.manual_seed(0)
    process = SymmetricLatticeVP(density=0.05)
    n = torch.full((4000,), 8)
    cells = symmetric_lattice(torch.randn(4000, 3, 3) + 6 * torch.eye(3))
    noisy, eps = process.corrupt(cells, n, torch.ones(4000))
    mu, std = process.mean_cell(n), process.std(n)
    assert torch.allclose(noisy.mean(0), mu[0], atol=0.06)
    assert torch.allclose(noisy.std(0), std[0].expand(3, 3), atol=0.05)
    t = torch.full((4000,), 0.3)
    noisy, eps = process.corrupt(cells, n, t)
    back = process.predictor(noisy, eps, n, t, torch.zeros(4000))
    assert torch.allclose(back, cells, atol=1e-4)


def tiny_model(structures, global_context=False, element_features=False, **overrides):
    batch = CrystalDiffusion.prepare(CrystalBatch.from_structures(structures))
    torch.manual_seed(0)
    config = DenoiserConfig(dim=32, layers=2, num_freqs=4, global_context=global_context,
                            element_features=element_features)
    return CrystalDiffusion.from_data(batch, config, **overrides), batch


def rocksalt_like():
    return [Structure(Lattice.cubic(4.2 + 0.1 * i), ["Na", "Cl", "Na", "Cl"],
                      [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0, 0, 0.5]]) for i in range(6)] + [
        Structure(Lattice.hexagonal(3.0, 5.0), ["Mg", "O"], [[0, 0, 0], [1 / 3, 2 / 3, 0.5]])]


@pytest.mark.parametrize("global_context, element_features", [(False, False), (True, False), (False, True)])
def test_network_is_invariant_to_atom_order_and_translation(global_context, element_features):
    model, batch = tiny_model(rocksalt_like(), global_context, element_features)
    model.eval()
    t = torch.full((len(batch.num_atoms),), 0.4)
    base = model.denoise(batch.atom_types, batch.frac_coords, batch.lattice, batch.num_atoms, t)
    perm = torch.cat([torch.randperm(int(n)) + int(o) for n, o in zip(batch.num_atoms, batch.offsets)])
    shuffled = model.denoise(batch.atom_types[perm], batch.frac_coords[perm], batch.lattice, batch.num_atoms, t)
    assert torch.allclose(shuffled[0], base[0][perm], atol=1e-5)
    assert torch.allclose(shuffled[1], base[1], atol=1e-5)
    assert torch.allclose(shuffled[2], base[2][perm], atol=1e-5)
    shift = (batch.frac_coords + torch.tensor([0.31, 0.72, 0.05])) % 1.0
    moved = model.denoise(batch.atom_types, shift, batch.lattice, batch.num_atoms, t)
    for a, b in zip(moved, base):
        assert torch.allclose(a, b, atol=1e-4)


def test_global_context_reads_only_the_atoms_own_crystal():
    model, batch = tiny_model(rocksalt_like(), global_context=True)
    model.eval()
    t = torch.full((len(batch.num_atoms),), 0.4)
    base = model.denoise(batch.atom_types, batch.frac_coords, batch.lattice, batch.num_atoms, t)
    first = int(batch.num_atoms[0])
    changed = batch.atom_types.clone()
    changed[first:] = 3                                   # every other crystal becomes Li
    out = model.denoise(changed, batch.frac_coords, batch.lattice, batch.num_atoms, t)
    assert torch.allclose(out[0][:first], base[0][:first], atol=1e-5)
    assert torch.allclose(out[2][:first], base[2][:first], atol=1e-5)
    assert not torch.allclose(out[2][first:], base[2][first:], atol=1e-3)
    without, _ = tiny_model(rocksalt_like())
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in without.parameters()) + 2 * 32 * 32


def test_element_feature_table_describes_chemistry():
    table = element_feature_table()
    # 14 + 14 oxidation-state indicators, 18 groups, 7 periods, 4 blocks, 7 flags, unknown X, 3 scalars
    assert table.shape == (NUM_ELEMENTS, 68) and torch.isfinite(table).all()
    row = lambda symbol: table[Element(symbol).Z - 1]
    common = len(OXIDATION_STATES) + (torch.tensor(list(OXIDATION_STATES)) == -1).nonzero().item()
    assert row("F")[common] == 1 and row("Cl")[common] == 1 and row("Na")[common] == 0   # common states
    # alike elements are near, unlike ones far: Na sits closer to K than to Cl
    assert torch.dist(row("Na"), row("K")) < torch.dist(row("Na"), row("Cl"))
    # noble gases have no electronegativity: flagged, not NaN
    unknown_x = 2 * len(OXIDATION_STATES) + 18 + 7 + 4 + 7
    assert row("Ar")[unknown_x] == 1 and row("Ar")[unknown_x + 1] == 0 and row("O")[unknown_x] == 0


def test_element_features_reach_the_logits_and_survive_a_checkpoint(tmp_path):
    model, batch = tiny_model(rocksalt_like(), element_features=True)
    plain, _ = tiny_model(rocksalt_like())
    extra = 2 * 68 * 32
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in plain.parameters()) + extra
    with torch.no_grad():
        model.network.element_out.weight.normal_()
    model.eval()
    t = torch.full((len(batch.num_atoms),), 0.4)
    logits = model.denoise(batch.atom_types, batch.frac_coords, batch.lattice, batch.num_atoms, t)[2]
    # the feature part of the logits, h·W·f(element), moves them; with W = 0 only the plain head is left
    with torch.no_grad():
        model.network.element_out.weight.zero_()
    without = model.denoise(batch.atom_types, batch.frac_coords, batch.lattice, batch.num_atoms, t)[2]
    assert not torch.allclose(logits, without, atol=1e-3)
    store.save(tmp_path / "m", model, dataset="mp_20", split="val", half=False)
    loaded, _ = store.load(tmp_path / "m")
    assert loaded.config.denoiser.element_features
    assert torch.equal(loaded.network.element_table, model.network.element_table)
    again = loaded.denoise(batch.atom_types, batch.frac_coords, batch.lattice, batch.num_atoms, t)[2]
    assert torch.allclose(again, without, atol=1e-5)


def test_elbo_type_loss_weights_each_masked_atom_by_one_over_t():
    types = torch.tensor([8, 8, 11, 17, 26])
    logits = torch.randn(5, NUM_ELEMENTS, generator=torch.Generator().manual_seed(0))
    masked = torch.tensor([True, False, True, True, False])
    t_atom = torch.tensor([0.5, 0.5, 0.1, 1.0, 1.0])
    ce = torch.nn.functional.cross_entropy(logits, types - 1, reduction="none")
    process = MaskedTypeDiffusion()
    assert torch.isclose(process.loss(logits, types, masked), ce[masked].mean())
    expected = (ce[0] / 0.5 + ce[2] / 0.1 + ce[3] / 1.0) / 5
    assert torch.isclose(process.loss(logits, types, masked, t_atom), expected)
    with pytest.raises(ValueError, match="type_loss"):
        DiffusionConfig(type_loss="ce")
    # inside the model: the same network, times and noise give the masked mean scaled by masked / (t · atoms)
    model, batch = tiny_model(rocksalt_like(), type_loss="elbo")
    t = torch.full((len(batch.num_atoms),), 0.2)
    elbo = model.loss(batch, generator=torch.Generator().manual_seed(0), t=t)["types"]
    model.config.type_loss = "masked_mean"
    mean = model.loss(batch, generator=torch.Generator().manual_seed(0), t=t)["types"]
    masked = int((torch.rand(batch.atom_types.shape, generator=torch.Generator().manual_seed(0)) < 0.2).sum())
    assert masked > 0
    assert torch.isclose(elbo, mean * masked / (0.2 * len(batch.atom_types)), rtol=1e-5)


def test_all_pair_edges_cover_every_ordered_pair():
    n = torch.tensor([1, 3, 2])
    batch_index, (i, j) = all_pair_edges(n)
    assert batch_index.tolist() == [0, 1, 1, 1, 2, 2]
    assert sorted(zip(i.tolist(), j.tolist())) == [(1, 2), (1, 3), (2, 1), (2, 3), (3, 1), (3, 2), (4, 5), (5, 4)]


def test_training_lowers_the_loss_and_sampler_returns_complete_crystals():
    model, batch = tiny_model(rocksalt_like())
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    g = torch.Generator().manual_seed(0)
    losses = []
    for step in range(150):
        loss = model.loss(batch, generator=g)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-20:]) < 0.7 * np.mean(losses[:20])
    calls = []

    def constraint(state, s):
        calls.append(float(s[0]))
        return state

    out = sample(model, 12, SamplerConfig(steps=10, record_every=5, record_crystals=2),
                 generator=torch.Generator().manual_seed(1), constraint=constraint)
    crystals = out.crystals
    assert set(crystals.num_atoms.tolist()) <= {2, 4} and len(crystals.num_atoms) == 12
    assert not (crystals.atom_types == MASK_TOKEN).any()
    assert set(crystals.atom_types.unique().tolist()) <= {8, 11, 12, 17}
    assert ((crystals.frac_coords >= 0) & (crystals.frac_coords < 1)).all()
    assert torch.isfinite(crystals.lattice).all()
    assert out.network_calls == 10 + 9  # one predictor call per step, a corrector call on all but the last
    assert calls[0] == 1.0 and calls[-1] == 0.0
    assert out.trajectory.times[0] == 1.0 and out.trajectory.times[-1] == 0.0 and len(out.trajectory.frames) == 3
    assert len(crystals.to_structures()) == 12


def test_mean_losses_are_seeded_per_crystal_averages_that_fall_as_the_model_trains():
    model, batch = tiny_model(rocksalt_like())
    first = model.mean_losses(batch, chunk=3, seed=4)
    assert first == model.mean_losses(batch, chunk=3, seed=4)          # same seed, same noise, same numbers
    assert set(first) == {"coords", "lattice", "types", "loss"}
    g = torch.Generator().manual_seed(4)
    n = len(batch.num_atoms)
    strata = torch.randperm(n, generator=g)
    t = model.config.t_min + (1 - model.config.t_min) * (strata + torch.rand(n, generator=g)) / n
    with torch.no_grad():
        whole = {k: float(v) for k, v in model.loss(batch, generator=g, t=t).items()}
    assert model.mean_losses(batch, chunk=n, seed=4) == pytest.approx(whole)   # one chunk: loss() at stratified times
    assert model.training                                               # the caller's mode is restored
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(100):
        loss = model.loss(batch, generator=g)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert model.mean_losses(batch, chunk=3, seed=4)["loss"] < first["loss"]   # what it trained on got easier


def test_one_seed_gives_the_same_crystals_twice_in_one_process():
    """Atom counts are drawn with the caller's generator too (notebook 06 pairs its runs by seed)."""
    model, _ = tiny_model(rocksalt_like())
    runs = [sample(model, 16, SamplerConfig(steps=4), generator=torch.Generator().manual_seed(7)).crystals
            for _ in range(2)]
    torch.manual_seed(123)                                   # the global RNG must not matter
    third = sample(model, 16, SamplerConfig(steps=4), generator=torch.Generator().manual_seed(7)).crystals
    for other in (runs[1], third):
        assert torch.equal(runs[0].num_atoms, other.num_atoms) and torch.equal(runs[0].atom_types, other.atom_types)
        assert torch.equal(runs[0].frac_coords, other.frac_coords) and torch.equal(runs[0].lattice, other.lattice)
    counts = {tuple(model.sample_num_atoms(64, torch.Generator().manual_seed(s)).tolist()) for s in range(3)}
    assert len(counts) == 3                                   # and different seeds differ


def test_the_compiled_score_network_gives_the_eager_scores():
    """The fast path of benchmarks/bench_diffusion_sampling.py --compile: the same network under
    torch.compile (2.8x the sampling speed on an H100) scores crystals as the eager one does."""
    model, batch = tiny_model(rocksalt_like(), element_features=True)
    model.eval()
    t = torch.full((len(batch.num_atoms),), 0.3)
    args = (batch.atom_types, batch.frac_coords, batch.lattice, batch.num_atoms, t)
    with torch.no_grad():
        eager = model.denoise(*args)
        model.network = torch.compile(model.network)
        compiled = model.denoise(*args)
    for a, b in zip(eager, compiled):
        torch.testing.assert_close(b, a, atol=1e-4, rtol=1e-4)


def test_the_type_step_hook_replaces_only_the_element_step():
    model, _ = tiny_model(rocksalt_like())
    config = SamplerConfig(steps=6, batch_size=5)
    plain = sample(model, 8, config, generator=torch.Generator().manual_seed(3)).crystals
    seen = []

    def same_step(tokens, logits, t, s, atom_crystal, generator):
        seen.append((t, s))
        every = torch.ones(len(atom_crystal))
        return model.types.reverse_step(tokens, logits, every * t, every * s, model.allowed_elements, generator)

    hooked = sample(model, 8, config, generator=torch.Generator().manual_seed(3), type_step=same_step).crystals
    assert all(torch.equal(a, b) for a, b in zip((plain.atom_types, plain.frac_coords, plain.lattice),
                                                 (hooked.atom_types, hooked.frac_coords, hooked.lattice)))
    assert seen[0][0] == 1.0 and seen[-1][1] == 0.0 and len(seen) == 2 * 6   # two chunks, six steps each

    def all_sodium(tokens, logits, t, s, atom_crystal, generator):
        return torch.where(tokens == MASK_TOKEN, torch.full_like(tokens, 11), tokens) if s == 0 else tokens

    sodium = sample(model, 8, config, generator=torch.Generator().manual_seed(3), type_step=all_sodium).crystals
    assert (sodium.atom_types == 11).all()
