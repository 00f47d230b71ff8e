"""Where the fused pair-message kernel spends its time: one network call of the committed MP-20
diffusion model on 10,000 crystals (bf16, one GPU), with the kernel as written and with one part of it
taken out at a time (the answers are then wrong; only the clock matters). The kernel's source is
edited as text and compiled anew, so `matlib/nn/fused_pairs.py` stays the only copy.

    python lab/dense_pairs/ablate_fused.py [OUT.json]
"""
from __future__ import annotations

import importlib.util
import inspect
import json
import sys
import tempfile
from pathlib import Path

import torch

from matlib.nn import fused_pairs, score_network
from matlib.nn.fused_pairs import PairPlan
from tune_fused import network_inputs, timed

CUTS = {   # part taken out: (text of the kernel, its replacement)
    "sine": [("_sine(6.283185307179586 * u, FAST)", "u")],
    "coordinate loads": [("d = (tl.load(FRAC + neighbour[:, None] * 3 + axis[None, :], mask=c_ok[None, :], other=0.0)\n"
                          "         - tl.load(FRAC + atom[:, None] * 3 + axis[None, :], mask=c_ok[None, :], other=0.0))",
                          "d = (neighbour - atom)[:, None].to(tl.float32) * 0.01 + axis[None, :].to(tl.float32)")],
    "P and Q loads": [("x += tl.load(P + atom", "x += 0 * tl.load(P + 0 * atom"),
                      ("x += tl.load(Q + neighbour", "x += 0 * tl.load(Q + 0 * neighbour")],
    "message product": [("y = tl.dot(s, wm, y)", "y += tl.sum(s.to(tl.float32), 1)[:, None]")],
    "summing product": [("summed = tl.dot(owner.to(dtype), high) + tl.dot(owner.to(dtype), low)",
                         "summed = tl.zeros((A, BN), dtype=tl.float32) + tl.sum(high.to(tl.float32), 0)[None, :]")],
}


def variant_kernel(name: str, cuts: list[tuple[str, str]]):
    source = inspect.getsource(fused_pairs).replace("from .edges import", "from matlib.nn.edges import")
    for old, new in cuts:
        assert old in source, f"{name}: the kernel no longer contains {old!r}"
        source = source.replace(old, new)
    path = Path(tempfile.mkdtemp()) / f"variant_{abs(hash(name))}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module        # dataclasses look their module up while it is built
    spec.loader.exec_module(module)
    return module._kernel


def main() -> None:
    model, tokens, frac, lattice, num_atoms, t = network_inputs()
    plan = PairPlan.for_sizes(num_atoms)

    def call():
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
            return model.network(tokens, frac, lattice, num_atoms, t, model.mean_edge(num_atoms), edges=plan)

    rows, written = [], fused_pairs._kernel
    for chunk in (64, 128):
        for stages in (1, 2, 3, 4):
            fused_pairs.HIDDEN_CHUNK, fused_pairs.STAGES = chunk, stages
            try:
                rows.append({"variant": f"as written, hidden {chunk}, {stages} stages", "ms_per_call": 1e3 * timed(call)})
            except Exception as error:      # out of shared memory or registers
                rows.append({"variant": f"as written, hidden {chunk}, {stages} stages", "error": str(error)[:200]})
            print(rows[-1], flush=True)
    fused_pairs.HIDDEN_CHUNK, fused_pairs.STAGES = 64, 3
    for name, cuts in list(CUTS.items()) + [("all but the two products", [c for k in ("sine", "coordinate loads",
                                            "P and Q loads", "summing product") for c in CUTS[k]])]:
        fused_pairs._kernel = variant_kernel(name, cuts)
        rows.append({"variant": f"without {name}", "ms_per_call": 1e3 * timed(call)})
        print(rows[-1], flush=True)
    fused_pairs._kernel = written
    real = score_network.fused_pair_messages
    score_network.fused_pair_messages = lambda per_atom, *rest: torch.zeros_like(per_atom, dtype=torch.float32)
    rows.append({"variant": "network without the pair messages", "ms_per_call": 1e3 * timed(call)})
    score_network.fused_pair_messages = real
    print(rows[-1], flush=True)
    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_text(json.dumps({"crystals": 10_000, "config": {k: getattr(fused_pairs, k) for k in (
            "ROWS", "HIDDEN_CHUNK", "OUT_COLUMNS", "WARPS")}, "device": torch.cuda.get_device_name(), "rows": rows},
            indent=2))


if __name__ == "__main__":
    main()
