"""How many of Con-CDVAE's successes are also unique and novel? (README, section 05.)

    MATLIB_DATA=../shared/data python lab/con_cdvae_prior/con_cdvae_sun.py RUN_DIR OUT.json

Reads a notebook-05 output folder: generated.extxyz (each frame says which task it aimed at) and
results.json (the run's windows and crystals per task). Re-scores every single-property task with
the notebook's judges and windows, and counts the crystals that are valid, in the window, unique
among the task's crystals and not in `val` (StructureMatcher), over the crystals asked for per task
(crystals that could not be built are not in the file and count as failures)."""
import json, sys
from collections import defaultdict
from pathlib import Path
from matlib import datasets, judges
from matlib import io as crystal_io
from matlib.evaluation import process_pool, targeted_report


def main():
    run, out_path = Path(sys.argv[1]), sys.argv[2]
    metrics = json.loads((run / "results.json").read_text())["metrics"]
    asked = {row["task"]: row["n"] for row in metrics["success"]}
    structures, info = crystal_io.read_extxyz_frames(run / "generated.extxyz")
    by_task = defaultdict(list)
    for s, i in zip(structures, info):
        if len(metrics["windows"][i["task"]]) == 1:
            by_task[i["task"]].append(s)
    train = datasets.load_split("mp_20", "val").structures
    rows = []
    with process_pool() as pool:
        for task, crystals in by_task.items():
            (prop, window), = metrics["windows"][task].items()
            n = asked[task]
            _, frame = targeted_report(crystals, judges.load_judge("mp_20", prop), tuple(window), train=train,
                                       executor=pool)
            sun = int((frame["success"] & frame["unique"] & frame["novel"]).sum())
            rows.append(dict(task=task, kept=len(crystals), n=n, success=int(frame["success"].sum()) / n,
                             success_unique_novel=sun / n))
            print(rows[-1], flush=True)
    json.dump(rows, open(out_path, "w"), indent=1)


if __name__ == "__main__":
    main()
