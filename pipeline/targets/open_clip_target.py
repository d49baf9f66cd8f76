"""``open_clip``: image (or caption) embeddings of an open_clip model named in params.

The model is a local folder in open_clip's own layout (``open_clip_config.json`` with
``model_cfg`` and ``preprocess_cfg``, and ``open_clip_model.safetensors``), or, where the
Hugging Face hub or its cache can be reached, ``hf-hub:<org/repo>`` or a built-in
architecture name with ``pretrained`` (a weights file or an open_clip tag). Offline, a hub
name or a tag fails with one line naming the params key.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

import pandas as pd
import torch
from pydantic import Field

from pipeline.config import Section
from pipeline.errors import ParamsError
from pipeline.io import read_rgb
from pipeline.targets.base import TargetOutput, local_folder, register_target
from pipeline.targets.options import TargetsConfig

logger = logging.getLogger(__name__)

KEY = "targets.options.open_clip"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pth", ".pt")


class OpenClipOptions(Section):
    """``targets.options.open_clip``: which open_clip model, and which of its towers."""

    model: str = Field(
        description="a local open_clip folder (open_clip_config.json + open_clip_model."
        "safetensors; optionally written 'local-dir:<folder>'), relative to the project root "
        "or absolute; or, online or with the HF cache, 'hf-hub:<org/repo>' or a built-in "
        "architecture name (e.g. ViT-B-32) with pretrained")
    pretrained: str | None = Field(
        None, description="with a built-in architecture name only: a weights file or an "
        "open_clip tag (tags are downloaded)")
    tower: Literal["image", "text"] = Field(
        "image", description="latents.npy holds the image embeddings, or the caption embeddings")
    text_latents: bool = Field(
        True, description="also write the caption embeddings as text_latents.npy (same space)")


def model_source(options: OpenClipOptions) -> tuple[str, str | None]:
    """Return open_clip's model name and pretrained argument for ``options``.

    Raises
    ------
    ParamsError
        If a local folder is missing or lacks open_clip_config.json or weights, or a built-in
        architecture is named without ``pretrained`` (it would have random weights).
    """
    import open_clip

    name = options.model
    if name.startswith("hf-hub:"):
        return name, None
    if name in open_clip.list_models():
        if options.pretrained is None:
            raise ParamsError(
                f"params.yaml {KEY}.pretrained: got None with architecture {name!r}; expected "
                "a weights file or an open_clip tag (without it the weights are random)")
        return name, options.pretrained
    folder = local_folder(name.removeprefix("local-dir:"), f"{KEY}.model",
                          "a local open_clip model folder, 'hf-hub:<org/repo>' or an "
                          "architecture name (open_clip.list_models())")
    has_weights = any(path.suffix in WEIGHT_SUFFIXES for path in folder.iterdir())
    if not (folder / "open_clip_config.json").is_file() or not has_weights:
        raise ParamsError(
            f"params.yaml {KEY}.model: folder {str(folder)!r} lacks open_clip_config.json or a "
            "weights file; expected open_clip's layout (open_clip_config.json with model_cfg, "
            "open_clip_model.safetensors)")
    return f"local-dir:{folder}", None


def load_open_clip(options: OpenClipOptions):
    """Load the model (eval, CPU), its evaluation transform and its tokenizer.

    Raises
    ------
    ParamsError
        One line naming the params key if open_clip cannot load the model (offline hub name).
    """
    import open_clip

    name, pretrained = model_source(options)
    try:
        model, _, transform = open_clip.create_model_and_transforms(
            name, pretrained=pretrained, device="cpu", pretrained_text=False)
        tokenizer = open_clip.get_tokenizer(name)
    except (OSError, RuntimeError, ValueError) as exc:
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise ParamsError(
            f"params.yaml {KEY}.model: could not load {options.model!r} ({reason}); expected a "
            "local open_clip folder, or a hub name or tag that is reachable (offline here?)"
        ) from None
    logger.info("loaded open_clip model %s", name)
    return model.eval(), transform, tokenizer


@register_target("open_clip", options=OpenClipOptions)
@torch.no_grad()
def open_clip_embeddings(cfg: TargetsConfig, stimuli_dir: Path, stimuli: pd.DataFrame
                         ) -> TargetOutput:
    """Return the unit-norm open_clip embeddings of each stimulus's image (or caption).

    Parameters
    ----------
    cfg : TargetsConfig
        Uses ``batch_size`` and ``options.open_clip`` (:class:`OpenClipOptions`).
    stimuli_dir : Path
        The study's ``stimuli/`` folder; image paths in ``stimuli`` are relative to it.
    stimuli : DataFrame
        The rows of ``stimuli.tsv`` (columns image, caption).

    Returns
    -------
    TargetOutput
        latents (n_stimuli, embed_dim), unit norm: image or caption embeddings (``tower``);
        text_latents (n_stimuli, embed_dim): the caption embeddings, if ``text_latents``.
    """
    options: OpenClipOptions = cfg.settings("open_clip")
    model, transform, tokenizer = load_open_clip(options)
    embedded = {}
    if options.tower == "text" or options.text_latents:
        captions = stimuli["caption"].fillna("").astype(str).tolist()
        embedded["text"] = torch.cat([
            model.encode_text(tokenizer(captions[start:start + cfg.batch_size]), normalize=True)
            for start in range(0, len(captions), cfg.batch_size)
        ]).numpy()  # (n, embed_dim)
    if options.tower == "image":
        paths = [stimuli_dir / name for name in stimuli["image"]]
        embedded["image"] = torch.cat([
            model.encode_image(torch.stack([transform(read_rgb(path)) for path in
                                            paths[start:start + cfg.batch_size]]), normalize=True)
            for start in range(0, len(paths), cfg.batch_size)
        ]).numpy()  # (n, embed_dim)
    return TargetOutput(latents=embedded[options.tower],
                        text_latents=embedded["text"] if options.text_latents else None,
                        info={"model": options.model, "tower": options.tower})
