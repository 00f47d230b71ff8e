"""The lab's research sampler (not in CI): run with
    python -m pytest lab/diffusion_sampling/test_research_sampler.py -q -p no:cacheprovider
"""
import sys
from pathlib import Path

import pytest
import torch
from pymatgen.core import Lattice, Structure

sys.path.insert(0, str(Path(__file__).resolve().parent))
from research_sampler import (ResearchDiffusion, ResearchSamplerConfig, reverse_step, sample,  # noqa: E402
                              type_time)

from matlib.crystal import CrystalBatch  # noqa: E402
from matlib.diffusion import MASK_TOKEN, CrystalDiffusion, DenoiserConfig, MaskedTypeDiffusion, SamplerConfig  # noqa: E402
from matlib.diffusion import sample as plain_sample  # noqa: E402


def tiny_model(cls=CrystalDiffusion, **overrides):
    structures = [Structure(Lattice.cubic(4.2 + 0.1 * i), ["Na", "Cl", "Na", "Cl"],
                            [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0, 0, 0.5]]) for i in range(6)] + [
        Structure(Lattice.hexagonal(3.0, 5.0), ["Mg", "O"], [[0, 0, 0], [1 / 3, 2 / 3, 0.5]])]
    batch = CrystalDiffusion.prepare(CrystalBatch.from_structures(structures))
    torch.manual_seed(0)
    return cls.from_data(batch, DenoiserConfig(dim=32, layers=2, num_freqs=4), **overrides), batch


def test_defaults_sample_what_the_plain_sampler_samples():
    model, _ = tiny_model()
    config = SamplerConfig(steps=10, record_every=3)
    plain = plain_sample(model, 16, config, generator=torch.Generator().manual_seed(5))
    ours = sample(model, 16, ResearchSamplerConfig(steps=10, record_every=3), generator=torch.Generator().manual_seed(5))
    for a, b in ((plain.crystals, ours.crystals), *zip(plain.trajectory.frames, ours.trajectory.frames)):
        assert torch.equal(a.atom_types, b.atom_types) and torch.equal(a.frac_coords, b.frac_coords)
        assert torch.equal(a.lattice, b.lattice)
    research, batch = tiny_model(ResearchDiffusion)
    assert research.config.independent_type_time == 0.0
    assert {k: float(v) for k, v in research.loss(batch, generator=torch.Generator().manual_seed(1)).items()} == \
        {k: float(v) for k, v in CrystalDiffusion.loss(research, batch, generator=torch.Generator().manual_seed(1)).items()}


def test_remasking_reopens_chosen_elements_and_keeps_the_mask_share():
    torch.manual_seed(0)
    types = torch.randint(1, 90, (40000,))
    t, s, eta = 0.6, 0.5, 0.1
    tokens, masked = MaskedTypeDiffusion().corrupt(types, torch.full((40000,), t))
    logits = torch.randn(40000, 100)
    stepped = reverse_step(tokens, logits, torch.full((40000,), t), torch.full((40000,), s), remask=eta)
    assert abs((stepped == MASK_TOKEN).float().mean().item() - s) < 0.01   # the forward marginal at s
    assert abs((stepped[~masked] == MASK_TOKEN).float().mean().item() - eta) < 0.01   # σ = η here
    kept = ~masked & (stepped != MASK_TOKEN)
    assert (stepped[kept] == types[kept]).all()
    capped = reverse_step(tokens, logits, torch.full((40000,), t), torch.full((40000,), 0.02), remask=0.5)
    assert abs((capped[~masked] == MASK_TOKEN).float().mean().item() - 0.05) < 0.01   # σ capped at s / (1 - t)
    assert not (reverse_step(stepped, logits, torch.full((40000,), s), torch.zeros(40000), remask=eta)
                == MASK_TOKEN).any()                                       # s = 0 resolves every atom


def test_confidence_order_unmasks_the_surest_atoms_as_many_as_the_random_order():
    num_atoms = torch.tensor([6, 10] * 200)
    crystal = torch.repeat_interleave(torch.arange(len(num_atoms)), num_atoms)
    tokens = torch.full((len(crystal),), MASK_TOKEN)
    sure = torch.rand(len(crystal), generator=torch.Generator().manual_seed(1)) < 0.5
    logits = torch.zeros(len(crystal), 100)
    logits[sure, 7] = 30.0                                # O, nearly certain; the rest flat
    t, s = torch.full((len(crystal),), 0.9), torch.full((len(crystal),), 0.6)
    plain = reverse_step(tokens, logits, t, s, generator=torch.Generator().manual_seed(0))
    surest = reverse_step(tokens, logits, t, s, generator=torch.Generator().manual_seed(0), order="confidence",
                          crystal=crystal)

    def per_crystal(opened):
        return torch.zeros(len(num_atoms), dtype=torch.long).index_add_(0, crystal, opened.long())
    opened = surest != MASK_TOKEN
    assert torch.equal(per_crystal(opened), per_crystal(plain != MASK_TOKEN))   # same schedule
    open_sure, sure_count = per_crystal(opened & sure), per_crystal(sure)
    assert (per_crystal(opened & ~sure)[open_sure < sure_count] == 0).all()   # flat atoms wait for the sure ones
    assert (surest[opened & sure] == 8).all()
    with pytest.raises(ValueError, match="crystal index"):
        reverse_step(tokens, logits, t, s, order="confidence")


def test_sampler_passes_remasking_and_sweeps_on():
    model, _ = tiny_model()
    remasked = sample(model, 12, ResearchSamplerConfig(steps=10, remask=0.3, record_every=1, record_crystals=12),
                      generator=torch.Generator().manual_seed(1))
    tokens = torch.stack([frame.atom_types for frame in remasked.trajectory.frames])
    assert ((tokens[:-1] != MASK_TOKEN) & (tokens[1:] == MASK_TOKEN)).any()
    assert set(remasked.crystals.atom_types.unique().tolist()) <= {8, 11, 12, 17}
    sizes = torch.tensor([4, 2] * 6)
    swept = sample(model, sizes, ResearchSamplerConfig(steps=10, element_sweeps=4, sweep_time=0.5,
                                                       unmask_order="confidence"), generator=torch.Generator().manual_seed(1))
    assert swept.network_calls == 10 + 9 + 4                    # one call per round of redrawing
    unswept = sample(model, sizes, ResearchSamplerConfig(steps=10, unmask_order="confidence"),
                     generator=torch.Generator().manual_seed(1))
    assert torch.equal(unswept.crystals.frac_coords, swept.crystals.frac_coords)   # same walk until the rounds
    assert not torch.equal(unswept.crystals.atom_types, swept.crystals.atom_types)   # rounds redrew elements


def test_type_clock_and_window():
    model, _ = tiny_model(ResearchDiffusion, independent_type_time=1.0)
    t = torch.full((20000,), 0.05)
    own = model.element_times(t, torch.Generator().manual_seed(0))
    assert abs(float(own.mean()) - 0.5) < 0.01 and float(own.min()) >= model.config.t_min
    model.config.independent_type_time = 0.3
    assert abs(float((model.element_times(t, torch.Generator().manual_seed(0)) != t).float().mean()) - 0.3) < 0.01
    assert [type_time(t, (0.5, 0.0)) for t in (1.0, 0.5, 0.25, 0.0)] == [1.0, 1.0, 0.5, 0.0]
    assert [type_time(t, (1.0, 0.5)) for t in (1.0, 0.75, 0.5, 0.1)] == [1.0, 0.5, 0.0, 0.0]
    for bad in ((0.5, 0.5), (0.2, 0.6), (1.5, 0.0), (1.0, -0.1)):
        with pytest.raises(ValueError, match="type_window"):
            type_time(0.5, bad)
    late = sample(model, 8, ResearchSamplerConfig(steps=20, type_window=(0.5, 0.0), record_every=1, record_crystals=8),
                  generator=torch.Generator().manual_seed(2))
    assert all(float((f.atom_types == MASK_TOKEN).float().mean()) == 1.0
               for time, f in zip(late.trajectory.times, late.trajectory.frames) if time >= 0.5)
    assert not (late.crystals.atom_types == MASK_TOKEN).any()
