"""Throughput of the CHGNet oracle: structures per second of batched ``predict`` and ``relax``.

    MATLIB_DATA=../shared/data python benchmarks/bench_oracle.py --n 16 --device cpu [--workers 2]

The validation split's first N crystals of MP-20, each with a small random strain and rattle (so
``relax`` has work to do), go through ``predict`` once and ``relax`` once, after one warm-up batch
of predictions (CHGNet's loading and first full batch, ~20 s on a CPU, are not counted). Writes
JSON to ``--out`` (default outputs/bench_oracle_<device>_n<N>.json) with the machine it ran on.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
if "MATLIB_DATA" not in os.environ and (ROOT.parent / "shared" / "data").is_dir():
    os.environ["MATLIB_DATA"] = str(ROOT.parent / "shared" / "data")
os.environ.setdefault("MATLIB_PROGRESS", "0")

from matlib.datasets import load_split  # noqa: E402
from matlib.oracle import predict, relax  # noqa: E402
from report_rows import write_report  # noqa: E402
from pymatgen.core import Structure  # noqa: E402


def perturbed(structures, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for s in structures:
        strained = Structure(s.lattice.matrix @ (np.eye(3) + rng.normal(0, 0.02, (3, 3))).T, s.species, s.frac_coords)
        out.append(Structure(strained.lattice, strained.species,
                             strained.cart_coords + rng.normal(0, 0.05, (len(s), 3)), coords_are_cartesian=True))
    return out


def machine(device: str) -> dict:
    info = {"device": device, "cpus": os.cpu_count(), "affinity": len(os.sched_getaffinity(0)),
            "platform": platform.platform(), "python": platform.python_version(), "loadavg": os.getloadavg()}
    import torch
    info["torch"] = torch.__version__
    if device.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def timed(crystals, args, executor) -> dict:
    start = time.perf_counter()
    predicted = predict(crystals, batch_size=args.batch_size, device=args.device, executor=executor)
    predict_s = time.perf_counter() - start
    start = time.perf_counter()
    _, relaxed = relax(crystals, steps=args.steps, fmax=args.fmax, batch_size=args.batch_size, device=args.device,
                       executor=executor, progress_bar=True)
    relax_s = time.perf_counter() - start
    return {"predict": {"seconds": round(predict_s, 3), "structures_per_s": round(len(crystals) / predict_s, 2),
                        "ok": int(predicted["ok"].sum())},
            "relax": {"seconds": round(relax_s, 3), "structures_per_s": round(len(crystals) / relax_s, 3),
                      "steps": args.steps, "fmax": args.fmax, "converged": int(relaxed["converged"].sum()),
                      "failed": int(relaxed["failed"].sum()), "mean_steps": float(relaxed["steps_taken"].mean())}}


def network_only(graphs, args) -> dict:
    """CHGNet's own batching (``predict_graph``) against ``matlib.oracle.fast`` on the same graphs:
    energies, forces and stresses, the call every relaxation step makes."""
    from matlib.evaluation.stability import DEFAULT_TORCH_THREADS, chgnet_model, torch_threads
    from matlib.oracle.fast import predict_graphs
    model = chgnet_model(args.device)
    calls = {"chgnet_predict_graph": lambda: model.predict_graph(graphs, task="efs", batch_size=args.batch_size),
             "loop_free_batches": lambda: predict_graphs(model, graphs, "efs", args.batch_size)}
    out = {}
    for name, call in calls.items():
        with torch_threads(DEFAULT_TORCH_THREADS):                     # as predict and relax run it
            call()                                                     # warm-up
            start = time.perf_counter()
            call()
            seconds = time.perf_counter() - start
        out[name] = {"seconds": round(seconds, 3), "structures_per_s": round(len(graphs) / seconds, 2)}
    out["speedup"] = round(out["loop_free_batches"]["structures_per_s"] / out["chgnet_predict_graph"]["structures_per_s"], 2)
    return out


def graph_transfer(graphs) -> dict:
    """What the relaxation's parent process pays per crystal and step to receive a graph from a worker:
    unpickling CHGNet's ``CrystalGraph`` (torch tensors) against ``GraphArrays`` (NumPy)."""
    import pickle

    from matlib.oracle.fast import GraphArrays
    out = {}
    for name, payload in (("crystal_graph", graphs), ("graph_arrays", [GraphArrays.of(g) for g in graphs])):
        blobs = [pickle.dumps(p) for p in payload]
        start = time.perf_counter()
        for blob in blobs:
            pickle.loads(blob)
        out[name] = {"unpickle_ms": round(1e3 * (time.perf_counter() - start) / len(blobs), 4),
                     "kilobytes": round(float(np.mean([len(b) for b in blobs])) / 1e3, 2)}
    out["speedup"] = round(out["crystal_graph"]["unpickle_ms"] / out["graph_arrays"]["unpickle_ms"], 1)
    return out


def crystal_send(crystals) -> dict:
    """What the parent pays per crystal and step to send a relaxation's crystal to a worker: making and
    pickling a pymatgen ``Structure`` against a ``Cell`` of arrays."""
    import pickle

    from matlib.oracle.batched import _FireState
    states = [_FireState(s) for s in crystals]
    out = {}
    for name, make in (("structure", _FireState.structure), ("cell", _FireState.cell)):
        start = time.perf_counter()
        for state in states:
            pickle.dumps(make(state))
        out[name] = {"make_and_pickle_ms": round(1e3 * (time.perf_counter() - start) / len(states), 4)}
    out["speedup"] = round(out["structure"]["make_and_pickle_ms"] / out["cell"]["make_and_pickle_ms"], 1)
    return out


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=16, help="MP-20 validation crystals")
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--fmax", type=float, default=0.1)
    p.add_argument("--workers", type=int, default=0,
                   help="also time with crystal graphs built by this many processes (0: serial only)")
    p.add_argument("--pool-only", action="store_true", help="skip the serial run (large N on a GPU host)")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    crystals = perturbed(load_split("mp_20", "val", limit=args.n, progress_bar=False).structures)
    predict(crystals[:args.batch_size], device=args.device)          # the warm-up batch, outside the clock
    report = {"n": len(crystals), "atoms_mean": float(np.mean([len(s) for s in crystals])),
              "batch_size": args.batch_size}
    from matlib.oracle.batched import _to_graph
    graphs = [g for g in map(_to_graph, crystals) if g is not None]      # built once for both measurements
    report["network_efs"] = network_only(graphs, args)
    report["graph_transfer"] = graph_transfer(graphs)
    report["crystal_send"] = crystal_send(crystals)
    if not args.pool_only:
        report["serial_graphs"] = timed(crystals, args, None)
    if args.workers:
        from matlib.parallel import process_pool
        with process_pool(args.workers) as pool:
            predict(crystals[:args.workers * 4], executor=pool)       # start the workers outside the clock
            report[f"graphs_on_{args.workers}_processes"] = timed(crystals, args, pool)
        for task in ("predict", "relax") if "serial_graphs" in report else ():
            report[f"{task}_speedup"] = round(report[f"graphs_on_{args.workers}_processes"][task]["structures_per_s"]
                                              / report["serial_graphs"][task]["structures_per_s"], 2)
    report["machine"] = machine(args.device)
    out = args.out or ROOT / "outputs" / f"bench_oracle_{args.device.replace(':', '')}_n{len(crystals)}.json"
    print(json.dumps(report, indent=2))
    write_report(report, out)
    return report


if __name__ == "__main__":
    main()
