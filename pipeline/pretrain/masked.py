"""Masked modelling of the patch transformer backbone: a fraction of time patches is hidden.

Both objectives mask the same way (every channel of a chosen time patch is replaced by the
backbone's mask token) and differ in what they predict for a masked patch:
- :class:`MaskedCodeLitModule`: the tokenizer's code index of the patch (cross-entropy
  from the mean of its channel tokens), as in LaBraM and Du-IN;
- :class:`MaskedPatchLitModule`: the patch's samples (MSE from each channel token), MAE.
"""

from __future__ import annotations

import logging

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from lightning.pytorch.utilities import rank_zero_only
from torch import nn

from pipeline.encoders.patch_transformer import PatchTransformer
from pipeline.pretrain.tokenizer import PatchTokenizer

logger = logging.getLogger(__name__)


def random_time_mask(batch: int, n_patches: int, ratio: float) -> torch.Tensor:
    """Draw the masked time patches of each trial: (B, N) bool.

    Each trial gets ``round(ratio * N)`` masked patches, at least one and, when there
    are several patches, at least one left visible; positions are uniform at random
    (torch's global generator, seeded by the caller).
    """
    n_masked = min(max(1, round(ratio * n_patches)), max(1, n_patches - 1))
    ranks = torch.rand(batch, n_patches).argsort(dim=1).argsort(dim=1)  # (B, N)
    return ranks < n_masked


@rank_zero_only
def log_masked_epoch(epoch: int, loss: float, accuracy: float | None) -> None:
    """One line per masked-modelling epoch (rank zero only)."""
    extra = "" if accuracy is None else f", masked code accuracy {accuracy:.3f}"
    logger.info("masked epoch %d: loss %.4f%s", epoch, loss, extra)


class MaskedLitModule(pl.LightningModule):
    """Masked modelling of a :class:`PatchTransformer`; subclasses define :meth:`objective`.

    Parameters
    ----------
    backbone : PatchTransformer
    head : nn.Module
        Maps contextual tokens to what is predicted.
    mask_ratio : float
        Fraction of time patches masked per trial.
    lr, weight_decay : float
        AdamW settings (backbone and head).
    """

    def __init__(
        self,
        backbone: PatchTransformer,
        head: nn.Module,
        mask_ratio: float,
        lr: float,
        weight_decay: float,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.mask_ratio = mask_ratio
        self.lr = lr
        self.weight_decay = weight_decay
        self._losses: list[torch.Tensor] = []

    def objective(
        self, tokens: torch.Tensor, patches: torch.Tensor, masked: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Loss (and extra metrics) from tokens (B, N, C, d), patches (B, N, C, P), mask (B, N)."""
        raise NotImplementedError

    def on_train_epoch_start(self) -> None:
        self._losses = []

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int):
        x, subject = batch  # (B, C, T), (B,)
        patches = self.backbone.patches(x)  # (B, N, C, P)
        masked = random_time_mask(len(x), patches.shape[1], self.mask_ratio).to(x.device)
        tokens = self.backbone.contextual(self.backbone.embed(patches, subject, masked))
        loss, metrics = self.objective(tokens, patches, masked)
        self._losses.append(loss.detach())
        self.log_dict(metrics, on_step=False, on_epoch=True)
        return loss

    def on_train_epoch_end(self) -> None:
        loss = float(torch.stack(self._losses).mean())
        self.log("loss", loss)
        accuracy = self.trainer.callback_metrics.get("masked_accuracy")
        log_masked_epoch(self.current_epoch, loss, None if accuracy is None else float(accuracy))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(
            [*self.backbone.backbone_parameters(), *self.head.parameters()],
            lr=self.lr,
            weight_decay=self.weight_decay,
        )


class MaskedCodeLitModule(MaskedLitModule):
    """Predict the frozen tokenizer's code of each masked time patch (cross-entropy).

    A time patch's prediction comes from the mean of its channel tokens, through
    ``head`` (d -> K logits).
    """

    def __init__(self, backbone: PatchTransformer, tokenizer: PatchTokenizer, **kwargs) -> None:
        size = len(tokenizer.quantizer.codebook)
        super().__init__(backbone, nn.Linear(backbone.options.d_model, size), **kwargs)
        self.tokenizer = tokenizer.eval().requires_grad_(False)

    def train(self, mode: bool = True) -> MaskedCodeLitModule:
        """Set the training mode, keeping the tokenizer in eval mode (its codebook is fixed)."""
        super().train(mode)
        self.tokenizer.eval()
        return self

    def objective(self, tokens, patches, masked):
        codes = self.tokenizer.codes(patches)  # (B, N)
        logits = self.head(tokens.mean(dim=2))  # (B, N, K)
        loss = F.cross_entropy(logits[masked], codes[masked])
        accuracy = (logits[masked].argmax(dim=-1) == codes[masked]).float().mean()
        return loss, {"masked_loss": loss.detach(), "masked_accuracy": accuracy}


class MaskedPatchLitModule(MaskedLitModule):
    """Reconstruct the samples of each masked patch from its channel token (MSE), MAE-style."""

    def __init__(self, backbone: PatchTransformer, **kwargs) -> None:
        head = nn.Linear(backbone.options.d_model, backbone.patch_len)
        super().__init__(backbone, head, **kwargs)

    def objective(self, tokens, patches, masked):
        reconstruction = self.head(tokens)  # (B, N, C, P)
        loss = F.mse_loss(reconstruction[masked], patches[masked])
        return loss, {"masked_loss": loss.detach()}
