"""The score network's pair messages in one kernel: each crystal's pair messages are built,
transformed and summed on chip, never stored in memory (issue 40, item 1).

For atom i of a crystal of N atoms, one block of the score network computes

    a_i = 1/(N-1) * sum_{j != i} SiLU(W_m SiLU(P_i + Q_j + W_e f(x_j - x_i)) + b_m)

with P and Q per atom (computed once), f the Fourier features of the wrapped fractional difference
and W_e, W_m the block's edge and message weights. The edge-list path stores pair-sized tensors
(1.27 M pairs x 224 for 10,000 MP-20 crystals) and reads them back several times per block; the
profile in `lab/dense_pairs/` found that traffic, not the arithmetic, to be the cost of sampling.

Here a program takes a few atoms and every neighbour slot of their crystals (crystals are grouped by
size, padded to 4, 8, 16, 32 or 64 slots), computes the Fourier features in registers, runs both
products on tensor cores and sums over the neighbours before anything is written. Triton compiles it
for a GPU; with TRITON_INTERPRET=1 set before Triton is imported, its interpreter runs the same code on
CPU tensors (slowly), which is how the tests check it against the edge-list path.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

try:
    import triton
    import triton.language as tl
except ImportError:   # the edge-list path needs no Triton
    triton = tl = None

SLOTS = (4, 8, 16, 32, 64)      # neighbour slots per atom, one kernel launch per size group
ROWS = 64                       # pair rows per program: atoms x slots
WARPS = 8                       # a 64 x 256 float32 tile then takes 64 registers a thread


@dataclass
class PairPlan:
    """Where every atom's neighbours are, grouped by crystal size; built once per set of crystal
    sizes (a sampler chunk keeps them fixed). Passed as a score network's ``edges``, it selects this path."""
    batch_index: torch.Tensor    # (atoms,) the atom's crystal
    start: torch.Tensor          # (atoms,) first atom of the atom's crystal
    size: torch.Tensor           # (atoms,) atoms in that crystal
    local: torch.Tensor          # (atoms,) the atom's place in its crystal
    groups: list[tuple[int, torch.Tensor]]   # (slots, atoms of crystals that fit them)

    @classmethod
    def for_sizes(cls, num_atoms: torch.Tensor) -> "PairPlan":
        num_atoms = num_atoms.long()
        if len(num_atoms) and int(num_atoms.max()) > SLOTS[-1]:
            raise ValueError(f"fused pair messages handle crystals of up to {SLOTS[-1]} atoms, "
                             f"not {int(num_atoms.max())}")
        device = num_atoms.device
        crystal = torch.repeat_interleave(torch.arange(len(num_atoms), device=device), num_atoms)
        first = torch.cumsum(num_atoms, 0) - num_atoms
        start, size = first[crystal], num_atoms[crystal]
        local = torch.arange(len(crystal), device=device) - start
        groups, smaller = [], 0
        for slots in SLOTS:
            atoms = torch.nonzero((size > smaller) & (size <= slots)).flatten()
            if len(atoms):
                groups.append((slots, atoms.to(torch.int32)))
            smaller = slots
        return cls(crystal, start.to(torch.int32), size.to(torch.int32), local.to(torch.int32), groups)


def _pair_messages(P, Q, FRAC, WE, WM, BM, OUT, ATOMS, START, SIZE, LOCAL, n_group,
                   D: tl.constexpr, DP: tl.constexpr, K: tl.constexpr, NP: tl.constexpr,
                   BLOCK_M: tl.constexpr, BN: tl.constexpr):
    A: tl.constexpr = BLOCK_M // NP                   # atoms per program
    pid = tl.program_id(0)
    rows = tl.arange(0, BLOCK_M)
    slot = rows % NP
    member = pid * A + rows // NP
    row_ok = member < n_group
    atom = tl.load(ATOMS + member, mask=row_ok, other=0)
    start = tl.load(START + atom, mask=row_ok, other=0)
    size = tl.load(SIZE + atom, mask=row_ok, other=0)
    local = tl.load(LOCAL + atom, mask=row_ok, other=0)
    valid = row_ok & (slot < size) & (slot != local)
    neighbour = tl.where(valid, start + slot, atom)
    cols = tl.arange(0, DP)
    col_ok = cols < D
    # Fourier features of the wrapped difference, 16 columns at a time, straight into the edge product
    acc = tl.zeros((BLOCK_M, DP), dtype=tl.float32)
    for c0 in tl.static_range(0, 6 * K, 16):
        c = c0 + tl.arange(0, 16)
        axis = c // (2 * K)
        d = tl.load(FRAC + neighbour[:, None] * 3 + axis[None, :]) - tl.load(FRAC + atom[:, None] * 3 + axis[None, :])
        d = d - tl.floor(d + 0.5)
        angle = 6.283185307179586 * d * (c % K + 1).to(tl.float32)[None, :]
        f = tl.where(((c // K) % 2 == 0)[None, :], tl.sin(angle), tl.cos(angle))
        c_ok = c < 6 * K
        f = tl.where(c_ok[None, :], f, 0.0)
        w = tl.load(WE + cols[None, :] * (6 * K) + c[:, None], mask=c_ok[:, None] & col_ok[None, :], other=0.0)
        acc += tl.dot(f.to(w.dtype), w)
    both = row_ok[:, None] & col_ok[None, :]
    x = acc + tl.load(P + atom[:, None] * D + cols[None, :], mask=both, other=0.0).to(tl.float32)
    x += tl.load(Q + neighbour[:, None] * D + cols[None, :], mask=both, other=0.0).to(tl.float32)
    s = (x * tl.sigmoid(x)).to(WM.dtype.element_ty)
    # the message product, BN output columns at a time, each summed over the neighbour slots at once
    members = pid * A + tl.arange(0, A)
    member_ok = members < n_group
    out_atom = tl.load(ATOMS + members, mask=member_ok, other=0)
    inverse = 1.0 / tl.maximum(tl.load(SIZE + out_atom, mask=member_ok, other=2) - 1, 1).to(tl.float32)
    for n0 in tl.static_range(0, DP, BN):
        n = n0 + tl.arange(0, BN)
        n_ok = n < D
        w = tl.load(WM + n[None, :] * D + cols[:, None], mask=col_ok[:, None] & n_ok[None, :], other=0.0)
        y = tl.dot(s, w) + tl.load(BM + n, mask=n_ok, other=0.0).to(tl.float32)[None, :]
        m = tl.where(valid[:, None], y * tl.sigmoid(y), 0.0)
        summed = tl.sum(tl.reshape(m, (A, NP, BN)), axis=1)
        tl.store(OUT + out_atom[:, None] * D + n[None, :], summed * inverse[:, None],
                 mask=member_ok[:, None] & n_ok[None, :])


# Triton's interpreter (TRITON_INTERPRET=1 before Triton is imported) runs the kernel on CPU tensors
_kernel = triton.jit(_pair_messages) if triton is not None else None


def fused_pair_messages(per_atom: torch.Tensor, neighbour: torch.Tensor, frac: torch.Tensor,
                        edge_weight: torch.Tensor, message_weight: torch.Tensor, message_bias: torch.Tensor,
                        plan: PairPlan, num_freqs: int) -> torch.Tensor:
    """Every atom's mean pair message (atoms, dim) in float32; ``edge_weight`` (dim, 6 num_freqs) and
    ``message_weight`` (dim, dim) are the block's ``nn.Linear`` weights, in the dtype of the products."""
    if torch.is_grad_enabled() and any(t.requires_grad for t in (per_atom, neighbour, edge_weight, message_weight)):
        raise RuntimeError("fused pair messages have no backward pass: use them under torch.no_grad() (sampling)")
    if _kernel is None:
        raise ImportError("fused pair messages need Triton (it comes with CUDA builds of torch)")
    atoms, dim = per_atom.shape
    out = torch.zeros(atoms, dim, device=per_atom.device, dtype=torch.float32)
    padded = 1 << max(4, math.ceil(math.log2(dim)))
    dtype = message_weight.dtype
    args = (per_atom.contiguous(), neighbour.contiguous(), frac.float().contiguous(), edge_weight.to(dtype).contiguous(),
            message_weight.contiguous(), message_bias.float().contiguous(), out)
    for slots, members in plan.groups:
        block = max(ROWS, slots)   # module constants, so lab/dense_pairs/tune_fused.py can try others
        grid = (math.ceil(len(members) * slots / block),)
        _kernel[grid](*args, members, plan.start, plan.size, plan.local, len(members), D=dim, DP=padded,
                     K=num_freqs, NP=slots, BLOCK_M=block, BN=min(64, padded), num_warps=WARPS)
    return out


__all__ = ["PairPlan", "fused_pair_messages", "SLOTS"]
