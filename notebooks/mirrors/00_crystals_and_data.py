# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 00 · Crystals and data
#
# **What you will learn**
# 1. What a crystal is to a model: a lattice, fractional coordinates and species, repeated forever
#    by periodic boundary conditions, and why coordinates *wrap*.
# 2. Why the same crystal has many unit cells, and how Niggli reduction picks one.
# 3. How `matlib` turns `pymatgen` structures into batched tensors and back, exactly.
# 4. The four benchmark datasets (Perov-5, Carbon-24, MP-20, MPTS-52): what they hold, and their
#    property distributions (the review's figure 5(b) shows MP-20's band gap and formation energy).
# 5. The periodic neighbour graph every later model is built on, checked against pymatgen.
# 6. Writing crystals to CIF, extxyz and a zip of CIFs.
#
# **Running this notebook.** `profile` picks the size: `smoke` (CPU, < 2 min, tiny subsets),
# `teach` (CPU, a few minutes), `full` (every row; GPU if present). Nothing is trained here.
#
# **Data.** Every notebook trains on `train_split` and evaluates on `test`. Its default, `"auto"`,
# takes the benchmark's `train` split when it is found or can be downloaded and verified, else `val`
# with a one-line notice (this project's machines hold only `val` and `test`, so its committed
# results were trained on `val`). `matlib` looks for the files in `data_dir`, then `$MATLIB_DATA`, then its
# download cache, then downloads them (checksum-verified).

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Lattice, Structure

from matlib import config, datasets, graph, registry, results, viz
from matlib import io as crystal_io
from matlib.crystal import CrystalBatch

# %% tags=["parameters"]
profile = "teach"      # smoke | teach | full | auto (full with a GPU, else teach)
seed = 0
device = "auto"        # auto | cpu | cuda
data_dir = None        # folder holding <dataset>/<split>.csv[.gz]; None: $MATLIB_DATA, then the cache
out_dir = None         # None: outputs/00_crystals_and_data
train_split = "auto"     # auto: train if found or downloadable, else val
eval_split = "test"
overrides = {}         # any setting of presets/00_crystals_and_data.yaml, e.g. {"rows": 200}

# %%
cfg = config.setup("00_crystals_and_data", profile, seed=seed, device=device, out_dir=out_dir, overrides=overrides)
out, started = cfg.out, cfg.started
train_split = datasets.resolve_train_split([*cfg.datasets, "mp_20"], train_split, path=data_dir)
viz.set_style()
print(cfg.as_dict(), "->", out)

# %% [markdown]
# ## 1. A crystal is a lattice, fractional coordinates and species
#
# A crystal is a finite motif repeated forever along three lattice vectors **a**, **b**, **c**
# (the rows of the 3×3 lattice matrix *L*). Atom positions are stored as *fractional*
# coordinates *f* ∈ [0, 1)³, so the Cartesian position is *x = f L*. Rock salt (NaCl) has a
# cubic conventional cell with 8 atoms:

# %%
nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
print("lattice matrix (rows are a, b, c), Å:\n", nacl.lattice.matrix)
print("species:", [str(s) for s in nacl.species])
print("fractional coordinates:\n", nacl.frac_coords)

# %% [markdown]
# **Periodic boundary conditions.** Because the motif repeats, a fractional coordinate of 1.1 is
# the same place as 0.1: coordinates live on a torus and *wrap*. Two atoms near opposite faces
# of the cell are neighbours through the boundary, so distances are *minimum-image* distances.
# Moving one atom by a whole lattice vector, or every atom by the same vector, leaves the
# crystal unchanged: a model of crystals must not notice either.

# %%
shifted = nacl.copy()
shifted.translate_sites([0], [1.0, 0.0, -2.0], frac_coords=True, to_unit_cell=False)  # one atom, whole lattice vectors
moved = nacl.copy()
moved.translate_sites(range(len(moved)), [0.13, 0.42, 0.77], frac_coords=True)        # every atom, any vector
matcher = StructureMatcher()
print("atom 0 moved by lattice vectors, frac coords:", shifted[0].frac_coords, "-> same crystal:", matcher.fit(nacl, shifted))
print("all atoms translated -> same crystal:", matcher.fit(nacl, moved))

edge = Structure(Lattice.cubic(5.0), ["Na", "Cl"], [[0.05, 0.5, 0.5], [0.95, 0.5, 0.5]])
naive = np.linalg.norm(edge.cart_coords[0] - edge.cart_coords[1])
print(f"Na at x=0.05, Cl at x=0.95: naive distance {naive:.2f} Å, minimum-image distance {edge.get_distance(0, 1):.2f} Å")

# %% [markdown]
# **Many cells, one crystal.** Any integer matrix with determinant ±1 turns a cell into another
# valid cell of the same crystal, often a very skewed one. Models would waste capacity learning
# that these are equivalent, so datasets store a canonical choice: the *Niggli-reduced* cell
# (shortest, most orthogonal vectors). CDVAE reduces every CIF this way, and so does
# `matlib.datasets.load_split` by default.

# %%
primitive = nacl.get_primitive_structure()
skewed = primitive.copy()
skewed.make_supercell([[1, 2, 0], [0, 1, 1], [1, 1, 1]])   # determinant 1: same cell volume, ugly shape
reduced = skewed.get_reduced_structure()                      # Niggli reduction

cells = pd.DataFrame(
    [[name, *np.round(s.lattice.abc, 3), *np.round(s.lattice.angles, 1), round(s.volume, 2)]
     for name, s in [("primitive", primitive), ("skewed (same crystal)", skewed), ("Niggli-reduced", reduced)]],
    columns=["cell", "a", "b", "c", "alpha", "beta", "gamma", "volume"])
print("skewed and reduced describe the same crystal:", matcher.fit(skewed, reduced))
cells

# %% [markdown]
# ## 2. From `Structure` to tensors and back
#
# Models see a batch of crystals as flat tensors: all atoms of all crystals concatenated
# (`atom_types`, `frac_coords`), one lattice per crystal, and `num_atoms` to tell them apart.
# This lets crystals of different sizes share one batch without padding. The round trip back to
# `Structure` is exact in float64 (and within 1e-5 Å in float32, the training precision).

# %%
viz.show_code(CrystalBatch.from_structures)

# %%
batch = CrystalBatch.from_structures([nacl, primitive, reduced], dtype=torch.float64)
print({k: tuple(v.shape) for k, v in vars(batch).items()})
print("num_atoms:", batch.num_atoms.tolist(), " crystal of each atom:", batch.batch_index.tolist())
back = batch.to_structures()
print("round trip matches:", [matcher.fit(a, b) for a, b in zip([nacl, primitive, reduced], back)])
print("max coordinate error, Å:", float(np.abs(back[0].cart_coords - np.mod(nacl.frac_coords, 1) @ nacl.lattice.matrix).max()))

# %% [markdown]
# ## 3. The benchmark datasets
#
# Four CSV files per dataset (`train`/`val`/`test`, only `val` and `test` here), each row a P1 CIF
# plus properties. `matlib.registry` records what each column means, its unit, the upstream URL
# and the checksums that `matlib` verifies before trusting a file.

# %%
pd.DataFrame([{"dataset": s.title, "key": s.name, "property": s.default_property,
               "unit": s.properties[s.default_property].unit, "max atoms": s.max_atoms,
               "COV cutoffs (struct, comp)": s.cov_cutoffs, "about": s.notes} for s in registry.DATASETS.values()])

# %% [markdown]
# Parsing CIFs is the slow part (a few ms each), so `load_split` caches the parsed tensors keyed
# by the file's checksum: the second load is fast. Rows that fail to parse (a malformed CIF, an
# unknown element, a disordered site) are **skipped and counted**, never silently dropped:
# `ds.skipped` lists them with the reason.

# %%
loaded, summary_rows = {}, []
for name in cfg.datasets:
    t = time.perf_counter()
    ds = datasets.load_split(name, train_split, path=data_dir, limit=cfg.rows)
    loaded[name] = ds
    sizes = np.array([len(s) for s in ds.structures])
    n_elements = np.array([len(s.composition) for s in ds.structures])
    summary_rows.append({**ds.summary(), "atoms min": int(sizes.min()), "atoms mean": round(float(sizes.mean()), 2),
                         "atoms max": int(sizes.max()), "elements per crystal": round(float(n_elements.mean()), 2),
                         "distinct elements": len({e for s in ds.structures for e in s.composition}),
                         "seconds": round(time.perf_counter() - t, 2)})
summary = pd.DataFrame(summary_rows).drop(columns=["source"])
summary

# %% [markdown]
# ## 4. Property distributions
#
# The review's figure 5(b) shows the band gap and formation energy of MP-20's training data;
# here is the same for our training split (`val`), overlaid with the evaluation split (`test`).
# Two things to notice: formation energies are spread over several eV/atom, while about half of
# the band gaps are exactly zero (metals), so a band-gap target of 3 eV asks for a rarer crystal.

# %%
tables = {split: datasets.load_table("mp_20", split, path=data_dir, limit=cfg.table_rows) for split in (train_split, eval_split)}
mp = pd.concat([t.assign(split=s) for s, t in tables.items()], ignore_index=True)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
sns.histplot(mp, x="formation_energy_per_atom", hue="split", bins=60, stat="density", common_norm=False,
             element="step", ax=axes[0])
axes[0].set_xlabel("formation energy (eV/atom)")
sns.histplot(mp[mp.band_gap > 0], x="band_gap", hue="split", bins=60, stat="density", common_norm=False,
             element="step", ax=axes[1])
axes[1].set_xlabel("band gap (eV), non-metals only")
fig.suptitle("MP-20 properties (cf. the review's figure 5b)")
fig.tight_layout()
viz.save_figure(fig, out, "mp20_properties")
metal_share = float((tables[train_split].band_gap == 0).mean())
print(f"share of MP-20 {train_split} rows with zero band gap: {metal_share:.1%}")

# %%
others = [(n, registry.DATASETS[n].default_property) for n in ("perov_5", "carbon_24", "mpts_52") if n in cfg.datasets]
fig, axes = plt.subplots(1, len(others), figsize=(4.2 * len(others), 3.4))
property_stats = {}
for ax, (name, column) in zip(np.atleast_1d(axes), others):
    table = datasets.load_table(name, train_split, path=data_dir, limit=cfg.table_rows)
    sns.histplot(table[column], bins=50, ax=ax)
    ax.set_title(registry.DATASETS[name].title)
    ax.set_xlabel(f"{column} ({registry.DATASETS[name].properties[column].unit})")
    property_stats[name] = {column: {"mean": float(table[column].mean()), "std": float(table[column].std())}}
for column in ("formation_energy_per_atom", "band_gap"):
    col = tables[train_split][column]
    property_stats.setdefault("mp_20", {})[column] = {"mean": float(col.mean()), "std": float(col.std())}
fig.tight_layout()

# %%
fig, ax = plt.subplots(figsize=(7, 3.4))
sizes = pd.concat([pd.DataFrame({"atoms per cell": [len(s) for s in ds.structures], "dataset": ds.spec.title})
                   for ds in loaded.values()], ignore_index=True)
sns.histplot(sizes, x="atoms per cell", hue="dataset", discrete=True, stat="probability", common_norm=False,
             element="step", ax=ax)
ax.set_title("How big are the cells? (generators must predict this number too)")
fig.tight_layout()

# %% [markdown]
# ## 5. Looking at structures
#
# `viz.view` shows an interactive nglview widget in JupyterLab (rotate with the mouse) and falls
# back to a static picture where widgets cannot render (papermill, CI, a GPU box without
# nglview). Set `MATLIB_VIEWER=static` to force the picture.

# %%
example = loaded["mp_20"].structures[0] if "mp_20" in loaded else next(iter(loaded.values())).structures[0]
viz.view(example, supercell=(2, 2, 2))

# %%
picks = [(ds.spec.title, s) for ds in loaded.values() for s in ds.structures[:2]]
fig = viz.gallery([s for _, s in picks], titles=[f"{t}: {s.composition.reduced_formula}" for t, s in picks])
viz.save_figure(fig, out, "gallery")

# %% [markdown]
# ## 6. The periodic neighbour graph
#
# Graph networks for crystals connect each atom to every atom within a cutoff radius, **including
# atoms in neighbouring cells**. `matlib.graph.radius_graph` does this in plain torch (no compiled
# extensions), for a whole batch at once: for each crystal it works out how many lattice images
# can hold a neighbour (from the spacing of lattice planes), enumerates (atom, atom, image)
# triples and keeps those within the cutoff. Each edge records the neighbour's image offset, so
# the bond vector is `x[j] + image @ L - x[i]`. Cells smaller than the cutoff just mean an atom
# neighbours its own images.

# %%
viz.show_code(graph.radius_graph)

# %%
cutoff = 6.0
one = CrystalBatch.from_structures([example], dtype=torch.float64)
g = graph.radius_graph(one, cutoff)
print(f"{example.composition.reduced_formula}: {len(example)} atoms, {g.num_edges} edges within {cutoff} Å; "
      f"neighbours per atom: {g.degree(len(example)).tolist()}")
ax = viz.plot_neighbors(example, 0, g.edge_index.numpy(), g.image.numpy(),
                        title=f"neighbours of atom 0 ({example[0].specie}) within {cutoff} Å")

# %% [markdown]
# Does it agree with pymatgen's `get_neighbor_list`? We compare every (centre, neighbour, image)
# triple and its distance on real structures from all datasets (the unit tests do the same on
# random, skewed and tiny cells).

# %%
def compare_with_pymatgen(structures, cutoff):
    b = CrystalBatch.from_structures(structures, dtype=torch.float64)
    t = time.perf_counter()
    ours = graph.radius_graph(b, cutoff)
    torch_s = time.perf_counter() - t
    start = b.offsets.tolist()
    crystal_of_edge = b.batch_index[ours.edge_index[0]].tolist()
    mine = {}
    for c, (i, j), img, d in zip(crystal_of_edge, ours.edge_index.T.tolist(), ours.image.tolist(), ours.distance.tolist()):
        mine[(c, i - start[c], j - start[c], *img)] = d
    t = time.perf_counter()
    theirs = {}
    for c, s in enumerate(structures):
        ci, pj, images, dist = s.get_neighbor_list(cutoff)
        for i, j, img, d in zip(ci, pj, images, dist):
            theirs[(c, int(i), int(j), *map(int, np.round(img)))] = d
    pymatgen_s = time.perf_counter() - t
    shared = set(mine) & set(theirs)
    max_err = max((abs(mine[k] - theirs[k]) for k in shared), default=0.0)
    return {"structures": len(structures), "edges_torch": len(mine), "edges_pymatgen": len(theirs),
            "identical_edge_sets": set(mine) == set(theirs), "max_distance_error_A": max_err,
            "torch_seconds": torch_s, "pymatgen_seconds": pymatgen_s}


pool = [s for ds in loaded.values() for s in ds.structures]
rng = np.random.default_rng(seed)
chosen = [pool[i] for i in rng.choice(len(pool), size=min(cfg.graph_structures, len(pool)), replace=False)]
agreement = compare_with_pymatgen(chosen, cutoff)
agreement

# %% [markdown]
# The same call runs on the GPU for a whole batch; with `full` on a GPU the timing below is for
# the device in `cfg.device`.

# %%
big = CrystalBatch.from_structures(pool).to(cfg.device)
graph.radius_graph(big.select(range(min(8, len(pool)))), cutoff)  # warm-up
if cfg.device.type == "cuda":
    torch.cuda.synchronize()
t = time.perf_counter()
g_all = graph.radius_graph(big, cutoff)
if cfg.device.type == "cuda":
    torch.cuda.synchronize()
graph_timing = {"device": str(cfg.device), "crystals": len(pool), "edges": g_all.num_edges,
                "seconds": time.perf_counter() - t}
graph_timing["crystals_per_second"] = len(pool) / max(graph_timing["seconds"], 1e-9)
fig, ax = plt.subplots(figsize=(6, 3.2))
sns.histplot(g_all.degree(int(big.num_atoms.sum())).cpu().numpy(), bins=40, ax=ax)
ax.set_xlabel(f"neighbours within {cutoff} Å")
ax.set_title("Degree distribution over all loaded crystals")
fig.tight_layout()
graph_timing

# %% [markdown]
# ## 7. Writing crystals out
#
# Everything the series generates is written the way the field reads it: CIF for one structure,
# a multi-frame **extxyz** for many (with per-frame properties), and a zip of CIFs (MatterGen's
# `generated_crystals_cif.zip` layout). `matlib.io.read_structures` reads all three back.

# %%
gallery_structures = [s for _, s in picks]
cif_path = crystal_io.write_cif(example, out / f"{example.composition.reduced_formula}.cif")
print("\n".join(cif_path.read_text().splitlines()[:14]), "\n...")
xyz_path = crystal_io.write_extxyz(gallery_structures, out / "crystals.extxyz",
                                   info=[{"source": t} for t, _ in picks])
zip_path = crystal_io.write_cif_zip(gallery_structures, out / "crystals_cif.zip")
round_trip = [matcher.fit(a, b) for a, b in zip(gallery_structures, crystal_io.read_structures(xyz_path))]
print(f"wrote {len(gallery_structures)} crystals to {xyz_path.name} and {zip_path.name}; read back identical: {all(round_trip)}")

# %% [markdown]
# ## 8. Results
#
# Every notebook ends by writing `results.json` (the tests read it; `docs/RESULTS.md` is generated from it) and the
# crystals it produced. Here: what was loaded, the property statistics and the neighbour-list check.

# %%
metrics = {
    "datasets": {r["dataset"]: {k: r[k] for k in ("rows_read", "kept", "skipped", "atoms max", "distinct elements")}
                 for r in summary_rows},
    "property_stats": property_stats,
    "mp20_zero_gap_share": metal_share,
    "neighbour_list": agreement,
    "graph_timing": graph_timing,
    "round_trip_ok": all(round_trip),
}
path = results.write_results(out, "00_crystals_and_data", cfg, metrics, train_split=train_split,
                             eval_split=eval_split, timings={"total": time.perf_counter() - started},
                             files={"crystals": xyz_path, "cif_zip": zip_path})
print(f"results -> {path}  ({time.perf_counter() - started:.0f} s)")

# %% [markdown]
# ## Explore
#
# Change one thing, predict what happens, then run it:
# 1. **Cutoff.** Set `cutoff = 8.0` in section 6. How does the number of edges grow: linearly,
#    with the square, or with the cube of the cutoff? Check with `g.num_edges`.
# 2. **No Niggli reduction.** Load a dataset with `datasets.load_split(..., niggli=False)` and
#    compare the spread of lattice angles with the reduced version. Which would a model find
#    easier to predict?
# 3. **A tiny cell.** Build `Structure(Lattice.cubic(1.5), ["C"], [[0, 0, 0]])` and look at its
#    neighbour graph: how many neighbours does one atom have within 6 Å, and which of them are
#    itself?
# 4. **Band gaps.** What share of MP-20 has a band gap between 2.5 and 3.5 eV? That share is the
#    baseline every property-guided generator in notebooks 05–08 has to beat.
