"""Score generated crystals in extxyz files against a dataset's whole test split (README, 02).

    MATLIB_DATA=... python score_extxyz.py DATASET FILE.extxyz [FILE.extxyz ...]

The evaluation suite with CDVAE's definitions; prints validity, COV and AMCD per file."""
import json, sys
from matlib import datasets
from matlib import io as crystal_io
from matlib.evaluation import evaluate, process_pool, split_reference

KEYS = ("struct_valid", "comp_valid", "valid", "cov_r", "cov_p", "amcd_r", "amcd_p")


def table1_scores(structures, reference, dataset: str, pool) -> dict:
    """Validity, COV and AMCD of ``structures`` against the prepared ``reference``."""
    metrics = evaluate(structures, reference, dataset=dataset, executor=pool, progress_bar=False).as_dict()["metrics"]
    return {k: metrics.get(k) for k in KEYS}


def main():
    dataset, paths = sys.argv[1], sys.argv[2:]
    test = datasets.load_split(dataset, "test")
    with process_pool() as pool:
        reference = split_reference(test, executor=pool)
        for path in paths:
            structures = crystal_io.read_extxyz(path)
            print(json.dumps({"file": path, "n": len(structures), **table1_scores(structures, reference, dataset, pool)}),
                  flush=True)


if __name__ == "__main__":
    main()
