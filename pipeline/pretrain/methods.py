"""The registered pretraining methods (``pretrain.method``): none, codebook, mae.

Each takes ``(cfg, options, preprocessed_dir, log_dir)`` and returns a
:class:`PretrainResult`; :func:`pipeline.pretrain.run.pretrain_study` writes it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import torch

from pipeline.encoders.patch_transformer import PatchTransformer
from pipeline.pretrain import PRETRAINERS
from pipeline.pretrain.data import PretrainData, load_pretrain_data
from pipeline.pretrain.masked import MaskedCodeLitModule, MaskedPatchLitModule
from pipeline.pretrain.options import PretrainConfig
from pipeline.pretrain.quantizer import code_usage
from pipeline.pretrain.tokenizer import PatchTokenizer, TokenizerLitModule
from pipeline.pretrain.trainer import fit_phase

logger = logging.getLogger(__name__)

DIGITS = 6


@dataclass(frozen=True)
class PretrainResult:
    """What a pretraining method produced.

    Attributes
    ----------
    summary : dict
        Method-specific facts for ``pretrain.json`` (losses, perplexity, ...).
    backbone : PatchTransformer or None
        The pretrained backbone (None for ``none``).
    data : PretrainData or None
        The trials it was pretrained on.
    tokenizer : PatchTokenizer or None
        The codebook method's tokenizer.
    history : DataFrame or None
        One row per epoch and phase.
    code_counts : ndarray of int, shape (K,), or None
        How many pretraining patches each code takes after the tokenizer phase.
    """

    summary: dict[str, Any]
    backbone: PatchTransformer | None = None
    data: PretrainData | None = None
    tokenizer: PatchTokenizer | None = None
    history: pd.DataFrame | None = None
    code_counts: np.ndarray | None = field(default=None)


def _setup(
    cfg: PretrainConfig, options: dict[str, Any], preprocessed_dir: Path
) -> tuple[PretrainData, PatchTransformer]:
    """Seed, read the pretraining trials and build the backbone from the train options."""
    if cfg.num_threads > 0:
        torch.set_num_threads(cfg.num_threads)
    pl.seed_everything(cfg.seed, workers=True)
    data = load_pretrain_data(preprocessed_dir, cfg.splits)
    return data, PatchTransformer(**data.signal(), **options)


def _last(history: pd.DataFrame, column: str) -> float:
    """The last epoch's value of ``column``, rounded."""
    return round(float(history[column].dropna().iloc[-1]), DIGITS)


@torch.no_grad()
def count_codes(tokenizer: PatchTokenizer, backbone: PatchTransformer, data: PretrainData,
                batch_size: int) -> np.ndarray:
    """Count the patches of the pretraining trials assigned to each code: (K,) int64."""
    counts = torch.zeros(len(tokenizer.quantizer.codebook), dtype=torch.int64)
    for x, _ in data.loader(batch_size, shuffle=False):
        index = tokenizer.codes(backbone.patches(x))  # (B, N)
        counts += torch.bincount(index.flatten(), minlength=len(counts))
    return counts.numpy()


@PRETRAINERS.register("none")
def pretrain_none(cfg: PretrainConfig, options: dict[str, Any], preprocessed_dir: Path,
                  log_dir: Path) -> PretrainResult:
    """No pretraining: nothing is read or trained; ``train`` starts from scratch."""
    return PretrainResult(summary={"note": "no pretraining (pretrain.method none)"})


@PRETRAINERS.register("codebook")
def pretrain_codebook(cfg: PretrainConfig, options: dict[str, Any], preprocessed_dir: Path,
                      log_dir: Path) -> PretrainResult:
    """Masked-codebook pretraining: VQ tokenizer, then masked code-index prediction.

    The collapse check compares the codebook perplexity over every pretraining patch,
    after the tokenizer phase, with ``cfg.codebook.collapse_perplexity``; a collapse is
    logged as a WARNING and reported as ``collapsed: true``.
    """
    data, backbone = _setup(cfg, options, preprocessed_dir)
    tokenizer = PatchTokenizer(backbone.n_chans, backbone.patch_len, cfg.codebook)
    tokenizer_lit = TokenizerLitModule(
        tokenizer, backbone.patches, cfg.codebook.commitment, cfg.lr, cfg.weight_decay
    )
    loader = data.loader(cfg.batch_size, shuffle=True)
    tokenizer_history = fit_phase(
        tokenizer_lit, loader, cfg.tokenizer_epochs, cfg, log_dir, "tokenizer"
    )
    tokenizer.eval()
    counts = count_codes(tokenizer, backbone, data, cfg.batch_size)
    perplexity, usage = code_usage(torch.from_numpy(counts))
    collapsed = perplexity < cfg.codebook.collapse_perplexity
    if collapsed:
        logger.warning(
            "codebook collapsed: perplexity %.2f of %d codes (usage %.2f) is below "
            "pretrain.codebook.collapse_perplexity %.2f; the code targets carry little "
            "information (try a smaller codebook, another lr or dead_code_threshold)",
            perplexity, len(counts), usage, cfg.codebook.collapse_perplexity,
        )
    masked_lit = MaskedCodeLitModule(
        backbone, tokenizer, mask_ratio=cfg.mask_ratio, lr=cfg.lr, weight_decay=cfg.weight_decay
    )
    masked_history = fit_phase(masked_lit, loader, cfg.epochs, cfg, log_dir, "masked")
    summary = {
        "losses": {
            "reconstruction": _last(tokenizer_history, "reconstruction"),
            "commitment": _last(tokenizer_history, "commitment"),
            "masked_code": _last(masked_history, "masked_loss"),
        },
        "masked_code_accuracy": _last(masked_history, "masked_accuracy"),
        "chance_code_accuracy": round(float(counts.max() / max(counts.sum(), 1)), DIGITS),
        "perplexity": round(perplexity, DIGITS),
        "usage": round(usage, DIGITS),
        "codebook_size": len(counts),
        "collapsed": bool(collapsed),
        "dead_code_restarts": int(tokenizer.quantizer.restarts),
    }
    return PretrainResult(
        summary=summary,
        backbone=backbone.eval(),
        data=data,
        tokenizer=tokenizer,
        history=pd.concat([tokenizer_history, masked_history], ignore_index=True),
        code_counts=counts,
    )


@PRETRAINERS.register("mae")
def pretrain_mae(cfg: PretrainConfig, options: dict[str, Any], preprocessed_dir: Path,
                 log_dir: Path) -> PretrainResult:
    """Masked reconstruction: predict the samples of the masked time patches (MSE)."""
    data, backbone = _setup(cfg, options, preprocessed_dir)
    lit = MaskedPatchLitModule(
        backbone, mask_ratio=cfg.mask_ratio, lr=cfg.lr, weight_decay=cfg.weight_decay
    )
    history = fit_phase(
        lit, data.loader(cfg.batch_size, shuffle=True), cfg.epochs, cfg, log_dir, "masked"
    )
    return PretrainResult(
        summary={"losses": {"masked_reconstruction": _last(history, "masked_loss")}},
        backbone=backbone.eval(),
        data=data,
        history=history,
    )
