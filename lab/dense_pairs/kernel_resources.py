"""The fused pair-message kernel alone, one block of the MP-20 model's shape (dim 224, 24 frequencies,
10,000 crystals of 1 to 20 atoms, bf16), at several tile shapes, with and without the GPU's
one-instruction sine and tanh and a register cap: milliseconds per launch, the largest difference
from the same block computed pair by pair in float32 (relative to the largest output), and what the
compiled kernel holds (registers and spilled registers a thread, shared memory a program), which sets
how many programs share an SM. For the profile behind the numbers in the lab README:

    python lab/dense_pairs/kernel_resources.py [OUT.json]
    ncu --section SpeedOfLight --section Occupancy --section WarpStateStats -k regex:_pair -c 1 \\
        python lab/dense_pairs/kernel_resources.py
"""
import itertools
import json
import sys

import torch

from matlib.nn import fused_pairs
from matlib.nn.edges import all_pair_edges
from matlib.nn.fused_pairs import PairPlan, fused_pair_messages
from matlib.nn.score_network import fourier_features
from tune_fused import timed

TILES = [(64, 64, 256, 8, 3), (64, 32, 256, 8, 2), (32, 32, 256, 4, 2)]   # rows, hidden chunk, output columns, warps, stages


class LastLaunch:
    """Stands in for the kernel to keep the compiled kernel that each launch returns."""
    def __init__(self, kernel):
        self.kernel, self.last = kernel, None

    def __getitem__(self, grid):
        def launch(*args, **kwargs):
            self.last = self.kernel[grid](*args, **kwargs)
            return self.last
        return launch


def main() -> None:
    device = "cuda"
    torch.manual_seed(0)
    num_atoms = torch.randint(1, 21, (10000,), device=device)
    atoms, dim, freqs = int(num_atoms.sum()), 224, 24
    per_atom, q = (torch.randn(atoms, dim, device=device, dtype=torch.bfloat16) for _ in range(2))
    frac = torch.rand(atoms, 3, device=device)
    edge_weight = (torch.randn(dim, 6 * freqs, device=device) / 12).bfloat16()
    message_weight = (torch.randn(dim, dim, device=device) / 15).bfloat16()
    bias = torch.zeros(dim, device=device)
    batch_index, (centre, neighbour) = all_pair_edges(num_atoms)
    diff = frac[neighbour] - frac[centre]
    features = fourier_features(diff - torch.round(diff), freqs)
    hidden = torch.nn.functional.silu(per_atom[centre].float() + q[neighbour].float() + features @ edge_weight.float().T)
    messages = torch.nn.functional.silu(hidden @ message_weight.float().T + bias)
    del hidden, features
    inverse_degree = 1.0 / (num_atoms[batch_index] - 1).clamp_min(1).float()[:, None]
    expected = torch.zeros(atoms, dim, device=device).index_add_(0, centre, messages) * inverse_degree
    del messages
    spy = fused_pairs._kernel = LastLaunch(fused_pairs._kernel)
    rows = []
    for (tile, chunk, columns, warps, stages), fast, cap in itertools.product(TILES, (True, False), (None, 128)):
        fused_pairs.ROWS, fused_pairs.HIDDEN_CHUNK, fused_pairs.OUT_COLUMNS = tile, chunk, columns
        fused_pairs.WARPS, fused_pairs.STAGES, fused_pairs.FAST_MATH, fused_pairs.MAX_REGISTERS = warps, stages, fast, cap
        row = {"ROWS": tile, "HIDDEN_CHUNK": chunk, "OUT_COLUMNS": columns, "WARPS": warps, "STAGES": stages,
               "FAST_MATH": fast, "MAX_REGISTERS": cap}
        try:
            plan = PairPlan.for_sizes(num_atoms)
            with torch.no_grad():
                def launch():
                    return fused_pair_messages(per_atom, q, frac, edge_weight, message_weight, bias, plan, freqs,
                                               inverse_degree)
                out, seconds = launch(), timed(launch)
            row.update(ms=round(1e3 * seconds, 3),
                       relative_difference=round(float((out - expected).abs().max() / expected.abs().max()), 5),
                       registers=spy.last.n_regs, spilled=spy.last.n_spills, shared_bytes=spy.last.metadata.shared,
                       tiles=plan.tiles)
        except Exception as error:      # a tile that does not fit in shared memory
            row["error"] = f"{type(error).__name__}: {str(error)[:160]}"
        rows.append(row)
        print(row, flush=True)
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w") as f:
            json.dump({"device": torch.cuda.get_device_name(), "crystals": 10_000, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
