"""Batch norm over the global batch of a DDP run, on any device (a Lightning LayerSync).

``torch.nn.SyncBatchNorm`` refuses CPU modules, so CPU runs (gloo) would normalise each
process's share of the batch alone and train differently with the number of processes.
:class:`GlobalBatchNorm` computes the statistics of the global batch with autograd-aware
all-reduces on any backend, so training matches one process up to rounding.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from lightning.pytorch.plugins.layer_sync import LayerSync
from torch import nn
from torch.distributed._functional_collectives import all_reduce as _all_reduce
from torch.nn.modules.batchnorm import _BatchNorm


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def all_reduce(tensor: torch.Tensor) -> torch.Tensor:
    """Sum ``tensor`` over every process; the gradient flows back to each of them."""
    return _all_reduce(tensor, "sum", dist.group.WORLD)


class GlobalBatchNorm(_BatchNorm):
    """Batch norm whose training statistics are those of the batch of every process.

    Outside training, or in one process, it is the batch norm it replaced (``original``:
    BatchNorm1d, 2d or 3d, restored by :meth:`GlobalBatchNormSync.revert`).
    """

    original: type[_BatchNorm] = nn.BatchNorm1d

    def _check_input_dim(self, x: torch.Tensor) -> None:
        self.original._check_input_dim(self, x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, ...) -> normalised (B, C, ...)."""
        if not (self.training and _distributed()):
            return super().forward(x)
        self._check_input_dim(x)
        dims = [0, *range(2, x.dim())]
        shape = [1, -1] + [1] * (x.dim() - 2)
        values = x.float()  # statistics in float32 under mixed precision
        count = torch.tensor([values.numel() / values.shape[1]], device=x.device)
        dist.all_reduce(count)
        mean = all_reduce(values.sum(dims)) / count  # (C,)
        centred = values - mean.view(shape)
        var = all_reduce((centred * centred).sum(dims)) / count  # (C,), biased
        if self.track_running_stats:
            self._update_running_stats(mean.detach(), var.detach(), float(count))
        out = centred * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        return out.to(x.dtype)

    @torch.no_grad()
    def _update_running_stats(self, mean: torch.Tensor, var: torch.Tensor, count: float) -> None:
        """Update the running statistics as ``nn.BatchNorm`` does (unbiased variance)."""
        self.num_batches_tracked += 1
        momentum = (1.0 / float(self.num_batches_tracked) if self.momentum is None
                    else self.momentum)
        unbiased = var * count / max(count - 1.0, 1.0)
        self.running_mean.lerp_(mean.to(self.running_mean.dtype), momentum)
        self.running_var.lerp_(unbiased.to(self.running_var.dtype), momentum)


def _swap(module: _BatchNorm, cls: type[_BatchNorm]) -> _BatchNorm:
    """A ``cls`` batch norm with the settings, state, mode and device of ``module``."""
    swapped = cls(module.num_features, module.eps, module.momentum, module.affine,
                  module.track_running_stats)
    swapped.load_state_dict(module.state_dict())
    if module.affine:
        swapped.weight.requires_grad_(module.weight.requires_grad)
        swapped.bias.requires_grad_(module.bias.requires_grad)
    tensors = [*module.parameters(), *module.buffers()]
    return swapped.to(tensors[0].device if tensors else "cpu").train(module.training)


def _convert(module: nn.Module, to_global: bool) -> nn.Module:
    """Return ``module`` with its batch norms swapped (in place for its children)."""
    converted = module
    if to_global and isinstance(module, _BatchNorm) and not isinstance(module, GlobalBatchNorm):
        converted = _swap(module, GlobalBatchNorm)
        converted.original = type(module)
    elif not to_global and isinstance(module, GlobalBatchNorm):
        converted = _swap(module, module.original)
    for name, child in module.named_children():
        converted.add_module(name, _convert(child, to_global))
    return converted


class GlobalBatchNormSync(LayerSync):
    """Lightning plugin: every batch norm of the model becomes a :class:`GlobalBatchNorm`."""

    def apply(self, model: nn.Module) -> nn.Module:
        """Swap the batch norms of ``model`` for global ones."""
        return _convert(model, to_global=True)

    def revert(self, model: nn.Module) -> nn.Module:
        """Swap them back."""
        return _convert(model, to_global=False)
