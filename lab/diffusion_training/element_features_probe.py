"""Issue 6 probe: do periodic-table element features or the ELBO's element-loss weighting lift MP-20
composition validity?
    python element_features_probe.py OUT.jsonl NAME SECONDS FEATURES(0|1) TYPE_LOSS(masked_mean|elbo) [SAVE_STEM]
Trains notebook 04's full recipe (dim 224, 4 layers, batch 256, lr 1e-3 constant after 200 warm-up
steps, EMA 0.999, AdamW 0.01) on mp_20/val for SECONDS, then samples 10,000 crystals (seed 8, 200 steps)
and scores struct/comp validity, plus the stratified mean losses on 2,000 val and 2,000 test crystals.
Several of these may share one GPU: compare them at their step counts."""
import json, sys
from pathlib import Path

import numpy as np
import torch

from matlib import config, datasets
from matlib.batching import crystal_minibatches
from matlib.diffusion import CrystalDiffusion, DenoiserConfig, SamplerConfig, sample, store
from matlib.evaluation import element_shares, process_pool, share_distance, validity_table
from matlib.training import budget_schedule, fit

cfg = config.resolve("full", seed=0)


def main():
    out, name, seconds = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    features, type_loss = sys.argv[4] == "1", sys.argv[5]
    train_set, test_set = datasets.load_split("mp_20", "val"), datasets.load_split("mp_20", "test")
    prepared = CrystalDiffusion.prepare(train_set.batch())
    torch.manual_seed(0)
    denoiser = DenoiserConfig(dim=224, layers=4, num_freqs=24, element_features=features)
    model = CrystalDiffusion.from_data(prepared, denoiser, type_loss=type_loss).to(cfg.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    schedule = budget_schedule(optimizer, "constant", 200000, seconds, warmup_steps=200)
    run = fit(model, optimizer, lambda m, b: m.loss(b), crystal_minibatches(prepared.to(cfg.device), 256, 0),
              max_steps=200000, max_seconds=seconds, grad_clip=1.0, autocast=cfg.autocast, ema_decay=0.999,
              scheduler=schedule, log_every=100)
    if len(sys.argv) > 6:
        store.save(sys.argv[6], model, dataset="mp_20", split="val", step=run.steps)
    model.eval()
    losses = {}
    for split, s in (("val", train_set), ("test", test_set)):
        chosen = np.random.default_rng(0).permutation(len(s))[:2000].tolist()
        losses[split] = model.mean_losses(CrystalDiffusion.prepare(s.batch().select(chosen)).to(cfg.device), seed=0)
    g = torch.Generator(device=cfg.device).manual_seed(8)
    res = sample(model, 10000, SamplerConfig(steps=200, batch_size=5000), generator=g, autocast=cfg.autocast)
    structures = res.crystals.to("cpu").to_structures()
    with process_pool(max_workers=5) as pool:
        table = validity_table(structures, executor=pool, progress_bar=False)
    mix = share_distance(element_shares(structures), element_shares(train_set.structures))
    row = dict(probe=name, seed=8, n=len(structures), struct_valid=float(table.struct_valid.mean()),
               comp_valid=float(table.comp_valid.mean()), element_mix_distance=mix, steps=run.steps,
               train_seconds=seconds, element_features=features, type_loss=type_loss, mean_losses=losses)
    with out.open("a") as sink:
        sink.write(json.dumps(row, default=float) + "\n")
    print(row, flush=True)


if __name__ == "__main__":
    main()
