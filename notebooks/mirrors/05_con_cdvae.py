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
# # 05 · Con-CDVAE: generating crystals with target properties through the latent space
#
# **What you will learn** (the review's section 3.1 and figure 5)
# 1. How a number (a formation energy) or a class (a crystal system) becomes a vector a network can
#    use: Gaussian features on a fixed grid, an embedding table, an MLP that mixes them.
# 2. Con-CDVAE's two stages. Stage 1: notebook 02's CDVAE, whose decoding heads and decoder read
#    z_cond = mix(z, condition), plus a predictor that reads the property off z. Stage 2: freeze all
#    that and train a small diffusion model (DDPM) that produces latents z *given* the target.
# 3. Generation: target → prior → z → z_cond → decoder → crystals, with one or several targets.
# 4. How to measure it: success rate = valid **and** judged in the target window, over all samples,
#    next to an unconditioned generator and the data's own share in the window.
#
# **Running this notebook.** `smoke`: < 2 min on a CPU, a toy model. `teach` (a CPU, Perov-5):
# stage 1 starts from notebook 02's committed Perov-5 CDVAE and is fine-tuned for 2.5 minutes.
# `full` (one GPU, MP-20 by default): stage 1 trains a large CDVAE from scratch (or
# continues notebook 02's model when it is in `outputs/02_cdvae/`) for 220 s, stage 2 for
# 15,000 steps (a few minutes on a GPU; the README's table has the measured minutes).
#
# **Judges and windows.** Every generated crystal is scored by notebook 01's GNN for the property
# (trained on `val`, never the generator's own predictor). Windows: formation energy ±0.25 eV/atom,
# band gap ±0.5 eV, Perov-5 `heat_ref` ±0.25 eV/atom. Trained on `val`, novelty against `val`.
# On a random subset of each row (`oracle_samples`), a second judge independent of notebook 01
# checks the formation-energy condition: CHGNet relaxes the crystal and its energy becomes a
# formation energy with elemental references fitted on `val` (`matlib.oracle`; `success_oracle`).

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from sklearn.decomposition import PCA

from matlib import config, datasets, judges, oracle, paths, published, results, viz
from matlib import io as crystal_io
from matlib.batching import GraphCache, Minibatches
from matlib.cdvae import (CDVAE, MODEL_SIZES, ConCDVAE, ConditionSpec, LangevinConfig, LatentPrior,
                          LatentPriorConfig, condition_values, crystal_system_spec, decode, fill_missing, generate,
                          latent_minibatches, store)
from matlib.cdvae.conditioning import CRYSTAL_SYSTEMS, LatentMixer, ScalarEmbedding
from matlib.cdvae.prior_networks import NETWORKS, FiLMBlock
from matlib.evaluation import process_pool
from matlib.evaluation.targeted import judge_values, oracle_checks, sample_frame, window_report
from matlib.search.latent_search import encode_posteriors
from matlib.evaluation.success import in_window, noise_notes, standard_error
from matlib.load_or_train import load_or_train, pick_checkpoint
from matlib.training import budget_schedule, fit

# what stage 1 is conditioned on: (property, grid step) per dataset; None marks the class property
CONDITIONS = {"mp_20": [("formation_energy_per_atom", 0.5), ("band_gap", 0.5), ("crystal_system", None)],
              "perov_5": [("heat_ref", 0.25), ("dir_gap", 0.5)]}
# task -> {property: (target, window half-width)}; several properties = all must hit their windows
TASKS = {
    "mp_20": {
        "formation energy 0 eV/atom": {"formation_energy_per_atom": (0.0, 0.25)},
        "formation energy -2 eV/atom": {"formation_energy_per_atom": (-2.0, 0.25)},
        "formation energy -4 eV/atom": {"formation_energy_per_atom": (-4.0, 0.25)},
        "band gap 1 eV": {"band_gap": (1.0, 0.5)},
        "band gap 3 eV": {"band_gap": (3.0, 0.5)},
        "band gap 5 eV": {"band_gap": (5.0, 0.5)},
        "formation energy -2 eV/atom & band gap 3 eV": {"formation_energy_per_atom": (-2.0, 0.25),
                                                        "band_gap": (3.0, 0.5)},
    },
    "perov_5": {
        "Perov-5 heat_ref 0.5 eV/atom": {"heat_ref": (0.5, 0.25)},
        "Perov-5 heat_ref 1.5 eV/atom": {"heat_ref": (1.5, 0.25)},
        "Perov-5 heat_ref 2.5 eV/atom": {"heat_ref": (2.5, 0.25)},
    },
}

# %% tags=["parameters"]
profile = "teach"      # smoke | teach | full | auto
seed = 0
device = "auto"        # auto | cpu | cuda
dataset = None         # perov_5 | mp_20; None: the profile's (smoke, teach: perov_5; full: mp_20)
data_dir = None        # folder holding <dataset>/<split>.csv[.gz]; None: $MATLIB_DATA, then the cache
out_dir = None         # None: outputs/05_con_cdvae
train_split = "auto"   # auto: train if found or downloadable, else val
eval_split = "test"
base_checkpoint = None  # a CDVAE to start stage 1 from; None: teach, the committed data/checkpoints/cdvae/<dataset>;
                        # full, notebook 02's model beside out_dir if present; else a fresh CDVAE
train_seconds = None   # stage 1; None: the profile's (teach 150 s, full 220 s)
resume = False         # True: continue stage 1's training state in out_dir for train_seconds more
n_samples = None       # crystals per target; None: the profile's (full: 300)
prior_guidance = None  # γ of classifier-free guidance in the prior (not in Con-CDVAE); None: the presets' 1 (none)
overrides = {}         # any other setting of presets/05_con_cdvae.yaml, e.g. {"fill": "random", "oversample": 1}

# %%
cfg = config.setup("05_con_cdvae", profile, seed=seed, device=device, out_dir=out_dir, dataset=dataset,
                   overrides=overrides, train_seconds=train_seconds, n_samples=n_samples, prior_guidance=prior_guidance)
out, started, dataset = cfg.out, cfg.started, cfg.dataset
starts = {"notebook_02": [out.parent / "02_cdvae" / "checkpoint" / dataset],    # notebook 02's run beside this one
          "committed": [paths.checkpoints_dir() / "cdvae" / dataset], "none": []}
base_stem = pick_checkpoint(base_checkpoint, *starts[cfg.base])
tasks = dict(list(TASKS[dataset].items())[:cfg.n_tasks])
train_split = datasets.resolve_train_split(dataset, train_split, path=data_dir)
viz.set_style()
print(cfg.as_dict(), "->", out, "| stage 1 starts from:", base_stem or "a fresh CDVAE")

# %% [markdown]
# ## 1. Properties as vectors
#
# A network reads a formation energy of −1.7 eV/atom badly as one raw number: a single input can
# only scale a weight. Con-CDVAE expands it on Gaussians centred on a fixed grid (every 0.5 eV/atom
# for MP-20's formation energy, width = the spacing), so nearby values give overlapping patterns and distant ones do not;
# an MLP turns those features into 64 numbers. A class (the crystal system) gets a learned vector
# from a table. All properties' vectors are concatenated and mixed into one condition c.

# %%
train_set = datasets.load_split(dataset, train_split, path=data_dir, limit=cfg.train_limit)
test_set = datasets.load_split(dataset, eval_split, path=data_dir, limit=cfg.train_limit)
specs = tuple(crystal_system_spec() if step is None else
              ConditionSpec.scalar_from_data(name, train_set.table[name], step)
              for name, step in CONDITIONS[dataset])
train_values = condition_values(train_set.table, specs)
test_values = condition_values(test_set.table, specs)
print(train_set.summary())
pd.DataFrame([s.as_dict() | {"grid points": s.grid_size if s.kind == "scalar" else None} for s in specs])

# %%
viz.show_code(ScalarEmbedding)
first = specs[0]
embedding = ScalarEmbedding(first)
grid = torch.linspace(first.lo - first.step, first.hi + first.step, 400)
fig, axes = plt.subplots(1, 2, figsize=(12, 3.2))
axes[0].plot(grid, embedding.basis(grid)[:, ::1].numpy(), lw=1)
axes[0].set(title=f"Gaussian features of {first.name}", xlabel=first.name, ylabel="feature value")
values = train_values[:, 0].numpy()
axes[1].hist(values, bins=60, color="C7")
axes[1].set(title=f"{first.name} in {dataset}/{train_split}", xlabel=first.name, ylabel="crystals")
fig.tight_layout()
if any(s.name == "crystal_system" for s in specs):
    column = [s.name for s in specs].index("crystal_system")
    counts = np.bincount(train_values[:, column].long().numpy(), minlength=len(CRYSTAL_SYSTEMS))
    print("crystal systems (from the space-group numbers):", dict(zip(CRYSTAL_SYSTEMS, counts.tolist())))

# %% [markdown]
# ## 2. The conditioned latent z_cond
#
# Con-CDVAE mixes the condition into the latent before anything is decoded: z_cond = MLP([z ; c])
# feeds the atom-count, lattice and composition heads and the score decoder. We write it as
# z_cond = z + MLP([z ; c]) with the MLP's last layer starting at zero: the new model then *is*
# the CDVAE it starts from (here notebook 02's), and training only has to learn how the condition
# should bend it. A check on real crystals: before training, z_cond equals z exactly.

# %%
viz.show_code(LatentMixer)
train_batch = train_set.batch()
learnt_from = [train_split]   # every split the model saw: novelty is measured against all of them
if base_stem is not None:
    base, base_ckpt = store.load(base_stem, device=cfg.device, dataset=dataset)
    learnt_from.append(base_ckpt.trained_on.get("split"))
    print(f"base CDVAE: {base_stem} ({base_ckpt.step} steps, trained on {base_ckpt.trained_on.get('split')})")
else:
    base = CDVAE.from_data(train_batch, **MODEL_SIZES[cfg.model_size]).to(cfg.device)
model = ConCDVAE.from_cdvae(base, specs)
with torch.no_grad():
    z_check, _ = encode_posteriors(model.cdvae, train_batch.select(torch.arange(min(64, len(train_batch)))).to(cfg.device))
    gap = (model.z_cond(z_check, train_values[:len(z_check)]) - z_check).abs().max().item()
print(f"max |z_cond - z| before training: {gap:.1e}")
counts = {name: sum(p.numel() for p in part.parameters()) for name, part in
          (("CDVAE", model.cdvae), ("condition", model.condition), ("mixer", model.mixer),
           ("predictor", model.predictor))}
print(f"Con-CDVAE: {sum(counts.values()):,} parameters", counts)


# %% [markdown]
# ## 3. Stage 1: train everything together
#
# CDVAE's six losses, now computed from z_cond, plus the property predictor's: an MLP reads z
# (not z_cond) and predicts the min-max scaled properties, weight 3 (Con-CDVAE's). Its job is not to
# judge anything; it pushes crystals with similar properties close together in z, which is what
# lets the prior of stage 2 find the right region.

# %%
def train_stage1(model):
    """AdamW on the Con-CDVAE loss (CDVAE's terms plus the property predictor), saving the training state."""
    model.to(cfg.device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3 if base_stem is None else 3e-4)
    graphs = GraphCache(train_batch.to(cfg.device), model.cdvae.config.encoder.cutoff,
                        model.cdvae.config.encoder.max_neighbors, targets=train_values.to(cfg.device))
    minibatches = Minibatches(graphs, torch.arange(len(train_batch)), min(cfg.batch_size, len(train_batch)), seed=seed)
    state = out / "training_state" / f"{dataset}_stage1"     # resume=True continues it
    schedule = budget_schedule(optimizer, cfg.lr_schedule, cfg.train_steps, cfg.train_seconds)
    return model, fit(model, optimizer, lambda m, item: m.loss(item[0], item[2], graph=item[1]), minibatches,
                      max_steps=cfg.train_steps, max_seconds=cfg.train_seconds, grad_clip=1.0, autocast=cfg.autocast,
                      scheduler=schedule, ema_decay=cfg.ema, log_every=max(1, min(100, cfg.train_steps // 20)),
                      checkpoint=state, resume=resume, checkpoint_every=2000, config=model.config.as_dict(),
                      trained_on={"dataset": dataset, "split": train_split}, desc=f"stage 1 on {dataset}/{train_split}")


# saved in section 10, with the predictor's test error that section 4 measures
stage1 = load_or_train(store, train_stage1, model=model, dataset=dataset, split=train_split, device=cfg.device,
                       save_to=None)
model, run = stage1.model.eval(), stage1.run
print(f"stage 1: {run.steps} steps ({run.steps - run.resumed_from} in {run.seconds:.0f} s in this run)")
terms = ["lattice", "composition", "coords", "types", "kl", "predictor"]
viz.save_figure(viz.loss_terms_figure(run.history, terms, height=2.6), out, "loss_curves")

# %% [markdown]
# ## 4. The latent space, organised by property
#
# μ(x) of every training crystal projected to 2-D (PCA) and coloured by the property: with the
# predictor's pull, the colours should form gradients rather than confetti. Right: the predictor
# on held-out crystals (it reads z, so this is how much of the property z carries).

# %%
mu_train, _ = encode_posteriors(model.cdvae, train_batch.to(cfg.device))
mu_test, _ = encode_posteriors(model.cdvae, test_set.batch().to(cfg.device))
with torch.no_grad():
    predicted_test = model.predictor(mu_test).cpu()
pca = PCA(2, random_state=seed).fit(mu_train.cpu().numpy())
projected = pca.transform(mu_train.cpu().numpy())
scalar_columns = [i for i, s in enumerate(specs) if s.kind == "scalar"]
fig, axes = plt.subplots(1, len(scalar_columns) + 1, figsize=(5 * (len(scalar_columns) + 1), 4))
predictor_mae = {}
for ax, i in zip(axes, scalar_columns):
    points = ax.scatter(projected[:, 0], projected[:, 1], c=train_values[:, i], s=3, cmap="viridis")
    fig.colorbar(points, ax=ax, label=specs[i].name)
    ax.set(title=f"μ(x) of {dataset}/{train_split}, PCA", xticks=[], yticks=[])
for i in scalar_columns:
    predictor_mae[specs[i].name] = float((predicted_test[:, i] - test_values[:, i]).abs().mean())
i = scalar_columns[0]
axes[-1].scatter(test_values[:, i], predicted_test[:, i], s=3, alpha=0.4)
axes[-1].plot([specs[i].lo, specs[i].hi], [specs[i].lo, specs[i].hi], "k--", lw=1)
axes[-1].set(title=f"predictor on {eval_split}: MAE {predictor_mae[specs[i].name]:.2f}", xlabel="true",
             ylabel="predicted from z")
fig.tight_layout()
print("predictor MAE on", eval_split, predictor_mae)

# %% [markdown]
# What did the embedding learn? The cosine similarity between the embedding vectors of values
# across the first property's grid: after training, nearby values get similar vectors and the
# similarity fades with distance, so the mixer can tell −2 from −4 eV/atom but treats −2.0 and
# −2.1 alike.

# %%
grid_values = torch.linspace(first.lo, first.hi, 60, device=cfg.device)
with torch.no_grad():
    vectors = model.condition.embeddings[0](grid_values)
    similarity = torch.nn.functional.cosine_similarity(vectors[:, None], vectors[None], dim=-1).cpu()
fig, ax = plt.subplots(figsize=(4.6, 4))
image = ax.imshow(similarity, extent=[first.lo, first.hi, first.hi, first.lo], cmap="viridis", vmin=-1, vmax=1)
fig.colorbar(image, ax=ax, label="cosine similarity")
ax.set(xlabel=first.name, ylabel=first.name, title="learnt property embeddings")
ax.grid(False)
fig.tight_layout()

# %% [markdown]
# ## 5. Stage 2: a diffusion prior over z, given the target
#
# Stage 1 is frozen. Each training crystal now gives one example (its latent μ(x), its
# properties). The prior learns to turn noise into such latents in T = 300 steps (β from 1e-3 to
# 0.02, linear), conditioned on the properties, by predicting the noise that was added.
#
# Which network predicts it matters more than anything else in this notebook. Con-CDVAE's is a small
# MLP U-Net (widths 256 → 32 → 256, the condition and the time concatenated to every layer;
# `overrides={"prior_network": "unet"}`). On our MP-20 latents its samples lie about twice as far from the encoder's
# latents as held-out crystals do, and when asked for −4 eV/atom the predictor reads them about
# halfway back to the data mean: it blurs the target into the data mean. We use a residual MLP at constant width whose every block
# normalises its input and then scales and shifts it by amounts computed from (condition, time)
# (FiLM, as in the latent priors of image diffusion models). On the same stage-1 model it lowers the
# prior's loss by two thirds and doubles the formation-energy success (`lab/findings_by_notebook.md`, section 05).

# %%
viz.show_code(FiLMBlock if cfg.prior_network == "film" else NETWORKS[cfg.prior_network].forward)
prior = LatentPrior(LatentPriorConfig(model.cdvae.config.latent, specs, network=cfg.prior_network,
                                      width=cfg.prior_width, blocks=cfg.prior_blocks,
                                      condition_dropout=0.1 if cfg.prior_guidance != 1 else 0.0)).to(cfg.device)
prior.fit_scale(mu_train)


def train_prior(prior):
    """The diffusion prior learns to denoise the encoder's latents given their properties."""
    optimizer = torch.optim.AdamW(prior.parameters(), lr=1e-3)
    return prior, fit(prior, optimizer, lambda p, item: p.loss(item[0], item[1]),
                      latent_minibatches(mu_train, train_values.to(cfg.device), min(256, len(mu_train)), seed=seed),
                      max_steps=cfg.prior_steps, max_seconds=cfg.prior_seconds, grad_clip=1.0,
                      scheduler=budget_schedule(optimizer, cfg.lr_schedule, cfg.prior_steps, cfg.prior_seconds),
                      log_every=max(1, min(100, cfg.prior_steps // 20)), desc="stage 2: latent prior")


stage2 = load_or_train(store, train_prior, model=prior, dataset=dataset, split=train_split, device=cfg.device,
                       save_to=out / "checkpoint" / f"{dataset}_prior", metrics=lambda run, _: {"loss": run.last()})
prior, prior_run = stage2.model.eval(), stage2.run
print(f"prior: {sum(p.numel() for p in prior.parameters()):,} parameters, {prior_run.steps} steps in "
      f"{prior_run.seconds:.0f} s, last loss {prior_run.last():.3f}")

# %% [markdown]
# Does the prior listen? Before decoding a single crystal, ask it for latents at a few target
# values of the first property (the others from training rows with a similar value) and read them with the
# predictor: the predicted values should follow the request. Left: prior samples (orange) over the
# encoder's latents (grey), in the same projection.

# %%
generator = torch.Generator(device=cfg.device).manual_seed(seed)
first_scalar = scalar_columns[0]
spread = torch.tensor([s.spread for s in specs])
probe = np.linspace(np.percentile(train_values[:, first_scalar], 5), np.percentile(train_values[:, first_scalar], 95), 5)
probe_rows = []
with torch.no_grad():
    for value in probe:
        asked = torch.full((200, len(specs)), float("nan"))
        asked[:, first_scalar] = float(value)
        filled = fill_missing(asked.to(cfg.device), train_values.to(cfg.device), generator, nearest=100,
                              scale=spread)
        read = model.predictor(prior.sample(filled, generator, guidance=cfg.prior_guidance))[:, first_scalar]
        probe_rows.append(dict(target=float(value), predicted_mean=float(read.mean()), predicted_std=float(read.std())))
    unconditional = prior.sample(fill_missing(torch.full((500, len(specs)), float("nan"), device=cfg.device),
                                              train_values.to(cfg.device), generator), generator)
probe_table = pd.DataFrame(probe_rows)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
axes[0].scatter(projected[:, 0], projected[:, 1], s=2, color="0.7", label="encoder μ(x)")
prior_xy = pca.transform(unconditional.cpu().numpy())
axes[0].scatter(prior_xy[:, 0], prior_xy[:, 1], s=3, color="C1", label="prior samples")
axes[0].set(title="latents, PCA", xticks=[], yticks=[])
axes[0].legend()
axes[1].errorbar(probe_table.target, probe_table.predicted_mean, probe_table.predicted_std, fmt="o-")
axes[1].plot(probe, probe, "k--", lw=1)
axes[1].set(xlabel=f"asked {specs[first_scalar].name}", ylabel="predictor on the prior's z",
            title="the prior follows the target")
fig.tight_layout()
probe_table

# %% [markdown]
# ## 6. Generation and success rates
#
# For each task: set its targets and fill every other condition from a training row. Con-CDVAE's
# "less" strategy takes a random row, which pairs a target of −4 eV/atom with the band gap and
# crystal system of whatever crystal comes up, a combination the model has rarely seen. We take a
# random row among the 100 whose given properties lie closest to the targets (`fill`: `matched`),
# and compare both on the first task. (With MP-20, the `full` profile's dataset, the last task gives two
# targets at once; Perov-5, at `smoke` and `teach`, has one property to target.) Then sample
# `oversample` latents per crystal, keep the one the predictor puts nearest the target
# (Con-CDVAE's optional down-selection), decode, judge. Two baselines with the same decoder: no
# target at all (every condition from a random training row), and, when stage 1 started from one,
# notebook 02's plain CDVAE with z ~ N(0, I). "data share" is the share of `val` crystals already
# in the window: what picking known crystals at random would give.

# %%
judge_for = {}
for task_targets in tasks.values():
    for prop in task_targets:
        if prop not in judge_for:
            judge_for[prop] = judges.load_judge(dataset, prop, device=cfg.device)
for prop, judge in judge_for.items():
    print(judge.describe())
decoding = LangevinConfig(steps_per_level=cfg.steps_per_level)
reference = train_values.to(cfg.device)
column_of = {s.name: i for i, s in enumerate(specs)}
known = datasets.training_crystals(dataset, learnt_from, path=data_dir, limit=cfg.train_limit,
                                   loaded={train_split: train_set})
rows, generated = [], {}
data_share = {}   # the training crystals already in every window of a task
for task, task_targets in tasks.items():
    inside = np.ones(len(train_set), dtype=bool)
    for name, (t, h) in task_targets.items():
        inside &= in_window(train_values[:, column_of[name]].numpy(), t - h, t + h)
    data_share[task] = float(inside.mean())


def scorecard(structures):
    """Validity, uniqueness, novelty (once per set of samples) and every judge's values."""
    return (sample_frame(structures, train=known, executor=pool),
            {prop: judge_values(structures, judge) for prop, judge in judge_for.items()})


formation_column = oracle.FORMATION_COLUMN.get(dataset)
try:   # the CHGNet oracle re-judges the formation-energy condition on a subset (matlib.oracle)
    oracle_mu = oracle.fitted_references(dataset) if formation_column else None
except oracle.LabelsError as err:
    oracle_mu = None
    print("no oracle column:", err)


oracle_requests = []   # (row, request): judged by the oracle in one batch once every row is sampled


def oracle_request(task, structures, per_sample, judged):
    """The task's formation-energy condition, to be judged again by CHGNet; its other conditions keep their judge."""
    if oracle_mu is None or formation_column not in tasks[task]:
        return None
    target, half = tasks[task][formation_column]
    others_ok = np.ones(len(structures), dtype=bool)
    for name, (t, h) in tasks[task].items():
        if name != formation_column:
            others_ok &= in_window(judged[name], t - h, t + h)
    return structures, per_sample, (target - half, target + half), others_ok


def score(task, method, structures, card, seconds):
    frame, judged = card
    (prop, (target, half)), *others = tasks[task].items()
    summary, per_sample = window_report(frame, judged[prop], (target - half, target + half),
                                        also={name: (judged[name], (t - h, t + h)) for name, (t, h) in others})
    generated[(task, method)] = (structures, per_sample)
    rows.append(dict(task=task, method=method, **summary, data_share=data_share[task], seconds=seconds,
                     judge=judge_for[prop].describe()))
    if request := oracle_request(task, structures, per_sample, judged):
        oracle_requests.append((len(rows) - 1, request))


section_started = time.perf_counter()
main_method = "Con-CDVAE" if cfg.prior_guidance == 1 else f"Con-CDVAE, prior γ = {cfg.prior_guidance:g}"
with process_pool() as pool:
    for i, (task, task_targets) in enumerate(tasks.items()):
        asked = torch.full((cfg.n_samples, len(specs)), float("nan"))
        for name, (target, _) in task_targets.items():
            asked[:, column_of[name]] = target
        variants = [(main_method, cfg.oversample, cfg.fill, cfg.prior_guidance)]
        if i == 0:   # ablations on the first task
            variants += [("Con-CDVAE, no down-selection", 1, cfg.fill, cfg.prior_guidance)] * (cfg.oversample > 1)
            variants += [("Con-CDVAE, random-row fill", cfg.oversample, "random", cfg.prior_guidance)] * (cfg.fill != "random")
            variants += [("Con-CDVAE, no guidance", cfg.oversample, cfg.fill, 1.0)] * (cfg.prior_guidance != 1)
        for method, k, how, gamma in variants:
            samples = generate(model, prior, asked, reference, decoding, oversample=k, fill=how, guidance=gamma,
                               generator=generator, autocast=cfg.autocast, desc=f"{task} ({method})")
            structures = samples.crystals.to("cpu").to_structures()
            score(task, method, structures, scorecard(structures), samples.seconds)
    # the baselines do not depend on the target: generate and check them once, judge them per task
    no_target = generate(model, prior, torch.full((cfg.n_samples, len(specs)), float("nan")), reference, decoding,
                         generator=generator, autocast=cfg.autocast, desc="no target")
    baselines = {"Con-CDVAE, no target": (no_target.crystals.to("cpu").to_structures(), no_target.seconds)}
    if base_stem is not None:
        z = torch.randn(cfg.n_samples, base.config.latent, device=cfg.device, generator=generator)
        plain = decode(base, z, decoding, generator=generator, autocast=cfg.autocast, desc="CDVAE, z ~ N(0, I)")
        baselines["CDVAE (notebook 02), z ~ N(0, I)"] = (plain.crystals.to("cpu").to_structures(), plain.seconds)
    for method, (structures, seconds) in baselines.items():
        card = scorecard(structures)
        for task in tasks:
            score(task, method, structures, card, seconds)
    if oracle_requests:   # every row's subset relaxed in one batch: the GPU is fastest on many crystals at once
        by_oracle = oracle.formation_energy_judge(dataset, device=cfg.device.type, executor=pool, references=oracle_mu,
                                                  steps=cfg.oracle_steps)
        checks = oracle_checks([request for _, request in oracle_requests], by_oracle, limit=cfg.oracle_samples,
                               seed=seed)
        for (row, _), check in zip(oracle_requests, checks):
            rows[row] |= check
generation_seconds = time.perf_counter() - section_started
sampling_seconds = (sum(seconds for _, seconds in baselines.values())
                    + sum(r["seconds"] for r in rows if r["method"] not in baselines))
print(f"generation and judging: {generation_seconds:.0f} s, of which sampling {sampling_seconds:.0f} s")
order = {task: k for k, task in enumerate(tasks)}
table = pd.DataFrame(rows).sort_values("task", key=lambda column: column.map(order), kind="stable")
table = table.reset_index(drop=True)
table["success SE"] = standard_error(table.success_rate, table.n)   # binomial: sqrt(p (1 - p) / n)
table["valid SE"] = standard_error(table.valid, table.n)
for note in noise_notes(table, table.method == "Con-CDVAE, no target"):
    print(note)
shown = table[["task", "method", "success_rate", "success SE", "valid", "valid SE", "in_window_of_valid",
               "data_share", "unique", "novel", "judged_mean", "n", "n_success", "single_element"]]
shown.style.format({c: "{:.1%}" for c in ("success_rate", "success SE", "valid", "valid SE", "in_window_of_valid",
                                          "data_share", "unique", "novel")} | {"judged_mean": "{:.2f}"})

# %% [markdown]
# ## 7. What the judge sees: the review's figure 5(c)
#
# For each target of the first property: the judged values of the generated crystals (valid ones)
# against the training distribution. A conditional generator moves the mass onto the target; an
# unconditioned one reproduces the training curve.

# %%
by_property = {}
for task, task_targets in tasks.items():
    if len(task_targets) == 1:
        (prop, (target, half)), = task_targets.items()
        by_property.setdefault(prop, []).append((task, target, half))
fig, axes = plt.subplots(1, len(by_property), figsize=(6 * len(by_property), 3.6), squeeze=False)
for ax, (prop, entries) in zip(axes[0], by_property.items()):
    sns.kdeplot(train_values[:, column_of[prop]].numpy(), ax=ax, color="k", ls="--", label=f"{train_split} data",
                bw_adjust=0.7)
    for colour, (task, target, half) in zip(sns.color_palette(n_colors=len(entries)), entries):
        frame = generated[(task, main_method)][1]
        values = frame.loc[frame["valid"], "judged"].dropna().to_numpy()
        if len(values) > 1:
            sns.kdeplot(values, ax=ax, color=colour, label=f"target {target:g}", bw_adjust=0.7)
        ax.axvspan(target - half, target + half, color=colour, alpha=0.15)
    low, high = np.percentile(train_values[:, column_of[prop]].numpy(), [0.1, 99.5])
    margin = 0.15 * (high - low)
    ax.set(xlabel=f"judged {prop}", title=f"{dataset}: generated crystals by target", xlim=(low - margin, high + margin))
    ax.legend(fontsize=8)
fig.tight_layout()
viz.save_figure(fig, out, "generated_by_target")

# %%
best_task = max(tasks, key=lambda t: table[(table.task == t)
                                           & (table.method == main_method)].success_rate.iloc[0])
structures, frame = generated[(best_task, main_method)]
hits = [s for s, ok in zip(structures, frame["success"]) if ok][:6]
if hits:
    viz.gallery(hits, [f"{s.composition.reduced_formula}: {v:.2f}"
                       for s, v in zip(hits, frame.loc[frame["success"], "judged"])]).suptitle(best_task)

# %% [markdown]
# ## 8. Success-rate table
#
# Success counts **every** sample in the denominator, invalid ones included. The review's Table 3
# quotes Con-CDVAE's success on MP-20 (printed below from `matlib.published`) without stating the
# targets, the windows, the judge or the sample count; ours use notebook 01's judge and the windows
# above, one rate per target (a mean over targets would hide that a 0 eV/atom formation energy is
# easy: any single element meets it, and the table counts how many successes are one), trained
# on this run's dataset and split (printed above; at `full`, MP-20's `val`: 9,047 crystals against
# 27,136 in `train`), so compare the kind, not the decimals. Each rate carries its binomial standard
# error; rows the printed notes call "within two standard errors" of the no-target baseline are not
# separated by this many crystals (at `teach`, 100 per target).

# %%
paper = published.table3()
print("Con-CDVAE as the review's Table 3 prints it (targets, windows, judge and sample count not stated):")
print(paper[paper.method == "Con-CDVAE (paper)"][["data", "training_samples", "property", "success"]].to_string(index=False))
# ours, one rate per target: no mean over targets (the 0 eV/atom one is easy for single elements)
ours = table[table.method == main_method]
ours[["task", "success_rate", "success SE", "n_success", "single_element", "n"]].style.format(
    {"success_rate": "{:.1%}", "success SE": "{:.1%}"})

# %% [markdown]
# ## 9. What is faithful to Con-CDVAE, and what is simplified
#
# **Faithful:** Gaussian-basis property embeddings on a fixed grid (width = spacing) through an
# MLP, a table embedding for the crystal system, concatenation and an MLP into c; z_cond from
# [z ; c] feeding every decoding head and the decoder; a predictor on z with min-max scaled MSE,
# weight 3; stage 2 as a DDPM over the frozen encoder's μ(x), T = 300, linear β 1e-3 → 0.02,
# ε-prediction with the condition and the time at every layer; generation by ancestral sampling,
# optional over-sampling with predictor down-selection, the "less" strategy for missing targets
# (as an ablation row; our default fills them from training rows that match the targets).
#
# **Simplified, and why:** notebook 02's CDVAE (our periodic GNN and all-pairs decoder) instead of
# DimeNet++/GemNet; z_cond = z + MLP([z ; c]) with a zero-initialised last layer, so stage 1 can
# start from a trained CDVAE and train for minutes instead of 500 epochs; the prior's latents are
# standardised per dimension; minutes of training on `val`; the success rates are judged by our own
# GNN, not by Con-CDVAE's CGCNN surrogates or DFT.
#
# **Changed, and why:** the prior's network is a residual MLP with FiLM conditioning, not
# Con-CDVAE's MLP U-Net (still there: `overrides={"prior_network": "unet"}`). Trained on the same latents, the
# U-Net's samples stay near the data mean and far from the latents of real crystals with the asked
# property, and three times more steps do not change that; the FiLM network's follow the target
# (section 5).
#
# **Added, off by default:** `prior_guidance` > 1 trains the prior with 10 % condition dropout and
# samples it with classifier-free guidance (as notebook 06 does for the diffusion model). The probe
# above reads the prior's pull toward the data mean, and guidance counters it: with the U-Net prior
# the probe's readings moved to the targets, but the decoded crystals did not follow, validity fell,
# and the rare targets lost (`lab/findings_by_notebook.md`, section 05, has the runs). Latents pushed
# where the predictor reads the target leave the region the decoder learnt. Hence off by default.

# %% [markdown]
# ## 10. Results

# %%
kept = [(task, s) for (task, method), (structures, _) in generated.items() if method == main_method
        for s in structures if s is not None]
xyz = crystal_io.write_extxyz([s for _, s in kept], out / "generated.extxyz",   # each crystal says what it aimed at
                              info=[{"task": task, **{f"target_{prop}": t for prop, (t, _) in tasks[task].items()}}
                                    for task, _ in kept])
stage1_file = store.save(out / "checkpoint" / f"{dataset}_stage1", model, dataset=dataset, split=train_split,
                         step=run.steps, extra={"history": run.history},
                         metrics={"train_seconds": run.seconds, "train_split": train_split,
                                  "predictor_mae": predictor_mae, "hardware": results.hardware(cfg.device)})
metrics = {
    "dataset": dataset,
    "conditions": [s.as_dict() for s in specs],
    "windows": {task: {p: [t - h, t + h] for p, (t, h) in tt.items()} for task, tt in tasks.items()},
    "success": table.drop(columns=["window"]).to_dict("records"),
    "predictor_mae": predictor_mae,
    "prior_probe": probe_table.to_dict("records"),
    "model": {"parameters": sum(counts.values()), "base": str(base_stem) if base_stem else None,
              "stage1_steps": run.steps, "stage1_seconds": run.seconds, "resumed_from": run.resumed_from,
              "prior_steps": prior_run.steps, "prior_seconds": prior_run.seconds},
    "sampling": {"n_per_task": cfg.n_samples, "steps_per_level": cfg.steps_per_level, "oversample": cfg.oversample,
                 "fill": cfg.fill, "prior_guidance": cfg.prior_guidance},
}
path = results.write_results(out, "05_con_cdvae", cfg, metrics, train_split=train_split, eval_split=eval_split,
                             timings={"total": time.perf_counter() - started, "stage1": run.seconds,
                                      "prior": prior_run.seconds, "generation_and_judging": generation_seconds,
                                      "sampling": sampling_seconds},
                             files={"generated": xyz, "stage1": stage1_file, "prior": stage2.saved})
print(f"results -> {path}  ({time.perf_counter() - started:.0f} s)")

# %% [markdown]
# ## Explore
#
# 1. **No predictor.** Set `model.config.predictor_weight = 0` before stage 1. Predict: does the
#    PCA picture lose its gradient? Does the success rate fall, as Con-CDVAE's ablation says?
# 2. **A coarser grid.** Change the formation-energy step in `CONDITIONS` from 0.5 to 2.0. Which
#    targets suffer: the extreme ones or the common ones?
# 3. **No down-selection.** Run with `overrides={"oversample": 1}`, then 16 (the default). How much of the success
#    rate comes from the prior, and how much from the predictor picking among its samples?
# 4. **Guide the prior.** Run with `prior_guidance=2`. Predict which targets gain (the rare ones far
#    from the data mean?) and which lose, then compare the rows with and without guidance.
# 5. **Impossible targets.** Ask `generate` for a formation energy of +2 eV/atom, outside the grid:
#    it refuses, and says why. Pass `allow_extrapolation=True` and predict what the prior produces
#    and what the judge says about it; then run it.
# 6. **End on small steps.** Run with `overrides={"lr_schedule": "cosine"}`: stage 1 and the prior end with their
#    learning rates decayed to zero (with larger batches, it helped notebook 06's adapters). Does the
#    probe's reading of the target (section 5) get sharper, and do the crystals follow it?
# 7. **Con-CDVAE's own prior network.** Run with `overrides={"prior_network": "unet"}`. Before running: will the
#    probe in section 5 still read −4 eV/atom when −4 is asked? Which targets lose most, the common
#    ones or the rare ones?
