"""CrystalNN "ops" motif order parameters in NumPy: the numbers pymatgen's
``LocalStructOrderParams.get_order_parameters`` gives, for the motifs CDVAE's fingerprint uses.

pymatgen walks every neighbour j as the north pole, every k as the prime meridian and every m
as a third neighbour in Python loops: 63 % of the evaluation's time (``lab/evaluation_profile``).
Here the same terms are arrays over (j, k, m). Definitions are pymatgen's, term by term (Peters,
J. Chem. Phys. 131, 244103 (2009); Zimmermann et al., Front. Mater. 4, 34 (2017)): for the
``*_max`` motifs each (j, k) pair's terms are summed and normalised, and the largest pair wins;
``bcc`` sums over j < k. Results agree with pymatgen to rounding (summation order), which
``tests/test_order_parameters.py`` checks against pymatgen on real and distorted crystals.
The cheap ones (``sgl_bd``, ``bent``, Steinhardt's ``q2``/``q4``/``q6``, the last through associated
Legendre functions, equal to pymatgen's expanded sums to about 1e-13) are here too, so no ``Site`` is
built per neighbour to call pymatgen.
"""
from __future__ import annotations

import math
from functools import cached_property

import numpy as np
from scipy.special import lpmv

VERY_SMALL = 1e-12            # pymatgen's threshold for a degenerate axis
INV_PI = 1 / math.pi          # pymatgen multiplies by 1/π: so do we, for the same rounding
FAC_BCC = 1 / math.exp(-0.5)

EQUATORIAL = {"T", "tri_pyr", "sq_pyr", "pent_pyr", "hex_pyr"}          # polar neighbour + a ring at 90°
TRIANGLE = {"tri_plan_max", "tet_max"}
BIPYRAMID = {"tri_bipyr", "pent_bipyr", "hex_bipyr", "oct_max", "sq_plan_max", "hex_plan_max", "see_saw_rect"}
CHEAP = {"sgl_bd", "bent", "q2", "q4", "q6"}
FAST_MOTIFS = EQUATORIAL | TRIANGLE | BIPYRAMID | CHEAP | {"pent_plan_max", "cuboct_max", "bcc"}
LEFT_OF_UNITY = 1 - 1e-12     # pymatgen: closer to the z axis than this, a neighbour's azimuth is 0


def _gauss(x):
    return np.exp(-0.5 * x * x)


def dot(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Dot products of paired vectors (any leading shape), bit for bit what ``np.dot`` gives one pair
    (a stacked matmul; einsum and ``norm(axis=1)`` differ in the last bit, and pymatgen's angle
    thresholds and CrystalNN's order of equal weights depend on it)."""
    shape = np.broadcast_shapes(u.shape, v.shape)
    u, v = np.broadcast_to(u, shape).reshape(-1, 3), np.broadcast_to(v, shape).reshape(-1, 3)
    return np.matmul(u[:, None, :], v[:, :, None]).reshape(shape[:-1])


def _acos(x: np.ndarray) -> np.ndarray:
    """``math.acos`` of each clipped value: numpy's arccos can differ in the last bit, and angles
    are compared with thresholds (an ideal 135° sits exactly on ``min_SPP``)."""
    clipped = np.clip(x, -1.0, 1.0)
    return np.fromiter(map(math.acos, clipped.ravel()), float, clipped.size).reshape(clipped.shape)


class Geometry:
    """Angles among one site's neighbours: θ between neighbours j and k, and φ, the azimuth of m
    around j measured from the j-k plane (pymatgen's names: thetak, thetam, phi), computed with
    pymatgen's arithmetic so that thresholds on them fall the same way."""

    def __init__(self, vectors: np.ndarray):
        vectors = np.asarray(vectors, dtype=float)
        self.distances = np.sqrt(dot(vectors, vectors))
        self.unit = unit = vectors / self.distances[:, None]
        self.n = len(unit)
        self._dots = dot(unit[:, None, :], unit[None, :, :])              # [j, k]
        self.pairs = ~np.eye(self.n, dtype=bool)                       # j != k

    @cached_property
    def theta(self) -> np.ndarray:
        return _acos(self._dots)                                       # q_l (CN 9-11) never needs it

    @cached_property
    def _axes(self) -> tuple[np.ndarray, np.ndarray]:
        # Gram-Schmidt: the part of k orthogonal to j, then normalised (pymatgen's xaxis); only the
        # triple motifs need it, so a site with only q_l motifs (CN 9-11) never builds it
        unit, dots = self.unit, self._dots
        axis = unit[None, :, :] - (dots / np.diag(dots)[:, None])[:, :, None] * unit[:, None, :]
        length = np.sqrt(dot(axis, axis))
        degenerate = length < VERY_SMALL                               # k on the line through j
        return axis / np.where(degenerate, 1.0, length)[:, :, None], degenerate

    @cached_property
    def phi(self) -> np.ndarray:
        axis = self._axes[0]
        return _acos(dot(axis[:, None, :, :], axis[:, :, None, :]))      # [j, k, m]: x-axis of m against k's

    @cached_property
    def triples(self) -> np.ndarray:
        # m counts for (j, k) when it is neither and j-k spans a plane
        distinct = self.pairs
        return distinct[:, :, None] & distinct[:, None, :] & distinct[None, :, :] & ~self._axes[1][:, :, None]

    @cached_property
    def azimuthal(self) -> np.ndarray:
        return self.triples & ~self._axes[1][:, None, :]              # φ needs j-m to span a plane too


def _cos_power(phi, p):
    return np.cos(p["fac_AA"] * phi) ** p["exp_cos_AA"]


def _pair_terms(motif: str, p: dict, g: Geometry):
    """The (j, k) pair's own term and weight: its angle θk."""
    theta = g.theta
    t = theta * INV_PI
    ones = np.ones_like(theta)
    if motif in EQUATORIAL:
        return _gauss(p["IGW_EP"] * (t - 0.5)), ones
    if motif in TRIANGLE:
        return _gauss(p["IGW_TA"] * (t - p["TA"])), ones
    if motif == "pent_plan_max":
        return _gauss(p["IGW_TA"] * (t - np.where(theta <= p["TA"] * math.pi, 0.4, 0.8))), ones
    if motif in BIPYRAMID:
        near = theta < p["min_SPP"]
        return np.where(near, _gauss(_bipyramid_arg(motif, p, t)), 0.0), near.astype(float)
    # cuboct_max and bcc: a neighbour opposite j
    opposite = theta >= p["min_SPP"]
    return (np.where(opposite, p["w_SPP"] * _gauss(p["IGW_SPP"] * (t - 1.0)), 0.0),
            np.where(opposite, float(p["w_SPP"]), 0.0))


def _bipyramid_arg(motif, p, t):
    if motif == "hex_plan_max":
        return p["IGW_TA"] * (np.abs(t - 0.5) - p["TA"])
    return p["IGW_EP"] * (t - 0.5)


def _triple_terms(motif: str, p: dict, g: Geometry):
    """Each third neighbour m's term and weight for the pair (j, k), summed over m."""
    theta_k = g.theta[:, :, None]
    theta_m = g.theta[:, None, :]
    t_m = theta_m * INV_PI
    phi = g.phi
    use = g.azimuthal
    if motif in EQUATORIAL:
        value, weight = _cos_power(phi, p) * _gauss(p["IGW_EP"] * (t_m - 0.5)), 1.0
    elif motif in TRIANGLE:
        value, weight = _gauss(p["IGW_TA"] * (t_m - p["TA"])) * _cos_power(phi, p), 1.0
    elif motif == "pent_plan_max":
        centre = np.where(theta_m <= p["TA"] * math.pi, 0.4, 0.8)
        value, weight = _gauss(p["IGW_TA"] * (t_m - centre)) * np.cos(phi) ** 2, 1.0
    elif motif in BIPYRAMID:
        use = use & (theta_m < p["min_SPP"]) & (theta_k < p["min_SPP"])
        if motif == "see_saw_rect":
            use = use & (phi < 0.75 * math.pi)
        value, weight = _cos_power(phi, p) * _gauss(_bipyramid_arg(motif, p, t_m)), 1.0
    elif motif == "cuboct_max":
        return _cuboctahedron_terms(p, g, theta_k, theta_m, t_m)
    elif motif == "bcc":
        use = use & (theta_k < p["min_SPP"])
        sign = np.where(theta_k > math.pi / 2, 1.0, -1.0)
        x = (theta_m - math.pi / 2) / math.asin(1 / 3)
        value, weight = sign * np.cos(3 * phi) * FAC_BCC * x * np.exp(-0.5 * x * x), 1.0
    total = np.where(use, value, 0.0).sum(axis=2)
    count = np.where(use, weight, 0.0).sum(axis=2)
    if motif in BIPYRAMID:                    # the south pole: m opposite j
        south = g.triples & (theta_m >= p["min_SPP"])
        total = total + np.where(south, _gauss(p["IGW_SPP"] * (t_m - 1.0)), 0.0).sum(axis=2)
        count = count + south.sum(axis=2)
    return total, count


def _cuboctahedron_terms(p, g, theta_k, theta_m, t_m):
    use = g.azimuthal & (theta_m < p["min_SPP"]) & (p[4] < theta_k) & (theta_k < p[2])
    ring = (p[4] < theta_m) & (theta_m < p[2])
    upper, lower = theta_m < p[4], theta_m > p[2]
    tilt = _gauss(0.0556 * (np.cos(g.phi - 0.5 * math.pi) - 0.81649658))
    value = np.where(ring, np.cos(g.phi) ** 2 * _gauss(p[5] * (t_m - 0.5)),
                     np.where(upper, tilt * _gauss(p[6] * (t_m - 1 / 3)),
                              tilt * _gauss(p[6] * (t_m - 2 / 3))))
    counted = use & (ring | upper | lower)
    return np.where(counted, value, 0.0).sum(axis=2), counted.sum(axis=2).astype(float)


def steinhardt(l: int, unit: np.ndarray) -> float:
    """Steinhardt's bond-orientational q_l of unit bond vectors (pymatgen's ``get_q2/4/6``):
    sqrt(4π/(2l+1) Σ_m |mean_j Y_lm|²), with pymatgen's polar angles (z the pole, x the meridian)."""
    z = np.clip(unit[:, 2], -1.0, 1.0)
    azimuth = np.where(np.abs(z) < LEFT_OF_UNITY, np.arctan2(unit[:, 1], unit[:, 0]), 0.0)
    total = 0.0
    for m in range(l + 1):     # |Σ Y_l,-m| = |Σ Y_lm|: m > 0 counts twice
        norm = math.sqrt((2 * l + 1) / (4 * math.pi) * math.factorial(l - m) / math.factorial(l + m))
        y = norm * lpmv(m, l, z) * np.exp(1j * m * azimuth)
        total += (1 if m == 0 else 2) * abs(y.sum()) ** 2
    return math.sqrt(4 * math.pi * total / ((2 * l + 1) * len(unit) ** 2))


def _cheap(motif: str, params: dict, g: Geometry) -> float | None:
    if motif == "sgl_bd":    # pymatgen leaves 0 where there is no neighbour
        nearest = np.sort(g.distances)
        return 1.0 if g.n == 1 else float(1 - nearest[0] / nearest[1]) if g.n else 0.0
    if motif == "bent":      # the mean over ordered pairs j != k of a Gaussian of their angle
        if g.n <= 1:
            return None
        terms = _gauss(params["IGW_TA"] * (g.theta * INV_PI - params["TA"]))
        return float(terms[g.pairs].sum() / (g.n * (g.n - 1)))
    return steinhardt(int(motif[1]), g.unit) if g.n else None


def order_parameter(motif: str, params: dict, geometry: Geometry) -> float | None:
    """One motif's order parameter for a site whose neighbours span ``geometry``; None where
    pymatgen gives None (too few neighbours)."""
    if motif not in FAST_MOTIFS:
        raise ValueError(f"no NumPy version of the {motif!r} order parameter; use pymatgen's")
    if motif in CHEAP:
        return _cheap(motif, params, geometry)
    n = geometry.n
    pair_value, pair_weight = _pair_terms(motif, params, geometry)
    triple_value, triple_weight = _triple_terms(motif, params, geometry)
    value = pair_value + triple_value
    if motif == "bcc":
        if n <= 3:
            return None
        upper = np.triu(geometry.pairs, k=1)
        return float(value[upper].sum() / (0.5 * n * (6 + (n - 2) * (n - 3))))
    if n <= 1:
        return None
    weight = pair_weight + triple_weight
    ratio = np.where(weight > 1e-12, value / np.where(weight > 1e-12, weight, 1.0), 0.0)
    return float(ratio[geometry.pairs].max())


__all__ = ["FAST_MOTIFS", "Geometry", "dot", "order_parameter", "steinhardt"]
