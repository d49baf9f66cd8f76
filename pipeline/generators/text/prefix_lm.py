"""Captions from target latents through a prefix language model (ClipCap-style).

A mapping network turns the L2-normalised latent into ``prefix_length`` input embeddings
of a causal LM, which then writes the caption. Both are fitted by teacher forcing on the
captions of the training stimuli, with random noise on the latents (so captions stay
sensible from noisy predicted latents); the validation captions pick the best epoch.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import Field, model_validator
from safetensors.torch import load_model, save_file, save_model

from pipeline.config import Section
from pipeline.errors import DataError, ParamsError
from pipeline.generators import register_generator
from pipeline.generators.base import Generator, StimulusSet, TextOutput
from pipeline.generators.text.decoding import decode_captions
from pipeline.generators.text.language_models import LANGUAGE_MODELS, LanguageModel
from pipeline.generators.text.mapping import PrefixMapping, unit_latents
from pipeline.generators.text.training import PrefixLitModule, caption_dataset, fit_prefix
from pipeline.io import read_json, require_file, write_json
from pipeline.weights import read_weights

logger = logging.getLogger(__name__)

CONFIG, MAPPING_WEIGHTS, LM_WEIGHTS = "config.json", "mapping.safetensors", "lm.safetensors"
GENERATE_BATCH = 64  # latents decoded together


class PrefixLMOptions(Section):
    """Fitting options of ``prefix_lm`` (``generators.text.options.prefix_lm``)."""

    lm: str = Field("tiny_gpt2", description="language model: tiny_gpt2 or gemma3_270m")
    prefix_length: int = Field(4, ge=1, le=64, description="prefix embeddings per latent")
    mapping_hidden: int = Field(256, ge=4, description="hidden width of the mapping MLP")
    epochs: int = Field(80, ge=1, description="at most; the best val epoch is kept")
    patience: int = Field(10, ge=1, description="epochs without a better val loss before stopping")
    lr: float = Field(3e-3, gt=0)
    weight_decay: float = Field(0.01, ge=0)
    batch_size: int = Field(64, ge=1)
    finetune_lm: bool | None = Field(
        None, description="train the LM too; default: yes for tiny_gpt2, no for gemma3_270m"
    )
    condition_noise: float = Field(
        1.0, ge=0, description="largest noise scale on training latents (cosine >= ~0.7 at 1)"
    )
    lm_layers: int = Field(2, ge=1, le=24, description="tiny_gpt2 only: transformer blocks")
    lm_width: int = Field(64, ge=8, le=2048, description="tiny_gpt2 only: embedding width")
    lm_heads: int = Field(4, ge=1, description="tiny_gpt2 only: attention heads")

    @model_validator(mode="after")
    def _consistent(self) -> PrefixLMOptions:
        source = LANGUAGE_MODELS.get(self.lm)  # ValueError listing the names on a miss
        if self.lm_width % self.lm_heads:
            raise ValueError(f"got lm_width={self.lm_width}, lm_heads={self.lm_heads}; "
                             "expected lm_width divisible by lm_heads")
        if self.finetune_lm is False and not source.pretrained:
            raise ValueError(f"got finetune_lm=false with lm={self.lm}, which is built untrained; "
                             "expected finetune_lm true (or null)")
        return self

    @property
    def trains_lm(self) -> bool:
        """Whether the LM's weights are fitted (by default only if it is not pretrained)."""
        pretrained = LANGUAGE_MODELS.get(self.lm).pretrained
        return not pretrained if self.finetune_lm is None else self.finetune_lm


class PrefixLMSampling(Section):
    """Decoding options of ``prefix_lm`` (``generate.sampling.prefix_lm``); deterministic."""

    max_new_tokens: int = Field(24, ge=1, le=256)
    num_beams: int = Field(1, ge=1, le=16, description="beam search width; 1 is greedy")


@register_generator("prefix_lm")
class PrefixLM(Generator):
    """A ClipCap-style captioner: mapping network + causal LM (see the module docstring)."""

    kind = "text"
    Options = PrefixLMOptions
    Sampling = PrefixLMSampling

    def __init__(self, options: PrefixLMOptions, mapping: PrefixMapping, lm: LanguageModel,
                 latent_dim: int) -> None:
        self.options, self.mapping, self.lm, self.latent_dim = options, mapping, lm, latent_dim
        mapping.eval()
        lm.model.eval()  # no dropout when generating

    @classmethod
    def fit(cls, options: PrefixLMOptions, train: StimulusSet, val: StimulusSet, seed: int,
            checkpoint_dir: Path | None = None) -> PrefixLM:
        """Fit on the captions of ``train``; ``val`` selects the epoch (test is never read).

        Raises
        ------
        DataError
            If the training stimuli have no ``caption`` column or no caption.
        """
        train.require_columns(("caption",), "prefix_lm")
        captions = train.table["caption"].fillna("").astype(str).tolist()
        if not any(caption.strip() for caption in captions):
            raise DataError(f"{train.root / 'stimuli.tsv'}: got {len(captions)} training "
                            "stimuli without a caption; expected captions to learn from")
        source = LANGUAGE_MODELS.get(options.lm)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            lm = source.build(options, captions)
            center = unit_latents(torch.from_numpy(train.latents)).mean(dim=0)  # (D,)
            mapping = PrefixMapping(train.latents.shape[1], options.prefix_length, lm.embed_dim,
                                    options.mapping_hidden, lm.embed_rms(), center)
            logger.info("prefix_lm: fitting on %d captions (%d val) with %s, %d LM weights %s",
                        len(train), len(val), options.lm, lm.model.num_parameters(),
                        "trained" if options.trains_lm else "frozen")
            module = PrefixLitModule(mapping, lm, options.trains_lm, options.lr,
                                     options.weight_decay, options.condition_noise, seed)
            val_captions = val.table["caption"].fillna("").astype(str).tolist()
            fit_prefix(module, caption_dataset(mapping, lm, captions, train.latents),
                       caption_dataset(mapping, lm, val_captions, val.latents),
                       options.epochs, options.patience, options.batch_size, seed)
        return cls(options, mapping, lm, train.latents.shape[1])

    def save(self, directory: Path) -> None:
        """Write config.json, mapping.safetensors and, if fitted, lm.safetensors (+ tokenizer)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        write_json({"generator": "prefix_lm", "options": self.options.model_dump(),
                    "latent_dim": self.latent_dim, "lm": self.lm.reference}, directory / CONFIG)
        save_file(self.mapping.state_dict(), directory / MAPPING_WEIGHTS)
        if self.options.trains_lm:
            save_model(self.lm.model, str(directory / LM_WEIGHTS))
        LANGUAGE_MODELS.get(self.options.lm).save_files(self.lm, directory)

    @classmethod
    def load(cls, directory: Path) -> PrefixLM:
        """Read a generator written by :meth:`save`.

        Raises
        ------
        DataError
            If a file is missing or does not match config.json.
        """
        directory = Path(directory)
        config: dict[str, Any] = read_json(directory / CONFIG)
        try:
            options = PrefixLMOptions.model_validate(config["options"])
            latent_dim, reference = int(config["latent_dim"]), config["lm"]
        except (KeyError, TypeError, ValueError) as exc:
            message = " ".join(str(exc).split())
            raise DataError(f"{directory / CONFIG}: not a prefix_lm config ({message})") from None
        lm = LANGUAGE_MODELS.get(options.lm).restore(reference, directory)
        if options.trains_lm:
            load_model(lm.model, str(require_file(directory / LM_WEIGHTS, "the fitted LM")))
        mapping = PrefixMapping(latent_dim, options.prefix_length, lm.embed_dim,
                                options.mapping_hidden, 1.0)
        state = read_weights(directory / MAPPING_WEIGHTS, "the prefix mapping")
        try:
            mapping.load_state_dict(state)
        except RuntimeError as exc:
            raise DataError(f"{directory / MAPPING_WEIGHTS}: does not match {CONFIG} "
                            f"({str(exc).splitlines()[0]})") from None
        return cls(options, mapping, lm, latent_dim)

    def generate(self, latents: np.ndarray, sampling: PrefixLMSampling, seed: int) -> TextOutput:
        """Caption each latent (n, dim); decoding is deterministic, so ``seed`` changes nothing.

        Raises
        ------
        DataError
            If the latents are not (n, dim) with the fitted dim, or not finite.
        ParamsError
            If the tiny GPT-2 has too few positions for ``max_new_tokens``.
        """
        latents = np.asarray(latents, dtype=np.float32)  # (n, dim)
        finite = bool(np.isfinite(latents).all())
        if latents.ndim != 2 or latents.shape[1] != self.latent_dim or not finite:
            raise DataError(f"prefix_lm: got latents of shape {latents.shape} (finite: {finite}); "
                            f"expected (n, {self.latent_dim}), finite")
        needed = 1 + self.options.prefix_length + sampling.max_new_tokens
        if self.lm.max_positions is not None and needed > self.lm.max_positions:
            raise ParamsError(f"generate.sampling.prefix_lm: got max_new_tokens="
                              f"{sampling.max_new_tokens}; expected at most "
                              f"{self.lm.max_positions - 1 - self.options.prefix_length}")
        captions: list[str] = []
        for start in range(0, len(latents), GENERATE_BATCH):
            batch = torch.from_numpy(latents[start : start + GENERATE_BATCH])  # (b, dim)
            batch = self.mapping.condition(batch)
            captions += decode_captions(self.mapping, self.lm, batch, sampling.max_new_tokens,
                                        sampling.num_beams)
        return TextOutput(captions)
