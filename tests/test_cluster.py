"""The evaluation and SCIGEN's screening give the same numbers on a Dask LocalCluster as serially."""
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from matlib.cluster import dask_executor, executor_workers
from matlib.datasets import load_split
from matlib.evaluation import evaluate
from matlib.crystal import CrystalBatch
from matlib.scigen.at_scale import screen_at_scale
from matlib.scigen.screening import screening_table

pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def crystals():
    reference = load_split("perov_5", "test", limit=12, progress_bar=False).structures
    generated = load_split("perov_5", "val", limit=10, progress_bar=False).structures
    return generated, reference


def test_evaluation_and_screening_on_a_local_cluster_equal_the_serial_path(crystals):
    generated, reference = crystals
    serial = evaluate(generated, reference, dataset="perov_5", train=reference[:6], progress_bar=False)
    screened = screening_table(generated, progress_bar=False)
    with dask_executor(n_workers=2) as executor:
        assert executor_workers(executor) == 2
        distributed = evaluate(generated, reference, dataset="perov_5", train=reference[:6], executor=executor,
                               progress_bar=False)
        screened_there = screening_table(generated, executor=executor, progress_bar=False)
        batch = CrystalBatch.from_structures(generated)
        at_scale = screen_at_scale(lambda index, n: batch.select(list(range(index * 4, index * 4 + n))), len(batch),
                                   chunk=4, piece=3, executor=executor, progress_bar=False)
    assert distributed.table["metric"].tolist() == serial.table["metric"].tolist()
    np.testing.assert_allclose(distributed.table["value"], serial.table["value"], atol=1e-12, equal_nan=True)
    assert distributed.table.set_index("metric").loc["cov_r", "value"] > 0        # a real comparison, not empty
    assert screened_there.equals(screened)
    for flag in ("smact_valid", "occupation_ok", "struct_valid", "passes_screen"):   # the million-crystal route
        assert at_scale.flags[flag].tolist() == screened[flag].tolist()


def test_executor_workers_reads_pools_and_says_none_for_the_unknown():
    with ThreadPoolExecutor(3) as pool:
        assert executor_workers(pool) == 3
    assert executor_workers(object()) is None
