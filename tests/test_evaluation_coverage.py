"""COV-R / COV-P / AMSD / AMCD on hand-built fingerprints, against the written definitions."""
import numpy as np
import pytest
from scipy.spatial.distance import cdist

from matlib.evaluation.cdvae_constants import COMP_SCALER_MEANS, COMP_SCALER_STDS
from matlib.evaluation.coverage import cov_cutoffs, coverage
from matlib.evaluation.fingerprints import Fingerprints


def raw_comp(scaled):
    """The raw Magpie vector whose CDVAE-scaled value is ``scaled``."""
    return COMP_SCALER_MEANS + COMP_SCALER_STDS * np.asarray(scaled, dtype=float)


def fp(struct_value, comp_value):
    s = np.zeros(61)
    s[0] = struct_value
    c = np.zeros(132)
    c[0] = comp_value
    return s, raw_comp(c)


def fingerprints(pairs):
    struct = [None if p is None else p[0] for p in pairs]
    comp = [None if p is None else p[1] for p in pairs]
    return Fingerprints(struct, comp, [""] * len(pairs))


def test_recall_minima_are_independent_and_precision_counts_all_generated():
    ref = fingerprints([fp(0.0, 0.0), fp(10.0, 100.0)])
    gen = fingerprints([
        fp(0.05, 50.0),   # near ref 0 in structure only
        fp(5.0, 1.0),     # near ref 0 in composition only
        None,             # fingerprint failed: still in COV-P's denominator
    ])
    res = coverage(gen, ref, struct_cutoff=0.2, comp_cutoff=4.0)
    # ref 0: nearest structure 0.05 (gen 0), nearest composition 1.0 (gen 1) -> covered (CDVAE quirk)
    # ref 1: nearest structure 5.0, composition 50 -> not covered
    assert res.metrics["cov_r"] == pytest.approx(0.5)
    # no single generated crystal is close in both -> 0 / 3
    assert res.metrics["cov_p"] == 0.0
    assert res.n_generated == 3 and res.n_generated_fp == 2
    assert np.isnan(res.struct_precision_dist[2])
    np.testing.assert_allclose(res.struct_recall_dist, [0.05, 5.0])
    np.testing.assert_allclose(res.comp_recall_dist, [1.0, 50.0])


def test_cov_p_denominator_includes_failed_fingerprints_and_cutoffs_are_inclusive():
    ref = fingerprints([fp(0.0, 0.0)])
    gen = fingerprints([fp(0.2, 4.0), fp(0.0, 0.0), None, None])
    res = coverage(gen, ref, struct_cutoff=0.2, comp_cutoff=4.0)
    assert res.metrics["cov_p"] == pytest.approx(2 / 4)    # <= on both, over all 4
    assert res.metrics["cov_r"] == 1.0
    assert res.covered.tolist() == [True, True, False, False]
    res = coverage(gen, ref, struct_cutoff=0.2, comp_cutoff=4.0, n_generated=10)
    assert res.metrics["cov_p"] == pytest.approx(2 / 10)


def test_averages_equal_direct_scipy_distances_with_blocks():
    rng = np.random.default_rng(0)
    gen_s, gen_c = rng.random((37, 61)), rng.normal(size=(37, 132))
    ref_s, ref_c = rng.random((11, 61)), rng.normal(size=(11, 132))
    gen = Fingerprints(list(gen_s), [raw_comp(c) for c in gen_c], [""] * 37)
    ref = Fingerprints(list(ref_s), [raw_comp(c) for c in ref_c], [""] * 11)
    scaled = lambda rows: (np.array([raw_comp(c) for c in rows]) - COMP_SCALER_MEANS) / COMP_SCALER_STDS
    ds, dc = cdist(gen_s, ref_s), cdist(scaled(gen_c), scaled(ref_c))
    s_cut, c_cut = np.median(ds.min(1)), np.median(dc.min(1))   # thresholds that split the set
    res = coverage(gen, ref, struct_cutoff=s_cut, comp_cutoff=c_cut, block=5)
    assert res.metrics["amsd_r"] == pytest.approx(ds.min(0).mean())
    assert res.metrics["amsd_p"] == pytest.approx(ds.min(1).mean())
    assert res.metrics["amcd_r"] == pytest.approx(dc.min(0).mean())
    assert res.metrics["amcd_p"] == pytest.approx(dc.min(1).mean())
    recall = np.mean((ds.min(0) <= s_cut) & (dc.min(0) <= c_cut))
    precision = np.sum((ds.min(1) <= s_cut) & (dc.min(1) <= c_cut)) / 37
    assert res.metrics["cov_r"] == pytest.approx(recall)
    assert res.metrics["cov_p"] == pytest.approx(precision)
    assert 0 < precision < 1  # the thresholds actually discriminate here


def test_blocks_on_threads_give_the_serial_distances_exactly():
    rng = np.random.default_rng(1)
    gen = Fingerprints(list(rng.random((53, 61))), [raw_comp(c) for c in rng.normal(size=(53, 132))], [""] * 53)
    ref = Fingerprints(list(rng.random((19, 61))), [raw_comp(c) for c in rng.normal(size=(19, 132))], [""] * 19)
    serial = coverage(gen, ref, struct_cutoff=1.0, comp_cutoff=10.0, block=53, threads=1)
    threaded = coverage(gen, ref, struct_cutoff=1.0, comp_cutoff=10.0, block=4, threads=3)
    for name in ("struct_precision_dist", "comp_precision_dist", "struct_recall_dist", "comp_recall_dist"):
        np.testing.assert_array_equal(getattr(threaded, name), getattr(serial, name))
    assert threaded.metrics == serial.metrics


def test_nan_raw_magpie_becomes_zero_after_scaling():
    ref = fingerprints([fp(0.0, 0.0)])
    s, c = fp(0.0, 0.0)
    c = c.copy()
    c[5] = np.nan   # scaled to 0, i.e. exactly the reference value
    res = coverage(Fingerprints([s], [c], [""]), ref, struct_cutoff=0.2, comp_cutoff=1e-9)
    assert res.metrics["cov_p"] == 1.0


def test_no_generated_fingerprints_means_nothing_covered_and_no_averages():
    ref = fingerprints([fp(0.0, 0.0)])
    res = coverage(fingerprints([None, None]), ref, struct_cutoff=0.2, comp_cutoff=4.0)
    assert res.metrics == {"cov_r": 0.0, "cov_p": 0.0}


@pytest.mark.parametrize("dataset, expected", [
    ("perov_5", (0.2, 4.0)), ("carbon_24", (0.2, 4.0)), ("mp_20", (0.4, 10.0)),
    ("perovskite", (0.2, 4.0)), ("carbon", (0.2, 4.0)), ("mp20", (0.4, 10.0)),
])
def test_thresholds_per_dataset(dataset, expected):
    assert cov_cutoffs(dataset) == expected
