"""Geometric lattices that SCIGEN imposes: a 2-D motif of identical atoms with bond length d.

A template is dimensionless: an in-plane cell (lengths in units of d, the angle between a and b)
and the constrained sites in fractional in-plane coordinates. ``Template.motif(d)`` scales it to a
bond length and returns what the sampler needs: the sites at height z, the in-plane block of the
symmetric cell, and the list of motif bonds (for checking the geometry afterwards).

Cells follow SCIGEN's builders (Okabe et al. 2025): triangular (1 site, a = d, 120°), honeycomb
(2, a = √3 d, 120°), kagome (3, a = 2d, 120°), square (1, a = d, 90°), Lieb (3, a = 2d, 90°) and
the truncated-square (4.8.8) tiling (4, a = (1 + √2) d, 90°). ``max_atoms`` bounds the total
atoms per cell (SCIGEN's per-lattice ranges).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np


@dataclass(frozen=True)
class Bond:
    i: int
    j: int
    image: tuple[int, int]     # in-plane cell offset of site j


@dataclass(frozen=True)
class Motif:
    """A template at a concrete bond length: sites (k, 3) fractional, cell block (2, 2) in Å."""
    template: "Template"
    bond_length: float
    frac: np.ndarray
    in_plane_block: np.ndarray   # sqrt of the in-plane Gram matrix: the symmetric cell's upper-left 2 × 2
    bonds: tuple[Bond, ...]

    @property
    def num_sites(self) -> int:
        return len(self.frac)


@dataclass(frozen=True)
class Template:
    name: str
    a: float            # |a| / d
    b: float            # |b| / d
    gamma: float        # degrees
    sites: tuple[tuple[float, float], ...]
    max_atoms: int

    @property
    def num_sites(self) -> int:
        return len(self.sites)

    def plane_vectors(self, d: float = 1.0) -> np.ndarray:
        """(2, 2) rows a, b in a frame with a along x."""
        g = math.radians(self.gamma)
        return d * np.array([[self.a, 0.0], [self.b * math.cos(g), self.b * math.sin(g)]])

    def gram(self, d: float = 1.0) -> np.ndarray:
        vectors = self.plane_vectors(d)
        return vectors @ vectors.T

    def bonds(self, tol: float = 1e-3) -> tuple[Bond, ...]:
        """Every pair of sites (with cell offsets) at distance d, each bond once."""
        return _bonds(self, tol)   # cached: every sampled crystal's motif asks for them

    def motif(self, bond_length: float, height: float = 0.5) -> Motif:
        if not bond_length > 0:
            raise ValueError(f"bond length must be positive, got {bond_length}")
        values, vectors = np.linalg.eigh(self.gram(bond_length))
        block = vectors @ np.diag(np.sqrt(values)) @ vectors.T
        frac = np.column_stack([np.asarray(self.sites, float), np.full(self.num_sites, height)])
        return Motif(self, float(bond_length), frac, block, self.bonds())


@lru_cache(maxsize=None)
def _bonds(template: "Template", tol: float) -> tuple[Bond, ...]:
    vectors, sites = template.plane_vectors(), np.asarray(template.sites, float)
    found = []
    for i in range(len(sites)):
        for j in range(len(sites)):
            for n1 in (-1, 0, 1):
                for n2 in (-1, 0, 1):
                    if (i, j, n1, n2) == (i, i, 0, 0):
                        continue
                    length = np.linalg.norm((sites[j] + (n1, n2) - sites[i]) @ vectors)
                    reverse = Bond(j, i, (-n1, -n2))
                    if abs(length - 1.0) < tol and reverse not in found:
                        found.append(Bond(i, j, (n1, n2)))
    return tuple(found)


_ROOT3 = math.sqrt(3.0)
_TSQ = 1 + math.sqrt(2.0)
_U = 1 / (math.sqrt(2.0) * _TSQ)   # truncated square: half-diagonal of the inner square, in units of a

# the magnetic elements SCIGEN puts on its motifs
MAGNETIC_ELEMENTS = ("Mn", "Fe", "Co", "Ni", "Ru", "Nd", "Gd", "Tb", "Dy", "Yb")

TEMPLATES: dict[str, Template] = {t.name: t for t in (
    Template("triangular", 1.0, 1.0, 120.0, ((0.0, 0.0),), max_atoms=4),
    Template("square", 1.0, 1.0, 90.0, ((0.0, 0.0),), max_atoms=4),
    Template("honeycomb", _ROOT3, _ROOT3, 120.0, ((1 / 3, 2 / 3), (2 / 3, 1 / 3)), max_atoms=8),
    Template("kagome", 2.0, 2.0, 120.0, ((0.0, 0.0), (0.5, 0.0), (0.0, 0.5)), max_atoms=12),
    Template("lieb", 2.0, 2.0, 90.0, ((0.0, 0.0), (0.5, 0.0), (0.0, 0.5)), max_atoms=12),
    Template("truncated_square", _TSQ, _TSQ, 90.0,
             ((0.5 + _U, 0.5), (0.5, 0.5 + _U), (0.5 - _U, 0.5), (0.5, 0.5 - _U)), max_atoms=16),
)}


def get_template(name: str) -> Template:
    try:
        return TEMPLATES[name.lower()]
    except KeyError:
        raise KeyError(f"unknown lattice template {name!r}; choose one of {sorted(TEMPLATES)}") from None


def draw(template: Template, ax=None, repeats: int = 3, bond_length: float = 1.0, color: str = "C0"):
    """The motif over ``repeats`` × ``repeats`` cells: sites, bonds, and the unit cell."""
    import matplotlib.pyplot as plt

    ax = ax or plt.gca()
    vectors, sites = template.plane_vectors(bond_length), np.asarray(template.sites, float)
    bonds = template.bonds()
    for n1 in range(repeats):
        for n2 in range(repeats):
            shift = np.array([n1, n2], float)
            for bond in bonds:
                p = (sites[bond.i] + shift) @ vectors
                q = (sites[bond.j] + shift + bond.image) @ vectors
                ax.plot(*zip(p, q), color="0.5", lw=1.2, zorder=1)
            points = (sites + shift) @ vectors
            ax.scatter(points[:, 0], points[:, 1], s=45, color=color, edgecolors="k", zorder=2)
    corners = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]], float) @ vectors
    ax.plot(corners[:, 0], corners[:, 1], color="k", ls="--", lw=1)
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_title(f"{template.name} ({template.num_sites} site{'s' * (template.num_sites > 1)})")
    return ax


__all__ = ["Bond", "Motif", "Template", "MAGNETIC_ELEMENTS", "TEMPLATES", "get_template", "draw"]
