"""Projection heads of the ``joint`` image-text space and their CLIP (InfoNCE) fit."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HeadsConfig:
    """Architecture and fit of the heads (the ``joint`` target's options, minus its inputs)."""

    dim: int
    hidden: int
    dropout: float
    temperature: float
    lr: float
    weight_decay: float
    batch_size: int
    max_epochs: int
    patience: int


def _head(n_in: int, cfg: HeadsConfig) -> nn.Module:
    if cfg.hidden == 0:
        return nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(n_in, cfg.dim))
    return nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(n_in, cfg.hidden), nn.GELU(),
                         nn.Linear(cfg.hidden, cfg.dim))


class JointHeads(nn.Module):
    """An image head and a text head into one unit-norm space, with a learnable temperature.

    Each side standardises its input features with the training mean and standard
    deviation (buffers ``<side>_mean``, ``<side>_std``) before its head.
    """

    def __init__(self, n_image: int, n_text: int, cfg: HeadsConfig) -> None:
        super().__init__()
        self.image = _head(n_image, cfg)
        self.text = _head(n_text, cfg)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / cfg.temperature)))
        for side, n in (("image", n_image), ("text", n_text)):
            self.register_buffer(f"{side}_mean", torch.zeros(n))
            self.register_buffer(f"{side}_std", torch.ones(n))

    def embed(self, side: str, features: torch.Tensor) -> torch.Tensor:
        """Return unit-norm embeddings (n, dim) of ``features`` (n, n_in) of ``side``."""
        standard = (features - getattr(self, f"{side}_mean")) / getattr(self, f"{side}_std")
        return F.normalize(getattr(self, side)(standard), dim=-1)

    def loss(self, image: torch.Tensor, text: torch.Tensor, same: torch.Tensor) -> torch.Tensor:
        """Symmetric InfoNCE of paired features; ``same`` (n, n) marks identical captions.

        Pairs whose captions are identical count as positives of each other (soft labels),
        so repeated captions are not pushed apart.
        """
        logits = self.embed("image", image) @ self.embed("text", text).T  # (n, n)
        logits = logits * self.logit_scale.clamp(max=math.log(100.0)).exp()
        labels = same / same.sum(dim=1, keepdim=True)  # (n, n), rows sum to 1
        return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels.T)) / 2


def same_caption(captions: list[str]) -> torch.Tensor:
    """Return (n, n) float32: 1 where two captions are identical (diagonal included)."""
    codes = torch.as_tensor(np.unique(np.asarray(captions), return_inverse=True)[1].ravel())
    return (codes[:, None] == codes[None, :]).float()


def top1(heads: JointHeads, image: torch.Tensor, text: torch.Tensor, captions: list[str]) -> float:
    """Image -> caption retrieval top-1 (a hit when the retrieved caption is the true text)."""
    with torch.no_grad():
        scores = heads.embed("image", image) @ heads.embed("text", text).T  # (n, n)
    best = scores.argmax(dim=1).numpy()
    return float(np.mean(np.asarray(captions)[best] == np.asarray(captions)))


def fit_heads(image: np.ndarray, text: np.ndarray, captions: list[str], train: np.ndarray,
              val: np.ndarray, cfg: HeadsConfig, seed: int) -> tuple[JointHeads, dict]:
    """Fit the heads on the training pairs; keep the epoch of lowest validation loss.

    Parameters
    ----------
    image, text : ndarray, shapes (n_stimuli, n_image) and (n_stimuli, n_text)
        Features of every stimulus; only the rows in ``train`` and ``val`` are read.
    captions : list of str
        The caption of every stimulus (identical captions are positives of each other).
    train, val : ndarray of int
        Row indices of the training pairs (fit) and validation pairs (early stopping).
    cfg : HeadsConfig
    seed : int
        Seeds the initial weights, dropout and the order of the batches.

    Returns
    -------
    heads : JointHeads
        In eval mode, with the weights of the best validation epoch.
    info : dict
        best_epoch, epochs, val_loss, val_top1, temperature.
    """
    start = time.perf_counter()
    pick = {"train": train, "val": val}
    x = {name: torch.from_numpy(image[rows]).float() for name, rows in pick.items()}
    y = {name: torch.from_numpy(text[rows]).float() for name, rows in pick.items()}
    words = {name: [captions[i] for i in rows] for name, rows in pick.items()}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        heads = JointHeads(image.shape[1], text.shape[1], cfg)
        for side, features in (("image", x["train"]), ("text", y["train"])):
            getattr(heads, f"{side}_mean").copy_(features.mean(dim=0))
            getattr(heads, f"{side}_std").copy_(features.std(dim=0).clamp(min=1e-6))
        optimizer = torch.optim.AdamW(heads.parameters(), lr=cfg.lr,
                                      weight_decay=cfg.weight_decay)
        order = torch.Generator().manual_seed(seed)
        same_val = same_caption(words["val"])
        best = (math.inf, 0, {key: v.clone() for key, v in heads.state_dict().items()})
        epoch = 0
        for epoch in range(1, cfg.max_epochs + 1):
            heads.train()
            permutation = torch.randperm(len(train), generator=order)
            for batch in permutation.split(cfg.batch_size):
                if len(batch) < 2:
                    continue
                batch_words = [words["train"][i] for i in batch.tolist()]
                loss = heads.loss(x["train"][batch], y["train"][batch], same_caption(batch_words))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            heads.eval()
            with torch.no_grad():
                val_loss = float(heads.loss(x["val"], y["val"], same_val))
            if val_loss < best[0]:
                best = (val_loss, epoch, {key: v.clone() for key, v in heads.state_dict().items()})
            elif epoch - best[1] >= cfg.patience:
                break
    heads.load_state_dict(best[2])
    heads.eval()
    info = {
        "best_epoch": best[1], "epochs": epoch, "val_loss": round(best[0], 6),
        "val_top1": top1(heads, x["val"], y["val"], words["val"]),
        "temperature": float(1.0 / heads.logit_scale.detach().clamp(max=math.log(100.0)).exp()),
    }  # no timing: it lands in the targets' info.json, the same bytes on every run
    logger.info("joint heads: best epoch %d of %d, val loss %.4f, val image->caption top-1 %.3f "
                "in %.1f s", info["best_epoch"], info["epochs"], info["val_loss"],
                info["val_top1"], time.perf_counter() - start)
    return heads, info
