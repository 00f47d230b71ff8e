"""Throughput of the evaluation suite: structures per second per metric, serial vs N workers.

    MATLIB_DATA=../shared/data python benchmarks/bench_evaluation.py --n 200 --workers 1 2 \\
        --dataset mp_20 --out outputs/bench_evaluation.json

Workers > 1 use a fresh ``ProcessPoolExecutor`` per measurement (its start-up is included);
workers = 1 runs serially (no executor). Per-process caches (Magpie, SMACT) are cleared before
each measurement so repeated compositions do not flatter later runs. The test split's first N
structures play "generated"; its first N also serve as reference for coverage (N x N), the
validation split's first ``--train-n`` as the training set for novelty, and noisy copies of the
N structures as reconstructions. The last row times ``evaluate()`` end to end (reference
fingerprints included) and doubles as a self-scoring check (COV-R = COV-P = 1 expected).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from pymatgen.core import Structure

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
if "MATLIB_DATA" not in os.environ and (ROOT.parent / "shared" / "data").is_dir():
    os.environ["MATLIB_DATA"] = str(ROOT.parent / "shared" / "data")
os.environ.setdefault("MATLIB_PROGRESS", "0")

from matlib.datasets import load_split  # noqa: E402
from matlib.evaluation import (compute_fingerprints, coverage, cov_cutoffs, evaluate, novel_flags,  # noqa: E402
                               reconstruction, relax_structures, unique_flags, validity_table)
from matlib.evaluation import fingerprints as _fp  # noqa: E402
from matlib.evaluation import validity as _val  # noqa: E402
from matlib.evaluation.validity import SMACT_VERSION  # noqa: E402
from report_rows import write_report  # noqa: E402


def clear_caches() -> None:
    _fp._magpie_of.cache_clear()
    _val._smact_validity.cache_clear()


@contextmanager
def pool(workers: int):
    if workers <= 1:
        yield None
        return
    with ProcessPoolExecutor(workers) as ex:
        yield ex


def timed(fn, workers: int):
    clear_caches()   # before the pool forks, so workers start cold too
    start = time.perf_counter()
    with pool(workers) as ex:
        result = fn(ex)
    return time.perf_counter() - start, result


def noisy_copies(structures, sigma=0.02, seed=0):
    rng = np.random.default_rng(seed)
    return [Structure(s.lattice, s.species, s.cart_coords + rng.normal(0, sigma, (len(s), 3)),
                      coords_are_cartesian=True) for s in structures]


def crystalnn_profile(structures) -> dict:
    """Where one CrystalNN "ops" fingerprint spends its time (one process): seconds per structure
    timed plainly, then the shares of matminer's two stages under cProfile (which inflates pure
    Python a little): pymatgen's ``CrystalNN.get_nn_data`` (Voronoi neighbours and their weights)
    and ``LocalStructOrderParams.get_order_parameters`` (the order parameters of each neighbour set)."""
    import cProfile
    import pstats

    _fp.crystalnn_featurizer()
    compute_fingerprints(structures[:2], kind="struct", progress_bar=False)          # warm caches and imports
    start = time.perf_counter()
    compute_fingerprints(structures, kind="struct", progress_bar=False)
    per_structure = (time.perf_counter() - start) / len(structures)
    profiler = cProfile.Profile()
    profiler.enable()
    compute_fingerprints(structures, kind="struct", progress_bar=False)
    profiler.disable()
    stats = pstats.Stats(profiler).stats
    total = sum(tt for (_, _, _), (_, _, tt, _, _) in stats.items())
    # the order parameters: matlib's NumPy motifs plus the cheap ones left to pymatgen
    stage = {name: sum(ct for (path, _, func), (_, _, _, ct, _) in stats.items()
                       if (path.rsplit("/", 1)[-1], func) in keys)
             for name, keys in (("neighbours (CrystalNN.get_nn_data)", {("local_env.py", "get_nn_data")}),
                                ("order parameters", {("local_env.py", "get_order_parameters"),
                                                      ("order_parameters.py", "order_parameter")}))}
    shares = {name: round(seconds / total, 3) for name, seconds in stage.items()}
    shares["rest"] = round(1 - sum(shares.values()), 3)
    return {"structures": len(structures), "atoms_mean": round(float(np.mean([len(x) for x in structures])), 2),
            "seconds_per_structure": round(per_structure, 4), "shares_under_cprofile": shares,
            # the floor for 10,000 crystals on 16 CPUs if the fingerprint alone were perfectly parallel
            "floor_10000_on_16_cpus_s": round(10_000 * per_structure / 16, 1)}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=1000, help="test structures to score")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--dataset", default="mp_20")
    p.add_argument("--train-n", type=int, default=2000, help="validation structures standing in for training")
    p.add_argument("--chgnet-n", type=int, default=8, help="structures to relax with CHGNet")
    p.add_argument("--chgnet-steps", type=int, default=20)
    p.add_argument("--no-evaluate", action="store_true", help="skip the end-to-end evaluate() row")
    p.add_argument("--profile-crystalnn", type=int, default=0, metavar="K",
                   help="also profile the CrystalNN fingerprint on the first K structures")
    p.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = p.parse_args(argv)

    warnings.simplefilter("ignore")
    test = load_split(args.dataset, "test", limit=args.n, progress_bar=False)
    train = load_split(args.dataset, "val", limit=args.train_n, progress_bar=False).structures
    structures = test.structures
    n = len(structures)
    noisy = noisy_copies(structures)
    ref_fps = compute_fingerprints(structures, progress_bar=False)
    cuts = cov_cutoffs(args.dataset)
    chgnet_set = structures[:args.chgnet_n]

    tasks = {
        "validity (structure + SMACT)": (n, lambda ex: validity_table(structures, executor=ex, progress_bar=False)),
        "CrystalNN fingerprint": (n, lambda ex: compute_fingerprints(structures, kind="struct", executor=ex, progress_bar=False)),
        "Magpie fingerprint": (n, lambda ex: compute_fingerprints(structures, kind="comp", executor=ex, progress_bar=False)),
        "coverage (N x N, from fingerprints)": (n, lambda ex: coverage(ref_fps, ref_fps, struct_cutoff=cuts[0], comp_cutoff=cuts[1])),
        "uniqueness (StructureMatcher)": (n, lambda ex: unique_flags(structures, executor=ex, progress_bar=False)),
        f"novelty vs {len(train)} val structures": (n, lambda ex: novel_flags(structures, train, executor=ex, progress_bar=False)),
        "reconstruction match (noisy copies)": (n, lambda ex: reconstruction(noisy, structures, valid=[True] * n, executor=ex, progress_bar=False)),
        f"CHGNet relax ({args.chgnet_steps} steps)": (len(chgnet_set), lambda ex: relax_structures(
            chgnet_set, steps=args.chgnet_steps, executor=ex, progress_bar=False)),
    }
    if not args.no_evaluate:
        tasks["evaluate() end to end, self-scored"] = (n, lambda ex: evaluate(
            structures, structures, dataset=args.dataset, train=train, executor=ex, progress_bar=False))

    load_before = os.getloadavg()
    results: dict[str, dict] = {}
    self_score = {}
    for name, (count, fn) in tasks.items():
        results[name] = {"n": count}
        for w in args.workers:
            if name.startswith("coverage") and w > 1:
                continue  # numpy, no executor: one measurement says it all
            seconds, out = timed(fn, w)
            results[name][str(w)] = {"seconds": round(seconds, 3), "per_second": round(count / seconds, 2)}
            if name.startswith("evaluate"):
                self_score[str(w)] = {m: round(v, 6) for m, v in out.metrics.items()}
            print(f"  {name:45s} workers={w}: {seconds:8.2f} s  ({count / seconds:8.2f} structures/s)", flush=True)

    header = "| metric | N | " + " | ".join(f"{w} worker{'s' if w > 1 else ''}: s (structures/s)" for w in args.workers) + " |"
    lines = [header, "|" + "---|" * (2 + len(args.workers))]
    for name, row in results.items():
        cells = [f"{row[str(w)]['seconds']:.2f} ({row[str(w)]['per_second']:.1f})" if str(w) in row else "(serial only)"
                 for w in args.workers]
        lines.append(f"| {name} | {row['n']} | " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    report = {
        "dataset": args.dataset, "n": n, "train_n": len(train), "workers": args.workers,
        "chgnet": {"n": len(chgnet_set), "steps": args.chgnet_steps},
        "results": results, "self_score": self_score, "markdown": table,
        "machine": {"cpus": os.cpu_count(), "affinity": len(os.sched_getaffinity(0)), "platform": platform.platform(),
                    "python": platform.python_version(), "loadavg_before": load_before, "loadavg_after": os.getloadavg()},
        "smact": SMACT_VERSION,
    }
    if args.profile_crystalnn:
        report["crystalnn_profile"] = crystalnn_profile(structures[:args.profile_crystalnn])
        print("CrystalNN profile:", json.dumps(report["crystalnn_profile"]))
    print()
    print(f"{args.dataset}, first {n} test structures; {os.cpu_count()} CPUs, load average {load_before[0]:.1f} "
          f"before / {os.getloadavg()[0]:.1f} after")
    print(table)
    if self_score:
        print("\nself-scoring (evaluate on the test split vs itself):", json.dumps(self_score))
    write_report(report, args.out)
    return report


if __name__ == "__main__":
    main()
