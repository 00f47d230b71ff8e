import zipfile

import pytest
from pymatgen.core import Lattice, Structure

from matlib.io import read_cif, read_extxyz, read_structures, write_cif, write_cif_zip, write_extxyz


@pytest.fixture
def structures():
    return [Structure(Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
            Structure(Lattice.from_parameters(2.5, 2.5, 6.7, 90, 90, 120), ["C"] * 4,
                      [[0, 0, 0.25], [0, 0, 0.75], [1 / 3, 2 / 3, 0.25], [2 / 3, 1 / 3, 0.75]])]


def test_extxyz_round_trip_with_properties(tmp_path, structures):
    path = write_extxyz(structures, tmp_path / "gen.extxyz", info=[{"e_form": -1.5}, {"e_form": 0.2}])
    back = read_extxyz(path)
    assert [s.matches(t) for s, t in zip(structures, back)] == [True, True]
    assert "e_form=-1.5" in path.read_text()


def test_cif_zip_and_folder(tmp_path, structures):
    zipped = write_cif_zip(structures, tmp_path / "generated_crystals_cif.zip")
    with zipfile.ZipFile(zipped) as zf:
        assert sorted(zf.namelist()) == ["00000_NaCl.cif", "00001_C.cif"]
    assert [s.matches(t) for s, t in zip(structures, read_structures(zipped))] == [True, True]
    for i, s in enumerate(structures):
        write_cif(s, tmp_path / "cifs" / f"{i}.cif")
    assert len(read_structures(tmp_path / "cifs")) == 2
    assert read_cif(tmp_path / "cifs" / "0.cif").composition.reduced_formula == "NaCl"


def test_bad_inputs_have_clear_errors(tmp_path, structures):
    with pytest.raises(FileNotFoundError):
        read_structures(tmp_path / "nothing.extxyz")
    (tmp_path / "x.pdb").write_text("")
    with pytest.raises(ValueError, match="unknown format"):
        read_structures(tmp_path / "x.pdb")
    (tmp_path / "bad.cif").write_text("data_x\n_cell_length_a 3\n")
    with pytest.raises(ValueError, match="bad.cif"):
        read_cif(tmp_path / "bad.cif")
    with pytest.raises(ValueError, match="unique name"):
        write_cif_zip(structures, tmp_path / "z.zip", names=["a", "a"])
