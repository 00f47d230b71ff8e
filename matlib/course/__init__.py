"""Tooling that runs the course and writes its documents; nothing here is taught.

``runner`` (the main job: execute every notebook with papermill, side by side on several GPUs),
``runs`` (the runs log and the job's summary), ``readme`` (the README's generated blocks, ``python -m
matlib.course.readme``), ``results_document`` (docs/RESULTS.md) and ``headline`` (the README's
headline table); ``reseal`` (a one-off upgrade of checkpoints saved before manifests carried a
digest).
"""
