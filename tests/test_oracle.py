"""The CHGNet oracle on a handful of small MP-20 crystals (CPU), plus exact hand-made cases."""
import warnings

import numpy as np
import pytest
from pymatgen.analysis.phase_diagram import PDEntry
from pymatgen.core import Composition, Lattice, Structure

from matlib.datasets import load_table
from matlib.evaluation.stability import relax_one
from matlib.oracle import (bulk_moduli, e_above_hull, elemental_references, fit_bulk_modulus,
                           fit_elemental_references, formation_energy, predict, reference_hull, relax, sun_rates)

# Experimental bulk moduli (GPa), C. Kittel, Introduction to Solid State Physics, 8th ed., ch. 3
# (Table 3 for the elements, Table 7 for the alkali halides): Si 98.8, W 323, NaCl 24.0, KCl 17.4.
LITERATURE_K = {"Si": 98.8, "W": 323.0, "NaCl": 24.0, "KCl": 17.4}


@pytest.fixture(scope="module")
def val_table(data_root):
    return load_table("mp_20", "val")


def crystal(table, formula, spacegroup):
    row = table[(table.pretty_formula == formula) & (table["spacegroup.number"] == spacegroup)].iloc[0]
    return Structure.from_str(row.cif, fmt="cif")


@pytest.fixture(scope="module")
def simple(val_table):
    spacegroups = {"Si": 227, "W": 229, "NaCl": 225, "KCl": 225}
    return {f: crystal(val_table, f, sg) for f, sg in spacegroups.items()}


def perturbed(structure, rng):
    strain = np.eye(3) + rng.normal(0, 0.02, (3, 3))
    s = Structure(structure.lattice.matrix @ strain.T, structure.species, structure.frac_coords)
    return Structure(s.lattice, s.species, s.cart_coords + rng.normal(0, 0.05, (len(s), 3)), coords_are_cartesian=True)


def test_batched_relax_matches_chgnet_struct_optimizer(val_table):
    rng = np.random.default_rng(0)
    small = [Structure.from_str(c, fmt="cif") for c in val_table.cif[:40]]
    crystals = [perturbed(s, rng) for s in small if len(s) <= 6][:5]
    finals, table = relax(crystals, steps=200, fmax=0.05)
    reference = [relax_one(s, steps=200, fmax=0.05)["e_relaxed"] for s in crystals]
    assert table["converged"].all() and not table["failed"].any()
    assert all(isinstance(f, Structure) for f in finals)
    assert (table["e_relaxed"] < table["e_initial"]).all()           # the perturbation cost energy
    np.testing.assert_allclose(table["e_relaxed"], reference, atol=0.005)
    # the returned structure is the one whose energy is reported
    np.testing.assert_allclose(predict(finals)["energy_per_atom"], table["e_relaxed"], atol=1e-4)


def test_fast_batches_give_chgnets_own_predictions(val_table):
    """The loop-free batch assembly and single backward pass change nothing CHGNet predicts."""
    from matlib.evaluation.stability import chgnet_model
    from matlib.oracle.batched import _to_graph
    from matlib.oracle.fast import GraphArrays, predict_graphs
    rng = np.random.default_rng(1)
    crystals = [perturbed(Structure.from_str(c, fmt="cif"), rng) for c in val_table.cif[:20]]
    crystals.append(Structure(Lattice.cubic(4.5), ["Na"], [[0, 0, 0]]))   # bonds but no angles (none within 3 Å)
    graphs = [_to_graph(s) for s in crystals]
    assert len(graphs[-1].bond_graph) == 0
    model = chgnet_model()
    reference = model.predict_graph(graphs, task="efsm", batch_size=8)
    for batch_size in (1, 7, 64):                        # a batch of one, ragged batches, one batch of all
        got = predict_graphs(model, graphs, task="efsm", batch_size=batch_size)
        for ref, row in zip(reference, got):
            np.testing.assert_allclose(row["e"], ref["e"], atol=1e-5)          # eV/atom
            np.testing.assert_allclose(row["f"], ref["f"], atol=5e-4)          # eV/Å, float32 sums in another order
            np.testing.assert_allclose(row["s"], ref["s"], atol=2e-3)          # GPa
            np.testing.assert_allclose(row["m"], ref["m"], atol=1e-4)          # μB
    energies_only = predict_graphs(model, graphs, task="e", batch_size=64)
    assert set(energies_only[0]) == {"e"}
    np.testing.assert_allclose([r["e"] for r in energies_only], [r["e"] for r in reference], atol=1e-5)
    # the NumPy form a process pool sends back predicts exactly what the graphs do
    as_arrays = predict_graphs(model, [GraphArrays.of(g) for g in graphs], task="efsm", batch_size=64)
    for row, same in zip(got, as_arrays):
        assert all(np.array_equal(row[k], same[k]) for k in "efsm")


def test_graphs_built_by_an_executor_predict_what_serial_graphs_do(val_table):
    from concurrent.futures import ThreadPoolExecutor

    from matlib.oracle.batched import MIN_PARALLEL_GRAPHS
    crystals = [Structure.from_str(c, fmt="cif") for c in val_table.cif[:MIN_PARALLEL_GRAPHS + 6]]
    serial = predict(crystals, batch_size=MIN_PARALLEL_GRAPHS + 6)
    with ThreadPoolExecutor(2) as pool:          # the workers' path (GraphArrays), without starting processes
        pooled = predict(crystals, batch_size=MIN_PARALLEL_GRAPHS + 6, executor=pool)
    assert serial["ok"].all() and len(serial) == len(crystals)
    np.testing.assert_allclose(pooled.drop(columns="ok").to_numpy(), serial.drop(columns="ok").to_numpy(), rtol=0, atol=1e-6)
    # a relaxation step sends its crystals as Cells (arrays): the same graphs, the same forces
    from matlib.oracle.batched import _FireState, _raw_predictions
    cells = [_FireState(s).cell() for s in crystals]
    with ThreadPoolExecutor(2) as pool:
        from_cells = _raw_predictions(cells, "efs", len(cells), None, None, executor=pool)
    from_structures = _raw_predictions(crystals, "efs", len(cells), None, None)
    for a, b in zip(from_cells, from_structures):      # positions rebuilt from Cartesian arrays: float32 noise
        np.testing.assert_allclose(a["f"], b["f"], atol=1e-4)   # eV/Å; relaxations stop at 0.1
        np.testing.assert_allclose(a["e"], b["e"], atol=1e-5)


def test_broken_and_exploding_structures_are_counted_as_failed(simple):
    nacl = simple["NaCl"]
    stretched = nacl.copy()
    stretched.scale_lattice(nacl.volume * 1.4)                      # relaxes back by ~1.4x
    nan_coords = Structure(nacl.lattice, nacl.species, [[np.nan] * 3, [0.5, 0.5, 0.5]])
    finals, table = relax([nacl, stretched, nan_coords], steps=100, fmax=0.05, volume_factor=1.2)
    assert list(table["failed"]) == [False, True, True]
    assert "volume" in table["reason"][1] and "non-finite" in table["reason"][2]
    assert finals[0] is not None and finals[1] is None and finals[2] is None
    assert table.loc[table["failed"], ["e_initial", "e_relaxed"]].isna().all().all()
    predicted = predict([nacl, nan_coords])
    assert list(predicted["ok"]) == [True, False] and predicted.iloc[1].drop("ok").isna().all()
    assert predicted["magmom_per_volume"][0] >= 0


def test_birch_murnaghan_fit_recovers_a_known_curve():
    v0, e0, k_gpa, k1 = 40.0, -10.0, 120.0, 4.5
    k = k_gpa / 160.21766208                                         # eV/Å³
    v = np.linspace(0.95, 1.05, 7) * v0
    eta = (v0 / v) ** (2 / 3)
    energies = e0 + 9 * v0 * k / 16 * ((eta - 1) ** 3 * k1 + (eta - 1) ** 2 * (6 - 4 * eta))
    fit = fit_bulk_modulus(v, energies)
    assert fit["bulk_modulus_gpa"] == pytest.approx(k_gpa, rel=0.01)
    assert fit["v0"] == pytest.approx(v0, rel=1e-3)
    with pytest.raises(ValueError, match="at least 5"):
        fit_bulk_modulus(v[:4], energies[:4])


def test_bulk_moduli_of_simple_crystals_are_near_experiment(simple):
    finals, table = relax(list(simple.values()), fmax=0.02)
    assert not table["failed"].any()
    moduli = bulk_moduli(finals)
    assert moduli["ok"].all()
    for (formula, k) in zip(simple, moduli["bulk_modulus_gpa"]):
        assert abs(k / LITERATURE_K[formula] - 1) < 0.35, (formula, k)


def test_e_above_hull_of_a_hand_made_phase_diagram():
    # Li and O at 0 eV/atom, LiO at -1 eV/atom: the hull at x_O = 2/3 is -1 + (1/6)/(1/2) = -2/3 eV/atom
    hull = reference_hull([0.0, 0.0, -1.0], ["Li", "O", "LiO"], relax_missing=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        e = e_above_hull(hull, ["LiO2", "LiO", Composition("Li2O"), "NaO"], [-0.5, -1.2, -2 / 3, -1.0])
    np.testing.assert_allclose(e[:3], [-0.5 + 2 / 3, -0.2, 0.0], atol=1e-9)
    assert np.isnan(e[3]) and "1 of 4" in str(caught[-1].message)
    with pytest.raises(ValueError, match="no elemental reference"):
        reference_hull([-1.0], ["LiO"], relax_missing=False)
    assert isinstance(reference_hull([-1.0], ["LiO"], elemental={"Li": 0.0, "O": 0.0}).all_entries[0], PDEntry)


def test_missing_elements_get_their_reference_from_relaxed_prototypes(simple):
    best = elemental_references(["W"])
    energy, kind = best["W"]
    assert kind == "bcc"
    assert energy == pytest.approx(predict([simple["W"]])["energy_per_atom"][0], abs=0.01)


def test_sun_counts_stable_unique_novel_among_all_generated():
    rates = sun_rates([0.05, -0.1, 0.2, np.nan, 0.0], valid=[1, 1, 1, 0, 1], unique=[1, 0, 1, 1, 1],
                      novel=[1, 1, 1, 1, 0], thresholds=(0.1, 0.0))
    assert rates["stable@0.1"] == pytest.approx(3 / 5) and rates["stable@0"] == pytest.approx(2 / 5)
    assert rates["sun@0.1"] == pytest.approx(1 / 5) and rates["sun@0"] == 0.0
    assert rates["valid"] == pytest.approx(4 / 5) and rates["n"] == 5
    with pytest.raises(ValueError, match="entries"):
        sun_rates([0.0], [True, True], [True], [True])


def test_elemental_references_are_recovered_from_synthetic_formation_energies():
    rng = np.random.default_rng(1)
    mu = {"Li": -1.9, "O": -4.9, "Fe": -8.3, "Si": -5.4}
    comps = [Composition({el: int(rng.integers(0, 4)) for el in mu}) for _ in range(60)]
    comps = [c for c in comps if c.num_atoms > 0]
    e_form = rng.normal(-1.0, 0.5, len(comps))
    energies = [f + sum(x * mu[el] for el, x in c.fractional_composition.get_el_amt_dict().items())
                for f, c in zip(e_form, comps)]
    fitted = fit_elemental_references(energies + [np.nan], comps + [Composition("LiO")], list(e_form) + [0.0])
    assert fitted == pytest.approx(mu, abs=1e-9) and fitted.residual_mae < 1e-9 and fitted.skipped == 1
    np.testing.assert_allclose(formation_energy(energies, comps, fitted), e_form, atol=1e-9)
    assert np.isnan(formation_energy([-5.0], ["NaCl"], fitted)[0])


def test_a_judge_does_not_relax_a_crystal_twice(simple, monkeypatch):
    from matlib.oracle import batched, judges
    from matlib.oracle.judges import formation_energy_judge
    calls = []
    real_relax = judges.relax

    def counting_relax(structures, **kwargs):
        calls.append(len(structures))
        return real_relax(structures, **kwargs)

    monkeypatch.setattr(judges, "relax", counting_relax)
    monkeypatch.setattr(judges, "_MEMO", type(judges._MEMO)())
    judge = formation_energy_judge(references={"Na": -1.3, "Cl": -1.8, "K": -1.1, "Si": -5.4}, steps=5)
    nacl, kcl, si = simple["NaCl"], simple["KCl"], simple["Si"]
    first = judge([nacl, kcl])
    again = formation_energy_judge(references={"Na": -1.3, "Cl": -1.8, "K": -1.1, "Si": -5.4}, steps=5)([si, kcl, nacl])
    assert calls == [2, 1]                      # the second judge relaxed only Si
    np.testing.assert_array_equal(again[1:], first[::-1])
    formation_energy_judge(references={"Na": -1.3, "Cl": -1.8, "K": -1.1, "Si": -5.4}, steps=6)([nacl])
    assert calls == [2, 1, 1]                   # other settings, another relaxation
    assert batched.relax is real_relax
