"""The fused pair-message kernel alone (one block of the MP-20 model's shape: dim 224, 24 frequencies,
10,000 crystals of 1 to 20 atoms, bf16) at several tile shapes: milliseconds per launch, and what
the compiled kernel holds per thread and per program (registers, spilled registers, shared memory),
which set how many programs share an SM. For the profile behind the numbers in the lab README:

    python lab/dense_pairs/kernel_resources.py
    ncu --section SpeedOfLight --section Occupancy --section WarpStateStats -k regex:_pair -c 1 \
        python lab/dense_pairs/kernel_resources.py
"""
import torch

from matlib.nn import fused_pairs
from matlib.nn.fused_pairs import PairPlan, fused_pair_messages
dev = "cuda"; torch.manual_seed(0)
num_atoms = torch.randint(1, 21, (10000,), device=dev)
atoms, D = int(num_atoms.sum()), 224
per_atom, q = (torch.randn(atoms, D, device=dev, dtype=torch.bfloat16) for _ in range(2))
frac = torch.rand(atoms, 3, device=dev)
we = (torch.randn(D, 144, device=dev) / 12).bfloat16(); wm = (torch.randn(D, D, device=dev) / 15).bfloat16()
b = torch.zeros(D, device=dev)
real = fused_pairs._kernel
class Spy:
    last = None
    def __getitem__(self, grid):
        def launch(*a, **k):
            Spy.last = real[grid](*a, **k); return Spy.last
        return launch
fused_pairs._kernel = Spy()
for rows, chunk, cols, warps, stages in [(64, 64, 256, 8, 3), (64, 64, 256, 8, 1), (64, 32, 256, 8, 3), (64, 64, 128, 4, 2),
                                          (64, 32, 128, 4, 3), (128, 64, 128, 8, 2), (32, 32, 256, 4, 2), (64, 64, 256, 4, 1)]:
    fused_pairs.ROWS, fused_pairs.HIDDEN_CHUNK, fused_pairs.OUT_COLUMNS, fused_pairs.WARPS, fused_pairs.STAGES = rows, chunk, cols, warps, stages
    try:
        plan = PairPlan.for_sizes(num_atoms)
        with torch.no_grad():
            fused_pair_messages(per_atom, q, frac, we, wm, b, plan, 24)
            torch.cuda.synchronize()
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(20):
                fused_pair_messages(per_atom, q, frac, we, wm, b, plan, 24)
            end.record(); torch.cuda.synchronize()
        ck = Spy.last
        print(dict(rows=rows, chunk=chunk, cols=cols, warps=warps, stages=stages, ms=round(start.elapsed_time(end) / 20, 3),
                   regs=ck.n_regs, spills=ck.n_spills, smem=ck.metadata.shared, tiles=plan.tiles), flush=True)
    except Exception as e:
        print(rows, chunk, cols, warps, stages, "error", str(e)[:150], flush=True)
