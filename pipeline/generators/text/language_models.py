"""The causal language models a prefix generator can speak through (LANGUAGE_MODELS registry).

Each entry is a class with ``pretrained`` (if False, its weights are always trained),
``build(options, captions)`` at fit time, ``restore(reference, directory)`` at load time
(the reference is what ``build`` recorded in ``LanguageModel.reference``), and
``save_files(lm, directory)`` for what it needs beside the weights. Trained LM weights are
saved by the generator itself (``lm.safetensors``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedModel, PreTrainedTokenizerBase

from pipeline.errors import DataError
from pipeline.generators.text.tokenizer import (
    build_word_tokenizer,
    load_word_tokenizer,
    save_word_tokenizer,
)
from pipeline.registry import Registry

LANGUAGE_MODELS: Registry = Registry("language model")
POSITIONS_BEYOND_PREFIX = 64  # caption tokens the tiny GPT-2 has positions for


@dataclass
class LanguageModel:
    """A causal LM and its tokenizer, as the prefix generator uses them.

    Attributes
    ----------
    model : PreTrainedModel
        A causal LM accepting ``inputs_embeds``.
    tokenizer : PreTrainedTokenizerBase
        With ``bos``, ``eos`` and ``pad`` token ids (pad falls back to eos).
    reference : dict
        JSON-able record from which the registry entry's ``restore`` rebuilds it.
    max_positions : int or None
        Longest sequence (BOS + prefix + tokens) the model has positions for.
    """

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    reference: dict[str, Any]
    max_positions: int | None

    @property
    def bos_id(self) -> int:
        return int(self.tokenizer.bos_token_id)

    @property
    def eos_id(self) -> int:
        return int(self.tokenizer.eos_token_id)

    @property
    def pad_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return self.eos_id if pad is None else int(pad)

    @property
    def embed_dim(self) -> int:
        return int(self.model.get_input_embeddings().embedding_dim)

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """Token ids (B, L) -> input embeddings (B, L, E), as the LM scales them."""
        return self.model.get_input_embeddings()(ids)

    @torch.no_grad()
    def embed_rms(self) -> float:
        """Root mean square of the input embeddings of every token."""
        ids = torch.arange(len(self.tokenizer), device=self.model.device)[None]  # (1, V)
        return float(self.embed(ids).pow(2).mean().sqrt())

    def encode(self, captions: list[str]) -> list[list[int]]:
        """Token ids of each caption, without special tokens, followed by EOS."""
        ids = self.tokenizer(captions, add_special_tokens=False)["input_ids"]
        return [[*row, self.eos_id] for row in ids]

    def decode(self, ids: list[int]) -> str:
        """The text of generated ids (special tokens dropped, whitespace collapsed)."""
        return " ".join(self.tokenizer.decode(ids, skip_special_tokens=True).split())


@LANGUAGE_MODELS.register("tiny_gpt2")
class TinyGPT2:
    """A small GPT-2 built from config, with a word-level tokenizer of the training captions.

    Untrained when built: it learns the captions' language together with the mapping.
    """

    pretrained = False

    @staticmethod
    def _model(config: dict[str, Any]) -> GPT2LMHeadModel:
        model = GPT2LMHeadModel(GPT2Config(**config))
        model.loss_type = "ForCausalLM"  # what transformers falls back to, minus its warning
        return model

    @classmethod
    def build(cls, options: Any, captions: list[str]) -> LanguageModel:
        """A fresh GPT-2 of ``options.lm_layers`` x ``options.lm_width`` (random weights)."""
        tokenizer = build_word_tokenizer(captions)
        config = {
            "vocab_size": len(tokenizer), "n_embd": options.lm_width,
            "n_layer": options.lm_layers, "n_head": options.lm_heads,
            "n_positions": 1 + options.prefix_length + POSITIONS_BEYOND_PREFIX,
            "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
        }  # no pad_token_id: padding is always masked here
        return LanguageModel(cls._model(config), tokenizer, {"name": "tiny_gpt2", "config": config},
                             config["n_positions"])

    @classmethod
    def restore(cls, reference: dict[str, Any], directory: Path) -> LanguageModel:
        """Rebuild the GPT-2 (weights are loaded by the caller) and read ``tokenizer.json``."""
        tokenizer = load_word_tokenizer(directory)
        config = reference["config"]
        if len(tokenizer) != config["vocab_size"]:
            raise DataError(
                f"{directory}: tokenizer.json has {len(tokenizer)} tokens; expected "
                f"{config['vocab_size']} (config.json)"
            )
        return LanguageModel(cls._model(config), tokenizer, reference, config["n_positions"])

    @classmethod
    def save_files(cls, lm: LanguageModel, directory: Path) -> None:
        """Write the word-level tokenizer (``tokenizer.json``)."""
        save_word_tokenizer(lm.tokenizer, directory)
