"""SCIGEN pieces: templates, masks, the merge step, motif checks and the screening funnel."""
from collections import Counter

import numpy as np
import pytest
import torch
from pymatgen.core import Element, Lattice, Structure

from matlib.crystal import CrystalBatch
from matlib.diffusion import CrystalDiffusion, DenoiserConfig, SamplerConfig
from matlib.diffusion.sampler import State
from matlib.nn import MASK_TOKEN
from matlib.scigen import (TEMPLATES, BondLengths, build_constraint, draw_num_atoms, funnel, get_template,
                           motif_deviation, motif_kept, occupation_ratio, sample_with_motif, screening_table)

COORDINATION = {"triangular": {0: 6}, "square": {0: 4}, "honeycomb": {0: 3, 1: 3}, "kagome": {0: 4, 1: 4, 2: 4},
                "lieb": {0: 4, 1: 2, 2: 2}, "truncated_square": {0: 3, 1: 3, 2: 3, 3: 3}}


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_templates_have_the_textbook_coordination_and_bond_length(name):
    template = get_template(name)
    motif = template.motif(2.6)
    degree = Counter()
    for bond in motif.bonds:
        degree[bond.i] += 1
        degree[bond.j] += 1
        delta = (np.asarray(template.sites[bond.j]) + bond.image - np.asarray(template.sites[bond.i]))
        assert np.linalg.norm(delta @ template.plane_vectors(2.6)) == pytest.approx(2.6)
    assert dict(degree) == COORDINATION[name]
    # the symmetric in-plane block is the square root of the Gram matrix
    np.testing.assert_allclose(motif.in_plane_block @ motif.in_plane_block, template.gram(2.6), atol=1e-9)
    np.testing.assert_allclose(motif.in_plane_block, motif.in_plane_block.T)


def test_unknown_template_and_bad_bond_length_are_clear_errors():
    with pytest.raises(KeyError, match="kagome"):
        get_template("kagomé")
    with pytest.raises(ValueError, match="positive"):
        get_template("lieb").motif(0.0)


def motif_structure(name="kagome", d=2.5, extra=(("Sn", (0.3, 0.6, 0.1)),), c=5.0):
    template = get_template(name)
    motif = template.motif(d)
    matrix = np.zeros((3, 3))
    matrix[:2, :2] = template.plane_vectors(d)
    matrix[2, 2] = c
    species = ["Fe"] * template.num_sites + [e for e, _ in extra]
    coords = list(motif.frac) + [p for _, p in extra]
    return Structure(Lattice(matrix), species, coords), motif


def test_motif_check_allows_uniform_scaling_but_not_shear_breathing_or_buckling():
    structure, motif = motif_structure()
    assert motif_kept(structure, motif)
    assert motif_deviation(structure, motif)[0] < 1e-9
    scaled = structure.copy()
    scaled.scale_lattice(structure.volume * 1.3)
    assert motif_kept(scaled, motif)
    sheared = structure.copy()
    sheared.lattice = Lattice.from_parameters(*structure.lattice.abc, 90, 90, 100)
    assert not motif_kept(sheared, motif)
    breathing = structure.copy()
    breathing.replace(1, "Fe", [0.56, 0.0, 0.5])   # one triangle grows, its neighbour shrinks
    breathing.replace(2, "Fe", [0.0, 0.56, 0.5])
    assert motif_deviation(breathing, motif)[0] > 0.1 and not motif_kept(breathing, motif)
    buckled = structure.copy()
    buckled.replace(1, "Fe", [0.5, 0.0, 0.75])     # 1.25 Å out of the plane
    assert not motif_kept(buckled, motif)
    # an atom that wrapped to another periodic image is the same motif
    wrapped = structure.copy()
    wrapped.replace(0, "Fe", [1.0 - 1e-9, 0.0, 0.5], coords_are_cartesian=False)
    assert motif_kept(wrapped, motif)
    assert not motif_kept(None, motif)


def test_bond_lengths_come_from_data_and_fall_back_to_metallic_radius():
    bcc = Structure(Lattice.cubic(2.87), ["Fe", "Fe"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    oxide = Structure(Lattice.cubic(5.0), ["Fe", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])  # Fe-Fe 5 Å: no contact
    lengths = BondLengths.from_structures([bcc] * 6 + [oxide], ["Fe", "Ni"])
    np.testing.assert_allclose(lengths.observed["Fe"], 2.87 * np.sqrt(3) / 2, rtol=1e-6)
    rng = np.random.default_rng(0)
    assert np.allclose(lengths.draw("Fe", 50, rng), 2.485, atol=0.01)
    ni = lengths.draw("Ni", 500, rng)
    assert abs(ni.mean() - 2 * Element("Ni").metallic_radius) < 0.02 and ni.std() > 0
    assert "metallic" in lengths.source("Ni") and "KDE" in lengths.source("Fe")


def test_constraint_masks_cover_the_motif_atoms_and_the_in_plane_cell():
    template = get_template("lieb")
    num_atoms = torch.tensor([3, 5, 4])
    c = build_constraint(template, ["Mn", "Fe", "Co"], [2.5, 2.6, 2.7], num_atoms)
    assert c.known_atom.tolist() == [True] * 3 + [True] * 3 + [False] * 2 + [True] * 3 + [False]
    assert c.tokens[c.known_atom].tolist() == [25] * 3 + [26] * 3 + [27] * 3
    assert c.lattice_mask.sum() == 8 and not c.lattice_mask[2, 2]
    np.testing.assert_allclose(c.lattice[1, :2, :2], 5.2 * np.eye(2), atol=1e-6)
    assert (c.lattice[:, 2, :2] == 0).all()                      # c is perpendicular to the plane
    with pytest.raises(ValueError, match="at least 3"):
        build_constraint(template, ["Mn"], [2.5], torch.tensor([2]))


def tiny_model():
    structures = [Structure(Lattice.hexagonal(5.0, 4.0 + 0.1 * i), ["Fe", "Fe", "Fe", "Sn"],
                            [[0, 0, 0], [0.5, 0, 0], [0, 0.5, 0], [1 / 3, 2 / 3, 0.5]]) for i in range(4)]
    structures += [Structure(Lattice.cubic(3.0), ["Mn", "Ga"], [[0, 0, 0], [0.5, 0.5, 0.5]])]
    batch = CrystalDiffusion.prepare(CrystalBatch.from_structures(structures))
    torch.manual_seed(0)
    return CrystalDiffusion.from_data(batch, DenoiserConfig(dim=32, layers=2, num_freqs=4))


def test_merge_step_reimposes_the_known_part_at_its_noise_level():
    model = tiny_model()
    num_atoms = torch.tensor([4, 6])
    c = build_constraint(get_template("kagome"), ["Fe", "Mn"], [2.5, 2.7], num_atoms)
    merge = c.inpainter(model, torch.Generator().manual_seed(0))
    atoms = int(num_atoms.sum())
    free_tokens = torch.full((atoms,), 50)
    state = State(free_tokens.clone(), torch.rand(atoms, 3), 7 * torch.eye(3).repeat(2, 1, 1), num_atoms)
    before = state.to_batch()
    out = merge(state, torch.zeros(2))                 # s = 0: exact
    known = c.known_atom
    assert torch.equal(out.frac[known], c.frac[known]) and torch.equal(out.tokens[known], c.tokens[known])
    assert torch.equal(out.frac[~known], before.frac_coords[~known])
    assert torch.equal(out.tokens[~known], free_tokens[~known])
    assert torch.allclose(out.lattice[:, :2, :2], c.lattice[:, :2, :2]) and (out.lattice[:, 2, :2] == 0).all()
    assert torch.equal(out.lattice[:, 2, 2], before.lattice[:, 2, 2])     # |c| stays free
    noisy = merge(State(free_tokens.clone(), before.frac_coords.clone(), before.lattice.clone(), num_atoms),
                  torch.ones(2))                       # s = 1: known types all masked, positions scrambled
    assert (noisy.tokens[known] == MASK_TOKEN).all() and (noisy.tokens[~known] == 50).all()
    assert (noisy.frac[known] - c.frac[known]).abs().max() > 0.05


def test_constrained_sampling_keeps_the_motif_exactly_with_an_untrained_model():
    model = tiny_model()
    lengths = BondLengths({"Fe": np.full(10, 2.5)})
    for name in ("kagome", "lieb"):
        template = get_template(name)
        result, c = sample_with_motif(model, template, 6, "Fe", lengths, SamplerConfig(steps=8, batch_size=4),
                                      seed=1)
        structures = result.crystals.to_structures()
        assert len(structures) == 6 and all(len(s) >= 3 for s in structures)
        assert all(motif_kept(s, m, length_tol=1e-4, angle_tol=1e-3) for s, m in zip(structures, c.motifs))
        for s, motif in zip(structures, c.motifs):
            assert [site.specie.symbol for site in s][:3] == ["Fe"] * 3
            a, b, _ = s.lattice.abc
            assert motif.bond_length == pytest.approx(2.5, abs=0.01)     # a KDE draw around the observed 2.5
            assert a == pytest.approx(2 * motif.bond_length, abs=1e-4) and b == pytest.approx(a, abs=1e-4)
            assert s.lattice.alpha == pytest.approx(90, abs=1e-3) and s.lattice.beta == pytest.approx(90, abs=1e-3)
            assert s.lattice.gamma == pytest.approx(template.gamma, abs=1e-3)
    with pytest.raises(ValueError, match="never occurs"):
        sample_with_motif(model, get_template("kagome"), 2, "Yb", BondLengths(), SamplerConfig(steps=2))


def test_atom_counts_respect_the_template_range():
    model = tiny_model()
    counts = draw_num_atoms(model, get_template("kagome"), 200, torch.Generator().manual_seed(0))
    assert counts.min() >= 3 and counts.max() <= 4          # the training histogram holds 2 and 4
    assert draw_num_atoms(model, get_template("lieb"), 3, free_atoms=1).tolist() == [4, 4, 4]
    with pytest.raises(ValueError, match="free_atoms"):
        draw_num_atoms(model, get_template("lieb"), 3, free_atoms=50)


def test_occupation_ratio_and_funnel():
    tiny = Structure(Lattice.cubic(1.0), ["Fe"], [[0, 0, 0]])          # a 1 Å³ cell cannot hold an Fe atom
    from ase.data import covalent_radii
    assert occupation_ratio(tiny) == pytest.approx(4 / 3 * np.pi * covalent_radii[26] ** 3 / (1 + 1e-4))
    good, _ = motif_structure("lieb", 2.5, extra=(("O", (0.5, 0.5, 0.5)),))
    table = screening_table([good, tiny, None], progress_bar=False)
    assert table["occupation_ok"].tolist() == [True, False, False]
    assert table["passes_screen"].tolist() == [table["smact_valid"][0], False, False]
    f = funnel([("generated", 10), ("a", 5), ("b", 0), ("c", 0)])
    assert f["share_of_generated"].tolist() == [1.0, 0.5, 0.0, 0.0]
    assert f["share_of_previous"].tolist()[:3] == [1.0, 0.5, 0.0] and np.isnan(f["share_of_previous"].iloc[3])


def test_bond_lengths_do_not_depend_on_the_process_string_hashing():
    """Two processes with different PYTHONHASHSEED draw the same bond lengths (a set's order would not)."""
    import os
    import subprocess
    import sys

    script = ("import numpy as np\n"
              "from matlib.scigen import BondLengths\n"
              "from matlib.scigen.constraint import draw_bond_lengths\n"
              "lengths = BondLengths({e: np.linspace(2.0, 3.0, 9) + k for k, e in enumerate(['Mn', 'Fe', 'Co', 'Ni'])})\n"
              "chosen = [['Mn', 'Fe', 'Co', 'Ni'][i] for i in np.random.default_rng(0).integers(4, size=40)]\n"
              "print(draw_bond_lengths(chosen, lengths, np.random.default_rng(1)).round(12).tolist())\n")
    outputs = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2", "3")}
    assert len(outputs) == 1 and len(eval(outputs.pop())) == 40
