"""Bring a checkpoint saved before manifests carried a digest (format /1) to this format, once:

    python -m matlib.course.reseal STEM --dataset NAME --split SPLIT [--property NAME]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..checkpoints import FORMAT, CheckpointError, _paths, _write_manifest, load
from ..datasets import sha256_file
from ..jsonsafe import jsonable


def reseal(stem: str | Path, trained_on: dict) -> dict:
    """Bring a manifest written before digests (format /1) to this format, recording ``trained_on``.
    The weights must still match the manifest's sha256; nothing else is changed."""
    weights, manifest_path = _paths(stem)
    manifest = json.loads(manifest_path.read_text())
    if manifest.get("format") != "matlib-checkpoint/1":
        raise CheckpointError(f"{manifest_path} is {manifest.get('format')!r}; only matlib-checkpoint/1 manifests "
                              f"are resealed (an edited newer one is restored from git or retrained)")
    if sha256_file(weights) != manifest.get("sha256"):
        raise CheckpointError(f"{weights} does not match its manifest's sha256: not resealed")
    original = manifest_path.read_text()
    manifest.update(format=FORMAT, trained_on=jsonable(trained_on))
    _write_manifest(manifest_path, manifest)
    try:
        load(stem)            # the result must be a loadable checkpoint (finite weights, valid digest)
    except CheckpointError:
        manifest_path.write_text(original)     # left as it was found
        raise
    return manifest


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m matlib.course.reseal",
                                     description="reseal a checkpoint saved before manifests carried a digest")
    parser.add_argument("stem", help="the checkpoint's path without .safetensors/.json")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--split", required=True, help="the split it was trained on (val, train, ...)")
    parser.add_argument("--property", help="for judges and adapters: the property it learnt")
    args = parser.parse_args(argv)
    trained_on = {"dataset": args.dataset, "split": args.split}
    if args.property:
        trained_on["property"] = args.property
    reseal(args.stem, trained_on)
    print(f"resealed {args.stem}: trained on {trained_on}")


if __name__ == "__main__":
    main()
