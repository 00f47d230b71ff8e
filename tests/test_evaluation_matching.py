"""Reconstruction match rate / RMSE, uniqueness and novelty with CDVAE's StructureMatcher."""
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Lattice, Structure

from matlib.evaluation import matching as M


def rocksalt(a=5.64):
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def cscl_type(a=3.3):
    return Structure(Lattice.cubic(a), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def perovskite(a=3.9):
    return Structure(Lattice.cubic(a), ["Sr", "Ti", "O", "O", "O"],
                     [[0, 0, 0], [.5, .5, .5], [.5, .5, 0], [.5, 0, .5], [0, .5, .5]])


def perturbed(s, sigma=0.03, seed=0):
    rng = np.random.default_rng(seed)
    cart = s.cart_coords + rng.normal(0, sigma, (len(s), 3))
    return Structure(s.lattice, s.species, cart, coords_are_cartesian=True)


def test_settings_are_cdvae_and_are_stated():
    m = M.make_matcher()
    assert (m.stol, m.angle_tol, m.ltol) == (0.5, 10, 0.3)
    text = M.matcher_description()
    assert "stol=0.5" in text and "angle_tol=10" in text and "ltol=0.3" in text and "primitive_cell=True" in text


def test_perturbed_copy_matches_with_small_rmse_equal_to_pymatgen():
    true = [rocksalt(), perovskite()]
    pred = [perturbed(rocksalt()), perturbed(perovskite(), seed=1)]
    res = M.reconstruction(pred, true, progress_bar=False)
    assert res.match_rate == 1.0 and res.n_matched == 2
    direct = [StructureMatcher(stol=0.5, angle_tol=10, ltol=0.3).get_rms_dist(p, t)[0] for p, t in zip(pred, true)]
    np.testing.assert_allclose(res.rms, direct)
    assert res.rmse == pytest.approx(np.mean(direct))
    assert 0 < res.rmse < 0.05


def test_different_prototype_does_not_match():
    res = M.reconstruction([cscl_type()], [rocksalt()], progress_bar=False)
    assert res.match_rate == 0.0 and res.rmse is None and np.isnan(res.rms[0])


def test_invalid_prediction_counts_as_non_match():
    res = M.reconstruction([rocksalt(), rocksalt()], [rocksalt(), rocksalt()], valid=[True, False], progress_bar=False)
    assert res.match_rate == 0.5
    overlapping = Structure(Lattice.cubic(4), ["Na", "Cl"], [[0, 0, 0], [0.01, 0, 0]])
    res = M.reconstruction([overlapping, None], [rocksalt(), rocksalt()], progress_bar=False)
    assert res.match_rate == 0.0


def test_uniqueness_keeps_the_first_of_each_kind():
    structures = [rocksalt(), perturbed(rocksalt()), cscl_type(), perovskite(),
                  rocksalt().make_supercell([2, 1, 1], in_place=False),   # same crystal, bigger cell
                  perturbed(cscl_type(), seed=3)]
    flags = M.unique_flags(structures, progress_bar=False)
    assert flags.tolist() == [True, False, True, True, False, False]
    # the direct pairwise statement of the same thing
    sm = StructureMatcher(stol=0.5, angle_tol=10, ltol=0.3)
    direct = [not any(sm.fit(structures[j], structures[i]) for j in range(i) if flags[j]) for i in range(len(structures))]
    assert flags.tolist() == direct
    assert M.formula_unique_flags(structures).tolist() == [True, False, False, True, False, False]


def test_novelty_against_training_structures():
    train = [rocksalt(), perovskite(4.1)]
    generated = [perturbed(rocksalt()), cscl_type(), perovskite(3.9)]   # scale=True: lattice size is ignored
    assert M.novel_flags(generated, train, progress_bar=False).tolist() == [False, True, False]
    assert M.formula_novel_flags(generated, train).tolist() == [False, False, False]
    assert M.formula_novel_flags([Structure(Lattice.cubic(4), ["K", "Br"], [[0, 0, 0], [.5, .5, .5]])], train).tolist() == [True]


def test_novelty_splits_one_big_formula_group_into_chunks_with_the_same_answer():
    train = [rocksalt(), perovskite(4.1)]
    generated = [perturbed(rocksalt(), seed=s) for s in range(5)] + [cscl_type(), perturbed(cscl_type(), seed=1)]
    whole = M.novel_flags(generated, train, progress_bar=False)
    with ThreadPoolExecutor(2) as ex:
        chunked = M.novel_flags(generated, train, executor=ex, progress_bar=False, chunk=2)
    assert chunked.tolist() == whole.tolist() == [False] * 5 + [True, True]


def test_executor_gives_the_same_flags():
    structures = [rocksalt(), perturbed(rocksalt()), cscl_type(), perovskite(), perturbed(perovskite(), seed=2)]
    serial = M.unique_flags(structures, progress_bar=False)
    with ThreadPoolExecutor(2) as ex:
        assert M.unique_flags(structures, executor=ex, progress_bar=False).tolist() == serial.tolist()
        rec = M.reconstruction(structures, structures[::-1], executor=ex, progress_bar=False)
    assert rec.n == 5
    np.testing.assert_array_equal(np.isfinite(rec.rms), np.isfinite(M.reconstruction(structures, structures[::-1], progress_bar=False).rms))


def diamond(a=3.57):
    return Structure.from_spacegroup("Fd-3m", Lattice.cubic(a), ["C"], [[0, 0, 0]])


def graphite(a=2.46, c=6.7):
    return Structure(Lattice.hexagonal(a, c), ["C"] * 4,
                     [[0, 0, .25], [0, 0, .75], [1 / 3, 2 / 3, .25], [2 / 3, 1 / 3, .75]])


def test_one_formula_splits_by_primitive_cell_size_with_the_pairwise_answer():
    # Carbon-24 is one formula: without a second key every sample lands in one group on one worker
    structures = [diamond(), graphite(), diamond().make_supercell([1, 1, 2], in_place=False),
                  perturbed(graphite(), seed=4), perturbed(diamond(), seed=5)]
    reduced, groups = M._reduced_groups(structures, M.MATCHER_SETTINGS, None, False, "test")
    assert sorted(groups.values()) == [[0, 2, 4], [1, 3]]   # diamond's 2-atom cell, graphite's 4-atom cell
    assert [len(r) for r in reduced] == [2, 4, 2, 4, 2]
    flags = M.unique_flags(structures, progress_bar=False)
    assert flags.tolist() == [True, True, False, False, False]
    sm = StructureMatcher(stol=0.5, angle_tol=10, ltol=0.3)
    direct = [not any(sm.fit(structures[j], structures[i]) for j in range(i) if flags[j]) for i in range(len(structures))]
    assert flags.tolist() == direct
    # a bigger diamond cell is still not novel against diamond; graphite is novel against diamond alone
    assert M.novel_flags([structures[2], graphite()], [diamond()], progress_bar=False).tolist() == [False, True]
