"""Start an encoder from the pretrain stage's backbone (``train.init: pretrained``).

The pretrain stage (``pipeline.pretrain``) writes ``backbone.safetensors`` (every weight of
the patch transformer but its head), ``config.json`` and ``pretrain.json`` into its
directory; this module reads them back into a freshly built encoder.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from pipeline.errors import DataError, ParamsError
from pipeline.io import read_json, require_file

logger = logging.getLogger(__name__)

BACKBONE_FILE = "backbone.safetensors"
TOKENIZER_FILE = "tokenizer.safetensors"
CONFIG_FILE = "config.json"
SUMMARY_FILE = "pretrain.json"
PRETRAINABLE = "patch_transformer"  # the encoder the pretrain stage trains


def _check_shapes(
    state: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], path: Path
) -> None:
    """Raise a DataError naming ``path`` if ``state`` does not fit ``expected`` key by key."""
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise DataError(
            f"{path}: missing weights {missing[:3]}, unexpected weights {unexpected[:3]}; "
            f"expected the backbone of a {PRETRAINABLE} with the train options"
        )
    for key, value in expected.items():
        if state[key].shape != value.shape:
            raise DataError(
                f"{path}: {key} has shape {tuple(state[key].shape)}; expected "
                f"{tuple(value.shape)} (the train options, patch length or epoch length "
                "differ from pretraining)"
            )


def load_pretrained(
    encoder: torch.nn.Module,
    name: str,
    options: dict[str, Any],
    pretrained_dir: str | Path | None,
    freeze: bool,
) -> dict[str, Any]:
    """Copy the pretrained backbone into ``encoder``; optionally freeze it.

    Parameters
    ----------
    encoder : PatchTransformer
        A freshly built encoder; its backbone weights are replaced in place.
    name : str
        The encoder's registered name (must be ``patch_transformer``).
    options : dict
        The encoder's parsed options (compared with the pretrained ones).
    pretrained_dir : str or Path or None
        The pretrain stage's output directory.
    freeze : bool
        Set ``requires_grad`` False on every backbone parameter (only the head trains).

    Returns
    -------
    dict
        ``init``, ``pretrain_method``, ``frozen`` and the number of weights loaded, for
        ``train.json``.

    Raises
    ------
    ParamsError
        If the encoder is not a patch transformer, no directory was given, or the
        pretrain stage ran with method ``none``.
    DataError
        If a file is missing or a weight's shape does not match the encoder.
    """
    if name != PRETRAINABLE:
        raise ParamsError(
            f"train.init: got 'pretrained' with encoder {name!r}; expected encoder "
            f"{PRETRAINABLE!r} (the only one the pretrain stage trains)"
        )
    if pretrained_dir is None:
        raise ParamsError(
            "train.init: got 'pretrained' without a pretrained directory; expected "
            "stages/train.py --pretrained DIR (the pretrain stage's output)"
        )
    pretrained_dir = Path(pretrained_dir)
    summary = read_json(pretrained_dir / SUMMARY_FILE)
    if summary.get("method", "none") == "none":
        raise ParamsError(
            f"{pretrained_dir / SUMMARY_FILE}: got pretrain method 'none' (no backbone); "
            "expected pretrain.method codebook or mae when train.init is pretrained"
        )
    config = read_json(pretrained_dir / CONFIG_FILE)
    if config.get("options") != options:
        logger.warning(
            "the %s options differ from those it was pretrained with (%s); loading the "
            "weights whose shapes match", name, pretrained_dir / CONFIG_FILE,
        )
    path = require_file(pretrained_dir / BACKBONE_FILE, "pretrained backbone weights")
    state = load_file(str(path))
    _check_shapes(state, encoder.backbone_state_dict(), path)
    encoder.load_state_dict(state, strict=False)
    if freeze:
        for param in encoder.backbone_parameters():
            param.requires_grad_(False)
    logger.info(
        "started %s from the %s-pretrained backbone %s (%s)",
        name, summary["method"], path, "frozen" if freeze else "fine-tuned",
    )
    return {
        "init": "pretrained",
        "pretrain_method": summary["method"],
        "frozen": bool(freeze),
        "n_pretrained_weights": len(state),
    }
