"""SCIGEN's screen at scale (notebook 07, section 6): kagome crystals generated on the GPU in chunks
while worker processes screen the previous chunk.

    python benchmarks/bench_scigen_at_scale.py [--crystals 100000] [--steps 50] [--chunk 50000] [--compile]

Reports the generation rate, the workers' screening rate per worker (their own clocks) and the
whole run's rate, from one run on one machine. The model is the committed MP-20 diffusion
checkpoint; bond lengths come from 2,000 MP-20 `val` crystals.
"""
from __future__ import annotations

import argparse

import torch

from matlib import config, paths, results
from matlib.datasets import load_split
from matlib.diffusion import SamplerConfig, store
from matlib.parallel import process_pool, usable_cpus
from matlib.scigen import MAGNETIC_ELEMENTS, BondLengths, get_template, sample_with_motif
from matlib.scigen.at_scale import screen_at_scale
from report_rows import write_report

def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--crystals", type=int, default=100_000)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--chunk", type=int, default=50_000)
    parser.add_argument("--workers", type=int, default=max(1, usable_cpus() - 1))
    parser.add_argument("--compile", action="store_true", help="compile the score network (dynamic shapes)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    cfg = config.resolve("full" if torch.cuda.is_available() else "smoke")
    model, _ = store.load(paths.checkpoints_dir() / "diffusion" / "mp_20", device=cfg.device)
    bond_lengths = BondLengths.from_structures(load_split("mp_20", "val", limit=2000).structures, MAGNETIC_ELEMENTS)
    if args.compile:
        model.network = torch.compile(model.network, dynamic=True)
    sampler = SamplerConfig(steps=args.steps, batch_size=args.chunk, record_every=0)
    kagome = get_template("kagome")

    def generate(index, n):
        result, _ = sample_with_motif(model, kagome, n, MAGNETIC_ELEMENTS, bond_lengths, sampler, seed=index,
                                      autocast=cfg.autocast, progress_bar=False)
        return result.crystals

    with process_pool(args.workers) as pool:
        screen = screen_at_scale(generate, args.crystals, chunk=args.chunk, executor=pool)
    report = {**screen.throughput(), "steps": args.steps, "chunk": args.chunk, "compiled": args.compile,
              "passes_screen": float(screen.flags["passes_screen"].mean()), "device": results.hardware(cfg.device)}
    print(report)
    write_report(report, args.out)


if __name__ == "__main__":
    main()
