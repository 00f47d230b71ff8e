import numpy as np
import pytest
import torch

from matlib.matgan import composition_matrix as cm
from matlib.datasets import load_table


def test_the_85_elements():
    assert len(cm.ELEMENTS) == 85 and cm.SHAPE == (85, 8)
    assert cm.ELEMENTS[0] == "H" and cm.ELEMENTS[-1] == "Pu"
    assert not {"He", "Ne", "Ar", "Kr", "Rn", "Po", "At", "Fr", "Ra"} & set(cm.ELEMENTS)


def test_encode_marks_one_count_per_element():
    m = cm.encode("Ba2Ti2O6")  # reduced to BaTiO3
    assert m.sum() == 3
    assert m[cm.ROW["Ba"], 0] == m[cm.ROW["Ti"], 0] == m[cm.ROW["O"], 2] == 1


def test_round_trip_on_real_formulas(data_root):
    formulas = load_table("mp_20", "test", limit=300)["pretty_formula"]
    matrices, kept, skipped = cm.encode_many(formulas)
    assert len(kept) + len(skipped) == 300 and len(kept) > 250
    from pymatgen.core import Composition
    decoded = cm.decode(matrices, min_elements=1)
    assert [Composition(d).reduced_formula for d in decoded] == [Composition(f).reduced_formula for f in kept]


def test_what_cannot_be_represented():
    with pytest.raises(cm.NotRepresentable, match="12 atoms of Al"):
        cm.encode("Zr3NbAl12")
    with pytest.raises(cm.NotRepresentable, match="He"):
        cm.encode("HeO")
    _, kept, skipped = cm.encode_many(["NaCl", "Tl9BiSe6", "not a formula"])
    assert kept == ["NaCl"] and len(skipped) == 2


def test_decode_threshold_and_element_limits():
    m = cm.encode("NaCl") * 0.5
    assert cm.decode(m[None], threshold=0.2) == ["NaCl"]
    assert cm.decode(m[None], threshold=0.6) == [None]              # nothing above threshold
    assert cm.decode(cm.encode("NaCl")[None] * np.eye(85, 8)[None] * 0) == [None]
    single = np.zeros(cm.SHAPE, np.float32)
    single[cm.ROW["Fe"], 0] = 1
    assert cm.decode(single[None]) == [None]                       # one element: not kept (MatGAN: 2..8)


def test_counts_canonical_and_unique():
    fe2o2 = np.zeros(cm.SHAPE, np.float32)
    fe2o2[cm.ROW["Fe"], 1] = fe2o2[cm.ROW["O"], 1] = 1            # Fe2O2
    batch = np.stack([fe2o2, cm.encode("FeO"), cm.encode("Fe2O3"), np.zeros(cm.SHAPE, np.float32)])
    counts = cm.to_counts(torch.tensor(batch))
    canon, keep = cm.canonical_counts(counts)
    assert keep.tolist() == [0, 1, 2]                               # the empty row has < 2 elements
    rows, multiplicity = cm.unique_rows(canon)
    assert sorted(cm.row_formula(r) for r in rows) == ["Fe2O3", "FeO"]
    assert sorted(multiplicity.tolist()) == [1, 2]
    known = cm.counts_of(["FeO", "Fe2O3", "Zr3NbAl12"])
    assert len(known) == 2 and {cm.row_key(r) for r in known} == {cm.row_key(r) for r in rows}
