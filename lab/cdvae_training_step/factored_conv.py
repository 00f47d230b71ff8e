"""Would the encoder's gated convolution be cheaper with its first product built another way? The
convolution multiplies the joined input [h_i, h_j, e_ij] (edges x (2 dim + rbf)). On MP-20 the
encoder has about 24 edges an atom, more than the decoder has pairs, so this is where an MP-20 CDVAE
step's edge-sized copies and casts come from. Two other ways:
- factored: multiply each atom's h once by the centre and neighbour columns and gather the products,
  (W_i h)_i + (W_j h)_j + W_e e_ij, as the score network does (the same numbers up to rounding);
- cast-first: cast h and the edge features to the autocast dtype before gathering and joining them,
  so the joined input is built in bf16 instead of being built in float32 and cast (the same forward
  numbers; the gradients reach h through bf16 gathers).
Times the encoder's forward and backward (bf16 autocast, notebook 02's `large` model, packed MP-20
batches) all three ways in one run, alternating, and reports how far each one's mu and encoder
gradients are from the joined product's.

    python lab/cdvae_training_step/factored_conv.py [--crystals 2048] [--repeats 20]
"""
import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from matlib import config, datasets, results
from matlib.cdvae import CDVAE, MODEL_SIZES
from matlib.nn import gnn
from matlib.packing import edges_and_weights

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from bench_cdvae_training import encoder_graphs, packed_stream  # noqa: E402  (the benchmark's own batches)

JOINED = gnn.GatedConv.joined_product


def factored(self, h, edge_index, edge_features):
    """`GatedConv.joined_product` with the product split: the atom columns once per atom, then gathered."""
    centre, neighbour = edge_index
    dim, weight = h.shape[1], self.linear.weight
    return (F.linear(h, weight[:, :dim])[centre] + F.linear(h, weight[:, dim:2 * dim])[neighbour]
            + F.linear(edge_features, weight[:, 2 * dim:], self.linear.bias))


def cast_first(self, h, edge_index, edge_features):
    """`GatedConv.joined_product` with h and the edge features cast before they are gathered and joined."""
    if torch.is_autocast_enabled(h.device.type):
        dtype = torch.get_autocast_dtype(h.device.type)
        h, edge_features = h.to(dtype), edge_features.to(dtype)
    return JOINED(self, h, edge_index, edge_features)


PRODUCTS = {"joined": JOINED, "factored": factored, "cast-first": cast_first}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--crystals", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    cfg = config.resolve("full" if torch.cuda.is_available() else "smoke")
    data = datasets.load_split("mp_20", datasets.resolve_train_split("mp_20", "auto")).batch().to(cfg.device)
    torch.manual_seed(0)
    model = CDVAE.from_data(data, **MODEL_SIZES["large"]).to(cfg.device)
    budget, batches = packed_stream(data, encoder_graphs(data), args.crystals, cfg.device)
    batch = next(batches)
    crystals, edges, _, _ = edges_and_weights(batch)

    def encode() -> torch.Tensor:
        with torch.autocast(cfg.device.type, dtype=torch.bfloat16, cache_enabled=False):
            mu, logvar, _ = model.encoder(crystals, None, batch.graph, batch_index=edges[0])
        (mu.float().square().sum() + logvar.float().sum()).backward()
        return mu.detach().float()

    def encode_once() -> tuple[torch.Tensor, torch.Tensor]:
        """mu and the encoder's gradients from one pass, the gradients not added to earlier ones."""
        model.zero_grad(set_to_none=True)
        mu = encode()
        return mu, torch.cat([p.grad.flatten().float() for p in model.encoder.parameters() if p.grad is not None])

    seconds, outputs, gradients = {name: [] for name in PRODUCTS}, {}, {}
    for name, product in list(PRODUCTS.items()) * 3:
        gnn.GatedConv.joined_product = product
        outputs[name], gradients[name] = encode_once()
        if cfg.device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(args.repeats):
            encode()
        if cfg.device.type == "cuda":
            torch.cuda.synchronize()
        seconds[name].append((time.perf_counter() - start) / args.repeats)
    gnn.GatedConv.joined_product = JOINED
    best = {name: min(times) * 1e3 for name, times in seconds.items()}
    print(f"{args.crystals} MP-20 crystals, {budget.edges:,} edge slots, {results.hardware(cfg.device)}: encoder "
          "forward and backward, best of 3 runs of the mean over the repeats:")
    for name in PRODUCTS:
        difference = (outputs["joined"] - outputs[name]).abs().max() / outputs["joined"].abs().max()
        gradient = (gradients["joined"] - gradients[name]).norm() / gradients["joined"].norm()
        print(f"  {name:10s} {best[name]:7.2f} ms ({best['joined'] / best[name]:.2f}x joined); from joined: mu's "
              f"largest difference {float(difference):.2e} of its largest value, the encoder's gradients "
              f"{float(gradient):.2e} (relative L2)")


if __name__ == "__main__":
    main()
