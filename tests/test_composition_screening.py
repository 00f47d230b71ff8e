from concurrent.futures import ThreadPoolExecutor

from matlib.matgan import composition_matrix as cm
from matlib.matgan.composition_screening import screen_rows


def test_screening_flags():
    rows = cm.counts_of(["NaCl", "NaCl2", "Fe2O3", "CuZn", "CsF"])
    table = screen_rows(rows)
    assert table["charge_neutral"].tolist() == [True, False, True, False, True]
    assert table["chemically_valid"].tolist() == [True, False, True, False, True]
    # an intermetallic fails MatGAN's screening but passes CDVAE's alloy rule
    assert table["cdvae_comp_valid"].tolist() == [True, False, True, True, True]
    with ThreadPoolExecutor(2) as pool:
        assert screen_rows(rows, executor=pool, chunksize=2).equals(table)
