"""An exponential moving average of a model's weights, updated without reading the GPU.

`torch.optim.swa_utils.AveragedModel` keeps its update count on the CPU and copies it to the
GPU every step: a blocking copy that waits for the step in flight, so the host cannot prepare the
next batch meanwhile (it matters once a step is one replayed CUDA graph, `matlib.captured_step`).
The arithmetic is the same: the first update copies, each later one moves every averaged weight
a share 1 - decay toward the model's (one fused lerp for all of them)."""
from __future__ import annotations

from copy import deepcopy

import torch


class WeightAverage:
    def __init__(self, model: torch.nn.Module, decay: float):
        self.module, self.decay, self.updates = deepcopy(model), decay, 0

    def update_parameters(self, model: torch.nn.Module) -> None:
        averaged, current = list(self.module.parameters()), [p.detach() for p in model.parameters()]
        with torch.no_grad():
            if self.updates == 0:
                torch._foreach_copy_(averaged, current)
            else:
                torch._foreach_lerp_(averaged, current, 1 - self.decay)
            # buffers (element masks, scales) follow the model, as AveragedModel's do by default
            for mine, theirs in zip(self.module.buffers(), model.buffers()):
                mine.copy_(theirs)
        self.updates += 1
