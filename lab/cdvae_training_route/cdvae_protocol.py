"""Notebook 02's CDVAE scored with CDVAE's protocol: N samples (CDVAE: 10,000) against the whole
test split. (README, section 02.)

    MATLIB_DATA=../shared/data python lab/cdvae_training_route/cdvae_protocol.py STEM DATASET N OUT.json

z ~ N(0, I) in chunks of 1,000, the notebook's decoding (10 Langevin steps per level, rounded
composition, elements held until σ_type < 0.1), the evaluation suite against every test crystal;
also the metrics of the first 2,000 samples, to show how coverage grows with the number drawn."""
import json, sys
import torch
from matlib import datasets
from matlib.cdvae import store
from matlib.evaluation import process_pool, split_reference
from cdvae_decode import decode_prior          # beside this script
from score_extxyz import table1_scores


def main():
    stem, dataset, n, out_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    model, ck = store.load(stem)
    structures = decode_prior(model, n, 10, 1000, torch.Generator().manual_seed(0))
    test = datasets.load_split(dataset, "test")
    rows = {}
    with process_pool() as pool:
        reference = split_reference(test, executor=pool)
        for count in sorted({min(2000, n), n}):
            rows[count] = table1_scores(structures[:count], reference, dataset, pool)
            print(count, rows[count], flush=True)
    json.dump({"checkpoint": str(stem), "steps": ck.step, "dataset": dataset, "references": len(test), "by_samples": rows},
              open(out_path, "w"), indent=1)


if __name__ == "__main__":
    main()
