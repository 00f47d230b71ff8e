"""The score network's pair messages in one kernel: each crystal's pair messages are built,
transformed and summed on chip, never stored in memory (issue 40, item 1).

For atom i of a crystal of N atoms, one block of the score network computes

    a_i = 1/(N-1) * sum_{j != i} SiLU(W_m SiLU(P_i + Q_j + W_e f(x_j - x_i)) + b_m)

with P and Q per atom (computed once), f the Fourier features of the wrapped fractional difference
and W_e, W_m the block's edge and message weights. The edge-list path stores pair-sized tensors
(1.27 M pairs x 224 for 10,000 MP-20 crystals) and reads them back several times per block; the
profile in `lab/dense_pairs/` found that traffic, not the arithmetic, to be the cost of sampling.

The plan packs whole atoms (all N-1 pairs of each) into tiles of ``ROWS`` pair rows, so no padding to
a power of two is wasted. A program takes one tile and a block of output columns. It computes the
Fourier features in registers, then runs the hidden layer in column chunks, as attention kernels do:
edge product, SiLU, message product, accumulated on tensor cores. Each atom's neighbours are then
summed with one small product by a 0/1 matrix (tile slot -> atom). Triton compiles it for a GPU; with
TRITON_INTERPRET=1 set before Triton is imported, its interpreter runs the same code on CPU tensors
(slowly), which is how the tests check it against the edge-list path.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

import torch

from .edges import all_pair_edges

try:
    import triton
    import triton.language as tl
except ImportError:   # the edge-list path needs no Triton
    triton = tl = None

ROWS = 64           # pair rows per tile: a crystal of up to ROWS + 1 atoms fits
ATOMS_PER_TILE = 32  # at most this many atoms share a tile (the rows of the summing product)
HIDDEN_CHUNK = 64   # hidden columns per step of the chained products
OUT_COLUMNS = 256   # output columns per program (the accumulator's width)
WARPS = 8
STAGES = 3          # software pipelining depth of the hidden-column loop
MAX_REGISTERS = None  # a cap per thread (e.g. 128) lets more programs share an SM
# the GPU's one-instruction sine and tanh (about 1e-6 and 5e-4 off; the products are bf16 anyway);
# Triton's interpreter runs no PTX, so the CPU checks take the exact functions
FAST_MATH = os.environ.get("TRITON_INTERPRET", "").lower() not in ("1", "true", "on")


@dataclass
class PairPlan:
    """Which pair fills each row of each tile; built once per set of crystal sizes (a sampler chunk
    keeps them fixed). Passed as a score network's ``edges``, it selects this path."""
    batch_index: torch.Tensor    # (atoms,) the atom's crystal
    row_atom: torch.Tensor       # (tiles * rows,) the pair's centre atom, -1 for an empty row
    row_neighbour: torch.Tensor  # (tiles * rows,) the pair's neighbour atom
    row_slot: torch.Tensor       # (tiles * rows,) the centre's place among its tile's atoms
    tile_atom: torch.Tensor      # (tiles * atoms_per_tile,) the tile's atoms, -1 for an empty place
    rows: int
    atoms_per_tile: int

    @property
    def tiles(self) -> int:
        return len(self.tile_atom) // self.atoms_per_tile

    @classmethod
    def for_sizes(cls, num_atoms: torch.Tensor, rows: int | None = None,
                  atoms_per_tile: int | None = None) -> "PairPlan":
        rows, atoms_per_tile = rows or ROWS, atoms_per_tile or ATOMS_PER_TILE
        num_atoms = num_atoms.long()
        if len(num_atoms) and int(num_atoms.max()) > rows + 1:
            raise ValueError(f"fused pair messages handle crystals of up to {rows + 1} atoms, "
                             f"not {int(num_atoms.max())}")
        device = num_atoms.device
        batch_index, (centre, neighbour) = all_pair_edges(num_atoms)
        pairs = (num_atoms - 1)[batch_index]                  # each atom's pair count
        # atoms of one size share tiles, each taking as many whole atoms as fit; a lone atom has no
        # pairs and no tile (its messages stay zero)
        paired = torch.nonzero(pairs > 0).flatten()
        order = paired[torch.argsort(pairs[paired], stable=True)]
        sizes, counts = torch.unique_consecutive(pairs[order], return_counts=True)
        group_per_tile = torch.clamp(rows // sizes, max=atoms_per_tile)
        group_tiles = (counts + group_per_tile - 1) // group_per_tile
        group = torch.repeat_interleave(torch.arange(len(sizes), device=device), counts)
        rank = torch.arange(len(order), device=device) - (torch.cumsum(counts, 0) - counts)[group]
        tile, slot = torch.zeros_like(pairs), torch.zeros_like(pairs)
        tile[order] = (torch.cumsum(group_tiles, 0) - group_tiles)[group] + rank // group_per_tile[group]
        slot[order] = rank % group_per_tile[group]
        tiles = int(group_tiles.sum())
        tile_atom = torch.full((tiles * atoms_per_tile,), -1, dtype=torch.int32, device=device)
        tile_atom[tile[order] * atoms_per_tile + slot[order]] = order.to(torch.int32)
        # a pair's row: its centre's tile and slot, then its place among the centre's pairs
        first_pair = torch.cumsum(pairs, 0) - pairs
        place = torch.arange(len(centre), device=device) - first_pair[centre]
        where = tile[centre] * rows + slot[centre] * pairs[centre] + place
        row_atom = torch.full((tiles * rows,), -1, dtype=torch.int32, device=device)
        row_neighbour = torch.zeros(tiles * rows, dtype=torch.int32, device=device)
        row_slot = torch.zeros(tiles * rows, dtype=torch.int32, device=device)
        row_atom[where], row_neighbour[where] = centre.to(torch.int32), neighbour.to(torch.int32)
        row_slot[where] = slot[centre].to(torch.int32)
        return cls(batch_index, row_atom, row_neighbour, row_slot, tile_atom, rows, atoms_per_tile)


def _sine(x, FAST: tl.constexpr):
    if FAST:
        return tl.inline_asm_elementwise("sin.approx.f32 $0, $1;", "=f,f", [x], dtype=tl.float32, is_pure=True, pack=1)
    return tl.sin(x)


def _silu(x, FAST: tl.constexpr):
    if FAST:   # x sigmoid(x) = x/2 (1 + tanh(x/2)): one special-function instruction instead of two
        half = 0.5 * x
        return half + half * tl.inline_asm_elementwise("tanh.approx.f32 $0, $1;", "=f,f", [half], dtype=tl.float32,
                                                       is_pure=True, pack=1)
    return x * tl.sigmoid(x)


def _fourier(FRAC, atom, neighbour, c0, WIDTH: tl.constexpr, F: tl.constexpr, K: tl.constexpr, FAST: tl.constexpr):
    """Columns c0 .. c0 + WIDTH of the pairs' Fourier features (zero past the last), as
    ``score_network.fourier_features`` orders them: per axis, K sines then K cosines."""
    c = c0 + tl.arange(0, WIDTH)
    axis = c // (2 * K)
    c_ok = c < F
    d = (tl.load(FRAC + neighbour[:, None] * 3 + axis[None, :], mask=c_ok[None, :], other=0.0)
         - tl.load(FRAC + atom[:, None] * 3 + axis[None, :], mask=c_ok[None, :], other=0.0))
    d = d - tl.floor(d + 0.5)
    phase = tl.where((c % (2 * K)) < K, 0.0, 0.25)   # cos(x) = sin(x + quarter turn)
    u = d * (c % K + 1).to(tl.float32)[None, :] + phase[None, :]
    u = u - tl.floor(u + 0.5)                        # whole turns removed: sin's argument within +-pi
    return tl.where(c_ok[None, :], _sine(6.283185307179586 * u, FAST), 0.0)


def _pair_messages(P, Q, FRAC, WE, WM, BM, OUT, ROW_ATOM, ROW_NEIGHBOUR, ROW_SLOT, TILE_ATOM, INVERSE,
                   D: tl.constexpr, DP: tl.constexpr, F: tl.constexpr, FA: tl.constexpr, FB: tl.constexpr,
                   K: tl.constexpr, BLOCK_M: tl.constexpr, A: tl.constexpr, BK: tl.constexpr, BN: tl.constexpr,
                   FAST: tl.constexpr):
    tile = tl.program_id(0)
    rows = tile * BLOCK_M + tl.arange(0, BLOCK_M)
    atom = tl.load(ROW_ATOM + rows)
    valid = atom >= 0
    atom = tl.maximum(atom, 0)
    neighbour = tl.load(ROW_NEIGHBOUR + rows)
    dtype = WM.dtype.element_ty
    fa = _fourier(FRAC, atom, neighbour, 0, FA, F, K, FAST).to(dtype)
    if FB > 0:
        fb = _fourier(FRAC, atom, neighbour, FA, FB, F, K, FAST).to(dtype)
    n = tl.program_id(1) * BN + tl.arange(0, BN)
    n_ok = n < D
    y = tl.zeros((BLOCK_M, BN), dtype=tl.float32)
    # the hidden layer BK columns at a time: edge product, SiLU, and its share of the message product
    for k0 in range(0, DP, BK):
        k = k0 + tl.arange(0, BK)
        k_ok = k < D
        ca = tl.arange(0, FA)
        we = tl.load(WE + k[None, :] * F + ca[:, None], mask=k_ok[None, :], other=0.0)
        x = tl.dot(fa, we)
        if FB > 0:
            cb = FA + tl.arange(0, FB)
            we = tl.load(WE + k[None, :] * F + cb[:, None], mask=k_ok[None, :] & (cb < F)[:, None], other=0.0)
            x += tl.dot(fb, we)
        x += tl.load(P + atom[:, None] * D + k[None, :], mask=k_ok[None, :], other=0.0).to(tl.float32)
        x += tl.load(Q + neighbour[:, None] * D + k[None, :], mask=k_ok[None, :], other=0.0).to(tl.float32)
        s = _silu(x, FAST).to(dtype)
        wm = tl.load(WM + n[None, :] * D + k[:, None], mask=k_ok[:, None] & n_ok[None, :], other=0.0)
        y = tl.dot(s, wm, y)
    y += tl.load(BM + n, mask=n_ok, other=0.0).to(tl.float32)[None, :]
    m = tl.where(valid[:, None], _silu(y, FAST), 0.0)
    # each atom's sum over its neighbours: (atoms of the tile x rows) 0/1 matrix times the messages
    slot = tl.load(ROW_SLOT + rows)
    owner = tl.arange(0, A)[:, None] == slot[None, :]
    if dtype == tl.float32:
        summed = tl.dot(owner.to(tl.float32), m, input_precision="ieee")
    else:   # two bf16 parts keep 16 bits of each message
        high = m.to(dtype)
        low = (m - high.to(tl.float32)).to(dtype)
        summed = tl.dot(owner.to(dtype), high) + tl.dot(owner.to(dtype), low)
    out_atom = tl.load(TILE_ATOM + tile * A + tl.arange(0, A))
    atom_ok = out_atom >= 0
    out_atom = tl.maximum(out_atom, 0)
    inverse = tl.load(INVERSE + out_atom, mask=atom_ok, other=0.0)
    tl.store(OUT + out_atom[:, None] * D + n[None, :], summed * inverse[:, None], mask=atom_ok[:, None] & n_ok[None, :])


# Triton's interpreter (TRITON_INTERPRET=1 before Triton is imported) runs the kernel on CPU tensors
if triton is not None:
    _sine, _silu, _fourier = triton.jit(_sine), triton.jit(_silu), triton.jit(_fourier)
    _kernel = triton.jit(_pair_messages)
else:
    _kernel = None


def _pow2(width: int) -> int:
    return 1 << max(4, math.ceil(math.log2(max(width, 1))))


def fused_pair_messages(per_atom: torch.Tensor, neighbour: torch.Tensor, frac: torch.Tensor,
                        edge_weight: torch.Tensor, message_weight: torch.Tensor, message_bias: torch.Tensor,
                        plan: PairPlan, num_freqs: int, inverse_degree: torch.Tensor) -> torch.Tensor:
    """Every atom's mean pair message (atoms, dim) in float32; ``edge_weight`` (dim, 6 num_freqs) and
    ``message_weight`` (dim, dim) are the block's ``nn.Linear`` weights, in the dtype of the products;
    ``inverse_degree`` (atoms, 1) is 1 / (N - 1), which turns each atom's sum into the mean."""
    if torch.is_grad_enabled() and any(t.requires_grad for t in (per_atom, neighbour, edge_weight, message_weight)):
        raise RuntimeError("fused pair messages have no backward pass: use them under torch.no_grad() (sampling)")
    if _kernel is None:
        raise ImportError("fused pair messages need Triton (it comes with CUDA builds of torch)")
    atoms, dim = per_atom.shape
    out = torch.zeros(atoms, dim, device=per_atom.device, dtype=torch.float32)
    if plan.tiles == 0:
        return out
    features = 6 * num_freqs
    first = 1 << int(math.log2(features)) if features >= 16 else 16      # a power of two, the rest after it
    rest = 0 if features <= first else _pow2(features - first)
    padded = _pow2(dim)
    chunk, columns = min(HIDDEN_CHUNK, padded), min(OUT_COLUMNS, padded)
    dtype = message_weight.dtype
    _kernel[(plan.tiles, padded // columns)](
        per_atom.contiguous(), neighbour.contiguous(), frac.float().contiguous(), edge_weight.to(dtype).contiguous(),
        message_weight.contiguous(), message_bias.float().contiguous(), out, plan.row_atom, plan.row_neighbour,
        plan.row_slot, plan.tile_atom, inverse_degree.float().reshape(-1).contiguous(), D=dim, DP=padded, F=features,
        FA=first, FB=rest, K=num_freqs, BLOCK_M=plan.rows, A=plan.atoms_per_tile, BK=chunk, BN=columns, FAST=FAST_MATH,
        num_warps=WARPS, num_stages=STAGES, **({} if MAX_REGISTERS is None else {"maxnreg": MAX_REGISTERS}))
    return out


__all__ = ["PairPlan", "fused_pair_messages"]
