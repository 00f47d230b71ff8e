"""The at-scale screen gives every crystal the flags `screening_table` gives it, in generation order,
whatever the chunks, pieces and executor; broken crystals are counted as failures, not lost."""
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

from matlib.crystal import CrystalBatch
from matlib.datasets import load_split
from matlib.scigen.at_scale import FLAGS, CrystalArrays, screen_at_scale
from matlib.scigen.screening import screening_table


@pytest.fixture(scope="module")
def crystals():
    structures = load_split("mp_20", "test", limit=23, progress_bar=False).structures
    return CrystalBatch.from_structures(structures)


def chunks_of(batch):
    def generate(index, n):
        chunk = batch.select(torch.arange(index * 5, index * 5 + n))
        if index == 1:     # one broken crystal: a cell that is not finite
            chunk.lattice[0] = float("nan")
        return chunk
    return generate


def test_flags_equal_the_screening_table_in_generation_order(crystals):
    # the serial path on pymatgen's own conversion; crystal 5 (broken below) has no structure
    expected = screening_table([None if i == 5 else s for i, s in enumerate(crystals.to_structures())],
                               progress_bar=False)
    with ThreadPoolExecutor(2) as pool:
        screen = screen_at_scale(chunks_of(crystals), len(crystals), chunk=5, piece=2, executor=pool,
                                 max_pending_chunks=1, progress_bar=False)
    assert screen.crystals == len(crystals)
    for flag in FLAGS:
        assert screen.flags[flag].tolist() == expected[flag].tolist(), flag
    assert not screen.flags.loc[5, "passes_screen"]            # the broken crystal: counted, failed
    assert 0 < screen.flags["passes_screen"].sum() < len(crystals)
    assert screen.flags["num_atoms"].tolist() == crystals.num_atoms.tolist()
    counts = dict(screen.funnel_counts())
    assert counts["generated"] == len(crystals) >= counts["+ SMACT valid"] >= counts["+ structure valid"]
    speed = screen.throughput()
    assert speed["crystals_per_second_per_worker"] > 0 and speed["worker_seconds"] > 0
    assert speed["workers"] == 2                                 # read from the pool itself
    assert len(screen.first_chunk) == 5


def test_arrays_round_trip_and_split_into_pieces(crystals):
    arrays = CrystalArrays.from_batch(crystals)
    pieces = arrays.pieces(4)
    assert [len(p) for p in pieces] == [4, 4, 4, 4, 4, 3]
    assert sum(len(p.numbers) for p in pieces) == len(arrays.numbers)
    structures = arrays.to_structures()
    for mine, theirs in zip(structures, crystals.to_structures()):
        assert mine.composition == theirs.composition
        np.testing.assert_allclose(mine.lattice.matrix, theirs.lattice.matrix, atol=1e-5)


def test_bad_sizes_are_clear_errors(crystals):
    with ThreadPoolExecutor(1) as pool, pytest.raises(ValueError, match="positive"):
        screen_at_scale(chunks_of(crystals), 10, chunk=0, executor=pool)
