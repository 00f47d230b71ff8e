"""What bounds a training step of notebook 02's `full` CDVAE (model `large`, 2,048 crystals a
batch, bf16)? The eager step profiled: GPU busy time against wall time, and the kernels that take
the GPU's time; then the recorded step replayed on one fixed batch (no packing, no host work): the
GPU's own time for a step.

    python lab/cdvae_training_step/profile_cdvae_step.py OUT.txt [--dataset perov_5]
"""
import argparse
import itertools
import sys
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from matlib import config, datasets
from matlib.batching import Minibatches
from matlib.captured_step import CapturedStep, captured_adamw
from matlib.cdvae import CDVAE, MODEL_SIZES

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from bench_cdvae_training import eager_step, encoder_graphs, epochs, packed_stream  # noqa: E402  (the benchmark's own)
from bench_diffusion_training import gpu_kernels, timed_steps  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--dataset", default="perov_5")
    parser.add_argument("--batch-size", type=int, default=2048)
    args = parser.parse_args()
    cfg = config.resolve("full")
    data = datasets.load_split(args.dataset, datasets.resolve_train_split(args.dataset, "auto")).batch().to(cfg.device)
    torch.manual_seed(0)
    model = CDVAE.from_data(data, **MODEL_SIZES["large"]).to(cfg.device)
    graphs = encoder_graphs(data)
    batches = epochs(Minibatches(graphs, torch.arange(len(data)), args.batch_size, seed=0))
    update = eager_step(model, torch.optim.AdamW(model.parameters(), lr=2e-3), cfg,
                        lambda m, item: m.loss(item[0], graph=item[1]))
    for item in itertools.islice(batches, 10):
        update(item)
    torch.cuda.synchronize()
    start = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for item in itertools.islice(batches, 10):
            update(item)
        torch.cuda.synchronize()
    wall = (time.perf_counter() - start) / 10
    events = prof.key_averages()
    kernels = sorted((e for e in gpu_kernels(events) if e.self_device_time_total > 0),
                     key=lambda e: -e.self_device_time_total)
    gpu = sum(e.self_device_time_total for e in kernels) / 10 / 1e3
    report = [f"{args.dataset}, batch {args.batch_size}, eager step (profiled): wall {wall * 1e3:.1f} ms, "
              f"GPU busy {gpu:.1f} ms a step", "top GPU kernels (ms a step, calls a step):"]
    report += [f"  {e.self_device_time_total / 10 / 1e3:7.2f}  {e.count // 10:5d}  {e.key[:110]}" for e in kernels[:20]]
    _, packed = packed_stream(data, graphs, args.batch_size, cfg.device)
    for compiled in ((), ("decoder",), ("encoder", "decoder")):
        torch.manual_seed(0)
        model = CDVAE.from_data(data, **MODEL_SIZES["large"]).to(cfg.device)
        step = CapturedStep(model, captured_adamw(model.parameters(), 2e-3, cfg.device), lambda m, b: m.loss(b),
                            next(packed), grad_clip=1.0, amp_dtype=cfg.amp_dtype, compiled=compiled)
        what = f", compiled: {' and '.join(compiled)}" if compiled else ""
        report.append(f"recorded step{what}, replayed on one batch: "
                      f"{timed_steps(step, itertools.repeat(next(packed)), 50, cfg) / 50 * 1e3:.1f} ms a step")
    text = "\n".join(report)
    print(text)
    Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
