"""Where does the evaluation's time go? CDVAE's structure fingerprints (matminer's CrystalNN
fingerprint, "ops" preset, mean over sites), profiled serially on the first N crystals of a split:
seconds per crystal, and the share spent in the order parameters, in CrystalNN's Voronoi neighbour
search, and elsewhere; then the same crystals (WORKERS x 10 of them) on a pool of WORKERS processes.

    python lab/evaluation_profile/profile_fingerprints.py OUT.txt [DATASET] [SPLIT] [N] [WORKERS]
"""
import cProfile
import io
import pstats
import sys
import time
import warnings

from matlib.datasets import load_split
from matlib.evaluation import compute_fingerprints
from matlib.parallel import process_pool

PARTS = {"order parameters (LocalStructOrderParams.get_order_parameters)": "get_order_parameters",
         "CrystalNN neighbours (CrystalNN.get_nn_data, Voronoi)": "get_nn_data"}


def main(out: str, dataset: str = "mp_20", split: str = "test", n: int = 200, workers: int = 0) -> None:
    warnings.filterwarnings("ignore")
    structures = load_split(dataset, split, limit=n).structures
    compute_fingerprints(structures[:2])              # imports and first-call set-up, off the clock
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    compute_fingerprints(structures)
    profiler.disable()
    seconds = time.perf_counter() - start
    stats = pstats.Stats(profiler)
    lines = [f"{dataset}/{split}: {len(structures)} crystals in {seconds:.1f} s serial, "
             f"{seconds / len(structures):.3f} s per crystal"]
    for label, function in PARTS.items():
        cumulative = sum(v[3] for k, v in stats.stats.items() if k[2] == function)
        lines.append(f"{label}: {100 * cumulative / seconds:.0f} %")
    if workers:
        many = load_split(dataset, split, limit=10 * workers * 10).structures
        with process_pool(workers) as pool:
            compute_fingerprints(many[:workers], executor=pool, progress_bar=False)   # workers started
            start = time.perf_counter()
            compute_fingerprints(many, executor=pool, progress_bar=False)
            pooled = time.perf_counter() - start
        lines.append(f"{len(many)} crystals on {workers} workers: {pooled:.1f} s, "
                     f"{len(many) / pooled:.1f} crystals/s; 10,000 would take {10000 * pooled / len(many):.0f} s")
    table = io.StringIO()
    pstats.Stats(profiler, stream=table).sort_stats("cumulative").print_stats(20)
    text = "\n".join(lines) + "\n\n" + table.getvalue()
    open(out, "w").write(text)
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1], *sys.argv[2:4], *(int(a) for a in sys.argv[4:6]))
