"""Property adapters and classifier-free guidance on a tiny diffusion model."""
import numpy as np
import pytest
import torch
from pymatgen.core import Lattice, Structure

from matlib import checkpoints
from matlib.crystal import CrystalBatch
from matlib.diffusion import (ConditionedDiffusion, CrystalDiffusion, DenoiserConfig, SamplerConfig, ScalarEncoding,
                              guided_denoiser, sample)
from matlib.nn import MASK_TOKEN


def tiny():
    structures = [Structure(Lattice.cubic(4.0 + 0.2 * i), ["Na", "Cl", "Na", "Cl"],
                            [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0, 0, 0.5]]) for i in range(6)]
    batch = CrystalDiffusion.prepare(CrystalBatch.from_structures(structures))
    torch.manual_seed(0)
    base = CrystalDiffusion.from_data(batch, DenoiserConfig(dim=32, layers=2, num_freqs=4))
    labels = torch.linspace(0.0, 5.0, len(structures))
    return base, batch, labels


def outputs(model, batch, values=None, t=0.5):
    tt = torch.full((len(batch.num_atoms),), t)
    kwargs = {} if values is None else {"values": values}
    return model.denoise(batch.atom_types, batch.frac_coords, batch.lattice, batch.num_atoms, tt, **kwargs)


def test_zero_initialised_adapters_reproduce_the_base_model_exactly():
    base, batch, labels = tiny()
    model = ConditionedDiffusion.from_base(base, labels)
    reference = outputs(base, batch)
    for values in (labels, torch.full_like(labels, float("nan")), None):
        for a, b in zip(outputs(model, batch, values), reference):
            assert torch.equal(a, b)


def test_adapters_only_fine_tuning_learns_a_condition_and_keeps_the_unconditional_model():
    base, batch, labels = tiny()
    model = ConditionedDiffusion.from_base(base, labels)
    model.freeze_base()
    before = {k: v.clone() for k, v in base.state_dict().items()}
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert trainable and all(not p.requires_grad for p in base.parameters())
    optimizer = torch.optim.Adam(trainable, 1e-2)
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        loss = model.loss(batch, labels, generator=g)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert all(torch.equal(v, base.state_dict()[k]) for k, v in before.items())   # base untouched
    unconditional = outputs(model, batch, torch.full_like(labels, float("nan")))
    for a, b in zip(unconditional, outputs(base, batch)):
        assert torch.equal(a, b)                               # no condition: still exactly the base model
    low, high = outputs(model, batch, torch.zeros_like(labels)), outputs(model, batch, torch.full_like(labels, 5.0))
    assert (low[2] - high[2]).abs().max() > 1e-4               # the condition now changes the logits


def test_guidance_interpolates_and_extrapolates_between_the_two_outputs():
    base, batch, labels = tiny()
    model = ConditionedDiffusion.from_base(base, labels)
    with torch.no_grad():
        for block in model.adapters.blocks:
            block.out.weight.normal_(0, 0.1)                   # as if fine-tuned
    n = len(batch.num_atoms)
    t = torch.full((n,), 0.5)
    args = (batch.atom_types, batch.frac_coords, batch.lattice, batch.num_atoms, t)
    unconditional = model.denoise(*args)
    conditional = model.denoise(*args, values=torch.full((n,), 3.0))
    for gamma in (0.0, 1.0, 2.0, 4.0):
        guided = guided_denoiser(model, 3.0, gamma)(*args)
        for u, c, s in zip(unconditional, conditional, guided):
            torch.testing.assert_close(s, u + gamma * (c - u))
    with pytest.raises(ValueError):
        guided_denoiser(model, 3.0, -1.0)
    result = sample(model, 5, SamplerConfig(steps=6), generator=torch.Generator().manual_seed(0),
                    denoise_fn=guided_denoiser(model, 3.0, 2.0))
    assert result.network_calls == 6 + 5 and not (result.crystals.atom_types == MASK_TOKEN).any()
    assert len(result.crystals.to_structures()) == 5


def test_encoding_is_zero_without_a_condition_and_bad_statistics_are_errors():
    encoding = ScalarEncoding(mean=1.0, std=2.0, dim=16)
    features = encoding(torch.tensor([1.0, 3.0, float("nan")]), torch.tensor([True, True, False]))
    assert features.shape == (3, 16) and torch.equal(features[2], torch.zeros(16))
    assert torch.allclose(features[0], torch.cat([torch.zeros(8), torch.ones(8)]))   # z = 0
    assert features[1].abs().sum() > 0 and not torch.allclose(features[0], features[1])
    with pytest.raises(ValueError, match="standard deviation"):
        ScalarEncoding(0.0, 0.0)
    base, _, _ = tiny()
    with pytest.raises(ValueError, match="two labelled"):
        ConditionedDiffusion.from_base(base, torch.tensor([1.0, float("nan")]))


def test_fine_tune_modes_leave_the_base_untouched_and_adapters_round_trip(tmp_path):
    from matlib.diffusion import store
    from matlib.diffusion.finetune import fine_tune
    base, batch, labels = tiny()
    before = {k: v.clone() for k, v in base.state_dict().items()}
    sparse = labels.clone()
    sparse[::2] = float("nan")                                 # a small-label run: half the crystals unlabelled
    adapted, run = fine_tune(base, batch, sparse, mode="adapters", seconds=None, max_steps=15, batch_size=4,
                             ema_decay=None)
    assert run.steps == 15 and all(torch.equal(v, base.state_dict()[k]) for k, v in before.items())
    for a, b in zip(outputs(adapted, batch), outputs(base, batch)):
        assert torch.equal(a, b)                               # adapters only: the unconditional model is the base
    scarce = torch.full_like(labels, float("nan"))
    scarce[:2] = labels[:2]                                    # most mini-batches of 2 carry no label at all
    fine_tune(base, batch, scarce, mode="adapters", seconds=None, max_steps=6, batch_size=2, ema_decay=None)
    everything, _ = fine_tune(base, batch, labels, mode="all", seconds=None, max_steps=5, batch_size=4, ema_decay=None)
    assert not torch.equal(outputs(everything, batch)[0], outputs(base, batch)[0])
    assert all(torch.equal(v, base.state_dict()[k]) for k, v in before.items())   # the base was copied
    with pytest.raises(ValueError, match="mode"):
        fine_tune(base, batch, labels, mode="some")
    with pytest.raises(ValueError, match="lr_schedule"):
        fine_tune(base, batch, labels, lr_schedule="linear")
    stem = tmp_path / "band_gap"
    store.save_adapters(stem, adapted, base="tiny", dataset="mp_20", split="val", prop="band_gap", step=run.steps)
    reloaded, ckpt = store.load_adapters(stem, base, dataset="mp_20", prop="band_gap")
    assert ckpt.config["property"] == "band_gap" and ckpt.step == 15
    values = torch.full_like(labels, 2.0)
    for a, b in zip(outputs(reloaded, batch, values), outputs(adapted, batch, values)):
        torch.testing.assert_close(a, b, atol=2e-3, rtol=1e-2)  # half-precision weights
    other = CrystalDiffusion.from_data(batch, DenoiserConfig(dim=16, layers=2, num_freqs=4))
    with pytest.raises(ValueError, match="do not fit"):
        store.load_adapters(stem, other)
    from matlib.checkpoints import CheckpointError

    with pytest.raises(CheckpointError, match="trained on property 'band_gap', not 'formation_energy_per_atom'"):
        store.load_adapters(stem, base, dataset="mp_20", prop="formation_energy_per_atom")
    with pytest.raises(CheckpointError, match="trained on dataset 'mp_20', not 'perov_5'"):
        store.load_adapters(stem, base, dataset="perov_5", prop="band_gap")


def test_targeted_report_counts_success_over_all_samples():
    from matlib.evaluation import targeted_report
    good = Structure(Lattice.cubic(5.64), ["Na", "Cl", "Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0, 0, 0.5]])
    squeezed = Structure(Lattice.cubic(3.0), ["Na", "Na"], [[0, 0, 0], [0.1, 0, 0]])       # atoms 0.3 Å apart
    structures = [good, good.copy(), squeezed, None]

    def judge(items):
        return np.array([3.0 if len(s) == 4 else 3.1 for s in items])

    summary, frame = targeted_report(structures, judge, (2.5, 3.5), train=[good])
    assert summary["n"] == 4 and summary["valid"] == 0.5
    assert summary["success_rate"] == 0.5 and summary["n_success"] == 2       # the squeezed one is in the window but invalid
    assert summary["in_window_of_valid"] == 1.0 and summary["unique"] == 0.5 and summary["novel"] == 0.0
    assert np.isnan(frame["judged"].iloc[3]) and not frame["success"].iloc[2]
    assert targeted_report(structures, judge, (4.0, None), train=None)[0]["success_rate"] == 0.0


def test_cosine_schedule_and_snapshot_of_a_shorter_fine_tune():
    from matlib.diffusion.finetune import fine_tune, snapshot_model
    base, batch, labels = tiny()
    short, _ = fine_tune(base, batch, labels, seconds=None, max_steps=4, batch_size=4, seed=1)
    longer, run = fine_tune(base, batch, labels, seconds=None, max_steps=9, batch_size=4, seed=1,
                            snapshot_budget=(4, None))
    assert run.snapshot["steps"] == 4
    earlier = snapshot_model(longer, run)
    for a, b in zip(outputs(earlier, batch, labels), outputs(short, batch, labels)):
        assert torch.equal(a, b)                                 # the same run stopped at 4 steps
    assert not torch.equal(outputs(longer, batch, labels)[0], outputs(short, batch, labels)[0])
    cosine, decayed = fine_tune(base, batch, labels, seconds=None, max_steps=6, batch_size=4, seed=1,
                                lr_schedule="cosine")
    assert decayed.steps == 6 and snapshot_model(cosine, decayed) is cosine


@pytest.mark.parametrize("target, gamma, message", [
    (float("nan"), 2.0, "finite"), (float("inf"), 2.0, "finite"), (-float("inf"), 2.0, "finite"),
    (3.0, float("nan"), "finite"), ("3 eV", 2.0, "number"), (3.0, -1.0, ">= 0"),
    (-5.0, 2.0, "outside"), (1000.0, 2.0, "outside"), (1e30, 2.0, "outside")])
def test_guidance_refuses_absurd_targets_and_strengths(target, gamma, message):
    from matlib.diffusion import guided_denoiser

    base, _, labels = tiny()                       # labels 0..5: mean 2.5, std 1.87
    model = ConditionedDiffusion.from_base(base, labels)
    with pytest.raises(ValueError, match=message):
        guided_denoiser(model, target, gamma)


def test_guidance_extrapolates_only_when_told():
    from matlib.diffusion import guided_denoiser

    base, batch, labels = tiny()
    model = ConditionedDiffusion.from_base(base, labels)
    assert model.adapters.label_range == (0.0, 5.0)
    guided_denoiser(model, 5.0, 2.0)              # the edge of the labels: allowed
    with pytest.raises(ValueError, match=r"outside \[0, 5\]"):
        guided_denoiser(model, 5.5, 2.0)
    denoise = guided_denoiser(model, 1000.0, 2.0, allow_extrapolation=True)
    tt = torch.full((len(batch.num_atoms),), 0.5)
    assert all(torch.isfinite(x).all() for x in denoise(batch.atom_types, batch.frac_coords, batch.lattice,
                                                          batch.num_atoms, tt))


def test_adapter_checkpoints_keep_the_label_range_and_older_ones_fall_back(tmp_path):
    import json

    from matlib.diffusion import guided_denoiser, store

    base, _, labels = tiny()
    store.save_adapters(tmp_path / "ad", ConditionedDiffusion.from_base(base, labels), base="tiny", dataset="mp_20",
                        split="val", prop="y")
    loaded, _ = store.load_adapters(tmp_path / "ad", base)
    assert loaded.adapters.label_range == (0.0, 5.0)
    manifest = json.loads((tmp_path / "ad.json").read_text())       # as saved before the range was recorded
    del manifest["config"]["label_range"]
    manifest["digest"] = checkpoints.manifest_digest(manifest)
    (tmp_path / "ad.json").write_text(json.dumps(manifest))
    older, _ = store.load_adapters(tmp_path / "ad", base)
    assert older.adapters.label_range is None
    guided_denoiser(older, 9.0, 2.0)              # mean 2.5 ± 4 × 1.87: still accepted
    with pytest.raises(ValueError, match="outside"):
        guided_denoiser(older, 11.0, 2.0)


def test_absurd_fine_tuning_labels_are_refused():
    base, _, labels = tiny()
    for bad in (1e30, float("inf")):
        broken = labels.clone()
        broken[2] = bad
        with pytest.raises(ValueError, match="infinite or beyond"):
            ConditionedDiffusion.from_base(base, broken)
