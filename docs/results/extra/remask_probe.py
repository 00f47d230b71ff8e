"""Notebook 04's committed MP-20 model sampled with ReMDM remasking of the element choices (README, 04).

    python remask_probe.py OUT.jsonl ETAS STEPS SEEDS      e.g. OUT.jsonl 0.02,0.05,0.1 200 8
10,000 crystals per (η, steps, seed) (PROBE_N to change), structure and composition validity."""
import json, os, sys, time
import torch
from matlib import config
from matlib.diffusion import SamplerConfig, sample, store
from matlib.evaluation import process_pool, validity_table

cfg = config.resolve("full", seed=0)
N = int(os.environ.get("PROBE_N", 10000))
out = sys.argv[1]; etas = [float(x) for x in sys.argv[2].split(",")]
steps = [int(x) for x in sys.argv[3].split(",")]; seeds = [int(x) for x in sys.argv[4].split(",")]


def main():
    model, ck = store.load("data/checkpoints/diffusion/mp_20", device=cfg.device); model.eval()
    with process_pool() as pool:
        for st in steps:
            for eta in etas:
                for seed in seeds:
                    g = torch.Generator(device=cfg.device).manual_seed(seed)
                    res = sample(model, N, SamplerConfig(steps=st, batch_size=5000, remask=eta), generator=g,
                                 autocast=cfg.autocast)
                    structures = res.crystals.to("cpu").to_structures()
                    t = validity_table(structures, executor=pool, progress_bar=False)
                    row = dict(eta=eta, steps=st, seed=seed, n=len(structures), sample_s=res.seconds,
                               struct_valid=float(t.struct_valid.mean()), comp_valid=float(t.comp_valid.mean()),
                               valid=float((t.struct_valid & t.comp_valid).mean()))
                    print(row, flush=True)
                    with open(out, "a") as f:
                        f.write(json.dumps(row) + "\n")


if __name__ == '__main__':
    main()
