"""Where a CDVAE training step's time goes (Perov-5, notebook 02's `large` size, batches of 2,048):
steps/s with the default AdamW and with fused=True, host syncs per step, and CPU vs GPU time.
    STEPS=300 python cdvae_step_profile.py OUT.json      (README, section 02)"""
import json, os, sys, time, warnings
import torch
from matlib import datasets
from matlib.batching import GraphCache, Minibatches
from matlib.cdvae import CDVAE, MODEL_SIZES

if __name__ == "__main__":   # not when a process pool's fork server imports this script
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    STEPS = int(os.environ.get("STEPS", 300))
    data = datasets.load_split("perov_5", "val")
    batch = data.batch().to(dev)
    import contextlib
    auto = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if dev.type == "cuda" else contextlib.nullcontext
    out = {}


    def run(fused, steps, profile=False):
        torch.manual_seed(0)
        model = CDVAE.from_data(batch, **MODEL_SIZES["large"]).to(dev)
        opt = torch.optim.AdamW(model.parameters(), lr=2e-3, fused=fused if dev.type == "cuda" else None)
        graphs = GraphCache(batch, model.config.encoder.cutoff, model.config.encoder.max_neighbors)
        mb = iter(Minibatches(graphs, torch.arange(len(batch)), 2048, seed=0))
        def step():
            nonlocal mb
            try:
                item = next(mb)
            except StopIteration:
                mb = iter(Minibatches(graphs, torch.arange(len(batch)), 2048, seed=0)); item = next(mb)
            with auto():
                loss = model.loss(item[0], graph=item[1])["loss"]
            opt.zero_grad(set_to_none=True); loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0); opt.step()
        for _ in range(20):
            step()
        if dev.type == "cuda": torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(steps):
            step()
        if dev.type == "cuda": torch.cuda.synchronize()
        rate = steps / (time.perf_counter() - t)
        if dev.type == "cuda":
            torch.cuda.set_sync_debug_mode("warn")
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                step(); torch.cuda.synchronize()
            torch.cuda.set_sync_debug_mode(0)
            syncs = [str(w.message).split("\n")[0][:120] for w in caught]
        else:
            syncs = []
        prof = None
        if profile and dev.type == "cuda":
            from torch.profiler import profile as P, ProfilerActivity
            with P(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as p:
                for _ in range(10):
                    step()
                torch.cuda.synchronize()
            ev = p.key_averages()
            cuda_us = sum(e.self_device_time_total for e in ev) / 10
            launches = sum(e.count for e in ev if e.key in ("cudaLaunchKernel", "cuLaunchKernel", "cudaLaunchKernelExC")) / 10
            prof = {"gpu_busy_ms_per_step": cuda_us / 1000, "kernel_launches_per_step": launches,
                    "top_cpu": [(e.key, round(e.self_cpu_time_total / 10000, 2)) for e in sorted(ev, key=lambda e: -e.self_cpu_time_total)[:12]]}
        return {"steps_per_s": round(rate, 2), "syncs_per_step": len(syncs), "sync_sites": syncs[:12], "profile": prof}


    out["foreach"] = run(False, STEPS, profile=True)
    print(json.dumps(out["foreach"]), flush=True)
    out["fused"] = run(True, STEPS)
    print(json.dumps(out["fused"]), flush=True)
    json.dump(out, open(sys.argv[1], "w"), indent=1)
