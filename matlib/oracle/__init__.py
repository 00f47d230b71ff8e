"""An independent physics oracle from CHGNet: energies, relaxations, hulls, bulk moduli.

Modules, one concept each: ``batched`` (``predict``: CHGNet energy, magnetic density, forces and
stress for many crystals per call; ``relax``: a batched FIRE relaxation of positions and cells),
``eos`` (bulk modulus from a Birch–Murnaghan fit over scaled cells), ``hull`` (reference convex
hull per chemical system, E_hull, S.U.N. rates, elemental prototypes), ``formation`` (elemental
references fitted to a dataset's formation energies), ``labels`` (CHGNet labels of dataset splits,
cached with checksums), ``references`` (a dataset's fitted elemental μ and reference hull), ``judges`` (formation energy, magnetic
density and bulk modulus of generated crystals after a relaxation), ``validation`` (the hull and the
labels against the dataset and measured values). ``evaluate(..., stability=...)`` reports E_hull and
S.U.N. on the dataset's hull.
"""
from .batched import predict, relax
from .eos import bulk_moduli, fit_bulk_modulus
from .formation import ElementalReferences, fit_elemental_references, formation_energy
from .hull import PROTOTYPES, ReferenceHull, e_above_hull, elemental_references, prototype, reference_hull, sun_rates
from .judges import bulk_modulus_judge, formation_energy_judge, magnetic_density_judge
from .labels import LabelsError, load_bulk_moduli, load_labels
from .references import FORMATION_COLUMN, dataset_hull, fitted_references

__all__ = ["predict", "relax", "bulk_moduli", "fit_bulk_modulus", "ElementalReferences", "fit_elemental_references",
           "formation_energy", "PROTOTYPES", "ReferenceHull", "e_above_hull", "elemental_references", "prototype",
           "reference_hull", "sun_rates", "bulk_modulus_judge", "formation_energy_judge", "magnetic_density_judge",
           "LabelsError", "FORMATION_COLUMN", "dataset_hull", "fitted_references", "load_bulk_moduli", "load_labels"]
