"""An independent physics oracle from CHGNet: energies, relaxations, hulls, bulk moduli.

Modules, one concept each: ``batched`` (``predict``: CHGNet energy, magnetic density, forces and
stress for many crystals per call; ``relax``: a batched FIRE relaxation of positions and cells),
``eos`` (bulk modulus from a Birch–Murnaghan fit over scaled cells), ``hull`` (reference convex
hull, E_hull, S.U.N. rates, elemental prototypes), ``formation`` (elemental references fitted to a
dataset's formation energies, and formation energies from CHGNet energies).
"""
from .batched import predict, relax
from .eos import bulk_moduli, fit_bulk_modulus
from .formation import ElementalReferences, fit_elemental_references, formation_energy
from .hull import PROTOTYPES, ReferenceHull, e_above_hull, elemental_references, prototype, reference_hull, sun_rates

__all__ = ["predict", "relax", "bulk_moduli", "fit_bulk_modulus", "ElementalReferences", "fit_elemental_references",
           "formation_energy", "PROTOTYPES", "ReferenceHull", "e_above_hull", "elemental_references", "prototype", "reference_hull",
           "sun_rates"]
