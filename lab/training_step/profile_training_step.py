"""Why does a training step of notebook 04's `full` model take ~20 ms when its arithmetic takes well
under 1? One step at batches of 256 (MP-20 training split, bf16), profiled: GPU busy time against
wall time, host-device synchronisations by the operator that causes them, and steps/s with the
default (foreach) AdamW against the fused one.

    python lab/training_step/profile_training_step.py OUT.txt
"""
import itertools
import sys
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from matlib import config, datasets
from matlib.batching import crystal_minibatches
from matlib.diffusion import CrystalDiffusion, DenoiserConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from bench_diffusion_training import gpu_kernels, timed_steps, train_step  # noqa: E402  (the benchmark's own)


def main(out: str) -> None:
    cfg = config.resolve("full")
    split = datasets.resolve_train_split("mp_20", "auto")
    prepared = CrystalDiffusion.prepare(datasets.load_split("mp_20", split).batch()).to(cfg.device)
    torch.manual_seed(0)
    model = CrystalDiffusion.from_data(prepared, DenoiserConfig(dim=224, layers=4, num_freqs=24)).to(cfg.device)
    batches = crystal_minibatches(prepared, 256, seed=0)
    report = []
    for fused in (False, True):
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=fused)
        seconds = timed_steps(lambda batch: train_step(model, optimizer, batch, cfg), batches, 200, cfg)
        report.append(f"AdamW fused={fused}: {200 / seconds:.1f} steps/s")
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for batch in itertools.islice(batches, 10):
            train_step(model, optimizer, batch, cfg)
        torch.cuda.synchronize()
    events = prof.key_averages()
    gpu_us = sum(e.self_device_time_total for e in gpu_kernels(events))
    report.append(f"10 steps: GPU busy {gpu_us / 1e3:.1f} ms in all")
    report.append(events.table(sort_by="self_cpu_time_total", row_limit=25))
    syncs = [e for e in events if "Synchronize" in e.key or e.key in ("aten::item", "aten::nonzero",
                                                                      "aten::_local_scalar_dense")]
    report.append("synchronising calls: " + ", ".join(f"{e.key} x{e.count}" for e in syncs))
    open(out, "w").write("\n".join(report))
    print("\n".join(report[:3]), "\n", report[-1])


if __name__ == "__main__":
    main(sys.argv[1])
