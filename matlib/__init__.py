"""matlib: the helper package behind the crystal-generation notebooks.

One concept per module; notebooks import what they teach:
config (profiles, device, seeding) · registry/datasets (benchmark CSVs) · crystal (batched crystals)
· graph (periodic neighbour lists) · io (CIF, extxyz, zip) · viz (3D views, plot style)
· checkpoints (safetensors + manifest) · training (the fit loop) · results (results files)
· parallel (per-item work on any executor, CPU counts that respect containers)
· runner (execute all notebooks, side by side on several GPUs) · comparison (the review's tables
from results files) · candidates (each generator's best crystals, by one rule) · headline,
results_document, readme (the README's generated blocks and docs/RESULTS.md) · targets (checked
property targets).
"""
__version__ = "0.1.0"
