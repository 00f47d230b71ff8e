"""Issue 6 probe: does weight decay, a longer budget or more training data lift MP-20 composition validity?
    python probe04.py OUT.jsonl NAME WEIGHT_DECAY SECONDS [committed]
PROBE_FRACTION=0.25 trains on a random quarter of mp_20/val (seed 0) instead of all of it;
PROBE_SEEDS=8 samples with seed 8 only. PROBE_GLOBAL=1 gives every block the per-crystal mean
(DenoiserConfig.global_context); PROBE_SAVE=STEM saves the trained model there.
Trains notebook 04's full recipe (dim 224, 4 layers, batch 256, lr 1e-3, EMA 0.999, AdamW) on mp_20/val,
then samples 2 x 10,000 crystals (seeds 8, 9; 200 steps) and scores struct/comp validity, plus the
stratified mean losses on 2,000 val and 2,000 test crystals (seed 0)."""
import json, os, sys, time
from pathlib import Path
import numpy as np
import torch
from matlib import config, datasets, paths
from matlib.batching import crystal_minibatches
from matlib.diffusion import CrystalDiffusion, DenoiserConfig, SamplerConfig, store
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "diffusion_sampling"))
# the lab's sampler and model: matlib's at their defaults, plus the research options the other probes pass
from research_sampler import ResearchDiffusion, sample
from matlib.evaluation import process_pool, validity_table
from matlib.training import budget_schedule, fit

cfg = config.resolve("full", seed=0)
N, M = (int(os.environ.get("PROBE_N", 10000)), int(os.environ.get("PROBE_M", 2000)))


def losses(model, train_set, test_set):
    res = {}
    for split, s in (("val", train_set), ("test", test_set)):
        chosen = np.random.default_rng(0).permutation(len(s))[:M].tolist()
        res[split] = model.mean_losses(CrystalDiffusion.prepare(s.batch().select(chosen)).to(cfg.device), seed=0)
    return res


def sample_scored(model, sampler: SamplerConfig, seed: int, pool):
    """N crystals from ``model`` (generator seeded with ``seed``): their structures, the sampler's
    result, and the shares that are structure-, composition- and both valid. The other probes of
    notebook 04's model sample through this too."""
    g = torch.Generator(device=cfg.device).manual_seed(seed)
    res = sample(model, N, sampler, generator=g, autocast=cfg.autocast)
    structures = res.crystals.to("cpu").to_structures()
    table = validity_table(structures, executor=pool, progress_bar=False)
    shares = dict(struct_valid=float(table.struct_valid.mean()), comp_valid=float(table.comp_valid.mean()),
                  valid=float((table.struct_valid & table.comp_valid).mean()))
    return structures, res, shares


def score(model, tag, pool, extra, out):
    model.eval()
    for seed in [int(x) for x in os.environ.get("PROBE_SEEDS", "8,9").split(",")]:
        structures, _, shares = sample_scored(model, SamplerConfig(steps=200, batch_size=5000), seed, pool)
        row = dict(probe=tag, seed=seed, n=len(structures), **shares, **extra)
        with out.open("a") as sink:
            sink.write(json.dumps(row, default=float) + "\n")
        print(row, flush=True)


def train(train_set, seconds: float, wd: float = 0.01, fraction: float = 1.0, global_context: bool = False,
          **overrides):
    """Notebook 04's full recipe on a share ``fraction`` of ``train_set`` for ``seconds``:
    (model, fit result, crystals trained on). ``overrides`` go to ResearchDiffusionConfig."""
    kept = np.random.default_rng(0).permutation(len(train_set))[:round(fraction * len(train_set))]
    prepared = CrystalDiffusion.prepare(train_set.batch().select(sorted(kept.tolist())))
    torch.manual_seed(0)
    denoiser = DenoiserConfig(dim=224, layers=4, num_freqs=24, global_context=global_context)
    model = ResearchDiffusion.from_data(prepared, denoiser, **overrides).to(cfg.device)
    batch = prepared.to(cfg.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=wd)
    schedule = budget_schedule(optimizer, "constant", 200000, seconds, warmup_steps=200)
    run = fit(model, optimizer, lambda m, b: m.loss(b), crystal_minibatches(batch, 256, 0), max_steps=200000,
              max_seconds=seconds, grad_clip=1.0, autocast=cfg.autocast, ema_decay=0.999, scheduler=schedule, log_every=100)
    return model, run, len(kept)


def main():
    out = Path(sys.argv[1]); name = sys.argv[2]; wd = float(sys.argv[3]); seconds = float(sys.argv[4])
    train_set = datasets.load_split("mp_20", "val"); test_set = datasets.load_split("mp_20", "test")
    model, run, kept = train(train_set, seconds, wd, float(os.environ.get("PROBE_FRACTION", 1.0)),
                             os.environ.get("PROBE_GLOBAL") == "1")
    if os.environ.get("PROBE_SAVE"):
        store.save(os.environ["PROBE_SAVE"], model, dataset="mp_20", split="val", step=run.steps)
    with process_pool() as pool:
        score(model, name, pool, dict(weight_decay=wd, train_seconds=seconds, steps=run.steps,
                                      global_context=model.config.denoiser.global_context,
                                      train_crystals=kept, mean_losses=losses(model, train_set, test_set)), out)
        if len(sys.argv) > 5:
            committed, ck = store.load(paths.checkpoints_dir() / "diffusion" / "mp_20", device=cfg.device)
            score(committed, "committed", pool, dict(steps=ck.step, mean_losses=losses(committed, train_set, test_set)), out)


if __name__ == "__main__":
    main()
