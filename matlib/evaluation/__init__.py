"""Evaluation of generated crystals: CDVAE's metrics plus uniqueness, novelty, success and CHGNet.

One call does everything::

    from matlib.evaluation import evaluate, prepare_reference
    ref = prepare_reference(load_split("perov_5", "test"))          # fingerprints, once
    report = evaluate(samples, ref, dataset="perov_5", method="my model")
    report.table        # tidy: method, dataset, metric, value, unit, n, note (fractions in [0, 1])
    report.wide()       # one row per method

Modules, one concept each: ``validity`` (structure / SMACT composition validity), ``fingerprints``
(CrystalNN and Magpie), ``coverage`` (COV-R/COV-P, AMSD/AMCD), ``properties`` (Wasserstein
distances, the element mix), ``matching`` (match rate/RMSE, uniqueness, novelty), ``success`` (targeted success
rate), ``targeted`` (one scorecard for conditional generators), ``stability`` (CHGNet
relaxation proxy), ``suite`` (``evaluate``, whose named steps are in ``steps``), ``reference_set``
(the reference fingerprinted once), ``reference_cache`` (a whole test split as the
reference, fingerprinted once), ``report`` (``EvaluationReport``), ``cdvae_constants``. The
slow metrics fan out to any concurrent.futures executor through ``matlib.parallel``.
"""
from .coverage import CoverageResult, cov_cutoffs, coverage
from .fingerprints import (Fingerprints, composition_fingerprint, compute_fingerprints, scale_magpie,
                           structure_fingerprint)
from .inputs import as_structures
from .matching import (MATCHER_SETTINGS, ReconstructionResult, formula_novel_flags, formula_unique_flags,
                       make_matcher, novel_flags, reconstruction, unique_flags)
from ..parallel import parallel_map, process_pool, usable_cpus
from .properties import Judge, element_shares, sample_valid, share_distance, wasserstein
from .report import EvaluationReport, combine_tables, wide_table
from .stability import chgnet_energy_judge, relax_structures, stability_summary
from .success import success_rate
from .targeted import targeted_report
from .suite import ReferenceSet, evaluate, prepare_reference
from .reference_cache import CoverageReference, split_reference, split_reference_in_background
from .validity import (SMACT_VERSION, composition_validity, smact_validity, structure_validity,
                       validity_table)

__all__ = [
    "evaluate", "prepare_reference", "CoverageReference", "split_reference", "split_reference_in_background", "ReferenceSet",
    "EvaluationReport", "combine_tables", "wide_table",
    "structure_validity", "composition_validity", "smact_validity", "validity_table", "SMACT_VERSION",
    "Fingerprints", "compute_fingerprints", "structure_fingerprint", "composition_fingerprint", "scale_magpie",
    "coverage", "cov_cutoffs", "CoverageResult",
    "Judge", "sample_valid", "wasserstein", "element_shares", "share_distance",
    "reconstruction", "ReconstructionResult", "unique_flags", "novel_flags", "formula_unique_flags",
    "formula_novel_flags", "make_matcher", "MATCHER_SETTINGS",
    "success_rate", "targeted_report",
    "relax_structures", "stability_summary", "chgnet_energy_judge",
    "as_structures", "parallel_map", "process_pool", "usable_cpus",
]
