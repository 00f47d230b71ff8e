"""Notebook 02's Perov-5 CDVAE trained longer and with larger batches (README, section 02).

    MATLIB_DATA=... python cdvae_training_probe.py OUTDIR TAG BATCH LR SECONDS [resume | init:STEM]
    (PROBE_SCHED=cosine decays the rate to zero over SECONDS; init:STEM starts from a saved model's
    averaged weights with a fresh optimizer, as a second call did here: the training state is too big
    to bring back from the GPU host. PROBE_KL sets the KL weight, CDVAE's 0.01 by default.)

Trains notebook 02's `large` CDVAE on perov_5/val (another dataset's val: PROBE_DATASET) with AdamW,
EMA 0.999, grad clip 1 and bf16, the training state in OUTDIR/state_TAG (resumable). Every
eval_every steps, with the averaged weights: the SMACT validity of the rounded starting composition
of 2,000 prior draws (z ~ N(0, I), fixed) and of 2,000 posterior draws of val crystals, and the KL
on them. At the end: 2,000 prior crystals decoded as the
notebook (10 steps per level) written to OUTDIR/TAG.extxyz (scored with score_extxyz.py), and the
EMA checkpoint."""
import os, sys, time
from pathlib import Path
import torch
from matlib import config, datasets
from matlib import io as crystal_io
from matlib.batching import GraphCache, Minibatches
from matlib.cdvae import CDVAE, MODEL_SIZES, CrystalEncoder, store
from matlib.evaluation.validity import validity_table
from matlib.training import budget_schedule, fit
from cdvae_decode import decode_prior              # beside this script
from cdvae_prior_holes import starting_validity

if __name__ == "__main__":   # not when a process pool's fork server imports this script
    out = Path(sys.argv[1]); tag = sys.argv[2]; bs = int(sys.argv[3]); lr = float(sys.argv[4]); seconds = float(sys.argv[5])
    resume = len(sys.argv) > 6 and sys.argv[6] == "resume"
    init = sys.argv[6][5:] if len(sys.argv) > 6 and sys.argv[6].startswith("init:") else None
    out.mkdir(parents=True, exist_ok=True)
    cfg = config.resolve("full", seed=0)
    dev = cfg.device
    train = datasets.load_split(os.environ.get("PROBE_DATASET", "perov_5"), "val"); batch = train.batch()
    torch.manual_seed(0)
    model = CDVAE.from_data(batch, **MODEL_SIZES["large"]).to(dev) if init is None else store.load(init, device=dev)[0]
    model.config.weights["kl"] = float(os.environ.get("PROBE_KL", model.config.weights["kl"]))
    g = torch.Generator().manual_seed(123)
    z_prior = torch.randn(2000, model.config.latent, generator=g).to(dev)
    probe_idx = torch.randperm(len(batch), generator=g)[:2000]
    probe_batch = batch.select(probe_idx).to(dev)


    def evaluate(m):
        n = torch.full((len(z_prior),), 5, device=dev)
        prior = starting_validity(m, z_prior, n)
        mu, logvar, z = m.encoder(probe_batch)
        post = starting_validity(m, z, probe_batch.num_atoms)
        kl = CrystalEncoder.kl(mu.float(), logvar.float())
        return {"prior_init_comp": prior, "post_init_comp": post, "kl_probe": float(kl)}


    graphs = GraphCache(batch.to(dev), model.config.encoder.cutoff, model.config.encoder.max_neighbors)
    mb = Minibatches(graphs, torch.arange(len(batch)), min(bs, len(batch)), seed=0)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    sched = budget_schedule(opt, os.environ.get("PROBE_SCHED", "constant"), 10_000_000, seconds)
    t0 = time.perf_counter()
    run = fit(model, opt, lambda m, item: m.loss(item[0], graph=item[1]), mb, max_steps=10_000_000, max_seconds=seconds,
              grad_clip=1.0, autocast=cfg.autocast, ema_decay=0.999, scheduler=sched, log_every=100,
              evaluate=evaluate, eval_every=int(os.environ.get("PROBE_EVAL", 1000)), checkpoint=out / f"state_{tag}", resume=resume, checkpoint_every=1000,
              config=model.config.as_dict(), desc=tag)
    print(tag, "steps", run.steps, "seconds", round(run.seconds), flush=True)
    for h in run.history:
        if "prior_init_comp" in h:
            print(tag, h["step"], {k: round(h[k], 4) for k in ("prior_init_comp", "post_init_comp", "kl_probe")}, flush=True)
    store.save(out / f"ck_{tag}", model, dataset=train.name, split="val", step=run.steps, extra={"history": run.history},
               metrics={"train_seconds": run.seconds, "train_split": "val", "batch": bs, "lr": lr,
                        "kl_weight": model.config.weights["kl"]})
    model.eval()
    n_decode = int(os.environ.get("PROBE_DECODE", 2000))
    decode_start = time.perf_counter()
    structures = decode_prior(model, n_decode, 10, n_decode, torch.Generator(device=dev).manual_seed(0), cfg.autocast)
    decode_seconds = time.perf_counter() - decode_start
    crystal_io.write_extxyz([s for s in structures if s is not None], out / f"{tag}.extxyz")
    t = validity_table(structures, progress_bar=False)
    print(tag, "FINAL steps", run.steps, "struct", t.struct_valid.mean(), "comp", t.comp_valid.mean(),
          "decode s", round(decode_seconds, 1), "total s", round(time.perf_counter() - t0), flush=True)
