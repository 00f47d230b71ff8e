"""The probe behind type_temperature_probe.jsonl (run on the GPU host from the project root).

    python probe.py base OUT.jsonl            # unguided MP-20 validity, 10,000 crystals per setting (seed 8)
    python probe.py guided OUT.jsonl 302,303  # band-gap success of the committed adapters at γ = 2, per T
    python probe.py fe OUT.jsonl              # formation-energy adapters (30 s, as notebook 06), T = 1 and 0.8

The first call ran an earlier version: base with seed 7 at T = 1.0 and 0.8, guided with seeds
300, 301 and the settings (2, 2, 1.0), (2, 2, 0.8), (2, 1, 1.0), (3, 2, 1.0) as
(elements γ, coordinates-and-cell γ, T).
"""
import json, sys, time
from pathlib import Path
import numpy as np
import torch
from matlib import config, datasets, judges, paths
from matlib.diffusion import SamplerConfig, sample, store
from matlib.evaluation import process_pool, targeted_report, validity_table

cfg = config.resolve("full", seed=0)
out = Path(sys.argv[2])


def emit(row):
    with out.open("a") as sink:
        sink.write(json.dumps(row, default=float) + "\n")
    print(row, flush=True)


def split_guidance(model, target, gamma_types, gamma_cont):
    def denoise_fn(tokens, frac, lattice, num_atoms, t, edges=None):
        u = model.denoise(tokens, frac, lattice, num_atoms, t, edges)
        values = torch.full((len(num_atoms),), float(target), device=num_atoms.device)
        c = model.denoise(tokens, frac, lattice, num_atoms, t, edges, values=values)
        g = (gamma_cont, gamma_cont, gamma_types)
        return tuple(a + k * (b - a) for a, b, k in zip(u, c, g))
    return denoise_fn


def base_probe(pool):
    stem = paths.checkpoints_dir() / "diffusion" / "mp_20"
    model, ck = store.load(stem, device=cfg.device)
    for temperature, steps in [(1.0, 200), (1.2, 200), (1.0, 500)]:
        t0 = time.perf_counter()
        g = torch.Generator(device=cfg.device).manual_seed(8)
        res = sample(model, 10000, SamplerConfig(steps=steps, batch_size=5000, type_temperature=temperature),
                     generator=g, autocast=cfg.autocast)
        structures = res.crystals.to("cpu").to_structures()
        table = validity_table(structures, executor=pool, progress_bar=False)
        formulas = [s.composition.reduced_formula for s in structures]
        emit(dict(probe="base", checkpoint=str(stem), step=ck.step, temperature=temperature, steps=steps, n=len(structures),
                  struct_valid=table.struct_valid.mean(), comp_valid=table.comp_valid.mean(),
                  valid=(table.struct_valid & table.comp_valid).mean(), formula_unique=len(set(formulas)) / len(formulas),
                  seconds=time.perf_counter() - t0))


def guided_probe(pool):
    train = datasets.load_split("mp_20", "val")
    base, _ = store.load(paths.checkpoints_dir() / "diffusion" / "mp_20", device=cfg.device)
    model, _ = store.load_adapters(paths.checkpoints_dir() / "adapters" / "mp_20__band_gap", base)
    model.eval()
    judge = judges.load_judge("mp_20", "band_gap", device=cfg.device)
    for seed in [int(x) for x in sys.argv[3].split(",")]:
        for gt, gc, temperature in [(2, 2, 1.0), (2, 2, 0.9), (2, 2, 0.8), (2, 2, 0.7)]:
            t0 = time.perf_counter()
            g = torch.Generator(device=cfg.device).manual_seed(seed)
            res = sample(model, 2000, SamplerConfig(steps=250, batch_size=2000, type_temperature=temperature),
                         generator=g, denoise_fn=split_guidance(model, 3.0, gt, gc), autocast=cfg.autocast)
            summary, _ = targeted_report(res.crystals.to("cpu").to_structures(), judge, (2.5, 3.5),
                                         train=train.structures, executor=pool)
            emit(dict(probe="guided", seed=seed, gamma_types=gt, gamma_cont=gc, temperature=temperature,
                      seconds=time.perf_counter() - t0, **{k: summary[k] for k in (
                          "success_rate", "valid", "in_window_of_valid", "unique", "novel", "judged_mean")}))


def fe_probe(pool):
    """Formation-energy adapters as notebook 06's full trains them (30 s), sampled at γ = 2, T = 1 and 0.8."""
    from matlib.diffusion import CrystalDiffusion
    from matlib.diffusion.finetune import fine_tune
    train = datasets.load_split("mp_20", "val")
    prepared = CrystalDiffusion.prepare(train.batch())
    small = bool(__import__('os').environ.get('PROBE_SMALL'))
    base, _ = store.load(paths.checkpoints_dir() / "diffusion" / "mp_20", device=cfg.device)
    model, run = fine_tune(base, prepared, train.targets("formation_energy_per_atom"), mode="adapters", seconds=2 if small else 30,
                           max_steps=100_000, batch_size=512, ema_decay=0.99, seed=0, lr_schedule="cosine",
                           autocast=cfg.autocast, desc="fe")
    model.eval()
    judge = judges.load_judge("mp_20", "formation_energy_per_atom", device=cfg.device)
    for seed in (300, 301):
        for temperature in (1.0, 0.8):
            g = torch.Generator(device=cfg.device).manual_seed(seed)
            res = sample(model, 8 if small else 2000, SamplerConfig(steps=5 if small else 250, batch_size=2000,
                         type_temperature=temperature), generator=g, denoise_fn=split_guidance(model, -2.0, 2, 2),
                         autocast=cfg.autocast)
            summary, _ = targeted_report(res.crystals.to("cpu").to_structures(), judge, (-2.25, -1.75),
                                         train=train.structures, executor=pool)
            emit(dict(probe="formation_energy", steps_trained=run.steps, seed=seed, temperature=temperature,
                      **{k: summary[k] for k in ("success_rate", "valid", "in_window_of_valid", "unique", "novel")}))


if __name__ == "__main__":
    probe, workers = {"base": (base_probe, 8), "guided": (guided_probe, 8), "fe": (fe_probe, 16)}[sys.argv[1]]
    with process_pool(workers) as pool:
        probe(pool)
