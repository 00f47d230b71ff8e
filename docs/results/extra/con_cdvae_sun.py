"""How many of Con-CDVAE's successes are also unique and novel? (README, section 05.)

    MATLIB_DATA=../shared/data python docs/results/extra/con_cdvae_sun.py GENERATED.extxyz OUT.json [N]

Reads notebook 05's generated crystals (each frame says which task it aimed at), re-scores every
single-property task with the notebook's judges and windows, and counts the crystals that are
valid, in the window, unique among the task's crystals and not in `val` (StructureMatcher), over
N crystals per task (the notebook's 300; crystals that could not be built are not in the file
and count as failures)."""
import json, sys
from collections import defaultdict
from matlib import datasets, judges
from matlib import io as crystal_io
from matlib.evaluation import process_pool, targeted_report


def main():
    path, out_path = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 300
    structures, info = crystal_io.read_extxyz_frames(path)
    by_task = defaultdict(list)
    for s, i in zip(structures, info):
        targets = {k[len("target_"):]: v for k, v in i.items() if k.startswith("target_")}
        if len(targets) == 1:
            by_task[(i["task"], *targets.items())].append(s)
    train = datasets.load_split("mp_20", "val").structures
    half = {"formation_energy_per_atom": 0.25, "band_gap": 0.5}
    rows = []
    with process_pool() as pool:
        for (task, (prop, target)), crystals in by_task.items():
            _, frame = targeted_report(crystals, judges.load_judge("mp_20", prop), (target - half[prop], target + half[prop]),
                                       train=train, executor=pool)
            sun = int((frame["success"] & frame["unique"] & frame["novel"]).sum())
            rows.append(dict(task=task, kept=len(crystals), n=n, success=int(frame["success"].sum()) / n,
                             success_unique_novel=sun / n))
            print(rows[-1], flush=True)
    json.dump(rows, open(out_path, "w"), indent=1)


if __name__ == "__main__":
    main()
