"""Where the element-wise work of a packed CDVAE step lies: the elements that copies, casts, gathers
and element-wise operators touch in one forward and backward pass (bf16 autocast, notebook 02's
`large` model), grouped by the size of their first input: edge-sized (the encoder's neighbour
graph), pair-sized (the decoder's all-pairs graph), atom-sized or other. An operator called from
another one counted here (a cast's copy) is left out, and a gather counts under the size of what it
reads from (`h[centre]` under atoms). Counts, not times; CPU autocast casts a somewhat different
set of operators than CUDA's, so a GPU's counts differ in detail.

    python lab/cdvae_training_step/traffic_by_size.py [--dataset mp_20] [--crystals 64] [OUT.txt]
"""
import argparse
import collections
import math
import sys
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from matlib import datasets
from matlib.cdvae import CDVAE, MODEL_SIZES

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from bench_cdvae_training import encoder_graphs, packed_stream  # noqa: E402  (the benchmark's own batches)

OPERATORS = ("aten::copy_", "aten::_to_copy", "aten::cat", "aten::index", "aten::index_add_", "aten::mul",
             "aten::add", "aten::silu", "aten::sigmoid", "aten::gather", "aten::index_put_", "aten::sum",
             "aten::exp", "aten::sin", "aten::cos")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", nargs="?")
    parser.add_argument("--dataset", default="mp_20")
    parser.add_argument("--crystals", type=int, default=64)
    args = parser.parse_args()
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
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        step()
    sizes = {budget.edges: "edge", budget.pairs: "pair", budget.atoms: "atom"}
    elements, calls = collections.Counter(), collections.Counter()
    for event in prof.events():
        parent = event.cpu_parent
        if parent is not None and parent.name in OPERATORS:   # counted with its caller
            continue
        if event.name in OPERATORS and event.input_shapes and event.input_shapes[0]:
            first = event.input_shapes[0]
            key = (event.name, sizes.get(first[0], "other"))
            calls[key] += 1
            elements[key] += math.prod(first)
    lines = [f"{args.dataset}, {args.crystals} crystals a packed batch: {budget.atoms:,} atom, {budget.pairs:,} pair "
             f"and {budget.edges:,} edge slots; elements touched in one step (first input), by operator and size:"]
    lines += [f"  {name:16s} {size:5s} {calls[name, size]:4d} calls {count / 1e6:8.1f} M"
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
