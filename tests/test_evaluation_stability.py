"""CHGNet stability proxy on a few small real structures (few steps, CPU)."""
import numpy as np
import pandas as pd
import pytest
import torch
from pymatgen.core import Lattice, Structure

from matlib.datasets import load_split
from matlib.evaluation import stability as S


@pytest.fixture(scope="module")
def small():
    perov = load_split("perov_5", "test", limit=2, progress_bar=False).structures
    nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [.5, .5, .5]])
    return perov + [nacl.get_primitive_structure()]


def test_relaxation_measures_energy_drop_displacement_and_sanity(small):
    threads_before = torch.get_num_threads()
    frame = S.relax_structures(small, steps=15, fmax=0.05, progress_bar=False)
    assert torch.get_num_threads() == threads_before          # the temporary thread setting is undone
    assert len(frame) == 3 and frame["index"].tolist() == [0, 1, 2]
    assert (frame["error"] == "").all()
    assert np.isfinite(frame[["e_initial", "e_relaxed", "rmsd", "volume_ratio"]].to_numpy()).all()
    assert (frame["e_relaxed"] <= frame["e_initial"] + 1e-3).all()   # FIRE does not climb much
    assert (frame["rmsd"] < 1.0).all() and frame["ok"].all()
    # the initial energy is CHGNet's prediction for the unrelaxed structure
    model = S.chgnet_model()
    direct = [float(model.predict_structure(s, task="e")["e"]) for s in small]
    np.testing.assert_allclose(frame["e_initial"], direct, atol=1e-4)
    np.testing.assert_allclose(S.chgnet_energy_judge()(small), direct, atol=1e-4)
    summary = S.stability_summary(frame)
    assert summary["chgnet_ok"] == (1.0, 3)
    assert summary["chgnet_e_drop"][0] == pytest.approx((frame["e_initial"] - frame["e_relaxed"]).mean())


def test_max_structures_picks_a_seeded_subset(small):
    frame = S.relax_structures(small, steps=1, max_structures=2, seed=3, progress_bar=False)
    assert len(frame) == 2
    again = S.relax_structures(small, steps=1, max_structures=2, seed=3, progress_bar=False, keep_final=True)
    assert frame["index"].tolist() == again["index"].tolist() and "final" not in frame
    for index, final in zip(again["index"], again["final"]):   # the relaxed structure, same atoms in the same order
        assert isinstance(final, Structure) and final.species == small[index].species


def test_site_rmsd_ignores_rigid_shifts_and_counts_real_moves():
    a = Structure(Lattice.cubic(5.0), ["Na", "Cl"], [[0, 0, 0], [.5, .5, .5]])
    shifted = Structure(a.lattice, a.species, a.frac_coords + 0.37)        # rigid shift, across the boundary
    assert S.site_rmsd(a, shifted) == pytest.approx(0.0, abs=1e-12)
    moved = Structure(a.lattice, a.species, [[0, 0, 0], [0.5 + 0.2 / 5.0, .5, .5]])
    # 0.2 A on one atom, net shift removed: each atom moves 0.1 A -> RMS 0.1 A
    assert S.site_rmsd(a, moved) == pytest.approx(0.1)


def test_summary_counts_exploded_relaxations_as_not_ok():
    frame = pd.DataFrame({"ok": [True, False], "converged": [True, False], "e_initial": [-1.0, -1.0],
                          "e_relaxed": [-2.0, np.nan], "e_drop": [1.0, np.nan], "rmsd": [0.1, 50.0],
                          "match_rms": [0.05, np.nan]})
    summary = S.stability_summary(frame)
    assert summary["chgnet_ok"] == (0.5, 2)
    assert summary["chgnet_rmsd"] == (0.1, 1)     # means only over relaxations that did not explode


def test_batched_rows_match_one_at_a_time_relaxation(small):
    """The GPU path (all structures in one batched FIRE) reports what relax_one reports, same columns."""
    from matlib.evaluation.stability_batched import relax_batched
    one = pd.DataFrame([S.relax_one(s, steps=200, fmax=0.05, keep_final=True) for s in small])
    batched = pd.DataFrame(relax_batched(small, steps=200, fmax=0.05, volume_factor=2.0, device=None,
                                         progress_bar=False, keep_final=True))
    assert list(batched.columns) == list(one.columns)
    assert batched["ok"].all() and (batched["error"] == "").all() and batched["converged"].all()
    np.testing.assert_allclose(batched["e_initial"], one["e_initial"], atol=1e-4)   # the same unrelaxed input
    np.testing.assert_allclose(batched["e_relaxed"], one["e_relaxed"], atol=5e-3)   # two FIRE variants, one minimum
    np.testing.assert_allclose(batched["rmsd"], one["rmsd"], atol=0.05)
    assert (batched["e_drop"] >= -1e-3).all()


def test_batched_rows_count_a_broken_structure_as_not_ok(small):
    from matlib.evaluation.stability_batched import relax_batched
    broken = Structure(Lattice.cubic(3.0), ["Na", "Cl"], [[0, 0, 0], [0, 0, 0.01]])   # atoms on top of each other
    rows = relax_batched([small[-1], broken], steps=5, fmax=0.05, volume_factor=2.0, device=None,
                         progress_bar=False)
    assert rows[0]["ok"] and not rows[1]["ok"] and rows[1]["error"]
