"""Sampling throughput of the notebook-02 CDVAE: crystals per second of annealed Langevin decoding.

    python benchmarks/bench_cdvae_sampling.py --checkpoint outputs/02_cdvae/checkpoint/perov_5 [--sizes 1000 10000]

z ~ N(0, I), the notebook's default decoding (50 levels x 10 steps = 500 decoder calls), the whole
batch decoded at once on the GPU in bf16 autocast (positions and the score update stay float32).
"""
from __future__ import annotations

import argparse

import torch

from matlib import config, results
from matlib.cdvae import LangevinConfig, decode, store
from report_rows import emit, save


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint", required=True, help="a CDVAE checkpoint stem")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--steps-per-level", type=int, default=10)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    cfg = config.resolve("full" if torch.cuda.is_available() else "smoke")
    model, _ = store.load(args.checkpoint, device=cfg.device)
    langevin = LangevinConfig(steps_per_level=args.steps_per_level)
    warm = torch.randn(64, model.config.latent, device=cfg.device)
    decode(model, warm, LangevinConfig(steps_per_level=1), autocast=cfg.autocast)   # kernels, allocator
    rows = []
    for n in args.sizes:
        generator = torch.Generator(device=cfg.device).manual_seed(0)
        z = torch.randn(n, model.config.latent, device=cfg.device, generator=generator)
        result = decode(model, z, langevin, generator=generator, autocast=cfg.autocast)
        seconds = result.seconds
        emit(rows, {"crystals": n, "atoms": int(result.crystals.num_atoms.sum()), "seconds": round(seconds, 2),
                     "crystals_per_second": round(n / seconds, 1), "decoder_calls": result.decoder_calls,
                     "steps_per_level": args.steps_per_level, "checkpoint": args.checkpoint,
                     "device": results.hardware(cfg.device)})
    save(rows, args.out)


if __name__ == "__main__":
    main()
