"""Where generated crystals lose composition validity: SMACT validity by atom count and by number of
elements, for generated crystals against the training split (README, section 04).

    MATLIB_DATA=... python comp_validity_by_size.py DATASET SPLIT GENERATED.extxyz

Prints, for each atom count N and each element count, how many crystals have it and the share that
is SMACT-valid (CDVAE's definition), in the generated file and in DATASET/SPLIT."""
import sys
import numpy as np
from matlib import datasets
from matlib import io as crystal_io
from matlib.evaluation import process_pool, validity_table


def breakdown(structures, pool) -> dict:
    valid = validity_table(structures, executor=pool, progress_bar=False).comp_valid.to_numpy()
    sizes = np.array([len(s) for s in structures])
    elements = np.array([len(s.composition.elements) for s in structures])

    def by(key):
        return {int(k): (int((key == k).sum()), round(float(valid[key == k].mean()) * 100, 1)) for k in np.unique(key)}
    return {"n": len(structures), "comp_valid": round(float(valid.mean()) * 100, 2),
            "by_atoms": by(sizes), "by_elements": by(elements)}


def main():
    dataset, split, generated = sys.argv[1:4]
    with process_pool() as pool:
        for name, structures in ((generated, crystal_io.read_extxyz(generated)),
                                 (f"{dataset}/{split}", datasets.load_split(dataset, split).structures)):
            result = breakdown(structures, pool)
            print(name, f"{result['n']} crystals, comp. valid {result['comp_valid']} %")
            for key in ("by_atoms", "by_elements"):
                print(f"  {key} (count, % valid):", result[key])


if __name__ == "__main__":
    main()
