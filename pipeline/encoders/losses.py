"""Training losses and the retrieval score used to select models on validation trials."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def clip_loss(
    pred: torch.Tensor, target: torch.Tensor, stimulus: torch.Tensor, logit_scale: torch.Tensor
) -> torch.Tensor:
    """Symmetric InfoNCE (CLIP) between predicted and target latents, on cosine similarity.

    Rows that show the same stimulus (repetitions, other subjects) are all positives of
    each other, so a batch with repeated stimuli has no false negatives; with unique
    stimuli this is the usual CLIP loss.

    Parameters
    ----------
    pred, target : Tensor, shape (B, D)
        Predicted and target latents.
    stimulus : Tensor of int, shape (B,)
        The stimulus of each row.
    logit_scale : Tensor, scalar
        Log of the inverse temperature.

    Returns
    -------
    Tensor, scalar
        Mean of the brain -> latent and latent -> brain cross-entropies.
    """
    logits = logit_scale.exp() * F.normalize(pred, dim=1) @ F.normalize(target, dim=1).T  # (B, B)
    positive = stimulus[:, None] == stimulus[None, :]  # (B, B)
    masked = logits.masked_fill(~positive, float("-inf"))  # (B, B)
    brain_to_latent = torch.logsumexp(masked, dim=1) - torch.logsumexp(logits, dim=1)  # (B,)
    latent_to_brain = torch.logsumexp(masked, dim=0) - torch.logsumexp(logits, dim=0)  # (B,)
    return -(brain_to_latent.mean() + latent_to_brain.mean()) / 2


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
