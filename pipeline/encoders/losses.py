"""Training losses (a registry of terms, summed with weights) and the retrieval score.

Every term takes predicted and target latents (N, D) and the stimulus of each row (N,);
rows that show the same stimulus (repetitions, other subjects) are positives of each
other. Under DDP the Lightning module gathers the rows of every process before calling
the loss, so the negatives do not depend on the number of processes.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from pipeline.registry import Registry

if TYPE_CHECKING:
    from pipeline.encoders.options import LossConfig

LOSSES: Registry[type[LossTerm]] = Registry("loss")
MAX_LOGIT_SCALE = math.log(100.0)  # the learnable inverse temperatures stay below 100


def cosine_logits(pred: torch.Tensor, target: torch.Tensor, logit_scale: torch.Tensor
                  ) -> torch.Tensor:
    """``exp(logit_scale)`` times the cosine similarity of every pred row to every target row.

    Returns
    -------
    Tensor, shape (N, N)
    """
    scale = logit_scale.clamp(max=MAX_LOGIT_SCALE).exp()
    return scale * F.normalize(pred, dim=1) @ F.normalize(target, dim=1).T


def clip_loss(
    pred: torch.Tensor, target: torch.Tensor, stimulus: torch.Tensor, logit_scale: torch.Tensor
) -> torch.Tensor:
    """Symmetric InfoNCE (CLIP) between predicted and target latents, on cosine similarity.

    Rows that show the same stimulus are all positives of each other, so a batch with
    repeated stimuli has no false negatives; with unique stimuli this is the usual CLIP loss.

    Parameters
    ----------
    pred, target : Tensor, shape (N, D)
        Predicted and target latents.
    stimulus : Tensor of int, shape (N,)
        The stimulus of each row.
    logit_scale : Tensor, scalar
        Log of the inverse temperature (clamped at log 100).

    Returns
    -------
    Tensor, scalar
        Mean of the brain -> latent and latent -> brain cross-entropies.
    """
    logits = cosine_logits(pred, target, logit_scale)  # (N, N)
    positive = stimulus[:, None] == stimulus[None, :]  # (N, N)
    masked = logits.masked_fill(~positive, float("-inf"))  # (N, N)
    brain_to_latent = torch.logsumexp(masked, dim=1) - torch.logsumexp(logits, dim=1)  # (N,)
    latent_to_brain = torch.logsumexp(masked, dim=0) - torch.logsumexp(logits, dim=0)  # (N,)
    return -(brain_to_latent.mean() + latent_to_brain.mean()) / 2


def siglip_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    stimulus: torch.Tensor,
    logit_scale: torch.Tensor,
    bias: torch.Tensor,
) -> torch.Tensor:
    """Sigmoid pairwise loss (SigLIP, Zhai et al. 2023) on cosine similarity.

    Every (pred, target) pair is a binary problem: positive when both rows show the same
    stimulus, negative otherwise; the loss sums ``-log sigmoid(±(scale * cos + bias))``
    over the pairs and divides by the number of rows, as in the paper.

    Parameters
    ----------
    pred, target : Tensor, shape (N, D)
        Predicted and target latents.
    stimulus : Tensor of int, shape (N,)
        The stimulus of each row.
    logit_scale, bias : Tensor, scalar
        Log of the inverse temperature (clamped at log 100) and the logit bias.

    Returns
    -------
    Tensor, scalar
    """
    logits = cosine_logits(pred, target, logit_scale) + bias  # (N, N)
    sign = 2.0 * (stimulus[:, None] == stimulus[None, :]).to(logits.dtype) - 1.0  # (N, N)
    return -F.logsigmoid(sign * logits).sum() / len(pred)


class LossTerm(nn.Module):
    """One registered loss term: ``term(pred (N, D), target (N, D), stimulus (N,))`` -> scalar.

    Subclasses are built from the ``train.loss`` section and may own learnable parameters
    (temperature, bias), which are trained without weight decay.
    """

    def __init__(self, cfg: LossConfig) -> None:
        super().__init__()

    def report(self) -> dict[str, float]:
        """Values worth a column in the training history (temperatures, biases)."""
        return {}


@LOSSES.register("clip")
class ClipLoss(LossTerm):
    """:func:`clip_loss` with a learnable temperature initialised at ``temperature``."""

    def __init__(self, cfg: LossConfig) -> None:
        super().__init__(cfg)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / cfg.temperature)))

    def forward(self, pred: torch.Tensor, target: torch.Tensor, stimulus: torch.Tensor
                ) -> torch.Tensor:
        return clip_loss(pred, target, stimulus, self.logit_scale)

    def report(self) -> dict[str, float]:
        return {"temperature": _temperature(self.logit_scale)}


@LOSSES.register("siglip")
class SiglipLoss(LossTerm):
    """:func:`siglip_loss` with a learnable temperature and bias (``siglip_bias``)."""

    def __init__(self, cfg: LossConfig) -> None:
        super().__init__(cfg)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / cfg.temperature)))
        self.bias = nn.Parameter(torch.tensor(float(cfg.siglip_bias)))

    def forward(self, pred: torch.Tensor, target: torch.Tensor, stimulus: torch.Tensor
                ) -> torch.Tensor:
        return siglip_loss(pred, target, stimulus, self.logit_scale, self.bias)

    def report(self) -> dict[str, float]:
        return {"siglip_temperature": _temperature(self.logit_scale),
                "siglip_bias": float(self.bias.detach())}


@LOSSES.register("mse")
class MseLoss(LossTerm):
    """Mean squared error between predicted and (standardised) target latents."""

    def forward(self, pred: torch.Tensor, target: torch.Tensor, stimulus: torch.Tensor
                ) -> torch.Tensor:
        return F.mse_loss(pred, target)


def _temperature(logit_scale: torch.Tensor) -> float:
    return float(torch.exp(-logit_scale.detach().clamp(max=MAX_LOGIT_SCALE)))


class WeightedLoss(nn.Module):
    """The training loss: ``sum(weight * term)`` over the terms of positive weight.

    Parameters
    ----------
    cfg : LossConfig
        ``weights`` (loss name -> weight; the names are keys of ``LOSSES``) and the initial
        values of the terms' learnable parameters.
    """

    def __init__(self, cfg: LossConfig) -> None:
        super().__init__()
        self.weights = {name: weight for name, weight in cfg.weights.items() if weight > 0}
        self.terms = nn.ModuleDict({name: LOSSES.get(name)(cfg) for name in self.weights})

    def forward(self, pred: torch.Tensor, target: torch.Tensor, stimulus: torch.Tensor
                ) -> torch.Tensor:
        """(N, D), (N, D), (N,) -> the weighted sum of the terms, a scalar."""
        return sum(
            weight * self.terms[name](pred, target, stimulus)
            for name, weight in self.weights.items()
        )

    def report(self) -> dict[str, float]:
        """The terms' history values, merged."""
        return {key: value for term in self.terms.values() for key, value in term.report().items()}


def retrieval_ranks(
    pred: torch.Tensor, target: torch.Tensor, stimulus: torch.Tensor
) -> torch.Tensor:
    """Rank of each row's true stimulus among the distinct stimuli of the set (cosine).

    Parameters
    ----------
    pred, target : Tensor, shape (N, D)
        Predicted and target latents, one row per trial.
    stimulus : Tensor of int, shape (N,)
        The stimulus of each row; the candidates are its distinct values.

    Returns
    -------
    Tensor of int, shape (N,)
        0 when the true stimulus scores highest (top-1), up to n_candidates - 1.
    """
    codes, column = torch.unique(stimulus, return_inverse=True)
    candidates = target.new_zeros(len(codes), target.shape[1])  # (K, D)
    candidates[column] = target
    scores = F.normalize(pred, dim=1) @ F.normalize(candidates, dim=1).T  # (N, K)
    true = scores.gather(1, column[:, None])  # (N, 1)
    return (scores > true).sum(dim=1)
