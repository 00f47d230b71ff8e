"""matminer's ``CrystalNNFingerprint.from_preset("ops")`` for one site, with the motif order
parameters computed in NumPy (:mod:`.order_parameters`).

Same neighbours (pymatgen's ``CrystalNN.get_nn_data``), same weights, same 61 features in the
same order as ``CrystalNNFingerprint.featurize``: for each coordination number 1-24 its weight,
then each motif's order parameter times that weight (0 where the weight is 0 or pymatgen gives
None). Only the order parameters' arithmetic moved; the cheap motifs stay with pymatgen.
``engine="matminer"`` in :func:`~matlib.evaluation.fingerprints.structure_fingerprint` keeps the
original path for checking (``benchmarks/bench_evaluation.py --check-crystalnn``).
"""
from __future__ import annotations

import numpy as np
from pymatgen.core import Structure

from .order_parameters import FAST_MOTIFS, Geometry, order_parameter


def _motif(op) -> tuple[str, dict | None]:
    # matminer builds one single-motif LocalStructOrderParams per (coordination number, motif)
    return op._types[0], op._params[0]


def site_fingerprint(featurizer, structure: Structure, index: int) -> list[float]:
    """``featurizer.featurize(structure, index)`` for the ``ops`` preset, order parameters in NumPy."""
    if featurizer.chem_info is not None:
        raise ValueError("site_fingerprint covers CrystalNNFingerprint without chemical info (the 'ops' preset)")
    neighbours = featurizer.cnn.get_nn_data(structure, index)
    centre = structure[index]
    features: list[float] = []
    for cn in range(1, max(featurizer.op_types) + 1):
        weight = neighbours.cn_weights.get(cn, 0)
        geometry = None
        for op in featurizer.ops.get(cn, []):
            if op == "wt" or weight == 0:
                features.append(weight)
                continue
            sites = [info["site"] for info in neighbours.cn_nninfo[cn]]
            motif, params = _motif(op)
            if motif in FAST_MOTIFS:
                if geometry is None:
                    geometry = Geometry(np.array([site.coords for site in sites]) - centre.coords)
                value = order_parameter(motif, params, geometry)
            else:
                value = op.get_order_parameters([centre, *sites], 0, indices_neighs=list(range(1, len(sites) + 1)))[0]
            features.append(weight * (value or 0))
    return features


__all__ = ["site_fingerprint"]
