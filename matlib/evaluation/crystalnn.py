"""matminer's ``CrystalNNFingerprint.from_preset("ops")`` for one site, with pymatgen's CrystalNN
neighbours and the motif order parameters (:mod:`.order_parameters`) computed in NumPy.

:func:`crystalnn_neighbours` follows ``CrystalNN.get_nn_data`` step by step (Voronoi facets'
solid angles, the porous and electronegativity adjustments, the radius-based distance cutoffs,
weights rounded to 3 decimals, the semicircle integral over weight bins), with the facets' solid
angles and volumes taken for all facets at once instead of one triangle at a time. Its weights and
neighbour lists are pymatgen's bit for bit: CrystalNN orders neighbours of equal weight by the
weights' last bits, and the ``bcc`` motif depends on that order.
:func:`site_fingerprint` gives the 61 features in ``CrystalNNFingerprint.featurize``'s order: for
each coordination number 1-24 its weight, then each motif's order parameter times that weight.
``engine="matminer"`` in
:func:`~matlib.evaluation.fingerprints.structure_fingerprint` keeps matminer's own path;
``benchmarks/bench_fingerprints.py`` compares the two over a whole split.
"""
from __future__ import annotations

import math

import numpy as np
from pymatgen.core import Structure
from pymatgen.core.local_env import CrystalNN, _get_default_radius, _get_radius
from scipy.spatial import Voronoi

from .order_parameters import Geometry, dot, order_parameter

CORNERS = np.array([[1, 1, 1], [-1, 1, 1], [1, -1, 1], [1, 1, -1]], dtype=float)


def _norm(u: np.ndarray) -> np.ndarray:
    return np.sqrt(dot(u, u))                    # np.linalg.norm of one vector, bit for bit


def _facets(centre: np.ndarray, points: np.ndarray, voronoi) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The Voronoi facets of point 0: which point each faces, their solid angles and cell volumes
    (pymatgen's ``solid_angle`` and ``vol_tetra`` over each facet's fan of triangles, summed in order)."""
    mine = np.flatnonzero((voronoi.ridge_points == 0).any(axis=1))
    others, triangles, owner = [], [], []
    for row, ridge in enumerate(mine):
        vertices = voronoi.ridge_vertices[ridge]
        if -1 in vertices:
            raise RuntimeError("This structure is pathological, infinite vertex in the Voronoi construction")
        a, b = voronoi.ridge_points[ridge]
        others.append(b if a == 0 else a)
        triangles += [(vertices[0], j, k) for j, k in zip(vertices[1:-1], vertices[2:])]
        owner += [row] * (len(vertices) - 2)
    if not others:
        raise ValueError("No Voronoi neighbors found for site - try increasing cutoff")
    corner = voronoi.vertices[np.array(triangles)]                      # [T, 3 vertices, xyz]
    d0, d1, d2 = (corner[:, i] - centre for i in range(3))
    r0, r1, r2 = (_norm(d) for d in (d0, d1, d2))
    upper = np.abs(dot(d0, np.cross(d1, d2)))
    lower = r0 * r1 * r2 + r2 * dot(d0, d1) + r1 * dot(d0, d2) + r0 * dot(d1, d2)
    with np.errstate(divide="ignore", invalid="ignore"):
        angle = np.where(lower == 0, np.where(upper > 0, 0.5 * math.pi, -0.5 * math.pi), np.arctan(upper / lower))
    angle = 2 * np.where(angle > 0, angle, angle + math.pi)               # pymatgen's branch, kept as is
    volume = np.abs(dot(centre - corner[:, 2], np.cross(corner[:, 0] - corner[:, 2], corner[:, 1] - corner[:, 2]))) / 6
    owner = np.array(owner)
    return (np.array(others), np.bincount(owner, angle, len(others)), np.bincount(owner, volume, len(others)))


def _voronoi_neighbours(structure: Structure, index: int, cutoff: float):
    """VoronoiNN's tessellation around one site, widening the sphere as pymatgen does."""
    lattice = structure.lattice
    centre = structure[index].coords
    max_cutoff = max(np.linalg.norm(lattice.get_cartesian_coords(c)) for c in CORNERS) + 0.01
    while True:
        try:
            frac, dist, site_of, _ = lattice.get_points_in_sphere(structure.frac_coords, centre, cutoff,
                                                                  zip_results=False)
            order = np.argsort(dist, kind="stable")
            points = lattice.get_cartesian_coords(frac[order])
            others, angle, volume = _facets(points[0], points, Voronoi(points))
            return points[0], points[others], np.asarray(site_of)[order][others], angle, volume
        except RuntimeError as err:
            if cutoff >= max_cutoff:
                if err.args and "vertex" in err.args[0]:
                    raise
                raise RuntimeError("Error in Voronoi neighbor finding; max cutoff exceeded") from err
            cutoff = min(cutoff * 2, max_cutoff + 0.001)


class Chemistry:
    """Per site of one structure: electronegativity and CrystalNN's two radii, read once (pymatgen's
    ``site.specie`` is slow, and every site's neighbours ask for them again)."""

    def __init__(self, structure: Structure):
        self.electronegativity = np.array([site.specie.X for site in structure], dtype=float)
        self.radius = [_get_radius(site) for site in structure]
        self.default_radius = [_get_default_radius(site) for site in structure]


def crystalnn_neighbours(cnn: CrystalNN, structure: Structure, index: int, chemistry: Chemistry | None = None
                         ) -> tuple[dict[int, float], dict[int, np.ndarray]]:
    """``cnn.get_nn_data(structure, index)`` for a CrystalNN without oxidation-state targets:
    ``{cn: weight}`` and ``{cn: neighbour Cartesian coordinates}``, heaviest neighbours first.
    ``chemistry``: the structure's :class:`Chemistry`, when several of its sites are asked for."""
    if cnn.cation_anion or not cnn.porous_adjustment or cnn.fingerprint_length:
        raise ValueError("crystalnn_neighbours follows CrystalNN's defaults (no cation_anion, porous adjustment, "
                         "no fixed fingerprint length)")
    chemistry = chemistry or Chemistry(structure)
    voronoi_centre, coords, site_of, angle, volume = _voronoi_neighbours(structure, index, cnn.search_cutoff)
    face_distance = _norm(voronoi_centre - coords) / 2
    keep = angle > 0                                                     # VoronoiNN's tol = 0
    weight = (angle / angle.max() * (angle / (3 * volume / face_distance)))[keep]
    coords, site_of = coords[keep], site_of[keep]
    if cnn.x_diff_weight > 0:
        x_centre = chemistry.electronegativity[index]
        x_other = chemistry.electronegativity[site_of]
        chemical = 1 + cnn.x_diff_weight * np.sqrt(np.abs(x_centre - x_other) / 3.3)
        weight = weight * np.where(np.isnan(x_other) | math.isnan(x_centre), 1.0, chemical)
    order = np.argsort(-weight, kind="stable")
    if weight[order[0]] == 0:
        return {0: 1.0}, {0: np.zeros((0, 3))}
    weight, coords, site_of = weight[order] / weight[order[0]], coords[order], site_of[order]
    if cnn.distance_cutoffs:
        weight = weight * _distance_weights(cnn, structure[index].coords, index, coords, site_of, chemistry)
        order = np.argsort(-weight, kind="stable")
        weight, coords = weight[order], coords[order]
        if weight[0] == 0:
            return {0: 1.0}, {0: np.zeros((0, 3))}
    weight = np.round(weight, 3)                 # numpy's rounding, as pymatgen's float64 weights get
    coords = coords[weight > 0]
    weight = weight[weight > 0]
    bins = [*dict.fromkeys(weight.tolist()), 0]                          # distinct weights, heaviest first
    cn_weights, cn_coords = {}, {}
    for i, value in enumerate(bins[:-1]):
        cn = int((weight >= value).sum())
        cn_coords[cn] = coords[:cn]
        cn_weights[cn] = CrystalNN._semicircle_integral(bins, i)
    if (rest := 1 - sum(cn_weights.values())) > 0:
        cn_weights[0], cn_coords[0] = rest, np.zeros((0, 3))
    return cn_weights, cn_coords


def _distance_weights(cnn, centre: np.ndarray, index: int, coords, site_of, chemistry: Chemistry) -> np.ndarray:
    """1 up to the sum of radii + 0.5 Å, a cosine down to 0 at + 1 Å (CrystalNN's ``distance_cutoffs``)."""
    r1 = chemistry.radius[index]
    distances = _norm(centre - coords)
    out = np.empty(len(coords))
    for j, (dist, i) in enumerate(zip(distances, site_of)):
        r2 = chemistry.radius[i]
        diameter = r1 + r2 if r1 > 0 and r2 > 0 else chemistry.default_radius[index] + chemistry.default_radius[i]
        low, high = diameter + cnn.distance_cutoffs[0], diameter + cnn.distance_cutoffs[1]
        out[j] = 1.0 if dist <= low else ((math.cos((dist - low) / (high - low) * math.pi) + 1) * 0.5
                                          if dist < high else 0.0)
    return out


def _motif(op) -> tuple[str, dict | None]:
    # matminer builds one single-motif LocalStructOrderParams per (coordination number, motif)
    return op._types[0], op._params[0]


def site_fingerprint(featurizer, structure: Structure, index: int, chemistry: Chemistry | None = None) -> list[float]:
    """``featurizer.featurize(structure, index)`` for the ``ops`` preset, order parameters in NumPy."""
    if featurizer.chem_info is not None:
        raise ValueError("site_fingerprint covers CrystalNNFingerprint without chemical info (the 'ops' preset)")
    cn_weights, cn_coords = crystalnn_neighbours(featurizer.cnn, structure, index, chemistry)
    centre = structure[index].coords
    features: list[float] = []
    for cn in range(1, max(featurizer.op_types) + 1):
        weight, ops = cn_weights.get(cn, 0), featurizer.ops.get(cn, [])
        # shared by this CN's motifs; CN 13-24 have only their weight
        geometry = Geometry(cn_coords[cn] - centre) if weight and len(ops) > 1 else None
        for op in ops:
            if op == "wt" or weight == 0:
                features.append(weight)
            else:
                value = order_parameter(*_motif(op), geometry)
                features.append(weight * (value or 0))
    return features


def site_fingerprints(featurizer, structure: Structure) -> list[list[float]]:
    """:func:`site_fingerprint` of every site, the structure's chemistry read once."""
    chemistry = Chemistry(structure)
    return [site_fingerprint(featurizer, structure, i, chemistry) for i in range(len(structure))]


__all__ = ["Chemistry", "crystalnn_neighbours", "site_fingerprint", "site_fingerprints"]
