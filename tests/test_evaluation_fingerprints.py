"""CrystalNN / Magpie fingerprints: agreement with matminer, failures counted, executors."""
import os
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest
from matminer.featurizers.composition.composite import ElementProperty
from matminer.featurizers.site.fingerprint import CrystalNNFingerprint
from pymatgen.core import Composition, Lattice, Structure

from matlib.datasets import load_split
from matlib.evaluation import fingerprints as F
from matlib.evaluation.cdvae_constants import COMP_SCALER_MEANS, COMP_SCALER_STDS
from matlib import parallel
from matlib.parallel import parallel_map

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # matminer's own chatter in the direct calls


@pytest.fixture(scope="module")
def sample():
    perov = load_split("perov_5", "test", limit=4, progress_bar=False).structures
    mp = load_split("mp_20", "test", limit=3, progress_bar=False).structures
    return perov + mp


def test_fingerprints_agree_with_direct_matminer_calls(sample):
    cnn = CrystalNNFingerprint.from_preset("ops")
    magpie = ElementProperty.from_preset("magpie", impute_nan=False)
    fps = F.compute_fingerprints(sample, progress_bar=False)
    for s, struct_fp, comp_fp in zip(sample, fps.struct, fps.comp):
        direct = np.mean([cnn.featurize(s, i) for i in range(len(s))], axis=0)
        np.testing.assert_allclose(struct_fp, direct, rtol=0, atol=1e-12)
        np.testing.assert_allclose(comp_fp, magpie.featurize(s.composition), rtol=0, atol=1e-9)
    assert fps.struct_failed == 0 and fps.comp_failed == 0
    assert fps.struct[0].shape == (61,) and fps.comp[0].shape == (132,)


def test_magpie_scaling_is_cdvae_standardisation_with_nan_as_zero():
    raw = F.composition_fingerprint(Composition("NaHe"))   # He lacks some Magpie data: NaN
    assert np.isnan(raw).any()
    scaled = F.scale_magpie(raw[None, :])[0]
    expected = (raw - COMP_SCALER_MEANS) / COMP_SCALER_STDS
    np.testing.assert_allclose(scaled[~np.isnan(raw)], expected[~np.isnan(raw)])
    assert (scaled[np.isnan(raw)] == 0).all()


def test_cdvae_constants_look_like_a_standardisation_of_real_data():
    # the mean of 'range' must equal mean(max) - mean(min): catches a mistyped constant
    means = COMP_SCALER_MEANS.reshape(22, 6)
    np.testing.assert_allclose(means[:, 2], means[:, 1] - means[:, 0], rtol=1e-9, atol=1e-9)
    assert (COMP_SCALER_STDS > 0).all() and len(COMP_SCALER_MEANS) == 132
    assert COMP_SCALER_MEANS[0] == pytest.approx(21.194441759304013)
    assert COMP_SCALER_STDS[-1] == pytest.approx(85.980205895116)


def test_failed_fingerprints_are_none_and_counted():
    garbage = [
        None,
        Structure(Lattice(np.full((3, 3), np.nan)), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
        Structure(Lattice.cubic(0.5), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]),   # 0.06 A^3/atom
        Structure(Lattice.cubic(4.0), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]),   # fine
    ]
    fps = F.compute_fingerprints(garbage, progress_bar=False)
    assert [fp is None for fp in fps.struct] == [True, True, True, False]
    assert fps.struct_failed == 3
    assert "dense" in fps.struct_reason[2]
    assert fps.ok().tolist() == [False, False, False, True]


def _same(a, b):
    for x, y in zip(a.struct + a.comp, b.struct + b.comp):
        assert (x is None) == (y is None)
        if x is not None:
            np.testing.assert_array_equal(x, y)


def test_executor_results_equal_serial_results(sample):
    serial = F.compute_fingerprints(sample, progress_bar=False)
    with ThreadPoolExecutor(2) as ex:
        _same(serial, F.compute_fingerprints(sample, executor=ex, chunksize=2, progress_bar=False))
    with ProcessPoolExecutor(2) as ex:
        _same(serial, F.compute_fingerprints(sample, executor=ex, progress_bar=False))


class _EagerExecutor:
    """Not a concurrent.futures pool and its futures are not cf.Future: the generic path."""

    class _Done:
        def __init__(self, value):
            self.value = value

        def result(self):
            return self.value

    def submit(self, fn, *args):
        return self._Done(fn(*args))


def test_parallel_map_keeps_order_with_any_executor():
    items = list(range(23))
    assert parallel_map(lambda x: x * x, items, executor=_EagerExecutor(), chunksize=4, progress_bar=False) == \
        [x * x for x in items]
    with ThreadPoolExecutor(3) as ex:
        assert parallel_map(str, items, executor=ex, chunksize=1, progress_bar=False) == [str(x) for x in items]


def test_usable_cpus_follow_the_affinity_set_and_a_container_quota(tmp_path, monkeypatch):
    assert parallel.usable_cpus() <= len(os.sched_getaffinity(0))
    quota = tmp_path / "cpu.max"
    quota.write_text("150000 100000\n")           # 1.5 CPUs: round up, a worker may use part of one
    assert parallel._cgroup_cpu_quota(str(quota)) == 2
    quota.write_text("max 100000\n")
    assert parallel._cgroup_cpu_quota(str(quota)) is None
    assert parallel._cgroup_cpu_quota(str(tmp_path / "absent")) is None
    monkeypatch.setattr(parallel, "_cgroup_cpu_quota", lambda: 1)
    assert parallel.usable_cpus() == 1
    monkeypatch.setattr(parallel.os, "sched_getaffinity", lambda pid: {0})
    monkeypatch.setattr(parallel, "_cgroup_cpu_quota", lambda: None)
    assert parallel.usable_cpus() == 1


def test_pool_workers_start_with_the_fingerprint_modules_already_imported():
    probe = "'matminer.featurizers.site.fingerprint' in __import__('sys').modules"
    with parallel.process_pool(1) as pool:
        assert pool.submit(eval, probe).result(timeout=120)   # inherited from the fork server, not imported
        assert pool.submit(eval, "__import__('os').getppid() != %d" % os.getpid()).result(timeout=60)   # not forked from us


def _threads_in_worker(_):
    import torch
    from threadpoolctl import threadpool_info
    return torch.get_num_threads(), {pool["num_threads"] for pool in threadpool_info()}


def test_pool_workers_run_one_blas_and_torch_thread_each():
    with parallel.process_pool(2) as pool:   # the workers share out the CPUs; their libraries must not
        for torch_threads, blas_threads in pool.map(_threads_in_worker, range(2)):
            assert torch_threads == 1 and blas_threads == {1}
