"""One network call of the committed MP-20 diffusion model on 10,000 crystals (bf16, one GPU): the
edge list eager and compiled against the fused pair-message kernel at several tile shapes (pair rows
per tile, hidden columns per step, output columns per program, warps), with the largest difference
from the edge list relative to the output's scale, and the implied time of a 200-step sampling run
(399 calls).

    python lab/dense_pairs/tune_fused.py [OUT.json]
"""
from __future__ import annotations

import itertools
import json
import sys
import time

import torch

from matlib import paths
from matlib.diffusion import store
from matlib.nn import fused_pairs
from matlib.nn.edges import all_pair_edges
from matlib.nn.fused_pairs import PairPlan


def timed(call, repeats: int = 20) -> float:
    call()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        call()
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeats


def network_inputs():
    """The committed model on the GPU and one noisy network input for 10,000 crystals of its size mix."""
    device = torch.device("cuda")
    model, _ = store.load(paths.checkpoints_dir() / "diffusion" / "mp_20", device=device)
    model.eval()
    num_atoms = model.sample_num_atoms(10_000, generator=torch.Generator(device=device).manual_seed(0))
    atoms = int(num_atoms.sum())
    generator = torch.Generator(device=device).manual_seed(1)
    tokens = torch.randint(1, 90, (atoms,), device=device, generator=generator)
    frac = torch.rand(atoms, 3, device=device, generator=generator)
    lattice = model.lattice.prior(num_atoms, generator=generator)
    t = torch.full((len(num_atoms),), 0.5, device=device)
    return model, tokens, frac, lattice, num_atoms, t


def main() -> None:
    model, tokens, frac, lattice, num_atoms, t = network_inputs()
    edges = all_pair_edges(num_atoms)
    rows = []

    def run(network, how):
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
            return network(tokens, frac, lattice, num_atoms, t, model.mean_edge(num_atoms), edges=how)

    reference = run(model.network, edges)
    compiled = torch.compile(model.network)
    for name, network, how in (("edge list", model.network, edges), ("edge list, compiled", compiled, edges)):
        rows.append({"variant": name, "ms_per_call": 1e3 * timed(lambda: run(network, how))})
    for tile, chunk, columns, warps in itertools.product((64, 128), (32, 64), (128, 256), (4, 8)):
        fused_pairs.HIDDEN_CHUNK, fused_pairs.OUT_COLUMNS, fused_pairs.WARPS = chunk, columns, warps
        plan = PairPlan.for_sizes(num_atoms, rows=tile)
        row = {"variant": f"fused, {tile} rows, hidden {chunk}, out {columns}, {warps} warps",
               "config": {"ROWS": tile, "HIDDEN_CHUNK": chunk, "OUT_COLUMNS": columns, "WARPS": warps},
               "tiles": plan.tiles, "row_fill": round(int((plan.row_atom >= 0).sum()) / len(plan.row_atom), 3)}
        try:
            out = run(model.network, plan)
            row["relative_difference"] = max(float((a.float() - b.float()).abs().max() / a.float().abs().max())
                                             for a, b in zip(reference, out))
            row["ms_per_call"] = 1e3 * timed(lambda: run(model.network, plan))
        except Exception as error:      # a shape the compiler cannot fit (registers, shared memory)
            row["error"] = f"{type(error).__name__}: {str(error)[:200]}"
        rows.append(row)
        print(row, flush=True)
    for row in filter(lambda row: "ms_per_call" in row, rows):
        row["sampling_200_steps_s"] = round(399 * row["ms_per_call"] / 1e3, 2)
        row["ms_per_call"] = round(row["ms_per_call"], 3)
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w") as f:
            json.dump({"crystals": 10_000, "pairs": int((num_atoms * (num_atoms - 1)).sum()),
                       "device": torch.cuda.get_device_name(), "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
