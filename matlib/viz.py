"""Looking at crystals: nglview in JupyterLab, a static matplotlib picture everywhere else.

`MATLIB_VIEWER=static` forces the static picture (the test runner and the main job set it, so
executed notebooks keep an image; a widget renders nothing under papermill).
"""
from __future__ import annotations

import importlib.util
import itertools
import os
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
from ase.data import covalent_radii
from ase.data.colors import jmol_colors
from pymatgen.core import Structure

from .nglview_pins import NGLVIEW_EXTENSION, installed_nglview_extension, nglview_mismatch, version_matches  # noqa: F401

PALETTE = "colorblind"


def set_style(context: str = "notebook") -> None:
    """One look for every plot in the series."""
    import seaborn as sns

    sns.set_theme(context=context, style="whitegrid", palette=PALETTE)
    plt.rcParams.update({"figure.dpi": 100, "axes.titleweight": "bold"})


def loss_terms_figure(history: Sequence[dict], terms: Sequence[str], height: float = 2.8):
    """One panel per loss term of a training history (`fit`'s rows): a rolling mean over five logged
    steps, on a log scale, since the terms differ by orders of magnitude."""
    steps = [row["step"] for row in history]
    fig, axes = plt.subplots(1, len(terms), figsize=(3 * len(terms), height), squeeze=False)
    for ax, term in zip(axes[0], terms):
        values = np.array([row.get(term, np.nan) for row in history], dtype=float)
        windows = [values[max(0, i - 4):i + 1] for i in range(len(values))]
        smooth = [w[~np.isnan(w)].mean() if (~np.isnan(w)).any() else np.nan for w in windows]
        ax.plot(steps, smooth)
        ax.set(title=term, xlabel="step", yscale="log")
    fig.tight_layout()
    return fig


def save_figure(fig, out_dir, name: str, dpi: int = 120) -> None:
    """Keep a figure as ``<out_dir>/figures/<name>.png`` beside the notebook's results (not only
    inside the executed notebook)."""
    from pathlib import Path

    folder = Path(out_dir) / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    fig.savefig(folder / f"{name}.png", dpi=dpi, bbox_inches="tight")    # returns nothing: a cell that ends
                                                                       # with this call shows no path


def widgets_enabled() -> bool:
    """Interactive controls make sense: ipywidgets is installed and no static run was asked for."""
    return os.environ.get("MATLIB_VIEWER", "auto") != "static" and importlib.util.find_spec("ipywidgets") is not None


def show_code(obj):
    """The source of a matlib function or class, highlighted, so a notebook can show what it runs."""
    import inspect

    from IPython.display import Code

    return Code(inspect.getsource(obj), language="python")


def nglview_available() -> bool:
    return os.environ.get("MATLIB_VIEWER", "auto") != "static" and importlib.util.find_spec("nglview") is not None


_mismatch_told = False


def _nglview_renders() -> bool:
    """nglview can be imported, no static picture was asked for, and its two halves agree (else say so once)."""
    global _mismatch_told
    if not nglview_available():
        return False
    problem = nglview_mismatch()
    if problem and not _mismatch_told:
        print(f"3D view: static picture instead of nglview, because {problem}.")
        _mismatch_told = True
    return problem is None


def view(structure: Structure, supercell: Sequence[int] = (1, 1, 1), backend: str = "auto", ax=None):
    """Show a structure: an nglview widget when it can render, else a static 3D picture."""
    if backend not in {"auto", "nglview", "static"}:
        raise ValueError("backend must be 'auto', 'nglview' or 'static'")
    if backend == "nglview" or (backend == "auto" and _nglview_renders()):
        import nglview

        widget = nglview.show_pymatgen(structure * tuple(supercell))
        widget.add_unitcell()
        return widget
    return plot_structure(structure * tuple(supercell), ax=ax)


def _cell_edges(matrix: np.ndarray):
    corners = np.array(list(itertools.product([0, 1], repeat=3)), dtype=float)
    for a, b in itertools.combinations(range(8), 2):
        if np.abs(corners[a] - corners[b]).sum() == 1:
            yield corners[a] @ matrix, corners[b] @ matrix


def _axes3d(ax=None, size: float = 4.0):
    if ax is None:
        fig = plt.figure(figsize=(size, size))
        ax = fig.add_subplot(projection="3d")
    return ax


def plot_structure(structure: Structure, ax=None, title: str | None = None, atom_scale: float = 150.0,
                   show_cell: bool = True):
    """Static 3D picture: atoms in Jmol colours sized by covalent radius, and the unit cell."""
    ax = _axes3d(ax)
    cart = structure.cart_coords
    numbers = np.array([site.specie.Z for site in structure])
    ax.scatter(cart[:, 0], cart[:, 1], cart[:, 2], c=jmol_colors[numbers], s=atom_scale * covalent_radii[numbers] ** 2,
               edgecolors="k", linewidths=0.5, depthshade=True)
    if show_cell:
        for p, q in _cell_edges(structure.lattice.matrix):
            ax.plot(*zip(p, q), color="0.4", lw=0.8)
    _equal_aspect(ax, np.vstack([cart, np.array(list(itertools.product([0, 1], repeat=3))) @ structure.lattice.matrix]))
    ax.set_title(title or structure.composition.reduced_formula)
    ax.set_axis_off()
    _legend_elements(ax, structure)
    return ax


def plot_neighbors(structure: Structure, centre: int, edge_index: np.ndarray, image: np.ndarray, ax=None,
                   title: str | None = None):
    """Draw the bonds of one centre atom, neighbours in other images included (drawn hollow)."""
    ax = plot_structure(structure, ax=ax, title=title)
    matrix = structure.lattice.matrix
    mine = edge_index[0] == centre
    origin = structure.cart_coords[centre]
    for j, img in zip(edge_index[1][mine], image[mine]):
        end = structure.cart_coords[j] + img @ matrix
        ax.plot(*zip(origin, end), color="crimson", lw=1.0, alpha=0.8)
        if np.any(img != 0):
            ax.scatter(*end, s=40, facecolors="none", edgecolors=jmol_colors[structure[int(j)].specie.Z])
    return ax


def plot_element_shares(shares: dict[str, dict[str, float]], top: int = 15, ax=None):
    """Bars of each set's share of atoms per element (``{set name: element_shares(...)}``), for the
    ``top`` elements most common over the sets."""
    import pandas as pd
    import seaborn as sns
    table = pd.DataFrame(shares).fillna(0.0)
    table = table.loc[table.max(axis=1).sort_values(ascending=False).index[:top]] * 100
    long = table.rename_axis("element").reset_index().melt("element", var_name="set", value_name="share of atoms (%)")
    if ax is None:
        _, ax = plt.subplots(figsize=(max(6.0, 0.45 * len(table)), 3.2))
    sns.barplot(long, x="element", y="share of atoms (%)", hue="set", palette=PALETTE, ax=ax)
    ax.set(xlabel="")
    return ax


def plot_reliability(tables: dict, ax=None, title: str | None = None):
    """Reliability diagram: observed frequency against mean predicted probability per bin, one line
    per table (``{label: classifiers.reliability(...)}``, e.g. before and after temperature scaling);
    the diagonal is perfect calibration and marker area grows with the bin's count."""
    if ax is None:
        _, ax = plt.subplots(figsize=(3.6, 3.4))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="calibrated")
    for label, table in tables.items():
        used = table[table["count"] > 0]
        line, = ax.plot(used["mean_predicted"], used["observed_frequency"], label=label)
        ax.scatter(used["mean_predicted"], used["observed_frequency"], s=8 + 60 * used["count"] / used["count"].max(),
                   color=line.get_color(), zorder=3)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="mean predicted probability", ylabel="observed frequency", title=title)
    ax.legend(fontsize="small")
    return ax

def gallery(structures: Sequence[Structure], titles: Sequence[str] | None = None, cols: int = 4, size: float = 3.0):
    """A grid of static pictures."""
    rows = int(np.ceil(len(structures) / cols))
    fig = plt.figure(figsize=(size * cols, size * rows))
    for k, s in enumerate(structures):
        ax = fig.add_subplot(rows, cols, k + 1, projection="3d")
        plot_structure(s, ax=ax, title=None if titles is None else titles[k])
    fig.tight_layout()
    return fig


def _equal_aspect(ax, points: np.ndarray) -> None:
    centre = points.mean(0)
    radius = (points.max(0) - points.min(0)).max() / 2 or 1.0
    for setter, c in zip((ax.set_xlim, ax.set_ylim, ax.set_zlim), centre):
        setter(c - radius, c + radius)


def _legend_elements(ax, structure: Structure) -> None:
    elements = sorted({site.specie for site in structure}, key=lambda e: e.Z)
    handles = [plt.Line2D([], [], marker="o", ls="", color=jmol_colors[e.Z], markeredgecolor="k", label=str(e))
               for e in elements]
    ax.legend(handles=handles, loc="upper left", fontsize=8, frameon=False)


def plot_trajectory(frames, times: Sequence[float], crystal: int = 0, cols: int = 6, size: float = 2.6,
                    highlight: int = 0):
    """Snapshots of one crystal along a reverse diffusion run (``CrystalBatch`` frames; token 0 = masked,
    drawn as small grey crosses). The first ``highlight`` atoms get a red ring (e.g. constrained atoms)."""
    rows = int(np.ceil(len(frames) / cols))
    fig = plt.figure(figsize=(size * cols, size * rows))
    for k, (frame, t) in enumerate(zip(frames, times)):
        start = int(frame.num_atoms[:crystal].sum())
        n = int(frame.num_atoms[crystal])
        matrix = frame.lattice[crystal].double().numpy()
        cart = frame.frac_coords[start:start + n].double().numpy() @ matrix
        numbers = frame.atom_types[start:start + n].numpy()
        ax = fig.add_subplot(rows, cols, k + 1, projection="3d")
        known = numbers > 0
        ax.scatter(*cart[known].T, c=jmol_colors[numbers[known]], s=150 * covalent_radii[numbers[known]] ** 2,
                   edgecolors="k", linewidths=0.5)
        ax.scatter(*cart[~known].T, c="0.6", marker="x", s=30)
        if highlight:
            ax.scatter(*cart[:highlight].T, facecolors="none", edgecolors="red", s=320, linewidths=1.5)
        for p, q in _cell_edges(matrix):
            ax.plot(*zip(p, q), color="0.4", lw=0.8)
        _equal_aspect(ax, np.vstack([cart, np.array(list(itertools.product([0, 1], repeat=3))) @ matrix]))
        ax.set_title(f"t = {t:.2f}", fontsize=9)
        ax.set_axis_off()
    fig.tight_layout()
    return fig
