"""Notebook 04's committed MP-20 model sampled with ReMDM remasking of the element choices (README, 04).

    python remask_probe.py OUT.jsonl ETAS STEPS SEEDS      e.g. OUT.jsonl 0.02,0.05,0.1 200 8
10,000 crystals per (η, steps, seed) (PROBE_N to change), structure and composition validity."""
import json, sys
from pathlib import Path
from matlib.diffusion import store
from research_sampler import ResearchSamplerConfig as SamplerConfig
from matlib.evaluation import process_pool
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "diffusion_training"))   # probe04
from probe04 import cfg, sample_scored

out = sys.argv[1]; etas = [float(x) for x in sys.argv[2].split(",")]
steps = [int(x) for x in sys.argv[3].split(",")]; seeds = [int(x) for x in sys.argv[4].split(",")]


def main():
    model, ck = store.load("data/checkpoints/diffusion/mp_20", device=cfg.device); model.eval()
    with process_pool() as pool:
        for st in steps:
            for eta in etas:
                for seed in seeds:
                    sampler = SamplerConfig(steps=st, batch_size=5000, remask=eta)
                    structures, res, shares = sample_scored(model, sampler, seed, pool)
                    row = dict(eta=eta, steps=st, seed=seed, n=len(structures), sample_s=res.seconds, **shares)
                    print(row, flush=True)
                    with open(out, "a") as f:
                        f.write(json.dumps(row) + "\n")


if __name__ == '__main__':
    main()
