"""CrystalNN's motif order parameters in NumPy against pymatgen's loops, motif by motif, and the
site fingerprint built from them against matminer's featurize."""
import warnings

import numpy as np
import pytest
from matminer.featurizers.site.fingerprint import CrystalNNFingerprint
from pymatgen.core import Lattice, Structure

from matlib.datasets import load_split
from matlib.evaluation.crystalnn import crystalnn_neighbours, site_fingerprint
from matlib.evaluation.fingerprints import structure_fingerprint
from matlib.evaluation.order_parameters import FAST_MOTIFS, Geometry, order_parameter, steinhardt

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")   # CrystalNN's radius warnings


@pytest.fixture(scope="module")
def featurizer():
    return CrystalNNFingerprint.from_preset("ops")


@pytest.fixture(scope="module")
def crystals(data_root):
    mp = load_split("mp_20", "test", limit=25, progress_bar=False).structures
    perov = load_split("perov_5", "test", limit=5, progress_bar=False).structures
    rng = np.random.default_rng(0)
    rattled = [s.copy() for s in mp[:8]]
    for s in rattled:                                   # off the symmetric geometries, every motif partial
        s.perturb(0.3, min_distance=0.05, seed=int(rng.integers(1 << 30)))
    fcc = Structure(Lattice.cubic(3.6), ["Cu"] * 4, [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    bcc = Structure(Lattice.cubic(2.87), ["Fe", "Fe"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    rocksalt = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    return mp + perov + rattled + [fcc, bcc, rocksalt]


def _pymatgen(op, centre, sites):
    return op.get_order_parameters([centre, *sites], 0, indices_neighs=list(range(1, len(sites) + 1)))[0]


def test_every_fast_motif_matches_pymatgen_on_real_and_rattled_crystals(featurizer, crystals):
    seen = set()
    for structure in crystals:
        for index in range(len(structure)):
            data = featurizer.cnn.get_nn_data(structure, index)
            for cn, weight in data.cn_weights.items():
                if weight == 0 or cn not in featurizer.ops:
                    continue
                sites = [info["site"] for info in data.cn_nninfo[cn]]
                geometry = Geometry(np.array([s.coords for s in sites]) - structure[index].coords)
                for op in featurizer.ops[cn]:
                    if op == "wt" or op._types[0] not in FAST_MOTIFS:
                        continue
                    expected = _pymatgen(op, structure[index], sites)
                    got = order_parameter(op._types[0], op._params[0], geometry)
                    assert (got is None) == (expected is None), op._types[0]
                    if expected is not None:
                        assert got == pytest.approx(expected, abs=1e-10), (op._types[0], cn)
                    seen.add(op._types[0])
    assert seen == FAST_MOTIFS                      # every NumPy motif was exercised


@pytest.mark.parametrize("vectors", [
    [[1, 0, 0], [-1, 0, 0]],                                            # collinear: no azimuth at all
    [[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]],   # perfect octahedron
    [[1, 0, 0], [0, 1, 0], [0, 0, 1]],                                  # three neighbours: bcc is None
    [[1, 1, 1], [-1, -1, 1], [-1, 1, -1], [1, -1, -1], [-1, -1, -1], [1, 1, -1], [1, -1, 1], [-1, 1, 1]],
    [[0, 1, 1], [0, -1, 1], [0, 1, -1], [0, -1, -1], [1, 0, 1], [-1, 0, 1],
     [1, 0, -1], [-1, 0, -1], [1, 1, 0], [-1, 1, 0], [1, -1, 0], [-1, -1, 0]],   # cuboctahedron
])
def test_ideal_and_degenerate_shapes_match_pymatgen(featurizer, vectors):
    from pymatgen.core.sites import Site
    vectors = np.asarray(vectors, dtype=float) * 2.1
    centre, sites = Site("Fe", [0.0, 0.0, 0.0]), [Site("O", v) for v in vectors]
    for cn in sorted({2, 3, 4, 5, 6, 7, 8, 12}):
        for op in featurizer.ops[cn]:
            if op == "wt" or op._types[0] not in FAST_MOTIFS:
                continue
            expected = _pymatgen(op, centre, sites)
            got = order_parameter(op._types[0], op._params[0], Geometry(vectors))
            assert (got is None) == (expected is None)
            if expected is not None:
                assert got == pytest.approx(expected, abs=1e-10), op._types[0]


def test_ideal_motifs_score_one(featurizer):
    octahedron = 2.0 * np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], float)
    oct_op = next(op for op in featurizer.ops[6] if op != "wt" and op._types[0] == "oct_max")
    assert order_parameter("oct_max", oct_op._params[0], Geometry(octahedron)) == pytest.approx(1.0)


def test_neighbours_and_their_weights_are_crystalnns(featurizer, crystals):
    for structure in crystals:
        for index in range(len(structure)):
            expected = featurizer.cnn.get_nn_data(structure, index)
            weights, coords = crystalnn_neighbours(featurizer.cnn, structure, index)
            assert weights.keys() == expected.cn_weights.keys()
            for cn, weight in expected.cn_weights.items():
                assert weights[cn] == weight
                theirs = np.array([info["site"].coords for info in expected.cn_nninfo[cn]]).reshape(-1, 3)
                assert coords[cn].shape == theirs.shape
                # the same neighbours in the same order, bit for bit: ties in weight are ordered by the
                # weights' last bits, and the bcc motif sums over ordered pairs
                np.testing.assert_array_equal(coords[cn], theirs)


def test_site_fingerprint_equals_matminer_featurize(featurizer, crystals):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for structure in crystals[::3]:
            for index in range(len(structure)):
                ours = site_fingerprint(featurizer, structure, index)
                np.testing.assert_allclose(ours, featurizer.featurize(structure, index), rtol=0, atol=1e-10)


def test_engines_agree_and_unknown_ones_are_refused(crystals):
    structure = crystals[-1]
    np.testing.assert_allclose(structure_fingerprint(structure), structure_fingerprint(structure, engine="matminer"),
                               rtol=0, atol=1e-10)
    with pytest.raises(ValueError, match="engine"):
        structure_fingerprint(structure, engine="fortran")
    with pytest.raises(ValueError, match="no NumPy version"):
        order_parameter("sq_pyr_legacy", {}, Geometry(np.eye(3)))


@pytest.mark.parametrize("shell, q4, q6", [
    # Steinhardt's q4, q6 of the first shells of simple, body-centred and face-centred cubic
    # (Steinhardt, Nelson and Ronchetti, PRB 28, 784 (1983), Table I: 0.764/0.354, 0.509/0.629, 0.191/0.575)
    (np.vstack([np.eye(3), -np.eye(3)]), 0.76376, 0.35355),
    (np.array([[i, j, k] for i in (-1, 1) for j in (-1, 1) for k in (-1, 1)], float), 0.50918, 0.62854),
    (np.array([v for v in np.ndindex(3, 3, 3) if sum(abs(np.array(v) - 1)) == 2], float) - 1, 0.19094, 0.57452),
])
def test_steinhardt_q_of_cubic_shells(shell, q4, q6):
    unit = shell / np.linalg.norm(shell, axis=1)[:, None]
    assert steinhardt(4, unit) == pytest.approx(q4, abs=1e-5)
    assert steinhardt(6, unit) == pytest.approx(q6, abs=1e-5)
    rotated = unit @ np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))[0]   # q_l ignores orientation
    assert steinhardt(6, rotated) == pytest.approx(steinhardt(6, unit), abs=1e-12)
