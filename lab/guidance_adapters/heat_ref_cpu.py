"""Notebook 06's Perov-5 `heat_ref` experiment, run alone on a CPU with the step count fixed.

    MATLIB_DATA=../shared/data python lab/guidance_adapters/heat_ref_cpu.py BASE_STEM OUT.json [STEPS]

`full` fine-tunes the Perov-5 adapters for 30 s on the GPU (about 1,360 steps of 512 crystals);
on a CPU the same number of steps is fixed instead of the seconds. Everything else is `full`:
cosine rate, 0.99 weight average, 20 % condition dropout, 1,000 crystals per γ, 250 sampler steps,
element temperature 0.8, notebook 01's judge, window 0.5 ± 0.25 eV/atom, novelty against `val`.
"""
import json, sys, time
from pathlib import Path

import torch

from matlib import datasets, judges, results
from matlib.diffusion import CrystalDiffusion, SamplerConfig, guided_denoiser, sample, store
from matlib.diffusion.finetune import fine_tune
from matlib.evaluation import process_pool, targeted_report


def main():
    stem, out = Path(sys.argv[1]), Path(sys.argv[2])
    steps = int(sys.argv[3]) if len(sys.argv) > 3 else 1360
    seed, target, half = 0, 0.5, 0.25
    base, ck = store.load(stem)
    train = datasets.load_split("perov_5", "val")
    t0 = time.perf_counter()
    model, run = fine_tune(base, CrystalDiffusion.prepare(train.batch()), train.targets("heat_ref"), mode="adapters",
                           seconds=None, max_steps=steps, batch_size=512, ema_decay=0.99, seed=seed,
                           lr_schedule="cosine", desc="Perov-5 heat_ref, adapters")
    report = dict(base=str(stem), base_step=ck.step, fine_tune_steps=run.steps, fine_tune_seconds=run.seconds,
                  hardware=results.hardware(torch.device("cpu")), rows=[])
    judge = judges.load_judge("perov_5", "heat_ref")
    sampler = SamplerConfig(steps=250, type_temperature=0.8, batch_size=500)
    model.eval()
    with process_pool() as pool:
        for gamma in (0.0, 2.0):
            g = torch.Generator().manual_seed(seed)
            res = sample(model, 1000, sampler, generator=g, denoise_fn=guided_denoiser(model, target, gamma))
            summary, _ = targeted_report(res.crystals.to_structures(), judge, (target - half, target + half),
                                         train=train.structures, executor=pool)
            report["rows"].append(dict(gamma=gamma, sampling_seconds=res.seconds, **summary))
            print(report["rows"][-1], flush=True)
    report["seconds"] = time.perf_counter() - t0
    out.write_text(json.dumps(report, indent=1, default=float))


if __name__ == "__main__":
    main()
