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
# # 09 · All methods side by side
#
# **What you will learn.** The review compares its methods in three tables, but each paper used its
# own data, judge and windows, so the rows do not really compare. Here every number comes from this
# series' own runs: the same training split, the same evaluation code, the same judges (notebook
# 01's GNNs) and the same windows. You will read
# 1. Table 1: validity and coverage of the structure generators (CDVAE, joint diffusion), next to
#    the published rows;
# 2. Table 2: MatGAN's recovery, novelty and chemical validity;
# 3. SCIGEN's funnel: how many crystals that keep a kagome or Lieb lattice survive each screen;
# 4. Table 3: success rates of Con-CDVAE, adapters + guidance and the latent bird swarm on the
#    targets they share, with their unconditioned baselines, and what a success costs;
# and see the trade-offs as plots (success against cost, validity against novelty) and each
# method's best candidates, picked by one rule for all and shown in 3D.
#
# **Where the numbers come from.** Each notebook writes `results.json` into its folder under the
# results root (`outputs/` for `make run`). This notebook reads them; with `rerun_missing`, it first
# runs the notebooks whose results are missing (at this notebook's profile). Every row says which
# profile, training split and hardware produced it: a `smoke` row proves the plumbing, not the
# method.

# %%
import functools
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from matlib import comparison, config, judges, registry, results, viz
from matlib.search import candidates
from matlib import io as crystal_io
from matlib.evaluation.targeted import sample_frame
from matlib.course.runner import notebooks, run_one

# %% tags=["parameters"]
profile = "teach"      # smoke | teach | full | auto
seed = 0
device = "auto"        # auto | cpu | cuda (used only by re-runs)
out_dir = None         # None: outputs/09_comparison
results_dir = None     # the results root holding <notebook>/results.json; None: the folder above out_dir
rerun_missing = True   # run the notebooks whose results are missing (smoke: only 05 and 08, the quick ones)
train_split = "auto"   # stated in the tables; auto: the splits the results files record
eval_split = "test"
overrides = {}         # any setting of presets/09_comparison.yaml, e.g. {"gallery": 6}

# %%
cfg = config.setup("09_comparison", profile, seed=seed, device=device, out_dir=out_dir, overrides=overrides)
out, started = cfg.out, cfg.started
rerun = comparison.GENERATORS if cfg.rerun == "all" else cfg.rerun
root = Path(results_dir) if results_dir else out.parent
viz.set_style()
print(cfg.as_dict(), "| results root:", root)

# %% [markdown]
# ## 1. What has run
#
# Notebooks 00 and 01 prepare data and judges; 02–08 generate. Missing results are re-run here
# when `rerun_missing` is on (a `full` re-run of everything takes about an hour on one GPU).

# %%
found = comparison.collect(root)
missing = [stem for stem in rerun if stem not in found]
rerun_log = {}
if rerun_missing and missing:
    available = {nb.stem: nb for nb in notebooks()}
    for stem in missing:      # a failure is recorded and the comparison goes on with what exists
        run = run_one(available[stem], root, cfg.profile, {"seed": seed})
        rerun_log[stem] = f"re-run ({run['seconds']:.0f} s)" if run["status"] == "ok" else f"re-run {run['status']}"
    found = comparison.collect(root)
if train_split == "auto":     # what the notebooks say they trained on
    train_split = " / ".join(sorted({res.get("train_split") or "?" for res in found.values()})) or "val"
status = pd.DataFrame([{"notebook": stem, "status": rerun_log.get(stem, "read" if stem in found else "missing"),
                        **({k: found[stem].get(k) for k in ("profile", "train_split", "eval_split", "hardware")}
                           if stem in found else {}),
                        "minutes": round(found[stem]["timings_s"].get("total", np.nan) / 60, 1) if stem in found
                        else None} for stem in comparison.GENERATORS])
status

# %% [markdown]
# ## 2. Table 1: structure generators
#
# CDVAE's metrics on the `test` split (notebook 01's suite): structure validity (all atoms at
# least 0.5 Å apart, a cell of sensible volume), composition validity (SMACT), coverage recall and
# precision (fingerprint distances under CDVAE's thresholds) and the Wasserstein distances of
# density, of the dataset's energy property (`property`; judged by notebook 01's GNN, CDVAE's by its
# own) and of the element count. Published rows were trained on the full `train` split.

# %%
viz.show_code(comparison.structure_table)

# %%
table1 = comparison.structure_table(found)
if len(table1):
    long = table1.melt(id_vars=["method", "dataset"], value_vars=["struct_valid", "comp_valid", "cov_r", "cov_p"],
                       var_name="metric", value_name="value").dropna()
    long["metric"] = long["metric"].map({"struct_valid": "structure\nvalid", "comp_valid": "composition\nvalid",
                                         "cov_r": "COV-R", "cov_p": "COV-P"})
    grid = sns.catplot(long, x="metric", y="value", hue="method", col="dataset", kind="bar", height=3.4, aspect=1.6)
    grid.set(ylim=(0, 1.05), xlabel="", ylabel="fraction of generated crystals")
    grid.set_titles("{col_name}")
    grid.figure.savefig(out / "table1.png", dpi=120, bbox_inches="tight")
table1

# %% [markdown]
# ## 3. Table 2: MatGAN on compositions
#
# Recovery: the share of known compositions (training, held-out) that the generator produced;
# novelty: generated formulas not in training; chemically valid: SMACT neutrality and Pauling
# electronegativity order. Under our row, MatGAN's published ones (the review's Table 2, trained on 90 %
# of OQMD, Materials Project and ICSD), then the abstract's two numbers: novelty on ICSD, and the
# chemical validity of a GAN trained on SMACT-valid formulas only.

# %%
table2 = comparison.composition_table(found)
table2.T if len(table2) else "notebook 03 has not run"

# %% [markdown]
# ### Structure constraints (notebook 07)
#
# SCIGEN does not aim at a property but at a geometry. Its funnel: the share of crystals that keep
# the motif, pass SMACT, the space-occupation screen and structure validity, then (for a CHGNet-
# relaxed subset) still relax without exploding and keep the motif's bonds and angles.

# %%
constrained = comparison.constrained_table(found)
constrained if len(constrained) else "notebook 07 has not run"

# %% [markdown]
# ## 4. Table 3: hitting a target
#
# Success = valid **and** judged in the window, over all samples. The cost of a success is the
# generation time (sampling, decoding and, for the swarm, the search) per 1,000 successes, on the
# hardware the row names; training time is not included. The shared targets are the ones at least
# two notebooks aimed at: only there do two methods face the same judge and window.

# %%
table3 = comparison.targeted_table(found)
shared = comparison.shared_tasks(table3)
print("shared targets:", shared or "none yet")
comparison.shared_rows(table3).style.format({c: "{:.1%}" for c in comparison.RATES}
                                            | {"seconds_per_1000_successes": "{:.0f}"}, na_rep="–")

# %%
plotted = table3.dropna(subset=["success_rate"])
fig, axes = plt.subplots(1, 2, figsize=(13, 4.2))
sns.scatterplot(plotted, x="seconds_per_1000_successes", y="success_rate", hue="notebook", style="task", s=60,
                ax=axes[0])
axes[0].set(xscale="log", xlabel="generation seconds per 1,000 successes", ylabel="success rate",
            title="what a success costs")
sns.scatterplot(plotted, x="novel", y="valid", hue="notebook", size="success_rate", ax=axes[1])
axes[1].set(xlabel="novel (of valid)", ylabel="valid", title="validity against novelty")
for ax in axes:
    if ax.get_legend() is not None:
        ax.legend(fontsize=7, loc="best")
fig.tight_layout()
fig.savefig(out / "table3_tradeoffs.png", dpi=120, bbox_inches="tight")

# %% [markdown]
# ## 5. Each method's best candidates
#
# The same rule for every generator (`matlib.search.candidates`): valid crystals, one per formula, ranked
# by notebook 01's judges run here, never by a method's own predictor. Crystals generated for a
# target rank by how near their judged property is to it; unconditioned ones by the judged energy
# (most stable first). A few hundred crystals spread over each output file are read, to keep this
# quick.

# %%
judge = functools.cache(judges.load_judge)   # (dataset, property) -> notebook 01's judge, loaded once
picked = []
for stem, res in found.items():
    file, dataset = candidates.output_file(res, root, stem), candidates.dataset_of(stem, res)
    if file is None or dataset is None:     # notebook 03 makes compositions, not crystals
        continue
    structures, info = crystal_io.read_extxyz_frames(file, limit=cfg.candidates)   # spread over the file
    valid = sample_frame(structures, diversity=False)["valid"].to_numpy()     # CDVAE validity, as everywhere
    targets = [candidates.frame_targets(i) or candidates.results_targets(stem, res) for i in info]
    score, rule, judged = candidates.scores(structures, targets, dataset, functools.partial(judge, dataset),
                                            candidates.half_widths(res))
    for rank, i in enumerate(candidates.best(structures, valid, score, cfg.gallery), 1):
        picked.append(dict(notebook=stem, rank=rank, formula=structures[i].composition.reduced_formula,
                           dataset=dataset, rule=rule, **{f"judged_{p}": float(v[i]) for p, v in judged.items()},
                           **{f"target_{p}": t for p, t in targets[i].items()}, structure=structures[i]))
best_table = pd.DataFrame(picked)
if len(best_table):
    short = {"formation_energy_per_atom": "E_form", "band_gap": "gap"}
    unit = lambda dataset, prop: registry.get_spec(dataset).properties[prop].unit
    titles = [f"{r['notebook'][:2]}: {r['formula']}\n"
              + ", ".join(f"{short.get(key[7:], key[7:])} {value:.2f} {unit(r['dataset'], key[7:])}"
                          for key, value in r.items() if key.startswith("judged_"))
              for r in picked]
    fig = viz.gallery(list(best_table.structure), titles, cols=cfg.gallery)
    fig.savefig(out / "best_candidates.png", dpi=100, bbox_inches="tight")
    crystal_io.write_extxyz(list(best_table.structure), out / "best_candidates.extxyz",
                            info=[{k: v for k, v in r.items() if k != "structure" and pd.notna(v)} for r in picked])
    crystal_io.write_cif_zip(list(best_table.structure), out / "best_candidates_cif.zip",
                             names=[f"{r['notebook'][:2]}_{r['rank']}_{r['formula']}" for r in picked])
best_table.drop(columns="structure", errors="ignore")

# %% [markdown]
# Turn any of them around in 3D (nglview in JupyterLab; a static picture elsewhere). The CIFs are in
# `best_candidates_cif.zip` beside this notebook's results.

# %%
by_label = {f"{r['notebook'][:2]} #{r['rank']}: {r['formula']}": r["structure"] for r in picked}


def show_candidate(label):
    return viz.view(by_label[label], supercell=(2, 2, 2))


if by_label and viz.widgets_enabled():
    import ipywidgets as widgets
    widgets.interact(show_candidate, label=widgets.Dropdown(options=list(by_label), description="candidate"))
elif by_label:
    show_candidate(next(iter(by_label)))

# %% [markdown]
# ## 6. Results
#
# The tables go to `comparison.md` in the results root (the main job puts it at the top of
# `outputs/summary.md`) and to this notebook's `results.json`.

# %%
best_shown = best_table.drop(columns="structure", errors="ignore")
text = comparison.report(found, extra={"Best candidates (notebook 01's judges; valid, one per formula)":
                                       comparison.markdown(best_shown)},
                         train_split=train_split, eval_split=eval_split)
report = root / "comparison.md"
report.write_text(text)
metrics = {
    "notebooks": status.to_dict("records"),
    "table1": table1.to_dict("records"),
    "table2": table2.to_dict("records"),
    "table3": table3.drop(columns=["window"]).to_dict("records"),
    "shared_tasks": shared,
    "best_candidates": best_shown.to_dict("records"),
}
path = results.write_results(out, "09_comparison", cfg, metrics, train_split=train_split, eval_split=eval_split,
                             timings={"total": time.perf_counter() - started},
                             files={"comparison": report, "tradeoffs": out / "table3_tradeoffs.png",
                                    **({"best_candidates": out / "best_candidates.extxyz"} if picked else {})})
print(f"results -> {path}; tables -> {report}")

# %% [markdown]
# ## Explore
#
# 1. **Same target, different budget.** Re-run notebook 08 with `birds=2000` and notebook 05 with
#    `n_samples=2000`, then this notebook. Which moves more: the success rate or the cost?
# 2. **A new shared target.** Add `"Perov-5 heat_ref 1.5 eV/atom"` to notebook 06's `TASKS`
#    (notebook 05 already aims at it). Predict which method wins there before you run it.
# 3. **Profiles matter.** Point `results_dir` at a `smoke` run and at a `full` run. Which
#    conclusions survive the change of scale?
# 4. **Another judge of "best".** The unconditioned generators' candidates are ranked by the GNN's
#    formation energy. Rank notebook 04's instead by CHGNet's energy after a short relaxation
#    (`matlib.evaluation.relax_structures`). Do the same crystals come out on top?
