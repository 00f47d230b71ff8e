"""Training and sampling speed of notebook 05's latent prior (Con-CDVAE's stage 2).

    python benchmarks/bench_latent_prior.py [--networks film unet] [--batch-sizes 256 1024] [--steps 2000]

Latents and conditions are random (the speed does not depend on them): 9,047 latents of 256
dimensions, as MP-20's `val`, and the notebook's three MP-20 conditions. Training goes through
``matlib.training.fit``, the notebook's loop; sampling draws 4,800 latents (300 crystals x 16) with
the T = 300 ancestral steps. The small MLPs are bound by kernel launches, not arithmetic, so
steps per second barely change with the batch size.
"""
from __future__ import annotations

import argparse
import time

import torch

from matlib import config, results
from matlib.cdvae import ConditionSpec, LatentPrior, LatentPriorConfig, crystal_system_spec, latent_minibatches
from matlib.training import fit
from report_rows import emit, save

CONDITIONS = (ConditionSpec("formation_energy_per_atom", "scalar", -4.5, 0.5, 0.5),
              ConditionSpec("band_gap", "scalar", 0.0, 18.0, 0.5), crystal_system_spec())


def random_conditions(n: int, device, generator) -> torch.Tensor:
    u = torch.rand(n, 3, device=device, generator=generator)
    return torch.stack([-4.5 + 5 * u[:, 0], 6 * u[:, 1], (7 * u[:, 2]).floor().clamp_max(6)], -1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--networks", nargs="+", default=["film", "unet"])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--samples", type=int, default=4800)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    cfg = config.resolve("full" if torch.cuda.is_available() else "smoke")
    generator = torch.Generator(device=cfg.device).manual_seed(0)
    latents = torch.randn(9047, 256, device=cfg.device, generator=generator)
    values = random_conditions(len(latents), cfg.device, generator)
    device_name = results.hardware(cfg.device)
    rows = []
    for network in args.networks:
        prior = LatentPrior(LatentPriorConfig(256, CONDITIONS, network=network, width=1024, blocks=4)).to(cfg.device)
        prior.fit_scale(latents)
        parameters = sum(p.numel() for p in prior.parameters())
        for batch_size in args.batch_sizes:
            optimizer = torch.optim.AdamW(prior.parameters(), lr=1e-3)
            step = lambda p, item: p.loss(item[0], item[1])
            fit(prior, optimizer, step, latent_minibatches(latents, values, batch_size), max_steps=50,
                log_every=50)                                                # warm-up: kernels, allocator
            run = fit(prior, optimizer, step, latent_minibatches(latents, values, batch_size), max_steps=args.steps,
                      grad_clip=1.0, log_every=100)
            emit(rows, {"network": network, "parameters": parameters, "batch_size": batch_size, "steps": run.steps,
                        "seconds": round(run.seconds, 2), "steps_per_second": round(run.steps / run.seconds, 1),
                        "device": device_name})
        conditions = random_conditions(args.samples, cfg.device, generator)
        if cfg.device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        prior.sample(conditions, generator)
        if cfg.device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        emit(rows, {"network": network, "parameters": parameters, "sampled_latents": args.samples,
                    "seconds": round(seconds, 2), "latents_per_second": round(args.samples / seconds, 1),
                    "device": device_name})
    save(rows, args.out)


if __name__ == "__main__":
    main()
