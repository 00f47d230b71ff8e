"""Where does a sampling step's time go? One score-network call on 10,000 MP-20 crystals (the committed
model, bf16), eager and torch.compile'd, profiled by kernel: the top CUDA kernels by time.

    python lab/dense_pairs/profile_network_call.py OUT.txt [CRYSTALS]
"""
import sys

import torch
from torch.profiler import ProfilerActivity, profile

from matlib import config, paths
from matlib.diffusion import store
from matlib.nn import all_pair_edges


def main(out: str, crystals: int = 10000) -> None:
    cfg = config.resolve("full")
    model, _ = store.load(paths.checkpoints_dir() / "diffusion" / "mp_20", device=cfg.device)
    model.eval()
    num_atoms = model.sample_num_atoms(crystals, generator=torch.Generator(device=cfg.device).manual_seed(0))
    edges = all_pair_edges(num_atoms)
    atoms = int(num_atoms.sum())
    inputs = (torch.randint(1, 90, (atoms,), device=cfg.device), torch.rand(atoms, 3, device=cfg.device),
              model.lattice.prior(num_atoms), num_atoms, torch.full((crystals,), 0.5, device=cfg.device),
              model.mean_edge(num_atoms))
    report = []
    for name, network in (("eager", model.network), ("compiled", torch.compile(model.network))):
        with torch.no_grad(), cfg.autocast():
            for _ in range(3):                         # warm-up (and compilation)
                network(*inputs, edges=edges)
            torch.cuda.synchronize()
            with profile(activities=[ProfilerActivity.CUDA]) as prof:
                for _ in range(5):
                    network(*inputs, edges=edges)
                torch.cuda.synchronize()
        table = prof.key_averages().table(sort_by="cuda_time_total", row_limit=15)
        report.append(f"== {name}: 5 calls, {crystals} crystals, {edges[1][0].numel()} ordered pairs\n{table}")
    open(out, "w").write("\n".join(report))
    print("\n".join(report))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 10000)
