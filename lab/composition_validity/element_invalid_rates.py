"""Which chemistry do generated crystals get wrong? For each element: the share of generated
crystals that contain it, and how often those are composition-invalid (CDVAE's SMACT test), next to
the same numbers for the training split (README, section 04).

    MATLIB_DATA=... python element_invalid_rates.py DATASET FILE.extxyz [TOP]"""
import collections, sys
from matlib import datasets
from matlib import io as crystal_io
from matlib.evaluation import composition_validity


def element_rates(structures) -> dict[str, tuple[float, float]]:
    """element -> (% of crystals containing it, % of those that are composition-invalid)."""
    holding, invalid = collections.Counter(), collections.Counter()
    for s in structures:
        valid = composition_validity(s)
        for element in {site.specie.symbol for site in s}:
            holding[element] += 1
            invalid[element] += not valid
    return {e: (100 * holding[e] / len(structures), 100 * invalid[e] / holding[e]) for e in holding}


def main():
    dataset, path = sys.argv[1], sys.argv[2]
    top = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    generated = element_rates(crystal_io.read_extxyz(path))
    train = element_rates(datasets.load_split(dataset, "val").structures)
    # rank by the share of all generated crystals that are invalid and hold the element
    ranked = sorted(generated, key=lambda e: -generated[e][0] * generated[e][1])
    print(f"{path} against {dataset}/val")
    print("element  held by % (generated / val)  invalid % of those (generated / val)")
    for e in ranked[:top]:
        held, bad = generated[e]
        held_val, bad_val = train.get(e, (0.0, float("nan")))
        print(f"{e:7s}  {held:6.2f} / {held_val:6.2f}  {bad:6.1f} / {bad_val:6.1f}")


if __name__ == "__main__":
    main()
