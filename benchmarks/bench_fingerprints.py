"""CrystalNN fingerprints: matminer's loops against matlib's NumPy version, in one run.

1. Fingerprints the test split (all of it, or ``--n``) with both engines on a pool of
   ``--workers`` processes: seconds for each, their ratio, and how far the two disagree (largest
   absolute difference of any site-averaged feature over the whole split; crystals beyond 1e-9,
   listed by index).
2. With ``--evaluate N``: ``evaluate()`` end to end on N crystals standing in for generated ones
   (the test split, then the val split to make up N, each rattled by 0.05 Å so none is a copy of
   a reference crystal) against the whole test split, its fingerprints from step 1 as the cache
   gives them, on the same pool: the seconds per stage (``evaluate``'s laps).

    MATLIB_DATA=../shared/data python benchmarks/bench_fingerprints.py --workers 16 --evaluate 10000 \\
        --out docs/results/runs/bench_fingerprints_16cpu.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from pymatgen.core import Structure

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
if "MATLIB_DATA" not in os.environ and (ROOT.parent / "shared" / "data").is_dir():
    os.environ["MATLIB_DATA"] = str(ROOT.parent / "shared" / "data")
os.environ.setdefault("MATLIB_PROGRESS", "0")

from matlib.datasets import load_split  # noqa: E402
from matlib.evaluation import compute_fingerprints, evaluate  # noqa: E402
from matlib.evaluation.reference_set import ReferenceSet  # noqa: E402
from matlib.parallel import process_pool  # noqa: E402
from report_rows import write_report  # noqa: E402


def compare_engines(structures, pool, workers: int) -> tuple[dict, object]:
    compute_fingerprints(structures[:2 * workers], kind="struct", executor=pool, progress_bar=False)   # workers up
    seconds, fingerprints = {}, {}
    for engine in ("matminer", "matlib"):
        start = time.perf_counter()
        fingerprints[engine] = compute_fingerprints(structures, executor=pool, progress_bar=False, engine=engine)
        seconds[engine] = round(time.perf_counter() - start, 2)
        print(f"  {engine:8s} {seconds[engine]:8.1f} s", flush=True)
    pairs = list(zip(fingerprints["matminer"].struct, fingerprints["matlib"].struct))
    gap = {i: float(np.abs(a - b).max()) for i, (a, b) in enumerate(pairs) if a is not None and b is not None}
    differing = [i for i, g in gap.items() if g > 1e-9]
    agreement = {"crystals": len(structures), "compared": len(gap),
                 "failed": {"matminer": fingerprints["matminer"].struct_failed,
                            "matlib": fingerprints["matlib"].struct_failed},
                 "failed_by_one_engine_only": sum((a is None) != (b is None) for a, b in pairs),
                 "largest_difference": max(gap.values(), default=None),
                 "beyond_1e-9": len(differing)}
    if differing:                                   # their indices in the split, to look into
        agreement["differing_crystals"] = differing
    row = {"seconds": seconds, "ratio": round(seconds["matminer"] / seconds["matlib"], 2),
           "per_second": {e: round(len(structures) / s, 1) for e, s in seconds.items()}, "agreement": agreement}
    return row, fingerprints["matlib"]


def generated_stand_ins(test, n: int, seed: int = 0) -> list:
    crystals = list(test.structures)
    if n > len(crystals):
        crystals += load_split(test.name, "val", limit=n - len(crystals), progress_bar=False).structures
    rng = np.random.default_rng(seed)
    return [Structure(s.lattice, s.species, s.cart_coords + rng.normal(0, 0.05, (len(s), 3)),
                      coords_are_cartesian=True) for s in crystals[:n]]


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="mp_20")
    p.add_argument("--n", type=int, default=None, help="test crystals (default: the whole split)")
    p.add_argument("--workers", type=int, default=os.cpu_count())
    p.add_argument("--evaluate", type=int, default=0, metavar="N", help="also time evaluate() on N crystals")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")
    test = load_split(args.dataset, "test", limit=args.n, progress_bar=False)
    options = list(argv if argv is not None else sys.argv[1:])
    if "--out" in options:                          # where it was written is not how it was run
        del options[options.index("--out"):options.index("--out") + 2]
    report = {"command": " ".join(["benchmarks/bench_fingerprints.py", *options]),
              "dataset": args.dataset, "split": "test", "workers": args.workers,
              "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                          "python": platform.python_version(), "loadavg_before": os.getloadavg()}}
    with process_pool(args.workers) as pool:
        print(f"{len(test)} {args.dataset} test crystals on {args.workers} workers:")
        report["engines"], reference = compare_engines(test.structures, pool, args.workers)
        if args.evaluate:
            generated = generated_stand_ins(test, args.evaluate)
            start = time.perf_counter()
            result = evaluate(generated, ReferenceSet(test.structures, reference), dataset=args.dataset,
                              executor=pool, progress_bar=False)
            seconds = time.perf_counter() - start
            report["evaluate"] = {"generated": len(generated), "reference": len(test), "seconds": round(seconds, 1),
                                  "laps": result.meta.get("timings_s", {}),
                                  "valid": round(float(result.metrics.get("valid", float("nan"))), 4)}
            print(f"evaluate() on {len(generated)} crystals: {seconds:.1f} s; laps {report['evaluate']['laps']}")
    report["machine"]["loadavg_after"] = os.getloadavg()
    print(json.dumps(report["engines"], indent=1))
    write_report(report, args.out)
    return report


if __name__ == "__main__":
    main()
