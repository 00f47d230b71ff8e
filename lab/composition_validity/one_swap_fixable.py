"""How near are composition-invalid crystals to charge balance? For each SMACT-invalid crystal, is
there one atom whose element, changed to another element already in the cell, makes the
composition valid (CDVAE's definition)? (README, section 04.)

    python one_swap_fixable.py FILE.extxyz [...]"""
import sys
from pymatgen.core import Composition
from matlib import io as crystal_io
from matlib.evaluation import composition_validity


def one_swap_fixable(amounts: dict[str, float]) -> bool:
    for source in amounts:
        for target in amounts:
            if source == target:
                continue
            changed = dict(amounts)
            changed[source] -= 1
            changed[target] += 1
            if composition_validity(Composition({k: v for k, v in changed.items() if v > 0})):
                return True
    return False


if __name__ == "__main__":
    for path in sys.argv[1:]:
        structures = crystal_io.read_extxyz(path)
        invalid = [s for s in structures if not composition_validity(s)]
        fixable = sum(one_swap_fixable(s.composition.element_composition.get_el_amt_dict()) for s in invalid)
        print(f"{path}: {len(structures)} crystals, {len(invalid)} composition-invalid, {fixable} of them "
              f"({fixable / max(len(invalid), 1):.0%}) valid after changing one atom to another element of the cell")
