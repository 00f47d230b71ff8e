"""Training speed of notebook 04's `full` diffusion model: optimizer steps per second, edge-list
against dense pairs, eager and compiled, measured in one run on one machine.

    python benchmarks/bench_diffusion_training.py [--dataset mp_20] [--batch-size 256] [--steps 300]
    python benchmarks/bench_diffusion_training.py --dense --compile
    python benchmarks/bench_diffusion_training.py --compile --fused   # also AdamW's fused kernel
    python benchmarks/bench_diffusion_training.py --compile --captured   # packed batches, one CUDA graph a step

``--fused`` adds every variant again with ``AdamW(fused=True)``: one kernel for all parameters and
no host read of each parameter's step count (the default foreach AdamW's, `lab/training_step/`).
``--captured`` adds the notebook's GPU route: fixed-shape packed batches (`matlib.packing`)
and the whole step replayed as one CUDA graph (`matlib.captured_step`), eager and, with
``--compile``, with the compiled network inside the graph.

The model, optimizer and mixed precision are the notebook's `full` ones (presets/04_diffusion.yaml:
width 224, 4 blocks, 24 frequencies, AdamW at 1e-3, gradient clipping at 1, bf16 on a GPU); the
crystals are the dataset's training split. Each variant warms up (and compiles) on 20 steps first,
so the clock sees only steady training.
"""
from __future__ import annotations

import argparse
import itertools
import time

import torch

from matlib import config, datasets, results
from matlib.batching import crystal_minibatches
from matlib.captured_step import CapturedStep, captured_adamw
from matlib.diffusion import CrystalDiffusion, DenoiserConfig
from matlib.packing import Budget, PackedMinibatches
from report_rows import emit, save
from variants import dense_network


def timed_steps(update, batches, steps: int, cfg) -> float:
    """Seconds for `steps` calls of ``update(batch)``, after 20 warm-up calls."""
    for batch in itertools.islice(batches, 20):       # warm-up: kernels, allocator, compilation
        update(batch)
    if cfg.device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for batch in itertools.islice(batches, steps):
        update(batch)
    if cfg.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def gpu_kernels(events) -> list:
    """The GPU's own rows of a profile's ``key_averages()``: an operator's row repeats the time of the
    kernels it launched, and annotations repeat it again, so only these add up to the GPU's busy time."""
    from torch.autograd import DeviceType
    return [e for e in events if e.device_type == DeviceType.CUDA and not e.is_user_annotation]


def train_step(model, optimizer, batch, cfg) -> None:
    with cfg.autocast():
        loss = model.loss(batch)["loss"]
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()


def packing_shares(batches, budget: Budget, count: int = 50) -> dict:
    """How full 50 packed batches are: real crystals per batch, shares of atom and pair slots used."""
    packed = [next(batches) for _ in range(count)]
    real = lambda b: (b.real_crystals, float(b.atom_weight.sum()), int((b.atom_weight[b.centre] > 0).sum()))
    crystals, atoms, pairs = map(sum, zip(*map(real, packed)))
    return {"crystals_per_batch": crystals / count, "atom_slots_used": round(atoms / count / budget.atoms, 3),
            "pair_slots_used": round(pairs / count / budget.pairs, 3)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="mp_20")
    parser.add_argument("--split", default="auto")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--limit", type=int, default=None, help="training crystals (None: all)")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--dense", action="store_true")
    parser.add_argument("--fused", action="store_true", help="also each variant with AdamW(fused=True)")
    parser.add_argument("--captured", action="store_true", help="also packed batches in one CUDA graph a step")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    cfg = config.resolve("full" if torch.cuda.is_available() else "smoke")
    split = datasets.resolve_train_split(args.dataset, args.split)
    prepared = CrystalDiffusion.prepare(datasets.load_split(args.dataset, split, limit=args.limit).batch())
    variants = [("edges", False)] + [("edges", True)] * args.compile
    variants += [("dense", False)] * args.dense + [("dense", True)] * (args.dense and args.compile)
    variants = [(*v, "foreach") for v in variants] + [(*v, "fused") for v in variants] * args.fused
    variants += [("packed", False, "captured")] * args.captured + [("packed", True, "captured")] * (
        args.captured and args.compile)
    rows = []
    for layout, compiled, kind in variants:
        if layout == "packed" and cfg.device.type != "cuda":
            print("packed + captured: skipped, a CUDA graph needs a GPU")
            continue
        torch.manual_seed(0)
        model = CrystalDiffusion.from_data(prepared, DenoiserConfig(dim=224, layers=4, num_freqs=24)).to(cfg.device)
        network = dense_network(model.network) if layout == "dense" else model.network
        model.network = torch.compile(network, dynamic=True) if compiled and layout != "packed" else network
        extra = {}
        if layout == "packed":
            budget = Budget.for_data(prepared.num_atoms, args.batch_size)
            batches = iter(PackedMinibatches(prepared, budget, seed=0, device=cfg.device))
            optimizer = captured_adamw(model.parameters(), 1e-3, cfg.device)
            update = CapturedStep(model, optimizer, lambda m, b: m.loss(b), next(batches), grad_clip=1.0,
                                  amp_dtype=cfg.amp_dtype if cfg.amp else None, compiled="network" if compiled else None)
            extra = packing_shares(batches, budget)
        else:
            batches = crystal_minibatches(prepared.to(cfg.device), args.batch_size, seed=0)
            optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, **({"fused": True} if kind == "fused" else {}))
            update = lambda batch: train_step(model, optimizer, batch, cfg)
        seconds = timed_steps(update, batches, args.steps, cfg)
        emit(rows, {"layout": layout, "compiled": compiled, "optimizer": kind, "steps": args.steps,
                    "batch_size": args.batch_size, "seconds": round(seconds, 2),
                    "steps_per_second": round(args.steps / seconds, 1), "dataset": args.dataset, "split": split,
                    "device": results.hardware(cfg.device), **extra})
    plain = rows[0]
    for row in rows[1:]:
        print(f"{row['layout']}{' compiled' if row['compiled'] else ''}, AdamW {row['optimizer']}: "
              f"{row['steps_per_second'] / plain['steps_per_second']:.2f}x the plain edge-list steps/s")
    save(rows, args.out)


if __name__ == "__main__":
    main()
