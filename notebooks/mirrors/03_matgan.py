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
# # 03 · MatGAN: a Wasserstein GAN over composition matrices
#
# **What you will learn** (the review's section 2.2, figure 3 and table 2)
# 1. MatGAN's representation: a composition as an 85 × 8 binary matrix (element × atom count), and
#    what it cannot represent.
# 2. A convolutional generator and critic, trained as a Wasserstein GAN with gradient penalty, and
#    why the plain GAN loss struggles here (watch the diversity of its samples collapse), while the
#    Wasserstein critic gives a training curve you can read.
# 3. Sampling at scale: millions of compositions on a GPU in seconds, screened for chemistry with
#    SMACT (charge neutrality and electronegativity) although no rule was given to the GAN.
# 4. The review's table 2 for our run: recovery of training and held-out compositions, novelty,
#    uniqueness; and a 2-D map of training, held-out and generated compositions (figure 3b).
#
# **Running this notebook.** `smoke`: ~1 min on a CPU, a barely trained GAN (proves the pipeline).
# `teach`: CPU, ~2 min when `data/checkpoints/matgan/` holds the committed generator (trained with
# `full` on a GPU), which then makes the 200,000 samples; without it, ~6 min, 4 of them training a
# small GAN here. `full`: GPU, 4.5 min of training, 2,000,000 samples, about 8 minutes in all; the trained
# generator is saved to `<out_dir>/checkpoint/` (copy it to `data/checkpoints/matgan/` to make it
# the committed one).
#
# **Data.** Formulas of MP-20's `train_split` train the GAN (`auto`: `train` when available, else
# `val`, as on this project's machines); the `test` split's formulas are the held-out set whose
# recovery is measured.

# %%
import os
import time
from concurrent.futures import ProcessPoolExecutor

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from sklearn.manifold import TSNE

from matlib import baselines, comparison, config, datasets, paths, published, registry, results, viz
from matlib.matgan import composition_matrix as cm
from matlib.matgan.composition_screening import screen_rows
from matlib.load_or_train import load_or_train
from matlib.matgan.wgan import Critic, GANHistory, Generator, GeneratorStore, train_gan

# One generator size for every profile, so the committed (GPU-trained) checkpoint fits teach and
# stays small (~260k parameters, 0.5 MB in fp16); the critic and the rest: presets/03_matgan.yaml
GENERATOR = dict(width=64, channels=(32, 16, 8))

# %% tags=["parameters"]
profile = "teach"      # smoke | teach | full | auto
seed = 0
device = "auto"        # auto | cpu | cuda
data_dir = None        # folder holding <dataset>/<split>.csv[.gz]; None: $MATLIB_DATA, then the cache
out_dir = None         # None: outputs/03_matgan
dataset = "mp_20"
train_split = "auto"     # formulas the GAN learns from (auto: train if available, else val)
eval_split = "test"    # held-out formulas whose recovery is measured
use_pretrained = True  # teach: sample from the committed generator when there is one
overrides = {}         # any setting of presets/03_matgan.yaml, e.g. {"wgan_seconds": 60}

# %%
cfg = config.setup("03_matgan", profile, seed=seed, device=device, out_dir=out_dir, dataset=dataset,
                   overrides=overrides)
out, started = cfg.out, cfg.started
if cfg.device.type == "cpu":
    # these convolutions are small: extra threads gain little, and on a busy 2-core machine
    # threads that wait for each other made steps 50x slower
    torch.set_num_threads(max(1, min(4, (os.cpu_count() or 2) // 2)))
committed = paths.checkpoints_dir() / "matgan" / f"{dataset}__generator"
train_split = datasets.resolve_train_split(dataset, train_split, path=data_dir)
viz.set_style()
print(cfg.as_dict(), f"| torch threads {torch.get_num_threads()} ->", out)

# %% [markdown]
# ## 1. A composition as an 85 × 8 matrix
#
# Row *e* is one of 85 elements (H…Pu without the noble gases and Po, At, Fr, Ra, as MatGAN); column
# *j* set means "*j* + 1 atoms of that element" in the reduced formula. An absent element is an
# all-zero row. BaTiO₃ lights up three cells:

# %%
example = cm.encode("BaTiO3")
rows_used = [cm.ROW[e] for e in ("O", "Ti", "Ba")]
fig, ax = plt.subplots(figsize=(9, 2.2))
ax.imshow(example.T, aspect="auto", cmap="Greys", interpolation="nearest")
ax.set(xlabel="element row (H … Pu)", ylabel="atoms − 1", title="BaTiO3 as an 85 × 8 matrix")
ax.set_xticks(rows_used, [cm.ELEMENTS[r] for r in rows_used])
fig.tight_layout()
print("decoded back:", cm.decode(example[None]))

# %% [markdown]
# What it **cannot** represent: more than 8 atoms of one element in the reduced formula, the 9
# missing elements, partial occupancies, and any structure (two polymorphs are one matrix). How
# much of MP-20 is lost?

# %%
tables = {split: datasets.load_table(dataset, split, path=data_dir) for split in (train_split, eval_split)}
formula_column = registry.DATASETS[dataset].formula_column
encoded, kept, skipped = cm.encode_many(tables[train_split][formula_column])
print(f"{len(kept)} of {len(tables[train_split])} {train_split} formulas representable; "
      f"{len(skipped)} not, e.g. {[s[0] for s in skipped[:3]]}")
train_rows, _ = cm.unique_rows(cm.counts_of(kept))
held_rows_all, _ = cm.unique_rows(cm.counts_of(tables[eval_split][formula_column]))
train_keys = {cm.row_key(r) for r in train_rows}
held_rows = np.array([r for r in held_rows_all if cm.row_key(r) not in train_keys])
held_keys = {cm.row_key(r) for r in held_rows}
print(f"unique training compositions: {len(train_rows)}; held-out ({eval_split}, not in {train_split}): {len(held_rows)}")
data = torch.tensor(encoded)[:, None].to(cfg.device)
fill = encoded.reshape(len(encoded), -1).mean()
print(f"{fill:.2%} of the matrix cells are set on average ({fill * 680:.1f} of 680): a very sparse target")

# %% [markdown]
# ## 2. Generator and critic
#
# The generator maps 128 Gaussian numbers through a dense layer to a 64 × 6 × 4 feature map and
# up-samples with transposed convolutions to 1 × 85 × 8, squashed to [0, 1] by a sigmoid. The
# critic mirrors it with strided convolutions and ends in **one unbounded number**: not a
# probability that a sample is real, but a score whose average gap between real and generated
# samples estimates the Wasserstein distance between the two distributions.

# %%
viz.show_code(Critic)

# %%
torch.manual_seed(seed)
count = lambda m: sum(p.numel() for p in m.parameters())
print(Generator(**GENERATOR))
print(f"generator {count(Generator(**GENERATOR)):,} parameters (MatGAN's widths: {count(Generator()):,}); "
      f"critic {count(Critic(cfg.critic)):,} (MatGAN's widths: {count(Critic()):,})")

# %% [markdown]
# **What is faithful to MatGAN, and what is simplified**
#
# | | MatGAN (Dan et al. 2020, TensorFlow) | here (PyTorch) |
# |---|---|---|
# | representation | 85 × 8 binary matrix; decode: cell ≥ 0.2, 2–8 elements | the same |
# | generator | z ∈ R¹²⁸ → FC 128 × 6 × 4 → deconv 64, 32, 16, 1 → sigmoid | same layout, narrower: 64 × 6 × 4 → 32, 16, 8, 1 (0.26 M instead of 0.63 M parameters) |
# | critic | conv 16, 16, 32, 64, 128 → FC 1, batch norm | the same widths on the GPU (`full`), half of them on a CPU; **layer norm** instead of batch norm (the gradient penalty is per sample) |
# | loss | WGAN-GP, λ = 10, Adam(0.5, 0.9), lr_G 1e-3, lr_D 1e-2, one critic step | WGAN-GP, λ = 10, Adam(0.5, 0.9), lr_G 1e-4, lr_D 4e-4, one critic step: MatGAN's rates oscillated between "no element" and one repeated formula here |
# | start | default initialisation | the generator's last bias starts at −3 (cells ≈ 0.05): see section 3 |
# | batch, training length | 32 (ICSD, MP) / 512 (OQMD); length not in the repository | 512 for 4.5 min on a GPU (`full`); 64 for 4 min (`teach`), 32 for 300 steps (`smoke`) on a CPU |
# | data | ICSD / MP / OQMD formulas | MP-20's `val` split (~8,000 distinct formulas) |
# | screening | SMACT charge neutrality + Pauling test | the same, with SMACT 4 (`matlib.matgan.composition_screening`) |

# %% [markdown]
# ## 3. Why not a plain GAN?
#
# A plain GAN's discriminator outputs a probability. On sparse binary matrices it quickly becomes
# certain, its gradient to the generator vanishes, and the generator settles on a few outputs that
# fool it: **mode collapse**. We track two numbers while training: the share of samples that decode
# to a usable formula (2–8 elements) and the share of *distinct* formulas among 2,000 samples.
#
# A note on the start: only ~3 of 680 cells are set in a real matrix. A generator that starts at
# 0.5 everywhere first has to learn to switch almost everything off, and then overshoots into
# "nothing above 0.2": in our tests (600 steps of 5 critic steps each) it never made a usable formula.
# Starting its last bias at −3 (every cell ≈ 0.05) gave 80 % usable samples in the same run; both
# GANs below start that way.
# Even so, the first hundred or so steps yield nothing usable: matching how *often* each cell is set
# comes before producing sharp 0/1 matrices.

# %%
def diversity(generator, n=2000):
    counts = cm.to_counts(generator.sample(n))
    canonical, usable = cm.canonical_counts(counts)
    distinct, _ = cm.unique_rows(canonical)
    return {"usable": len(usable) / n, "distinct": len(distinct) / n}


torch.manual_seed(seed)
plain = train_gan(Generator(**GENERATOR).to(cfg.device), Critic(cfg.critic).to(cfg.device), data, loss="gan",
                  steps=cfg.plain_steps, batch_size=cfg.batch_size, n_critic=1, lr_g=2e-4, lr_d=2e-4,
                  log_every=cfg.log_every, monitor=diversity, monitor_every=max(10, cfg.plain_steps // 15), seed=seed)
print(f"plain GAN: {cfg.plain_steps} steps in {plain.seconds:.0f} s; distinct share along the way:",
      [round(v, 3) for v in plain.series("distinct")[1]])

# %% [markdown]
# Now the Wasserstein GAN with gradient penalty. Where a committed generator exists (trained with
# `full` on a GPU) and this is the `teach` profile, it is loaded, and its training curves come from
# its manifest; otherwise it is trained now.

# %%
generator = Generator(**GENERATOR).to(cfg.device)
train_settings = {"generator": GENERATOR, "critic": cfg.critic, "dataset": dataset, "train_split": train_split,
                  **{k: cfg.settings[k] for k in ("batch_size", "lr_g", "lr_d", "n_critic")}}
gan_store = GeneratorStore(train_settings)
checkpoint = None
if cfg.profile == "teach" and use_pretrained and gan_store.exists(committed):
    checkpoint = committed if gan_store.fits(committed) else None
    if checkpoint is None:
        print(f"{committed} was trained for another setup; training anew")


def train(generator):
    torch.manual_seed(seed)
    critic = Critic(cfg.critic).to(cfg.device)
    return generator, train_gan(generator, critic, data, steps=cfg.wgan_steps, max_seconds=cfg.wgan_seconds,
                                loss="wgan-gp", batch_size=cfg.batch_size, n_critic=cfg.n_critic, lr_g=cfg.lr_g,
                                lr_d=cfg.lr_d, log_every=cfg.log_every, monitor=diversity,
                                monitor_every=cfg.monitor_every, seed=seed)


# saved at once in half precision (0.5 MB); the critic is not kept
trained = load_or_train(gan_store, train, model=generator, dataset=dataset, split=train_split, checkpoint=checkpoint,
                        save_to=out / "checkpoint" / f"{dataset}__generator", device=cfg.device,
                        metrics=lambda run, history: {"profile": cfg.profile})
generator, wgan_steps = trained.model, trained.steps
wgan = GANHistory(rows=trained.history, seconds=trained.seconds, steps=trained.steps)
source = (f"committed checkpoint, trained on {trained.checkpoint.metrics['hardware']} ({trained.steps} steps)"
          if trained.loaded else f"trained now ({trained.steps} steps)")
print(f"WGAN-GP: {source}, {wgan.seconds:.0f} s of training")

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 3.6))
axes[0].plot(*plain.series("critic_loss"), label="discriminator")
axes[0].plot(*plain.series("g_loss"), label="generator")
axes[0].set(title="plain GAN: losses", xlabel="step")
axes[0].legend()
axes[1].plot(*wgan.series("wasserstein"), color="C2")
axes[1].set(title="WGAN-GP: the critic's Wasserstein estimate", xlabel="step", ylabel="E D(real) − E D(fake)")
for name, run, color in (("plain GAN", plain, "C0"), ("WGAN-GP", wgan, "C2")):
    axes[2].plot(*run.series("distinct"), "-", color=color, marker=".", label=f"{name}: distinct")
    axes[2].plot(*run.series("usable"), ":", color=color, label=f"{name}: usable")
axes[2].set(title="2,000 samples: usable and distinct shares", xlabel="step (log scale)", ylim=(-0.02, 1.05),
            xscale="log")
axes[2].legend(fontsize=8)
fig.tight_layout()
viz.save_figure(fig, out, "gan_training")

# %% [markdown]
# **Reading the curves.** The plain GAN's discriminator soon wins (its loss near zero, the
# generator's high), and neither loss says anything about sample quality; its distinct share swings
# and collapses as the generator hops from one small set of formulas to another (a usable share of
# 1 with a distinct share near 0 is one formula, repeated). The Wasserstein estimate is different:
# it rises while the young critic learns to tell real from generated matrices, then falls as the
# generator improves, so it is a training curve you can read (it is an *estimate*: noisy, and
# comparable only within one run), and a flat curve says more steps will not buy much. The WGAN's
# usable and distinct shares climb and stay high.
#
# ### Saving the generator
#
# A generator trained in this run is saved **now**, weights only and in fp16 (half the file), to
# `<out_dir>/checkpoint/mp_20__generator.safetensors` plus its JSON manifest (settings, training
# curve, hardware). After a `full` run, copy both files to `data/checkpoints/matgan/`: `teach`
# then samples from them. The reload below compares the file with the trained network (fp16
# rounding moves a few cells across the 0.2 threshold), and from here on we sample from the
# reloaded copy, so that this run's numbers are exactly what the saved file gives.

# %%
generator.eval()
checkpoint_files = {}
if trained.saved is not None:
    saved = trained.saved
    checkpoint_files = {"generator_checkpoint": saved, "generator_manifest": saved.with_suffix(".json")}
    reloaded = gan_store.load(saved, device=cfg.device)[0].eval()
    z = torch.randn(2000, generator.latent, device=cfg.device)
    with torch.no_grad():
        checkpoint_agreement = float((cm.to_counts(generator(z)) == cm.to_counts(reloaded(z))).all(1).mean())
    print(f"saved {saved} ({saved.stat().st_size / 1e6:.2f} MB); the reloaded generator decodes "
          f"{checkpoint_agreement:.2%} of 2,000 samples identically")
    generator = reloaded
else:
    checkpoint_agreement = None
    print(f"sampling from {committed}: nothing new to save")

# %% [markdown]
# ## 4. Sampling at scale
#
# Sampling is one forward pass, so millions of compositions take seconds on a GPU. Decoding
# millions of formulas one by one in Python would take minutes, so we stay vectorised: each sample
# becomes a row of 85 counts, rows are divided by their gcd (Fe₂O₂ is FeO) and de-duplicated as raw
# bytes; only the distinct formulas go on to chemistry screening.

# %%
batches, generator_seconds = [], 0.0
torch.manual_seed(seed)
with torch.no_grad():
    for start in range(0, cfg.n_samples, cfg.sample_batch):
        t = time.perf_counter()
        matrices = generator.sample(min(cfg.sample_batch, cfg.n_samples - start))
        if cfg.device.type == "cuda":
            torch.cuda.synchronize()
        generator_seconds += time.perf_counter() - t
        batches.append(cm.to_counts(matrices))
counts = np.concatenate(batches)
del batches, matrices
t = time.perf_counter()
canonical, usable_idx = cm.canonical_counts(counts)
generated_rows, multiplicity = cm.unique_rows(canonical)
dedup_seconds = time.perf_counter() - t
n_elements = np.bincount((counts > 0).sum(1), minlength=10)
print(f"{cfg.n_samples:,} samples in {generator_seconds:.2f} s on {cfg.device} "
      f"({cfg.n_samples / generator_seconds:,.0f}/s); {len(usable_idx):,} usable; "
      f"{len(generated_rows):,} distinct formulas (counted and de-duplicated in {dedup_seconds:.1f} s)")
print("elements per sample (0..9+):", n_elements[:10].tolist())

# %% [markdown]
# ## 5. Chemistry the GAN was never told: SMACT screening
#
# A composition is **charge neutral** if some assignment of SMACT's oxidation states sums to zero,
# and **chemically valid** (MatGAN's screen) if that assignment also passes the Pauling test: every
# cation less electronegative than every anion. CDVAE's variant additionally accepts all-metal
# compositions as alloys; both are shown. The training formulas are screened too: a generator can
# hardly be "more valid" than the data it imitates.

# %%
def share(flags, weights=None):
    """Mean of a boolean column (weighted if asked); None when there is nothing to average."""
    if len(flags) == 0:
        return None
    return float(np.average(flags, weights=weights))


t = time.perf_counter()
with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:
    screened = screen_rows(generated_rows, executor=pool)
    screened_train = screen_rows(train_rows, executor=pool)
screen_seconds = time.perf_counter() - t
smact_shares = {
    "distinct generated formulas": {c: share(screened[c]) for c in screened.columns},
    "generated samples (weighted by multiplicity)": {c: share(screened[c], multiplicity) for c in screened.columns},
    f"training formulas ({train_split})": {c: share(screened_train[c]) for c in screened_train.columns},
}
print(f"screened {len(generated_rows):,} + {len(train_rows):,} formulas in {screen_seconds:.0f} s "
      f"on {os.cpu_count()} processes")
pd.DataFrame(smact_shares).astype(float).round(3)

# %% [markdown]
# ## 6. The review's table 2, for our run
#
# * **usable**: 2–8 elements above the 0.2 threshold; **distinct**: different usable formulas;
#   **uniqueness** = distinct / usable.
# * **recovery**: the share of known formulas that the generator produced: of the training formulas,
#   and of the held-out formulas (`test` split, minus any that are also in training), which it never saw.
# * **novelty** (the paper's abstract quotes it for ICSD; the table below prints it): distinct formulas
#   not in the training set; **new**: in neither the training nor the held-out set.

# %%
generated_keys = [cm.row_key(r) for r in generated_rows]
generated_set = set(generated_keys)
is_new = np.array([k not in train_keys and k not in held_keys for k in generated_keys], dtype=bool)
n_distinct = len(generated_rows)
ratio = lambda a, b: a / b if b else None
table2 = {
    "training_compositions": len(train_rows),
    "held_out_compositions": len(held_rows),
    "generated_samples": cfg.n_samples,
    "usable_samples": len(usable_idx),
    "distinct_generated": n_distinct,
    "recovered_training": len(train_keys & generated_set),
    "recovered_held_out": len(held_keys & generated_set),
    "new_compositions": int(is_new.sum()),
}
table2.update({
    "recovery_training": ratio(table2["recovered_training"], len(train_keys)),
    "recovery_held_out": ratio(table2["recovered_held_out"], len(held_keys)),
    "novelty": ratio(n_distinct - table2["recovered_training"], n_distinct),
    "uniqueness": ratio(n_distinct, len(usable_idx)),
    "chemically_valid": share(screened["chemically_valid"]),
    "charge_neutral": share(screened["charge_neutral"]),
})
fmt = lambda k, v: "–" if v is None or v != v else (f"{100 * v:.2f} %" if k in comparison.TABLE2_FRACTIONS
                                                     else f"{int(v):,}")
shown = {**table2, "new_samples": published.new_samples(table2)}    # the paper's way of counting "new"
columns = {f"MatGAN on {dataset} ({train_split})": {k: fmt(k, v) for k, v in shown.items()}}
for row in published.table2().to_dict("records"):    # the review's Table 2, then the abstract's two numbers
    name = row["method"].removeprefix("MatGAN (").removesuffix(")")
    columns[f"{name} ({row['dataset']})"] = {k: fmt(k, row[k]) if k in row else "" for k in shown}
pd.DataFrame(columns)

# %% [markdown]
# Recovering held-out formulas is the strongest evidence that the generator learned chemistry
# rather than a list: those formulas were never shown to it. Compare the chemically valid share with
# the training formulas' own share (section 5): MP-20 holds many intermetallics, which MatGAN's
# screen (no alloy rule) rejects, whereas the paper's chemically valid share (printed above from
# `matlib.published`) comes from a GAN trained only on formulas that already passed the screen.
#
# ## 7. Where do the generated compositions sit? (figure 3b)
#
# A t-SNE map of Magpie composition features for training, held-out and generated compositions.
# Generated points that fill gaps between training clusters are the "new" compositions; a cloud
# far from all training data would mean chemically odd samples.

# %%
rng = np.random.default_rng(seed)
pick = lambda rows_, n: [cm.row_formula(rows_[i]) for i in rng.choice(len(rows_), min(n, len(rows_)), replace=False)]
groups = {"training": pick(train_rows, cfg.tsne_points), "held-out": pick(held_rows, cfg.tsne_points),
          "generated": pick(generated_rows, cfg.tsne_points)}
labels = np.concatenate([[k] * len(v) for k, v in groups.items()])
features = baselines.magpie_features([f for v in groups.values() for f in v])
features = (features - features.mean(0)) / (features.std(0) + 1e-9)
embedding = TSNE(n_components=2, perplexity=min(30, len(features) // 4), random_state=seed, init="pca").fit_transform(features)
fig, ax = plt.subplots(figsize=(6.5, 5.5))
sns.scatterplot(x=embedding[:, 0], y=embedding[:, 1], hue=labels, s=10, alpha=0.6, ax=ax, linewidth=0)
ax.set(title="Compositions, t-SNE of Magpie features", xticks=[], yticks=[])
fig.tight_layout()
viz.save_figure(fig, out, "tsne")

# %% [markdown]
# ## 8. Export, and the hand-off to structure generators
#
# A composition is not a material until its atoms have positions. MatGAN stops here; the diffusion
# model of notebook 04 (and its structure-mask variant, notebook 07) can place atoms for a fixed
# composition: pass the atom types and let only coordinates and lattice be generated. We save every
# distinct generated formula with how often it was sampled and its screening flags (gzip CSV), and
# show the most frequent new, chemically valid ones: the natural hand-off list.

# %%
t = time.perf_counter()
export = pd.DataFrame({"formula": [cm.row_formula(r) for r in generated_rows], "samples": multiplicity,
                       "new": is_new, **{c: screened[c].to_numpy(bool) for c in screened.columns}})
export = export.sort_values("samples", ascending=False, kind="stable")
export_path = out / "generated_compositions.csv.gz"
export.to_csv(export_path, index=False)
candidates = export[export.new & export.chemically_valid].head(20)
print(f"{len(export):,} formulas -> {export_path} ({time.perf_counter() - t:.0f} s)")
candidates

# %% [markdown]
# ## 9. Results

# %%
metrics = {
    "dataset": dataset,
    "table2": table2,
    "smact": smact_shares,
    "generator": {"source": "committed" if trained.loaded else "trained", "steps": wgan_steps,
                  "parameters": count(generator), "checkpoint_agreement": checkpoint_agreement},
    "generator_samples_per_second": cfg.n_samples / generator_seconds,
    "final_wasserstein": wgan.series("wasserstein")[1][-1],
    "final_distinct_share": {"plain": plain.series("distinct")[1][-1], "wgan": wgan.series("distinct")[1][-1]},
    "final_usable_share": {"plain": plain.series("usable")[1][-1], "wgan": wgan.series("usable")[1][-1]},
}
path = results.write_results(out, "03_matgan", cfg, metrics, train_split=train_split, eval_split=eval_split,
                             timings={"total": time.perf_counter() - started, "plain_gan": plain.seconds,
                                      "wgan_training": 0.0 if trained.loaded else wgan.seconds,
                                      "sampling": generator_seconds, "dedup": dedup_seconds, "screening": screen_seconds},
                             files={"compositions": export_path, **checkpoint_files})
print(f"results -> {path}  ({time.perf_counter() - started:.0f} s)")

# %% [markdown]
# ## Explore
#
# 1. **Threshold.** Decode with `cm.to_counts(..., threshold=0.5)` instead of 0.2. Predict: do
#    distinct formulas go up or down, and does the chemically valid share change?
# 2. **The start.** Build the generators with `Generator(**GENERATOR, out_bias=None)` (every cell
#    starts near 0.5) and retrain for the same steps. How long until the first usable formula?
# 3. **Critic steps and rates.** Train with MatGAN's rates (`overrides={"lr_g": 1e-3, "lr_d": 1e-2}`)
#    or with `overrides={"n_critic": 5}`. Does the Wasserstein curve still fall smoothly, and what happens to the distinct share?
# 4. **Batch norm in the critic.** Swap the critic's layer norms for batch norms and retrain: what
#    happens to the gradient penalty, and why (hint: it is a per-sample constraint)?
# 5. **Is novelty good?** Sort the new compositions by how often they were sampled. Are the most
#    frequent ones chemically valid more often than the rare ones?
