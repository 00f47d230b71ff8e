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
# # 02 · CDVAE from scratch: periodic encoder, score decoder, annealed Langevin dynamics
#
# **What you will learn** (the review's section 2.1 and figure 2a)
# 1. A variational autoencoder for crystals: a periodic GNN encodes a crystal into a Gaussian over
#    a latent vector z (with a KL term pulling it toward N(0, I)).
# 2. What z must predict before any atom is placed: the number of atoms, the lattice (lengths
#    scaled by N^(1/3), standardised) and the composition.
# 3. A noise-conditional score decoder: it sees a crystal whose positions are blurred and whose
#    elements are scrambled toward the predicted composition, at one of 50 noise levels, and points
#    every atom back toward where it belongs.
# 4. Generation by annealed Langevin dynamics, and how the number of steps per noise level trades
#    quality for time; reconstruction of test crystals; the Table 1 metrics.
#
# **Running this notebook.** `smoke`: < 2 min on a CPU, a toy model. `teach`: a CPU; it loads a
# committed checkpoint when there is one, otherwise trains a small model for 5 minutes. `full`: one
# H100, 5 minutes of training, then sampling and evaluation. Training needs longer? Run it again
# with `resume=True` and the same `out_dir`: it continues from the saved weights, optimizer and step
# for another `train_seconds` (the weight average restarts). On another machine, where the 28 MB
# training state cannot follow, `warm_start=<the first run's out_dir>/checkpoint/<dataset>` trains on
# from the 5 MB checkpoint's averaged weights with a fresh optimizer. Our MP-20 and Perov-5 models
# that meet CDVAE-level targets (`docs/RESULTS.md`, "Outside the main job") took two such calls:
# `full`, then `warm_start=…`, `train_seconds=325`, `prior_temperature=0.6`,
# `overrides={"lr_schedule": "cosine"}` (MP-20; Perov-5: 380 s and 0.7), each about 8 minutes. Each
# profile's settings are in `presets/02_cdvae.yaml`; `overrides` replaces any of them.
#
# **Data.** Trained on `train_split` (`auto`: `train` when available, else `val`, as on this
# project's machines), evaluated against `test`. Published CDVAE trained on `train` for 1,000–4,000
# epochs.

# %%
import dataclasses
import math
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from matlib import config, datasets, judges, paths, published, results, viz
from matlib import io as crystal_io
from matlib.batching import GraphCache, Minibatches
from matlib.captured_step import CapturedStep, captured_adamw
from matlib.cdvae import CDVAE, MODEL_SIZES, CrystalEncoder, LangevinConfig, ScoreDecoder, decode, prior_draws, store
from matlib.cdvae.langevin import initial_elements
from matlib.crystal import CrystalBatch
from matlib.evaluation import CoverageReference, evaluate, process_pool, reconstruction
from matlib.evaluation.success import standard_error
from matlib.load_or_train import load_or_train, pick_checkpoint
from matlib.packing import Budget, PackedMinibatches
from matlib.training import budget_schedule, fit

# %% tags=["parameters"]
profile = "teach"      # smoke | teach | full | auto
seed = 0
device = "auto"        # auto | cpu | cuda
dataset = "perov_5"    # perov_5 | carbon_24 | mp_20
data_dir = None        # folder holding <dataset>/<split>.csv[.gz]; None: $MATLIB_DATA, then the cache
out_dir = None         # None: outputs/02_cdvae
train_split = "auto"   # auto: train if found or downloadable, else val
eval_split = "test"
checkpoint = None      # a CDVAE checkpoint stem to load; None: the committed one where the profile uses it (teach)
resume = False         # True: continue the training state in out_dir (model, optimizer, steps) for train_seconds more
warm_start = None      # a checkpoint stem of this dataset: train on from its averaged weights, fresh optimizer
train_seconds = None   # None: the profile's (full: 300 s)
n_samples = None       # None: the profile's (full: 2,000, Carbon-24 1,000; CDVAE used 10,000)
prior_temperature = None  # z ~ N(0, τ² I) when generating; None: the presets' 1 (CDVAE's). Below 1: fewer blended compositions
overrides = {}         # any other setting of presets/02_cdvae.yaml, e.g. {"lr_schedule": "cosine", "batch_size": 512}

# %%
cfg = config.setup("02_cdvae", profile, seed=seed, device=device, out_dir=out_dir, dataset=dataset,
                   overrides=overrides, train_seconds=train_seconds, n_samples=n_samples,
                   prior_temperature=prior_temperature)
out, started = cfg.out, cfg.started
if warm_start and (resume or checkpoint):
    raise config.ConfigError("warm_start trains on from a checkpoint with a fresh optimizer: leave resume and checkpoint")
train_split = datasets.resolve_train_split(dataset, train_split, path=data_dir)
committed = paths.checkpoints_dir() / "cdvae" / dataset   # teach loads it, unless asked to train on
checkpoint = pick_checkpoint(checkpoint, committed if cfg.use_checkpoint and not (warm_start or resume) else None)
viz.set_style()
print(cfg.as_dict(), "->", out)

# %% [markdown]
# ## 1. Encoder: a crystal becomes a distribution over z
#
# The periodic GNN of notebook 01 turns a crystal into one vector h (atoms embedded, messages
# passed over the periodic neighbour graph, mean over atoms). Two linear maps give the mean μ and
# log-variance of a Gaussian; z = μ + σ·ε is a sample from it (the reparameterisation trick lets
# gradients flow through the sampling). The KL term keeps these Gaussians close to N(0, I), so that
# at generation time z can be drawn from N(0, I).

# %%
viz.show_code(CrystalEncoder.forward)

# %%
train_set = datasets.load_split(dataset, train_split, path=data_dir, limit=cfg.train_limit)
print(train_set.summary())
batch = train_set.batch()
model = CDVAE.from_data(batch, **MODEL_SIZES[cfg.model_size])
counts = {name: sum(p.numel() for p in part.parameters())
          for name, part in (("encoder", model.encoder), ("heads", model.heads), ("decoder", model.decoder))}
print(f"CDVAE: {sum(counts.values()):,} parameters", counts)

# %% [markdown]
# ## 2. What z predicts first: atom count, lattice, composition
#
# Before placing atoms, the decoder needs a box and a shopping list. Three MLPs read z: a
# classifier over the number of atoms, the six lattice numbers, and the composition (a probability
# per element). CDVAE divides the lengths by N^(1/3) (a cell with more atoms is bigger) and
# standardises all six: here is why the scaling helps, on the training data.

# %%
lengths, angles = batch.lattice_params()
scaled = model.lattice_scaler.encode(lengths, angles, batch.num_atoms)
fig, axes = plt.subplots(1, 3, figsize=(13, 3.2))
axes[0].scatter(batch.num_atoms, lengths[:, 0], s=4, alpha=0.4)
axes[0].set(xlabel="atoms per cell", ylabel="a (Å)", title="raw length grows with N")
axes[1].scatter(batch.num_atoms, lengths[:, 0] / batch.num_atoms ** (1 / 3), s=4, alpha=0.4)
axes[1].set(xlabel="atoms per cell", ylabel="a / N^(1/3) (Å)", title="scaled by N^(1/3)")
axes[2].hist(scaled.numpy(), bins=40, histtype="step", label=["a", "b", "c", "α", "β", "γ"])
axes[2].set(title="the six standardised targets")
axes[2].legend(fontsize=8)
fig.tight_layout()

# %% [markdown]
# ## 3. The decoder's task: undo noise at 50 levels
#
# Training picks one noise level per crystal. Positions get a Cartesian blur σ from 10 Å (the
# atoms could be anywhere) down to 0.01 Å, applied on the fractional torus; elements are redrawn
# from "the true element plus σ_type times the predicted composition", so at high noise the
# elements are just a draw from the composition. The decoder, told z and the level, predicts σ
# times the score (the direction back to the clean positions) and the true elements.

# %%
noise = model.noise
levels = torch.arange(noise.levels)
fig, axes = plt.subplots(1, 2, figsize=(10, 3))
axes[0].semilogy(levels, noise.coord_sigma(levels))
axes[0].set(xlabel="level", ylabel="σ (Å)", title="coordinate noise")
axes[1].semilogy(levels, noise.type_sigma(levels))
axes[1].set(xlabel="level", ylabel="σ_type", title="element noise (weight of the composition)")
fig.tight_layout()
viz.show_code(ScoreDecoder.forward)

# %% [markdown]
# ## 4. Training: six losses at once
#
# Atom count (cross-entropy), lattice (squared error, weight 10), composition (cross-entropy of
# every atom's element), coordinate scores (weight 10), elements (cross-entropy) and the KL term
# (weight 0.01): CDVAE's weights. The decoder sees the true lattice (CDVAE's teacher forcing).

# %%
# COV compares with every test crystal. Parsing them and their fingerprints (MP-20: about 10 CPU-minutes,
# then cached) are left to the otherwise idle CPUs while the GPU trains; on a CPU, training would pay for them
coverage_reference = CoverageReference.load(dataset, eval_split, cfg.n_reference, path=data_dir, seed=seed,
                                            background=cfg.device.type == "cuda")


# %% [markdown]
# **Recording a GPU step (`record_step`).** As in notebook 04, the crystals can be packed into
# batches of one fixed shape (`matlib/packing.py`), here with the encoder's neighbour graphs too
# (a third budget: edges), so that one whole step is recorded as a CUDA graph and replayed
# (`matlib/captured_step.py`). The losses are the same; the steps per second are not. It is off
# by default: the committed results were trained without it.

# %%
def train(model):
    """AdamW on the CDVAE loss for the profile's budget; the full training state is saved as it goes."""
    model.to(cfg.device)
    # full-precision weights and optimizer moments, so a later run (resume=True) can go on training
    state = out / "training_state" / dataset
    if store.exists(state) and not resume:
        print(f"starting afresh: {state} will be replaced (resume=True would continue it)")
    # a recorded step replays its optimizer's tensors, which resuming would replace
    recorded = cfg.device.type == "cuda" and cfg.record_step and not (resume and store.exists(state))
    if cfg.record_step and not recorded:
        print("record_step: trained eagerly (a recorded step needs a GPU, and cannot resume a training state)")
    size = min(cfg.batch_size, len(batch))
    # the encoder reads clean crystals, which never move: build their neighbour graphs once
    encoder_graphs = GraphCache(batch.to(cfg.device), model.config.encoder.cutoff, model.config.encoder.max_neighbors)
    update = None
    if recorded:   # packed fixed-shape batches, each step one replayed CUDA graph
        model.check_size(batch)
        optimizer = captured_adamw(model.parameters(), cfg.lr, cfg.device)
        budget = Budget.for_data(batch.num_atoms, size, edge_counts=encoder_graphs.edge_counts)
        minibatches = PackedMinibatches(batch, budget, seed, cfg.device, graphs=encoder_graphs)
        update = CapturedStep(model, optimizer, lambda m, b: m.loss(b), next(iter(minibatches)), grad_clip=1.0,
                              amp_dtype=cfg.amp_dtype if cfg.amp else None, compiled="decoder")
        step_fn = lambda m, b: m.loss(b)
    else:
        optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
        minibatches = Minibatches(encoder_graphs, torch.arange(len(batch)), size, seed=seed)
        step_fn = lambda m, item: m.loss(item[0], graph=item[1])
    # after recording: a schedule over the time budget starts its clock when it is made
    schedule = budget_schedule(optimizer, cfg.lr_schedule, cfg.train_steps, cfg.train_seconds)
    run = fit(model, optimizer, step_fn, minibatches, update=update,
              max_steps=cfg.train_steps, max_seconds=cfg.train_seconds, grad_clip=1.0, autocast=cfg.autocast,
              ema_decay=cfg.ema, scheduler=schedule, log_every=max(1, min(100, cfg.train_steps // 20)),
              checkpoint=state, resume=resume, checkpoint_every=2000, config=model.config.as_dict(),
              trained_on={"dataset": dataset, "split": train_split},
              desc=f"training on {dataset}/{train_split}")
    if run.resumed_from:
        print(f"resumed at step {run.resumed_from}")
    return model, run


trained = load_or_train(store, train, model=model, dataset=dataset, split=train_split, checkpoint=checkpoint,
                        warm_start=warm_start, save_to=out / "checkpoint" / dataset, device=cfg.device)
model, history, learnt_from = trained.model.to(cfg.device).eval(), trained.history, trained.splits
if trained.loaded:
    print(f"loaded {trained.loaded} ({trained.steps} steps)")
else:
    run = trained.run
    print(f"{trained.steps} steps in all, {run.steps - run.resumed_from} of them in {run.seconds:.0f} s in this run")

# %%
if history:   # a loaded checkpoint without a recorded history has none to draw
    terms = ["num_atoms", "lattice", "composition", "coords", "types", "kl"]
    viz.save_figure(viz.loss_terms_figure(history, terms), out, "loss_curves")

# %% [markdown]
# ## 5. Generation: annealed Langevin dynamics
#
# Draw z ~ N(0, I); the heads give the atom count (argmax), the lattice and the composition; the
# elements start as whole counts rounded from the composition (CDVAE's `sample_composition`) and
# the positions uniformly at random. Then, level by level from σ = 10 Å down to 0.01 Å, take
# Langevin steps: move along the predicted score, add a little noise, and (CDVAE) replace the
# elements by the decoder's most likely ones. CDVAE used 100 steps per level (5,000 decoder calls
# per crystal); the sweep below shows what fewer steps cost.

# %% [markdown]
# Why whole counts? A perovskite's head says {A: 0.2, B: 0.2, X: 0.6} for N = 5. Drawing each
# atom independently gives exactly A B X3 only 5!/(1!·1!·3!) · 0.2 · 0.2 · 0.6³ ≈ 17 % of the
# time; rounding p·N gives it every time. The decoder can repair some bad starts, not all.

# %%
viz.show_code(initial_elements)
z = torch.randn(2000, model.config.latent, device=cfg.device, generator=torch.Generator(device=cfg.device).manual_seed(seed))
with torch.no_grad():
    heads = model.heads(z)
    count_logits = heads["num_atoms"].float()
    count_logits[:, 0] = float("-inf")
    n_start, p_start = count_logits.argmax(-1), torch.softmax(heads["composition"].float(), -1)
sizes_start = n_start.cpu().tolist()
rounded = torch.split(initial_elements(p_start, n_start, "round").cpu(), sizes_start)
drawn = torch.split(initial_elements(p_start, n_start, "sample", torch.Generator(device=cfg.device).manual_seed(seed)
                                     ).cpu(), sizes_start)
same = np.mean([sorted(a.tolist()) == sorted(b.tolist()) for a, b in zip(rounded, drawn)])
print(f"independent draws reproduce the rounded counts for {same:.0%} of 2,000 crystals from the prior")

# %% [markdown]
# **When should the decoder relabel atoms?** CDVAE replaces every element by the decoder's argmax
# at every step. At the noisiest levels that argmax is a trap: in training, an element there was
# redrawn from one-hot(true) + 5·p(composition), so for a perovskite with p = (0.2, 0.2, 0.6) an
# atom showing element A is more likely to be an X in truth (0.6 · 5 · 0.2 against 0.2 · (1 + 5 · 0.2)),
# and the positions are still noise. One step of argmax turns A and B into X, and the rounded
# composition is lost. We keep the starting elements until the element noise σ_type has fallen
# below `relabel_below` (0.1: in training, over 90 % of elements were then the true ones) and let
# the decoder relabel from there. The sweep compares both, on the same z.
# %%
generator = torch.Generator(device=cfg.device).manual_seed(seed)
sweep_started = time.perf_counter()
sweep_rows = []
ours = dict(composition="round", relabel_below=cfg.relabel_below)
variants = [dict(steps_per_level=steps, **ours) for steps in cfg.sweep] + [
    dict(steps_per_level=cfg.steps_per_level, composition="round", relabel_below=math.inf),    # CDVAE exactly
    dict(steps_per_level=cfg.steps_per_level, composition="sample", relabel_below=math.inf)]   # per-atom draws
with process_pool() as pool:
    reference_set = coverage_reference.reference_set(executor=pool)
    z = prior_draws(cfg.sweep_samples, model.config.latent, temperature=cfg.prior_temperature, generator=generator,
                    device=cfg.device)
    for variant in variants:   # the same z for every row
        result = decode(model, z, LangevinConfig(**variant), generator=generator, autocast=cfg.autocast,
                        desc=str(variant))
        report = evaluate(result.crystals.to("cpu").to_structures(), reference_set, dataset=dataset, executor=pool,
                          progress_bar=False)
        m = report.as_dict()["metrics"]
        sweep_rows.append(dict(**variant, decoder_calls=result.decoder_calls, seconds=result.seconds,
                               evaluate_seconds=sum(report.meta["timings_s"].values()),
                               **{k: m.get(k) for k in ("struct_valid", "comp_valid", "cov_r", "cov_p")}))
sweep_all = pd.DataFrame(sweep_rows)
sweep_seconds = time.perf_counter() - sweep_started
sweep = sweep_all.iloc[:len(cfg.sweep)].set_index("steps_per_level")
fig, ax = plt.subplots(figsize=(7, 3.2))
for column in ("struct_valid", "comp_valid", "cov_r", "cov_p"):
    ax.plot(sweep.index, sweep[column] * 100, "o-", label=column)
ax.set(xscale="log", xlabel="Langevin steps per noise level", ylabel="%", title="quality against decoding time")
ax.legend(fontsize=8)
fig.tight_layout()
viz.save_figure(fig, out, "steps_per_level")
sweep_all["n"] = cfg.sweep_samples           # every row decodes the same z; validity ± a binomial SE
for rate in ("struct_valid", "comp_valid"):
    sweep_all.insert(sweep_all.columns.get_loc(rate) + 1, f"{rate} SE", standard_error(sweep_all[rate], sweep_all["n"]))
sweep_all

# %% [markdown]
# One trajectory: the atoms of a crystal as the noise anneals (elements are the decoder's argmax).

# %%
z = prior_draws(cfg.n_samples, model.config.latent, temperature=cfg.prior_temperature, generator=generator,
                device=cfg.device)
record = max(1, model.config.levels * cfg.steps_per_level // 6)
decoding = LangevinConfig(steps_per_level=cfg.steps_per_level, relabel_below=cfg.relabel_below)
result = decode(model, z, dataclasses.replace(decoding, record_every=record),
                generator=generator, autocast=cfg.autocast)
generated = result.crystals.to("cpu").to_structures()
print(f"{len(generated)} crystals in {result.seconds:.1f} s ({len(generated) / result.seconds:.0f}/s, "
      f"{result.decoder_calls} decoder calls)")
frames = result.frames
if frames:
    viz.plot_trajectory(frames, [1 - (k + 1) / len(frames) for k in range(len(frames))], crystal=0)
viz.view(generated[0])

# %% [markdown]
# ## 6. Reconstruction and the Table 1 metrics
#
# Reconstruction: encode a test crystal (one posterior sample z), decode it, and ask
# StructureMatcher whether the result is the same crystal (CDVAE's match rate and RMSE).
# Generation: CDVAE's validity and coverage against the test split, next to the published row,
# and (`stability` > 0) a CHGNet relaxation of some valid samples, with S.U.N. on CHGNet's hull.

# %%
evaluation_started = time.perf_counter()
recon_true = coverage_reference.structures[:cfg.n_recon]   # a seeded random sample
recon_batch = CrystalBatch.from_structures(recon_true).to(cfg.device)
with torch.no_grad():
    _, _, z_post = model.encoder(recon_batch)
recon = decode(model, z_post, decoding, generator=generator,
               autocast=cfg.autocast, desc="reconstruction")
suite_judges = judges.default_judges(dataset, device=cfg.device)   # on the GPU: it also judges the whole test split
with process_pool() as pool:
    rec = reconstruction(recon.crystals.to("cpu").to_structures(), recon_true, executor=pool, progress_bar=False)
    seen = datasets.training_crystals(dataset, learnt_from, path=data_dir, limit=cfg.train_limit,
                                      loaded={train_split: train_set})
    stability = {"max_structures": cfg.stability, "device": cfg.device.type} if cfg.stability else False
    report = evaluate(generated, reference_set, dataset=dataset, train=seen, judges=suite_judges, executor=pool,
                      stability=stability, method=f"CDVAE (ours, {train_split})", seed=seed)
evaluation_seconds = time.perf_counter() - evaluation_started
ours = report.as_dict()["metrics"]
ours.update(match_rate=rec.match_rate, rmse=rec.rmse)
columns = published.COLUMNS
rows = [dict(method=f"CDVAE (ours, {train_split})", **{c: ours.get(c) for c in columns})]
rows += published.table1(dataset)[["method", *columns]].to_dict("records")
table1 = (pd.DataFrame(rows).set_index("method") * 100).round(2)
print(f"reconstruction: match rate {rec.match_rate:.1%}, RMSE {rec.rmse}")
table1

# %% [markdown]
# ## 7. What is faithful to CDVAE, and what is simplified
#
# **Faithful:** a periodic GNN encoder with a Gaussian posterior and KL weight 0.01; MLP heads for
# the atom count, the N^(1/3)-scaled standardised lattice and the composition; 50 geometric noise
# levels, 10 Å → 0.01 Å for positions and 5 → 0.01 for elements, with elements redrawn toward the
# predicted composition; CDVAE's loss weights; teacher forcing of the lattice; annealed Langevin
# decoding with step σ² (CDVAE's step_lr 1e-4 × (σ/0.01)²), elements started from the rounded
# composition, fixed lattice.
#
# **Simplified, and why:** our gated periodic GNN instead of DimeNet++, and notebook 04's
# all-pairs network instead of GemNet-T for the decoder (z added to every block), so training fits
# in minutes; the position noise is a wrapped normal on fractional coordinates (σ divided by the
# cell's edge) rather than Cartesian noise; the decoder relabels elements only once σ_type < 0.1
# (CDVAE: at every step; the sweep shows both); fewer Langevin steps per level (see the sweep); minutes
# of training on `val` instead of thousands of epochs on `train`, in batches of 2,048 at a learning
# rate of 2e-3 (CDVAE: 512 at 1e-3, lowered on plateaus): on a GPU a step of 2,048 costs little more
# than one of 512, so the model sees several times the crystals in the same minutes.

# %% [markdown]
# ## 8. Results

# %%
xyz = crystal_io.write_extxyz(generated, out / "generated.extxyz")
files = {"generated": xyz}
if trained.saved is not None:
    files["checkpoint"] = trained.saved
metrics = {
    "dataset": dataset,
    "generation": {dataset: ours},
    "reconstruction": {"match_rate": rec.match_rate, "rmse": rec.rmse, "n": rec.n},
    "steps_sweep": sweep_all.to_dict("records"),
    "model": {"parameters": sum(p.numel() for p in model.parameters()), "loaded_checkpoint": bool(trained.loaded),
              "train_steps": trained.steps, "train_seconds": trained.seconds,
              "resumed_from": trained.run.resumed_from if trained.run else 0,
              "warm_start": None if trained.loaded or not warm_start else str(warm_start),
              "steps_before_warm_start": trained.steps - trained.run.steps if trained.run else 0},
    "sampling": {"n": len(generated), "steps_per_level": cfg.steps_per_level, "seconds": result.seconds,
                 "decoder_calls": result.decoder_calls},
    "evaluation": {"n_reference": len(reference_set), "reference": "all" if coverage_reference.whole else "subset"},
}
path = results.write_results(out, "02_cdvae", cfg, metrics, train_split=train_split, eval_split=eval_split,
                             timings={"total": time.perf_counter() - started, "training": 0.0 if trained.loaded else trained.seconds,
                                      "sweep": sweep_seconds, "evaluation": evaluation_seconds,
                                      # where the evaluation's time goes (fingerprints, judges, matching...)
                                      **{f"evaluate_{stage}": s for stage, s in report.meta["timings_s"].items()}},
                             files=files)
print(f"results -> {path}  ({time.perf_counter() - started:.0f} s)")

# %% [markdown]
# ## Explore
#
# 1. **No KL.** Set `model.config.weights["kl"] = 0` and retrain the smoke model. Predict: does
#    reconstruction improve? What happens to crystals decoded from z ~ N(0, I)?
# 2. **One step per level.** Decode with `LangevinConfig(steps_per_level=1)`. Which metric falls
#    first, structure validity or coverage?
# 3. **No N^(1/3) scaling.** In `LatticeScaler.raw`, drop the division. How do the lattice loss and
#    the density distance `wdist_density` change?
# 4. **Sampled atom counts.** Use `LangevinConfig(num_atoms="sample")` instead of the argmax: does
#    the atom-count histogram of generated crystals get closer to the test split's?
# 5. **End on small steps.** Run `full` with `overrides={"lr_schedule": "cosine"}`: the learning rate falls to zero
#    over the time budget instead of staying at 2e-3 (with larger batches, it helped notebook 06's
#    adapters). Predict which moves more, reconstruction or COV-P, then check.
# 6. **CDVAE's batch.** Run `full` with `overrides={"batch_size": 512, "lr": 1e-3}`, the recipe of CDVAE (and of this
#    notebook before). It takes more steps in the same time: predict composition validity and COV-P,
#    then compare with the table in `lab/findings_by_notebook.md`, section 02.
# 7. **A heavier KL.** Before training, set `model.config.weights["kl"] = 0.2` (CDVAE: 0.01). The
#    posteriors must then spread toward N(0, I), closing the gaps between them where prior draws get
#    blended compositions. Predict: do more prior draws start from a charge-balanced composition? Do
#    more decoded crystals end with one? (`lab/findings_by_notebook.md`, section 02, has our answer on Perov-5.)
# 8. **A cooler prior.** Generate with `prior_temperature=0.8` (z ~ N(0, 0.8² I)). The draws stay
#    nearer the middle of the posteriors. Predict which of composition validity, COV-P and COV-R rise
#    and which fall, then check on the same checkpoint (`checkpoint=...`). (`lab/findings_by_notebook.md`,
#    section 02, has our answer on Perov-5 and MP-20.)
# 9. **Recorded or not.** On a GPU, run `full` with `overrides={"record_step": True}`: the same losses,
#    one replayed CUDA graph a step. Predict how many more steps fit into the 300 s (the benchmark
#    `benchmarks/bench_cdvae_training.py` times both routes), then whether validity and coverage follow.
