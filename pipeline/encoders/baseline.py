"""The baseline run: fit the linear encoder and predict its val/test latents."""

from __future__ import annotations

from pathlib import Path

from pipeline.encoders.options import BaselineConfig, TrainConfig
from pipeline.encoders.predict import predict_latents
from pipeline.encoders.train import fit_encoder
from pipeline.io import atomic_output_dir


def fit_baseline(
    cfg: BaselineConfig,
    preprocessed_dir: str | Path,
    targets_dir: str | Path,
    model_dir: str | Path,
    predictions_dir: str | Path,
) -> dict:
    """Fit the baseline encoder (stage contract 4) and predict val/test trials (contract 5).

    Each output directory is written atomically. The baseline runs with the default
    :class:`TrainConfig` (seed 0, rescaled predictions); a closed-form encoder such as
    ridge uses none of its optimiser settings.

    Parameters
    ----------
    cfg : BaselineConfig
        The ``baseline`` section: encoder name and options.
    preprocessed_dir, targets_dir : str or Path
        Stage contracts 2 and 3.
    model_dir, predictions_dir : str or Path
        Where the fitted model and its predictions go.

    Returns
    -------
    dict
        ``{"train": <train.json summary>, "predict": <prediction summary>}``.
    """
    with atomic_output_dir(model_dir) as out:
        summary = fit_encoder(
            cfg.encoder, cfg.options, TrainConfig(), preprocessed_dir, targets_dir, out
        )
    with atomic_output_dir(predictions_dir) as out:
        predicted = predict_latents(model_dir, preprocessed_dir, out)
    return {"train": summary, "predict": predicted}
