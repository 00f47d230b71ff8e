"""A training step recorded once as a CUDA graph and replayed for every batch.

A small model's step is held back by the host, not the GPU: notebook 04's `full` model launches
about 700 kernels a step and the GPU is busy for a fifth of it (`lab/training_step/`). A CUDA
graph replays the whole step (forward, backward, gradient clipping, optimizer update) with one
launch. What that needs:
- the same tensor shapes every step: fixed-shape batches (`matlib.packing`);
- no host reads inside the step (no `.item()`, no shapes that depend on values);
- an optimizer that keeps its step count and learning rate on the GPU (`captured_adamw`); a
  learning-rate schedule then writes into that tensor, and the replays read it.
"""
from __future__ import annotations

import contextlib
from typing import Callable, Mapping, Sequence

import torch


def captured_adamw(parameters, lr: float, device, **options) -> torch.optim.AdamW:
    """AdamW whose step count and learning rate live on ``device``: a recorded step can replay it."""
    capturable = torch.device(device).type == "cuda"
    rate = torch.tensor(lr, device=device) if capturable else lr
    optimizer = torch.optim.AdamW(parameters, lr=rate, capturable=capturable, **options)
    for group in optimizer.param_groups:
        # a schedule multiplies this number and fills the tensor: a float keeps it from reading
        # the GPU (a host sync) every step
        group["initial_lr"] = lr
    return optimizer


def compiled_for_replay(module: torch.nn.Module) -> torch.nn.Module:
    """``module`` under `torch.compile` for one fixed shape, drawing the random numbers eager code
    draws (inductor's own generator would draw others), so a compiled step is still the eager step."""
    return torch.compile(module, dynamic=False, options={"fallback_random": True})


class CapturedStep:
    """``step(batch)`` = one training update on ``batch``; returns the losses (tensors that the next
    call overwrites: read them before it). ``example`` is a batch of the shapes every later batch has;
    ``amp_dtype`` (e.g. torch.bfloat16) runs the forward pass in mixed precision. ``compiled`` names
    a submodule (e.g. ``"network"``), or several (``("encoder", "decoder")``), that `torch.compile`
    fuses while the step is recorded; each is put back afterwards (replays never run Python), so the
    model, its state dict and copies are untouched.

    The first ``warmup`` updates run eagerly on a side stream (CUDA's rule before recording);
    afterwards the weights and optimizer state are put back, so the warm-up leaves no trace.
    """

    def __init__(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                 loss_fn: Callable[[torch.nn.Module, object], Mapping[str, torch.Tensor]], example, *,
                 grad_clip: float | None = None, amp_dtype: torch.dtype | None = None, warmup: int = 3,
                 compiled: str | Sequence[str] = ()):
        if not torch.cuda.is_available() or next(model.parameters()).device.type != "cuda":
            raise RuntimeError("a CUDA graph needs the model on a CUDA device; train eagerly on a CPU")
        if not all(group.get("capturable") for group in optimizer.param_groups):
            raise ValueError("the optimizer must be capturable (e.g. captured_adamw(...))")
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.grad_clip = grad_clip
        # autocast's cache of cast weights must be off while recording (the graph would keep stale casts)
        self.autocast = (lambda: torch.autocast("cuda", dtype=amp_dtype, cache_enabled=False)) if amp_dtype \
            else contextlib.nullcontext
        self.inputs = example
        saved = self._state()
        names = (compiled,) if isinstance(compiled, str) and compiled else tuple(compiled or ())
        plain = {name: getattr(model, name) for name in names}
        for name, module in plain.items():
            setattr(model, name, compiled_for_replay(module))
        try:
            self._record(warmup)
        finally:
            for name, module in plain.items():
                setattr(model, name, module)
        self._restore(saved)

    def _record(self, warmup: int) -> None:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(warmup):
                self.optimizer.zero_grad(set_to_none=True)
                self._update()
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        self.optimizer.zero_grad(set_to_none=True)
        # thread_local: another thread's CUDA work (e.g. a background loader) cannot spoil the recording
        with torch.cuda.graph(self.graph, capture_error_mode="thread_local"):
            self.losses = self._update()

    def _update(self) -> dict[str, torch.Tensor]:
        with self.autocast():
            losses = dict(self.loss_fn(self.model, self.inputs))
        losses["loss"].backward()
        if self.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        self.optimizer.step()
        return {name: value.detach() for name, value in losses.items()}

    def _state(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        tensors = list(self.model.parameters()) + [value for state in self.optimizer.state.values()
                                                   for value in state.values() if torch.is_tensor(value)]
        return [(tensor, tensor.detach().clone()) for tensor in tensors]

    def _restore(self, saved) -> None:
        """Weights and optimizer state as before the warm-up, into the same tensors (the graph's)."""
        with torch.no_grad():
            for tensor, copy in saved:
                tensor.copy_(copy)
            for state in self.optimizer.state.values():   # created by the warm-up: zero = never stepped
                for value in state.values():
                    if torch.is_tensor(value) and not any(value is t for t, _ in saved):
                        value.zero_()

    def __call__(self, batch) -> dict[str, torch.Tensor]:
        self.inputs.copy_(batch)
        self.graph.replay()
        return self.losses
