"""Does CrystalNN give symmetry-equivalent sites the same fingerprint, so that one site per orbit
would do (an exact shortcut for the site-averaged structure fingerprint)?

    PYTHONPATH=. MATLIB_DATA=<data dir> python lab/evaluation_profile/orbit_sites.py [N] [SYMPREC]

For the first N MP-20 `test` crystals (default 60): every site's CrystalNN "ops" fingerprint, the
orbits spglib finds at SYMPREC (default 1e-5), the largest difference between two sites of one orbit,
and the largest difference between the site mean and the orbit-weighted mean of one site per orbit.
Also counts orbits against sites over the first 2,000 crystals (the saving the shortcut would bring).
"""
import sys
import warnings

import numpy as np
import spglib

from matlib.datasets import load_split
from matlib.evaluation.fingerprints import crystalnn_featurizer


def orbits(structure, symprec):
    cell = (structure.lattice.matrix, structure.frac_coords, [site.specie.Z for site in structure])
    return np.asarray(spglib.get_symmetry_dataset(cell, symprec=symprec).equivalent_atoms)


def main(n=60, symprec=1e-5):
    warnings.simplefilter("ignore")
    crystals = load_split("mp_20", "test", limit=2000, progress_bar=False).structures
    sites = sum(len(s) for s in crystals)
    distinct = sum(len(set(orbits(s, symprec))) for s in crystals)
    featurizer, within, of_mean = crystalnn_featurizer(), 0.0, 0.0
    for s in crystals[:n]:
        per_site = np.array([featurizer.featurize(s, i) for i in range(len(s))])
        equivalent = orbits(s, symprec)
        within = max(within, float(np.abs(per_site - per_site[equivalent]).max()))
        representatives, counts = np.unique(equivalent, return_counts=True)
        weighted = (per_site[representatives] * counts[:, None]).sum(0) / counts.sum()
        of_mean = max(of_mean, float(np.abs(weighted - per_site.mean(0)).max()))
    print(f"symprec {symprec:g}: {distinct:,} orbits for {sites:,} sites in {len(crystals):,} crystals "
          f"({sites / distinct:.2f}x fewer fingerprints); over the first {n}: largest difference within an "
          f"orbit {within:.2e}, of the site mean {of_mean:.2e}")


if __name__ == "__main__":
    args = sys.argv[1:]
    main(int(args[0]) if args else 60, float(args[1]) if len(args) > 1 else 1e-5)
