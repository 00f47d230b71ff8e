"""How long each part of evaluate() takes on generated crystals against a whole test split, with the
notebooks' judges and novelty against `val` (README, section 02: Carbon-24).

    MATLIB_DATA=... python evaluation_timing.py DATASET GENERATED.extxyz

Prints the seconds per part (the process pool has one worker per core) and the headline metrics."""
import json, sys, time
from matlib import datasets, judges
from matlib import io as crystal_io
from matlib.evaluation import evaluate, process_pool, split_reference

if __name__ == "__main__":
    dataset, path = sys.argv[1:3]
    generated = crystal_io.read_extxyz(path)
    train, test = datasets.load_split(dataset, "val"), datasets.load_split(dataset, "test")
    suite_judges = judges.default_judges(dataset)
    start = time.perf_counter()
    with process_pool() as pool:
        reference = split_reference(test, executor=pool, progress_bar=False)
        print("reference fingerprints (cached after the first run)", round(time.perf_counter() - start), "s")
        report = evaluate(generated, reference, dataset=dataset, train=train, judges=suite_judges, executor=pool,
                          progress_bar=False)
    summary = report.as_dict()
    print(json.dumps(summary["meta"]["timings_s"]))
    print({k: summary["metrics"].get(k) for k in ("cov_r", "cov_p", "unique", "novel")})
