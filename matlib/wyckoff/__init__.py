"""Crystals as space group + Wyckoff sites (CrystalFormer-style models, PODGen-style samplers).

A site stores the free variables (x, y, z) its Wyckoff position's first operation reads, not a
position: any change of them stays on the Wyckoff position, so the space group cannot drop.
Tables come from pyxtal (standard settings: monoclinic unique axis b, rhombohedral groups on
hexagonal axes). Measured on the first 300 MP-20 val crystals (2 CPUs): encode ~16 ms a crystal
(pyxtal's symmetry search), decode ~0.4 ms (conventional) or ~3 ms (primitive), 299/300
matching their originals (one SrTiO3 in I4/mcm that pyxtal's from_seed itself gets wrong).
"""
from .decode import check_lattice_params, conventional_sites, decode, expand_site
from .encode import encode, encode_many, solve_free
from .lattice import symmetrise_lattice, symmetrise_lattice_numpy
from .representation import WyckoffCrystal, WyckoffEncodingError, WyckoffSite, num_atoms
from .tables import CRYSTAL_SYSTEMS, WyckoffTable, crystal_system_of, wyckoff_table
from .torch_ops import expand, pad_crystals, to_crystal_batch

__all__ = ["WyckoffCrystal", "WyckoffSite", "WyckoffEncodingError", "WyckoffTable", "wyckoff_table",
           "CRYSTAL_SYSTEMS", "crystal_system_of", "encode", "encode_many", "solve_free", "decode",
           "conventional_sites", "expand_site", "check_lattice_params", "num_atoms", "symmetrise_lattice",
           "symmetrise_lattice_numpy", "expand", "pad_crystals", "to_crystal_batch"]
