"""A gradient-trained encoder blended with the closed-form ridge map, weighted on validation.

Both maps are fitted on the training trials; their standardised predictions are normalised
(retrieval scores cosines) and mixed as ``(1 - w) * learned + w * ridge``, ``w`` chosen from
``BLEND_WEIGHTS`` by the mean retrieval rank of the validation trials. ``w = 1`` is the
ridge baseline and ``w = 0`` the learned encoder, so on the validation trials the blend
ranks at least as well as either. Fitting the ridge map after training, rather than
training on top of it, keeps it out of the learned branch's training signal: fitted on the
same trials, it nearly memorises them, and a residual trained on top learns little.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pipeline.encoders.losses import retrieval_ranks
from pipeline.encoders.predict import predict_rows
from pipeline.encoders.ridge import RidgeEncoder

if TYPE_CHECKING:
    from pipeline.encoders.datamodule import EncoderData

BLEND_WEIGHTS = tuple(np.round(np.linspace(0.0, 1.0, 11), 2))


class RidgeBlend(nn.Module):
    """The ridge half of a blend, and the weight of the ridge map (0 until fitted).

    Parameters
    ----------
    n_chans, n_times, sfreq, n_outputs, n_subjects, chs_pos
        The encoder's signal arguments (see :class:`~pipeline.encoders.ridge.RidgeEncoder`).
    """

    def __init__(self, n_chans, n_times, sfreq, n_outputs, n_subjects, chs_pos) -> None:
        super().__init__()
        with torch.random.fork_rng(devices=[]):  # the learned encoder's draws stay the same
            self.ridge = RidgeEncoder(n_chans, n_times, sfreq, n_outputs, n_subjects,
                                      chs_pos).requires_grad_(False)
        self.register_buffer("weight", torch.zeros(()))

    def forward(self, learned: torch.Tensor, x: torch.Tensor, subject: torch.Tensor
                ) -> torch.Tensor:
        """Blend the learned prediction (B, D) with the ridge map's of epochs x (B, C, T)."""
        if float(self.weight) == 0.0:
            return learned
        ridge = self.ridge(x, subject)
        return (1 - self.weight) * F.normalize(learned, dim=1) + self.weight * F.normalize(
            ridge, dim=1)

    def fit(self, encoder: nn.Module, data: EncoderData) -> dict[str, Any]:
        """Fit the ridge map on the training trials, then the weight on the validation trials.

        Parameters
        ----------
        encoder : nn.Module
            The trained encoder this blend belongs to; with the weight at 0 it predicts
            with its learned branch alone.
        data : EncoderData
            Train and validation trials (the test split is not read).

        Returns
        -------
        dict
            ``ridge_alpha``, ``ridge_weight`` and the validation mean rank of each weight.
        """
        train, val = data.arrays("train"), data.arrays("val")
        _, selected = self.ridge.fit_closed_form(train, val)
        self.weight.zero_()
        rows = data.rows("val")
        learned_val, ridge_val = (
            F.normalize(torch.from_numpy(predict_rows(model, data.preprocessed.epochs, rows,
                                                      val.subject)), dim=1)
            for model in (encoder, self.ridge))
        target, stimulus = torch.from_numpy(val.target), torch.from_numpy(val.stimulus)
        ranks = [float(retrieval_ranks((1 - w) * learned_val + w * ridge_val, target,
                                       stimulus).double().mean()) for w in BLEND_WEIGHTS]
        best = int(np.argmin(ranks))
        self.weight.fill_(float(BLEND_WEIGHTS[best]))
        return {"ridge_alpha": selected["alpha"], "ridge_weight": float(BLEND_WEIGHTS[best]),
                "ridge_weight_val_ranks": dict(zip(map(str, BLEND_WEIGHTS), ranks, strict=True))}
