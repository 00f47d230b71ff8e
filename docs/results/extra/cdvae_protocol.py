"""Notebook 02's CDVAE scored with CDVAE's protocol: N samples (CDVAE: 10,000) against the whole
test split. (README, section 02.)

    MATLIB_DATA=../shared/data python docs/results/extra/cdvae_protocol.py STEM DATASET N OUT.json

z ~ N(0, I) in chunks of 1,000, the notebook's decoding (10 Langevin steps per level, rounded
composition, elements held until σ_type < 0.1), the evaluation suite against every test crystal;
also the metrics of the first 2,000 samples, to show how coverage grows with the number drawn."""
import json, sys
import torch
from matlib import datasets
from matlib.cdvae import LangevinConfig, decode, store
from matlib.evaluation import evaluate, process_pool, split_reference


def main():
    stem, dataset, n, out_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    model, ck = store.load(stem); model.eval()
    generator = torch.Generator().manual_seed(0)
    decoding = LangevinConfig(steps_per_level=10, relabel_below=0.1)
    structures = []
    for start in range(0, n, 1000):
        z = torch.randn(min(1000, n - start), model.config.latent, generator=generator)
        with torch.no_grad():
            structures += decode(model, z, decoding, generator=generator, desc=f"{start}").crystals.to_structures()
    test = datasets.load_split(dataset, "test")
    rows = {}
    with process_pool() as pool:
        reference = split_reference(test, executor=pool)
        for count in sorted({min(2000, n), n}):
            m = evaluate(structures[:count], reference, dataset=dataset, executor=pool, progress_bar=False).as_dict()["metrics"]
            rows[count] = {k: m.get(k) for k in ("struct_valid", "comp_valid", "valid", "cov_r", "cov_p", "amcd_r", "amcd_p")}
            print(count, rows[count], flush=True)
    json.dump({"checkpoint": str(stem), "steps": ck.step, "dataset": dataset, "references": len(test), "by_samples": rows},
              open(out_path, "w"), indent=1)


if __name__ == "__main__":
    main()
