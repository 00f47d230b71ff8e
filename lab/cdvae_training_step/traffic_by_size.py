"""Where the element-wise work of a packed CDVAE step lies: the elements that every operator other
than a view or a matrix product writes in one forward and backward pass (bf16 autocast, notebook
02's `large` model): copies, casts, gathers, concatenations, zero fills and element-wise operators
with their backward passes. Grouped by the first dimension of what they write: edge-sized (the
encoder's neighbour graph), pair-sized (the decoder's all-pairs graph), atom-sized or other; a
gather `h[centre]` writes edges. An operator called by another is counted once, with its caller.
Counts, not times; CPU autocast casts a somewhat different set of operators than CUDA's, so a
GPU's counts differ in detail.

With --product factored or cast-first, the encoder's gated convolution builds its first product
another way (`factored_conv.PRODUCTS`), to count what that change saves.

    python lab/cdvae_training_step/traffic_by_size.py [--dataset mp_20] [--crystals 64] [--product joined] [OUT.txt]
"""
import argparse
import collections
import sys
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from matlib import datasets
from matlib.cdvae import CDVAE, MODEL_SIZES

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from bench_cdvae_training import encoder_graphs, packed_stream  # noqa: E402  (the benchmark's own batches)
from factored_conv import PRODUCTS  # noqa: E402  (beside this script)
from matlib.nn import gnn  # noqa: E402

MATRIX_PRODUCTS = {"mm", "addmm", "bmm", "baddbmm"}   # what linear and matmul reach a dispatch mode as


class Counter(TorchDispatchMode):
    """The elements each operator writes, by the first dimension of its (first) output. A dispatch
    mode sees each operator once, below autograd, with its tensors; an operator called by another (a
    cast's copy) runs inside its caller and is not seen again."""

    def __init__(self, sizes: dict[int, str]):
        super().__init__()
        self.sizes, self.elements, self.calls = sizes, collections.Counter(), collections.Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        name = func._overloadpacket.__name__
        written = out[0] if isinstance(out, (list, tuple)) and out else out
        if not func.is_view and name not in MATRIX_PRODUCTS and isinstance(written, torch.Tensor) and written.dim():
            key = (f"aten::{name}", self.sizes.get(written.shape[0], "other"))
            self.calls[key] += 1
            self.elements[key] += written.numel()
        return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", nargs="?")
    parser.add_argument("--dataset", default="mp_20")
    parser.add_argument("--crystals", type=int, default=64)
    parser.add_argument("--product", default="joined", choices=sorted(PRODUCTS),
                        help="how the encoder's convolution builds its first product")
    args = parser.parse_args()
    gnn.GatedConv.joined_product = PRODUCTS[args.product]
    data = datasets.load_split(args.dataset, datasets.resolve_train_split(args.dataset, "auto"),
                               limit=10 * args.crystals).batch()
    torch.manual_seed(0)
    model = CDVAE.from_data(data, **MODEL_SIZES["large"])
    budget, batches = packed_stream(data, encoder_graphs(data), args.crystals, torch.device("cpu"))
    batch = next(batches)

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, cache_enabled=False):
            loss = model.loss(batch)["loss"]
        loss.backward()

    step()
    counter = Counter({budget.edges: "edge", budget.pairs: "pair", budget.atoms: "atom"})
    with counter:
        step()
    elements, calls = counter.elements, counter.calls
    product_note = "" if args.product == "joined" else f"; encoder product {args.product}"
    lines = [f"{args.dataset}, {args.crystals} crystals a packed batch: {budget.atoms:,} atom, {budget.pairs:,} pair "
             f"and {budget.edges:,} edge slots{product_note}; elements written in one step, by operator "
             "and size:"]
    lines += [f"  {name:24s} {size:5s} {calls[name, size]:4d} calls {count / 1e6:8.1f} M"
              for (name, size), count in elements.most_common(16)]
    for size in ("edge", "pair", "atom", "other"):
        total = sum(count for (_, kind), count in elements.items() if kind == size)
        lines.append(f"  all on {size}-sized tensors: {total / 1e6:.1f} M")
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
