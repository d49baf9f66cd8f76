"""The ``pretrain`` stage: run the configured method and write its directory."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from safetensors.torch import save_file

from pipeline.encoders.patch_transformer import PatchTransformer
from pipeline.encoders.pretrained import (
    BACKBONE_FILE,
    CONFIG_FILE,
    PRETRAINABLE,
    SUMMARY_FILE,
    TOKENIZER_FILE,
)
from pipeline.io import write_json
from pipeline.pretrain import PRETRAINERS
from pipeline.pretrain.methods import PretrainResult
from pipeline.pretrain.options import PretrainConfig
from pipeline.pretrain.plots import plot_codebook_usage

logger = logging.getLogger(__name__)

USAGE_PLOT = "codebook_usage.png"


def pretrain_study(
    cfg: PretrainConfig,
    options: dict[str, Any],
    preprocessed_dir: str | Path,
    out_dir: str | Path,
) -> dict[str, Any]:
    """Pretrain the patch transformer backbone on the unlabeled epochs of ``cfg.splits``.

    Parameters
    ----------
    cfg : PretrainConfig
        Method, seed, splits, epochs, optimiser, masking and codebook settings.
    options : dict
        The patch transformer's options (``train.encoder.options.patch_transformer``).
    preprocessed_dir : str or Path
        Stage contract 2; only the trials of ``cfg.splits`` are read, labels never.
    out_dir : str or Path
        Receives ``pretrain.json`` and, unless the method is ``none``,
        ``backbone.safetensors``, ``config.json``, ``history.csv`` and ``logs/``; the
        codebook method adds ``tokenizer.safetensors`` and ``codebook_usage.png``.

    Returns
    -------
    dict
        The ``pretrain.json`` summary: method, losses, and for the codebook method the
        final perplexity, usage and ``collapsed``; ``seconds``.

    Raises
    ------
    ParamsError
        If an option of the patch transformer is invalid.
    DataError
        If the preprocessed study is missing or malformed.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    parsed = PatchTransformer.parse_options(options).model_dump()
    start = time.perf_counter()
    result = PRETRAINERS.get(cfg.method)(cfg, parsed, Path(preprocessed_dir), out_dir / "logs")
    seconds = time.perf_counter() - start
    summary = {"method": cfg.method, **result.summary}
    if result.backbone is not None:
        summary["n_trials"] = int(len(result.data.rows))
        summary["splits"] = list(cfg.splits)
        _write_weights(result, cfg, parsed, out_dir)
    if result.code_counts is not None:
        plot_codebook_usage(
            result.code_counts, summary["perplexity"], summary["collapsed"], out_dir / USAGE_PLOT
        )
    write_json(summary, out_dir / SUMMARY_FILE)  # no timing: outputs are byte-identical
    logger.info("pretrain %s done in %.1f s", cfg.method, seconds)
    return {**summary, "seconds": round(seconds, 3)}


def _write_weights(
    result: PretrainResult, cfg: PretrainConfig, options: dict[str, Any], out_dir: Path
) -> None:
    """Write the backbone (and tokenizer) weights, their config and the history."""
    metadata = {"format": "pt"}
    save_file(result.backbone.backbone_state_dict(), str(out_dir / BACKBONE_FILE), metadata)
    if result.tokenizer is not None:
        state = {key: value.detach().cpu().contiguous()
                 for key, value in result.tokenizer.state_dict().items()}
        save_file(state, str(out_dir / TOKENIZER_FILE), metadata)
    signal = result.data.signal()
    del signal["n_outputs"]  # the head is not pretrained
    info = result.data.preprocessed.info
    config = {
        "encoder": PRETRAINABLE,
        "options": options,
        "signal": signal,
        "patch_len": result.backbone.patch_len,
        "n_patches": result.backbone.n_patches,
        "ch_names": list(info["ch_names"]),
        "subjects": result.data.subjects,
        "pretrain": cfg.model_dump(mode="json"),
    }
    write_json(config, out_dir / CONFIG_FILE)
    result.history.to_csv(out_dir / "history.csv", index=False)
