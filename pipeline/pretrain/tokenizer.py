"""The vector-quantised tokenizer of masked-codebook pretraining (after Du-IN and LaBraM).

A token is one time patch across all channels (Du-IN's multi-channel patches): an MLP
encodes the patch's samples (C x P) to a unit vector, the EMA quantiser snaps it to the
nearest code, and an MLP decodes the code back to the patch. Loss = reconstruction MSE +
``commitment`` x ||z - sg(code)||^2. Codebook perplexity and usage are logged every epoch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from lightning.pytorch.utilities import rank_zero_only
from torch import nn

from pipeline.pretrain.options import CodebookConfig
from pipeline.pretrain.quantizer import EMAQuantizer, code_usage

logger = logging.getLogger(__name__)


class PatchTokenizer(nn.Module):
    """Multi-channel patches (B, N, C, P) -> code indices (B, N), and back to patches.

    Parameters
    ----------
    n_chans, patch_len : int
        Shape of one patch (C, P).
    cfg : CodebookConfig
        Codebook size and width, EMA decay, dead-code threshold, hidden width.
    """

    def __init__(self, n_chans: int, patch_len: int, cfg: CodebookConfig) -> None:
        super().__init__()
        width = n_chans * patch_len
        self.encoder = nn.Sequential(
            nn.Linear(width, cfg.hidden), nn.GELU(), nn.Linear(cfg.hidden, cfg.dim)
        )
        self.quantizer = EMAQuantizer(cfg.size, cfg.dim, cfg.ema_decay, cfg.dead_code_threshold)
        self.decoder = nn.Sequential(
            nn.Linear(cfg.dim, cfg.hidden), nn.GELU(), nn.Linear(cfg.hidden, width)
        )

    def encode(self, patches: torch.Tensor) -> torch.Tensor:
        """Unit vectors (B, N, dim) of patches (B, N, C, P)."""
        return F.normalize(self.encoder(patches.flatten(2)), dim=-1)

    @torch.no_grad()
    def codes(self, patches: torch.Tensor) -> torch.Tensor:
        """Code index (B, N) of each multi-channel patch of (B, N, C, P); no update."""
        return self.quantizer.assign(self.encode(patches))

    def forward(self, patches: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reconstruct patches (B, N, C, P).

        Returns
        -------
        reconstruction : Tensor, shape (B, N, C, P)
        commitment : Tensor, scalar
            Mean squared distance of the encoder outputs to their codes.
        index : Tensor of int, shape (B, N)
        """
        z = self.encode(patches)  # (B, N, dim)
        quantised, index = self.quantizer(z)  # (B, N, dim), (B, N)
        commitment = F.mse_loss(z, quantised.detach())
        reconstruction = self.decoder(quantised).reshape(patches.shape)
        return reconstruction, commitment, index


@rank_zero_only
def log_codebook_epoch(epoch: int, loss: float, perplexity: float, usage: float) -> None:
    """One line per tokenizer epoch (rank zero only)."""
    logger.info(
        "tokenizer epoch %d: loss %.4f, codebook perplexity %.2f, usage %.2f",
        epoch, loss, perplexity, usage,
    )


class TokenizerLitModule(pl.LightningModule):
    """Train a :class:`PatchTokenizer` on unlabeled epochs (AdamW on its MLPs).

    Parameters
    ----------
    tokenizer : PatchTokenizer
    patchify : callable
        Epochs (B, C, T) -> patches (B, N, C, P) (the backbone's ``patches``).
    commitment : float
        Weight of the commitment loss.
    lr, weight_decay : float
    """

    def __init__(
        self,
        tokenizer: PatchTokenizer,
        patchify: Callable[[torch.Tensor], torch.Tensor],
        commitment: float,
        lr: float,
        weight_decay: float,
    ) -> None:
        super().__init__()
        self.tokenizer = tokenizer
        self.patchify = patchify
        self.commitment = commitment
        self.lr = lr
        self.weight_decay = weight_decay
        self._counts = torch.zeros(len(tokenizer.quantizer.codebook))
        self._losses: list[torch.Tensor] = []

    def on_train_epoch_start(self) -> None:
        self._counts = torch.zeros(len(self.tokenizer.quantizer.codebook))
        self._losses = []

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int):
        x, _ = batch  # (B, C, T), subjects unused
        patches = self.patchify(x)  # (B, N, C, P)
        reconstruction, commitment, index = self.tokenizer(patches)
        recon = F.mse_loss(reconstruction, patches)
        loss = recon + self.commitment * commitment
        self._counts += torch.bincount(index.flatten().cpu(), minlength=len(self._counts))
        self._losses.append(loss.detach())
        self.log_dict(
            {"reconstruction": recon.detach(), "commitment": commitment.detach()},
            on_step=False, on_epoch=True,
        )
        return loss

    def on_train_epoch_end(self) -> None:
        perplexity, usage = code_usage(self._counts)
        loss = float(torch.stack(self._losses).mean())
        self.log_dict({"loss": loss, "perplexity": perplexity, "usage": usage})
        log_codebook_epoch(self.current_epoch, loss, perplexity, usage)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(
            self.tokenizer.parameters(), lr=self.lr, weight_decay=self.weight_decay
        )
