"""Con-CDVAE: property embeddings, the conditioned latent, the predictor, the latent prior, generation."""
import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from matlib.cdvae import (ConCDVAE, ConditionSpec, LangevinConfig, LatentPrior, LatentPriorConfig,
                          closest_to_target, condition_values, crystal_system_index, crystal_system_spec, decode,
                          fill_missing, generate, latent_minibatches, store)
from matlib.cdvae.conditioning import ConditionEncoder, check_targets
from matlib.evaluation.targeted import judge_values, sample_frame, targeted_report, window_report
from matlib.search.latent_search import encode_posteriors
from matlib.training import fit
from test_cdvae import rocksalt_like, tiny

SPECS = (ConditionSpec("energy", "scalar", -2.0, 1.0, 0.5), ConditionSpec("system", "class", classes=7))


def test_gaussian_features_peak_at_their_grid_point():
    spec = ConditionSpec("energy", "scalar", -2.0, 1.0, 0.5)
    encoder = ConditionEncoder((spec,))
    basis = encoder.embeddings[0].basis
    assert torch.allclose(basis.centers, torch.arange(-2.0, 1.01, 0.5))
    features = basis(torch.tensor([-1.5, 0.25]))
    assert features[0].argmax() == 1 and features[0, 1] == pytest.approx(1.0)
    assert features[1, 4] == pytest.approx(features[1, 5])          # halfway between two centres
    assert ConditionSpec.scalar_from_data("e", [-4.47, 0.08], 0.5) == ConditionSpec("e", "scalar", -4.5, 0.5, 0.5)
    with pytest.raises(ValueError, match="lo < hi"):
        ConditionSpec("bad", "scalar", 1.0, 1.0, 0.5)
    with pytest.raises(ValueError, match="kind"):
        ConditionSpec("bad", "ordinal")


def test_crystal_systems_follow_the_space_group_ranges():
    numbers = [1, 2, 3, 15, 16, 74, 75, 142, 143, 167, 168, 194, 195, 230]
    assert crystal_system_index(numbers).tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6]
    with pytest.raises(ValueError, match="1..230"):
        crystal_system_index([0, 5])
    table = pd.DataFrame({"energy": [-1.0, 0.5], "spacegroup.number": [225, 1]})
    values = condition_values(table, (SPECS[0], crystal_system_spec()))
    assert values.tolist() == [[-1.0, 6.0], [0.5, 0.0]]
    with pytest.raises(KeyError, match="band_gap"):
        condition_values(table, (ConditionSpec("band_gap", "scalar", 0, 5, 0.5),))
    table.loc[1, "energy"] = float("nan")
    with pytest.raises(ValueError, match="energy: 1 of 2 rows"):
        condition_values(table, (SPECS[0],))


def test_condition_encoder_rejects_missing_values_and_wrong_widths():
    encoder = ConditionEncoder(SPECS, dim=16).eval()      # generation; training rows are checked on entry
    assert encoder(torch.tensor([[-1.0, 3.0], [0.0, 6.0]])).shape == (2, 16)
    with pytest.raises(ValueError, match="fill_missing"):
        encoder(torch.tensor([[float("nan"), 3.0]]))
    with pytest.raises(ValueError, match="expected 2 properties"):
        encoder(torch.tensor([[1.0]]))


def conditioned_tiny():
    base, batch = tiny()
    values = torch.tensor([[-1.8, 6.0]] * 6 + [[0.7, 5.0]])        # rock salts low, the hexagonal one high
    return ConCDVAE.from_cdvae(base, SPECS, condition_dim=16, embed_dim=8), base, batch, values


def test_a_con_cdvae_started_from_a_cdvae_decodes_exactly_like_it():
    model, base, batch, values = conditioned_tiny()
    z = torch.randn(5, base.config.latent, generator=torch.Generator().manual_seed(1))
    z_cond = model.z_cond(z, values[:5])
    assert torch.equal(z_cond, z)
    ours = decode(model.cdvae, z_cond, LangevinConfig(steps_per_level=1), generator=torch.Generator().manual_seed(2))
    theirs = decode(base, z, LangevinConfig(steps_per_level=1), generator=torch.Generator().manual_seed(2))
    assert torch.equal(ours.crystals.atom_types, theirs.crystals.atom_types)
    assert torch.allclose(ours.crystals.frac_coords, theirs.crystals.frac_coords)


def test_stage_one_trains_the_predictor_and_bends_z_cond():
    model, _, batch, values = conditioned_tiny()
    first = model.loss(batch, values, torch.Generator().manual_seed(0))
    assert set(first) >= {"coords", "types", "kl", "predictor", "loss"} and math.isfinite(first["loss"].item())
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    run = fit(model, optimizer, lambda m, b: m.loss(b, values), [batch], max_steps=60, log_every=10)
    assert run.last("predictor") < 0.5 * first["predictor"].item()
    z = torch.randn(3, model.config.cdvae.latent)
    assert not torch.allclose(model.z_cond(z, values[:3]), z)       # the mixer has learnt to use c
    predicted = model.predictor(encode_posteriors(model.cdvae, batch)[0])
    assert predicted[:6, 0].mean() < predicted[6, 0]                # the low-energy crystals read as low


def synthetic_prior(steps=400, condition_dropout=0.0, network="film"):
    """Latents that are a known function of the property: z = (y, -y, 0.1 noise...)."""
    torch.manual_seed(0)
    y = torch.rand(512) * 2 - 1
    latents = torch.cat([y[:, None], -y[:, None], 0.1 * torch.randn(512, 6)], 1)
    spec = (ConditionSpec("y", "scalar", -1.0, 1.0, 0.25),)
    prior = LatentPrior(LatentPriorConfig(8, spec, steps=100, condition_dim=32, time_dim=16,
                                          condition_dropout=condition_dropout, network=network, width=64, blocks=2))
    prior.fit_scale(latents)
    fit(prior, torch.optim.Adam(prior.parameters(), lr=2e-3), lambda p, b: p.loss(b[0], b[1]),
        latent_minibatches(latents, y[:, None], 128), max_steps=steps, log_every=50)
    return prior


@pytest.mark.parametrize("network", ["film", "unet"])
def test_the_latent_prior_produces_latents_that_follow_the_condition(network):
    prior = synthetic_prior(network=network)
    g = torch.Generator().manual_seed(0)
    high = prior.sample(torch.full((200, 1), 0.8), g)
    low = prior.sample(torch.full((200, 1), -0.8), g)
    assert high[:, 0].mean() > 0.4 and low[:, 0].mean() < -0.4
    assert high[:, 1].mean() < -0.4                                  # and the correlated direction with it
    assert abs(float(high[:, 2:].std()) - 0.1) < 0.1                  # the unconditioned dims keep their scale


def test_guidance_pushes_the_prior_past_its_conditional_answer_and_zero_ignores_the_condition():
    with pytest.raises(ValueError, match="condition_dropout"):
        synthetic_prior(steps=1).sample(torch.zeros(2, 1), guidance=2.0)
    prior = synthetic_prior(condition_dropout=0.2)
    seed = lambda: torch.Generator().manual_seed(0)
    conditional = prior.sample(torch.full((300, 1), 0.5), seed())[:, 0].mean()
    guided = prior.sample(torch.full((300, 1), 0.5), seed(), guidance=3.0)[:, 0].mean()
    assert 0.25 < conditional < guided                       # γ > 1 goes further the condition's way
    blind = [prior.sample(torch.full((4, 1), y), seed(), guidance=0.0) for y in (-0.9, 0.9)]
    assert torch.allclose(blind[0], blind[1])                # γ = 0: the unconditional prior alone


@pytest.mark.parametrize("network", ["film", "unet"])
def test_condition_dropout_trains_the_no_condition_vector(network):
    prior = LatentPrior(LatentPriorConfig(8, (ConditionSpec("y", "scalar", -1.0, 1.0, 0.25),), steps=10,
                                          condition_dim=8, time_dim=8, condition_dropout=1.0, network=network,
                                          width=16, blocks=1))
    prior.loss(torch.randn(16, 8), torch.rand(16, 1))["loss"].backward()
    assert prior.network.null.grad.abs().sum() > 0
    assert all(p.grad is None or not p.grad.any() for p in prior.network.condition.parameters())


def test_prior_configs_name_their_network_and_old_manifests_load_as_the_unet():
    spec = (ConditionSpec("y", "scalar", -1.0, 1.0, 0.25),)
    with pytest.raises(ValueError, match="network must be one of"):
        LatentPriorConfig(8, spec, network="transformer")
    saved = LatentPriorConfig(8, spec, network="unet").as_dict()
    del saved["network"], saved["width"], saved["blocks"]                # written before the choice existed
    old = LatentPrior(LatentPriorConfig.from_dict(saved))
    assert type(old.network).__name__ == "MLPUNet"
    assert type(LatentPrior(LatentPriorConfig(8, spec, width=16, blocks=1)).network).__name__ == "FiLMResNet"


def test_down_selection_keeps_the_candidate_nearest_the_target():
    candidates = torch.arange(12, dtype=torch.float32).view(6, 2)      # 2 targets x 3 candidates
    predicted = torch.tensor([[0.9], [0.1], [0.5], [2.0], [3.1], [2.9]])
    targets = torch.tensor([[0.0], [3.0]])
    best = closest_to_target(candidates, predicted, targets, torch.ones(1))
    assert best.tolist() == [[2.0, 3.0], [8.0, 9.0]]
    with pytest.raises(ValueError, match="equal groups"):
        closest_to_target(candidates[:5], predicted[:5], targets, torch.ones(1))


def test_fill_missing_keeps_targets_and_matched_rows_agree_with_them():
    reference = torch.tensor([[-4.0, 8.0, 6.0], [-3.9, 7.0, 6.0], [0.0, 0.0, 1.0], [0.1, 0.5, 2.0]])
    nan = float("nan")
    targets = torch.tensor([[-4.0, nan, nan]] * 50 + [[nan, nan, nan]] * 50)
    g = torch.Generator().manual_seed(0)
    matched = fill_missing(targets, reference, g, nearest=2)
    assert (matched[:50, 0] == -4.0).all() and (matched[:50, 2] == 6.0).all()     # fluoride-like rows only
    assert set(matched[:50, 1].tolist()) == {7.0, 8.0}
    assert len({tuple(r) for r in matched[50:].tolist()}) == 4                    # no target: any row
    randomly = fill_missing(targets, reference, g)
    assert (randomly[:50, 0] == -4.0).all() and set(randomly[:50, 2].tolist()) > {6.0}
    assert not torch.isnan(randomly).any()


def test_targets_outside_the_training_range_are_refused():
    check_targets(SPECS, torch.tensor([[0.5, 3.0], [float("nan"), float("nan")]]))
    with pytest.raises(ValueError, match="outside"):
        check_targets(SPECS, torch.tensor([[2.0, 3.0]]))
    with pytest.raises(ValueError, match="class index"):
        check_targets(SPECS, torch.tensor([[0.0, 7.0]]))
    model, _, _, values = conditioned_tiny()
    prior = LatentPrior(LatentPriorConfig(model.config.cdvae.latent, SPECS, steps=5, condition_dim=8, time_dim=8,
                                          width=32, blocks=1))
    with pytest.raises(ValueError, match="allow_extrapolation"):
        generate(model, prior, torch.tensor([[5.0, float("nan")]]), values)
    out = generate(model, prior, torch.tensor([[5.0, float("nan")]] * 2), values, LangevinConfig(steps_per_level=1),
                   allow_extrapolation=True, oversample=3, generator=torch.Generator().manual_seed(0))
    assert len(out.crystals) == 2 and out.conditions[:, 0].tolist() == [5.0, 5.0]
    assert not torch.isnan(out.conditions).any()


def test_con_cdvae_and_prior_checkpoints_round_trip(tmp_path):
    model, _, batch, values = conditioned_tiny()
    torch.nn.init.normal_(model.mixer.net[-1].weight, std=0.1)          # so the mixer is not trivially zero
    prior = LatentPrior(LatentPriorConfig(model.config.cdvae.latent, SPECS, steps=5, condition_dim=8, time_dim=8,
                                          width=32, blocks=1))
    prior.fit_scale(torch.randn(20, model.config.cdvae.latent) * 3)
    store.save(tmp_path / "stage1", model, dataset="perov_5", split="val")
    store.save(tmp_path / "prior", prior, dataset="perov_5", split="val")
    again, ckpt = store.load_conditional(tmp_path / "stage1")
    prior_again, _ = store.load_prior(tmp_path / "prior")
    assert again.conditions == SPECS and ckpt.config["predictor_weight"] == 3.0
    z = torch.randn(4, model.config.cdvae.latent)
    with torch.no_grad():
        assert torch.allclose(again.z_cond(z, values[:4]), model.z_cond(z, values[:4]), atol=2e-2)
    assert torch.allclose(prior_again.std, prior.std, rtol=1e-3)
    from matlib.checkpoints import CheckpointError

    with pytest.raises(CheckpointError, match="does not describe a Con-CDVAE"):     # a prior is another kind
        store.load_conditional(tmp_path / "prior")


def test_one_sample_frame_serves_many_windows():
    structures = rocksalt_like() + [None]
    judge_a = lambda ss: np.array([s.lattice.a for s in ss])            # noqa: E731
    judge_n = lambda ss: np.array([len(s) for s in ss], dtype=float)     # noqa: E731
    summary, frame = targeted_report(structures, judge_a, (4.25, 4.55), diversity=False,
                                     also={"atoms": (judge_n, (3.5, 4.5))})
    card = sample_frame(structures, diversity=False)
    again, _ = window_report(card, judge_values(structures, judge_a), (4.25, 4.55),
                             also={"atoms": (judge_values(structures, judge_n), (3.5, 4.5))})
    assert json.dumps(summary) == json.dumps(again)                    # NaN == NaN in text
    # rock salts with a in [4.25, 4.55] (4.3, 4.4, 4.5 Å) and 4 atoms; the hexagonal cell has 2 atoms
    assert summary["n"] == 8 and summary["n_success"] == int(frame["success"].sum()) == 3
    assert frame["judged"].isna().iloc[-1] and not frame["success"].iloc[-1]
    only_a, _ = window_report(card, judge_values(structures, judge_a), (4.25, 4.55))
    assert only_a["n_success"] >= summary["n_success"]
    assert frame["judged_atoms"].iloc[-2] == 2


def test_matched_fill_works_in_chunks_for_many_samples():
    reference = torch.stack([torch.linspace(-4, 0, 400), torch.linspace(8, 0, 400)], 1)
    targets = torch.full((1300, 2), float("nan"))
    targets[:, 0] = -4.0
    filled = fill_missing(targets, reference, torch.Generator().manual_seed(0), nearest=10)
    assert filled.shape == (1300, 2) and (filled[:, 0] == -4.0).all()
    assert filled[:, 1].min() >= reference[9, 1] - 1e-6            # only the ten rows nearest -4 eV/atom


def test_successes_that_are_single_elements_are_counted():
    from pymatgen.core import Lattice, Structure

    lattice = Lattice.cubic(3.6)
    copper = Structure(lattice, ["Cu"] * 4, [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    salt = Structure(Lattice.cubic(5.6), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    zero = lambda ss: np.zeros(len(ss))                                   # noqa: E731  every crystal judged 0 eV/atom
    summary, frame = targeted_report([copper, salt, copper, None], zero, (-0.25, 0.25), diversity=False)
    assert frame["single_element"].tolist() == [True, False, True, False]
    assert summary["n_success"] == 3 and summary["single_element"] == 2
