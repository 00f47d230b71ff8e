"""Training speed of notebook 02's `full` CDVAE: optimizer steps per second, the notebook's route
against packed batches replayed as one CUDA graph, measured in one run on one machine.

    python benchmarks/bench_cdvae_training.py [--datasets perov_5 mp_20] [--batch-size 2048] [--steps 200]

Variants, all with the notebook's `full` model (`large`), AdamW and bf16 autocast on a GPU:
- ``cached``: the notebook's route: encoder graphs built once (`GraphCache`), mini-batches sliced
  from them, an eager step;
- ``packed``: fixed-shape batches with the graphs packed too (`matlib.packing`), an eager step;
- ``captured``: the same batches, the whole step replayed as one CUDA graph (`matlib.captured_step`);
- ``captured-compiled``: with the decoder compiled by `torch.compile` inside the recorded step;
- ``captured-compiled-all`` (ask for it with ``--variants``): the encoder compiled too.
The captured variants also report the steps/s of one batch replayed again and again: the device's
own time, without the packing.
Each variant warms up (and compiles) on 20 steps first, so the clock sees only steady training.
"""
from __future__ import annotations

import argparse
import itertools
from collections.abc import Iterator

import torch

from matlib import config, datasets, results
from matlib.batching import GraphCache, Minibatches
from matlib.captured_step import CapturedStep, captured_adamw
from matlib.cdvae import CDVAE, MODEL_SIZES
from matlib.packing import Budget, PackedBatch, PackedMinibatches
from bench_diffusion_training import packing_shares, timed_steps
from report_rows import emit, save


# which submodules each recorded variant compiles
COMPILED = {"captured": (), "captured-compiled": ("decoder",), "captured-compiled-all": ("encoder", "decoder")}


def epochs(minibatches):
    """Endless shuffled epochs of a re-iterable `Minibatches`."""
    while True:
        yield from minibatches


def encoder_graphs(data, model_size: str = "large") -> GraphCache:
    """Every crystal's encoder neighbour graph, built once (the notebook route's `GraphCache`)."""
    encoder = MODEL_SIZES[model_size]["encoder"]
    return GraphCache(data, encoder.cutoff, encoder.max_neighbors)


def packed_stream(data, graphs: GraphCache, crystals: int, device) -> tuple[Budget, Iterator[PackedBatch]]:
    """Endless fixed-shape batches of ``crystals`` crystals with their encoder graphs, and their budget."""
    budget = Budget.for_data(data.num_atoms, crystals, edge_counts=graphs.edge_counts)
    return budget, iter(PackedMinibatches(data, budget, seed=0, device=device, graphs=graphs))


def eager_step(model, optimizer, cfg, loss_fn):
    def update(item) -> None:
        with cfg.autocast():
            loss = loss_fn(model, item)["loss"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    return update


def measure(dataset: str, args, cfg, rows: list[dict]) -> None:
    """Every variant on one dataset, each from the same initial weights."""
    split = datasets.resolve_train_split(dataset, args.split)
    data = datasets.load_split(dataset, split, limit=args.limit).batch().to(cfg.device)
    graphs = encoder_graphs(data, args.model_size)   # the same for every variant
    for variant in args.variants:
        if variant.startswith("captured") and cfg.device.type != "cuda":
            print(f"{variant}: skipped, a CUDA graph needs a GPU")
            continue
        torch.manual_seed(0)
        model = CDVAE.from_data(data, **MODEL_SIZES[args.model_size]).to(cfg.device)
        extra = {}
        if variant == "cached":
            batches = epochs(Minibatches(graphs, torch.arange(len(data)), args.batch_size, seed=0))
            optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
            update = eager_step(model, optimizer, cfg, lambda m, item: m.loss(item[0], graph=item[1]))
        else:
            budget, batches = packed_stream(data, graphs, args.batch_size, cfg.device)
            extra = packing_shares(batches, budget)
            if variant == "packed":
                optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
                update = eager_step(model, optimizer, cfg, lambda m, b: m.loss(b))
            else:
                optimizer = captured_adamw(model.parameters(), args.lr, cfg.device)
                update = CapturedStep(model, optimizer, lambda m, b: m.loss(b), next(batches), grad_clip=1.0,
                                      amp_dtype=cfg.amp_dtype if cfg.amp else None,
                                      compiled=COMPILED[variant])
        seconds = timed_steps(update, batches, args.steps, cfg)
        if variant.startswith("captured"):   # the device's own time: one batch replayed, no packing
            one = next(batches)
            extra["one_batch_steps_per_second"] = round(args.steps / timed_steps(update, itertools.repeat(one),
                                                                                args.steps, cfg), 2)
        emit(rows, {"variant": variant, "steps": args.steps, "batch_size": args.batch_size,
                    "model_size": args.model_size, "seconds": round(seconds, 2),
                    "steps_per_second": round(args.steps / seconds, 2), "dataset": dataset, "split": split,
                    "device": results.hardware(cfg.device), **extra})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", nargs="+", default=["perov_5"])
    parser.add_argument("--split", default="auto")
    parser.add_argument("--model-size", default="large", choices=sorted(MODEL_SIZES))
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--limit", type=int, default=None, help="training crystals (None: all)")
    parser.add_argument("--variants", nargs="+", default=["cached", "packed", "captured", "captured-compiled"],
                        choices=["cached", "packed", *COMPILED])
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    cfg = config.resolve("full" if torch.cuda.is_available() else "smoke")
    rows = []
    for dataset in args.datasets:
        measure(dataset, args, cfg, rows)
    for row in rows:
        plain = next(r for r in rows if r["dataset"] == row["dataset"] and r["variant"] == "cached")
        print(f"{row['dataset']}, {row['variant']}: {row['steps_per_second'] / plain['steps_per_second']:.2f}x "
              f"the notebook route's steps/s")
    save(rows, args.out)


if __name__ == "__main__":
    main()
