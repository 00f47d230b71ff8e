"""SCIGEN (Okabe et al., Nature Materials 2025): crystals that keep a chosen 2-D lattice motif.

``templates`` (kagome, Lieb, ... as objects), ``bond_lengths`` (d for an element, from data),
``constraint`` (masks and the re-noise-and-merge step inside an unchanged diffusion sampler),
``motif`` (is the motif still there?), ``screening`` (SCIGEN's funnel).
"""
from .bond_lengths import BondLengths
from .constraint import LATTICE_MASK, StructureConstraint, build_constraint, draw_num_atoms, sample_with_motif
from .motif import motif_deviation, motif_kept
from .screening import MAX_OCCUPATION, funnel, occupation_ratio, screening_table
from .templates import MAGNETIC_ELEMENTS, TEMPLATES, Bond, Motif, Template, draw, get_template

__all__ = ["BondLengths", "LATTICE_MASK", "StructureConstraint", "build_constraint", "draw_num_atoms",
           "sample_with_motif", "motif_deviation", "motif_kept", "MAX_OCCUPATION", "funnel", "occupation_ratio",
           "screening_table", "MAGNETIC_ELEMENTS", "TEMPLATES", "Bond", "Motif", "Template", "draw", "get_template"]
