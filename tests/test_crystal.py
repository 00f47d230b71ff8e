import numpy as np
import pytest
import torch
from pymatgen.core import Lattice, Structure

from matlib.crystal import CrystalBatch, CrystalError, lattice_from_params, length_per_atom, params_from_lattice
from matlib.datasets import load_table, parse_cif


@pytest.fixture(scope="module")
def real_structures(data_root):
    rows = []
    for name in ("perov_5", "carbon_24", "mp_20"):
        rows += [parse_cif(c) for c in load_table(name, "test", limit=15)["cif"]]
    return rows


def assert_same(a: Structure, b: Structure, atol: float):
    assert [s.specie for s in a] == [s.specie for s in b]
    np.testing.assert_allclose(a.lattice.matrix, b.lattice.matrix, atol=atol)
    np.testing.assert_allclose(a.cart_coords, b.cart_coords, atol=atol)


def test_round_trip_float64_is_exact(real_structures):
    batch = CrystalBatch.from_structures(real_structures, dtype=torch.float64)
    back = batch.to_structures()
    assert len(back) == len(real_structures)
    for a, b in zip(real_structures, back):
        wrapped = Structure(a.lattice, a.species, np.mod(a.frac_coords, 1.0))
        assert_same(wrapped, b, atol=1e-12)


def test_round_trip_float32_within_1e5_angstrom(real_structures):
    back = CrystalBatch.from_structures(real_structures).to_structures()
    for a, b in zip(real_structures, back):
        assert a.matches(b, scale=False)
        wrapped = Structure(a.lattice, a.species, np.mod(a.frac_coords, 1.0))
        assert_same(wrapped, b, atol=1e-5 * max(1.0, max(a.lattice.abc)))


def test_batching_crystals_of_different_sizes(real_structures):
    batch = CrystalBatch.from_structures(real_structures)
    sizes = [len(s) for s in real_structures]
    assert batch.num_atoms.tolist() == sizes
    assert batch.frac_coords.shape == (sum(sizes), 3)
    assert batch.batch_index.tolist() == [b for b, n in enumerate(sizes) for _ in range(n)]
    pick = [4, 0, 20]
    sub = batch.select(pick)
    for k, b in enumerate(pick):
        assert_same(sub.to_structures()[k], batch.to_structures()[b], atol=0)
    parts = batch.split(7)
    assert sum(len(p) for p in parts) == len(batch)
    joined = CrystalBatch.collate(parts)
    assert torch.equal(joined.frac_coords, batch.frac_coords)


def test_coordinates_wrap_into_the_unit_cell():
    s = Structure(Lattice.cubic(4.0), ["Na", "Cl"], [[1.25, -0.5, 0.0], [0.5, 0.5, 0.5]])
    batch = CrystalBatch.from_structures([s])
    assert torch.all((batch.frac_coords >= 0) & (batch.frac_coords < 1))
    assert s.matches(batch.to_structures()[0])


def test_lattice_params_match_pymatgen():
    rng = np.random.default_rng(3)
    lengths = rng.uniform(2, 10, (20, 3))
    angles = rng.uniform(65, 115, (20, 3))
    ours = lattice_from_params(torch.tensor(lengths), torch.tensor(angles)).numpy()
    for m, l, a in zip(ours, lengths, angles):
        np.testing.assert_allclose(m, Lattice.from_parameters(*l, *a).matrix, atol=1e-9)
    got_l, got_a = params_from_lattice(torch.tensor(ours))
    np.testing.assert_allclose(got_l.numpy(), lengths, atol=1e-9)
    np.testing.assert_allclose(got_a.numpy(), angles, atol=1e-7)


def test_length_per_atom_and_volume():
    s = Structure(Lattice.cubic(3.0), ["Cu"] * 2, [[0, 0, 0], [0.5, 0.5, 0.5]])
    batch = CrystalBatch.from_structures([s], dtype=torch.float64)
    assert batch.volumes().item() == pytest.approx(27.0)
    assert length_per_atom(batch).item() == pytest.approx(13.5 ** (1 / 3))


def test_disordered_and_empty_inputs_are_refused():
    disordered = Structure(Lattice.cubic(3.0), [{"Fe": 0.5, "Ni": 0.5}], [[0, 0, 0]])
    with pytest.raises(CrystalError, match="disordered"):
        CrystalBatch.from_structures([disordered])
    with pytest.raises(CrystalError, match="empty"):
        CrystalBatch.from_structures([])


def test_wrapping_edge_cases_stay_in_the_half_open_cell():
    from matlib.crystal import wrap_frac

    raw = np.array([[-1e-17, 1.0, 0.999999], [2.0, -0.25, 0.5]])
    wrapped = wrap_frac(raw)
    assert np.all((wrapped >= 0) & (wrapped < 1))
    np.testing.assert_allclose(wrapped, [[0, 0, 0.999999], [0, 0.75, 0.5]], atol=1e-15)
    t = wrap_frac(torch.tensor(raw, dtype=torch.float32))
    assert torch.all((t >= 0) & (t < 1))
