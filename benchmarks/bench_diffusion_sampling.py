"""Sampling throughput of the notebook-04 diffusion model: crystals per second, FLOPs per network
call, and the share of the GPU's bf16 peak that the sampler reaches.

    python benchmarks/bench_diffusion_sampling.py [--checkpoint data/checkpoints/diffusion/mp_20] [--sizes 1000 10000]
    python benchmarks/bench_diffusion_sampling.py --compile     # the same, eager then torch.compile'd, one run
    python benchmarks/bench_diffusion_sampling.py --dense --compile   # edge list and dense pairs, each both ways
    python benchmarks/bench_diffusion_sampling.py --fused --compile   # edge list and fused pair messages (Triton)

Every size is timed once per variant in one run: the edge-list network (the notebooks'), with
``--compile`` the same under ``torch.compile`` (compiled and warmed up on the same crystals first, so
compile time is not counted), with ``--dense`` the padded all-pairs network
(`lab/dense_pairs/`, an experiment), and with both the dense network compiled; with ``--fused`` the
pair messages built and summed on chip (`matlib/nn/fused_pairs.py`), eager and, with ``--compile``,
with the rest of the network compiled. Ratios to the plain edge-list
run are printed: the speed-up item 1 of the performance issue asks for.

Uses the notebook's default sampler (200 predictor-corrector steps, 2 network calls per step)
and mixed precision (bf16) on a GPU. Peak: H100 SXM dense bf16 = 989 TFLOP/s (no sparsity).
"""
from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch
from torch.utils.flop_counter import FlopCounterMode

from matlib import config, paths, results
from matlib.diffusion import SamplerConfig, sample, store
from matlib.nn import all_pair_edges
from report_rows import emit, save
from variants import dense_network

PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12}


def edge_list_flops(model, num_atoms, batch_size, cfg) -> int:
    """FLOPs of one network call on these crystals (all chunks), counted by torch on the edge-list
    network: the useful work, whatever layout does it (the dense one also computes padded pairs)."""
    flops = 0
    for chunk in torch.split(num_atoms, batch_size):
        edges = all_pair_edges(chunk)
        atoms = int(chunk.sum())
        tokens = torch.randint(1, 90, (atoms,), device=cfg.device)
        frac = torch.rand(atoms, 3, device=cfg.device)
        lattice = model.lattice.prior(chunk)
        with FlopCounterMode(display=False) as counter, torch.no_grad(), cfg.autocast():
            model.denoise(tokens, frac, lattice, chunk, torch.full((len(chunk),), 0.5, device=cfg.device), edges)
        flops += counter.get_total_flops()
    return flops


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint", default=str(paths.checkpoints_dir() / "diffusion" / "mp_20"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--steps", type=int, default=SamplerConfig.steps)
    parser.add_argument("--batch-size", type=int, default=10000)
    parser.add_argument("--out", default=None)
    parser.add_argument("--compile", action="store_true", help="also time the score network under torch.compile")
    parser.add_argument("--compile-mode", default="default", help="torch.compile mode, e.g. reduce-overhead")
    parser.add_argument("--dense", action="store_true", help="also time the padded all-pairs network")
    parser.add_argument("--fused", action="store_true", help="also time the fused pair-message kernel")
    args = parser.parse_args()
    cfg = config.resolve("full" if torch.cuda.is_available() else "smoke")
    model, _ = store.load(args.checkpoint, device=cfg.device)
    sampler = SamplerConfig(steps=args.steps, batch_size=args.batch_size)
    sample(model, 256, SamplerConfig(steps=5), autocast=cfg.autocast)  # warm-up: kernels, allocator
    rows = []
    eager_network = model.network
    variants = [("edges", False)] + [("edges", True)] * args.compile
    variants += [("dense", False)] * args.dense + [("dense", True)] * (args.dense and args.compile)
    variants += [("fused", False)] * args.fused + [("fused", True)] * (args.fused and args.compile)
    for n, (layout, compiled) in [(n, v) for n in args.sizes for v in variants]:
        num_atoms = model.sample_num_atoms(n, generator=torch.Generator(device=cfg.device).manual_seed(n))
        network = dense_network(eager_network) if layout == "dense" else eager_network
        model.network = torch.compile(network, mode=args.compile_mode) if compiled else network
        pairs = "fused" if layout == "fused" else "edges"
        if compiled or layout == "fused":   # compile for these shapes before the clock starts
            sample(model, num_atoms, SamplerConfig(steps=2, batch_size=args.batch_size, pairs=pairs),
                   autocast=cfg.autocast)
        generator = torch.Generator(device=cfg.device).manual_seed(0)
        result = sample(model, num_atoms, replace(sampler, pairs=pairs), generator=generator, autocast=cfg.autocast)
        model.network = eager_network
        flops = edge_list_flops(model, num_atoms, args.batch_size, cfg)
        name = results.hardware(cfg.device)
        peak = next((v for k, v in PEAK_BF16.items() if k in name), None)
        achieved = flops * result.network_calls / len(torch.split(num_atoms, args.batch_size)) / result.seconds
        emit(rows, {"crystals": n, "layout": layout, "compiled": args.compile_mode if compiled else False,
                    "seconds": round(result.seconds, 2), "crystals_per_second": round(n / result.seconds, 1),
                    "steps": args.steps, "network_calls": result.network_calls,
                    "gflops_per_call": round(flops / 1e9, 1), "tflops_per_second": round(achieved / 1e12, 1),
                    "share_of_bf16_peak": None if peak is None else round(achieved / peak, 4), "device": name,
                    "edges_per_call": int(sum(int((c * (c - 1)).sum()) for c in torch.split(num_atoms, args.batch_size)))})
    for n in args.sizes:
        plain = next(r for r in rows if r["crystals"] == n and r["layout"] == "edges" and not r["compiled"])
        for row in rows:
            if row["crystals"] == n and row is not plain:
                print(f"{n} crystals, {row['layout']}{' compiled' if row['compiled'] else ''}: "
                      f"{plain['seconds'] / row['seconds']:.2f}x the plain edge-list speed")
    save(rows, args.out)


if __name__ == "__main__":
    main()
