"""Prefix sequences for a causal LM, and caption decoding from them (greedy or beam search)."""

from __future__ import annotations

import torch
from transformers import GenerationConfig

from pipeline.generators.text.language_models import LanguageModel
from pipeline.generators.text.mapping import PrefixMapping

IGNORE = -100  # label of positions without a loss


def prefix_inputs(mapping: PrefixMapping, lm: LanguageModel, latents: torch.Tensor
                  ) -> torch.Tensor:
    """The BOS embedding followed by the prefix of each conditioned latent.

    Parameters
    ----------
    latents : Tensor, shape (B, D)
        Latents conditioned by ``mapping.condition``.

    Returns
    -------
    Tensor, shape (B, 1 + P, E)
    """
    bos = torch.full((len(latents), 1), lm.bos_id, device=latents.device)  # (B, 1)
    return torch.cat([lm.embed(bos), mapping(latents)], dim=1)  # (B, 1 + P, E)


def caption_loss(mapping: PrefixMapping, lm: LanguageModel, latents: torch.Tensor,
                 ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Teacher-forced cross-entropy of the caption tokens after the prefix.

    Parameters
    ----------
    latents : Tensor, shape (B, D)
        Latents conditioned by ``mapping.condition``.
    ids : Tensor of int64, shape (B, L)
        Caption token ids (ending with EOS), right-padded.
    mask : Tensor of bool, shape (B, L)
        True on real tokens.

    Returns
    -------
    Tensor
        The mean loss per predicted token (scalar).
    """
    prefix = prefix_inputs(mapping, lm, latents)  # (B, 1 + P, E)
    inputs = torch.cat([prefix, lm.embed(ids)], dim=1)  # (B, 1 + P + L, E)
    attention = torch.cat([torch.ones(prefix.shape[:2], dtype=torch.long, device=ids.device),
                           mask.long()], dim=1)  # (B, 1 + P + L)
    labels = torch.cat([torch.full(prefix.shape[:2], IGNORE, device=ids.device),
                        ids.masked_fill(~mask, IGNORE)], dim=1)  # (B, 1 + P + L)
    return lm.model(inputs_embeds=inputs, attention_mask=attention, labels=labels).loss


@torch.no_grad()
def decode_captions(mapping: PrefixMapping, lm: LanguageModel, latents: torch.Tensor,
                    max_new_tokens: int, num_beams: int) -> list[str]:
    """Decode one caption per latent, deterministically (greedy when ``num_beams`` is 1).

    Parameters
    ----------
    latents : Tensor, shape (B, D)
        Latents conditioned by ``mapping.condition``.

    Returns
    -------
    list of str
        B captions.
    """
    inputs = prefix_inputs(mapping, lm, latents)  # (B, 1 + P, E)
    config = GenerationConfig(
        max_new_tokens=max_new_tokens, num_beams=num_beams, do_sample=False,
        bos_token_id=lm.bos_id, eos_token_id=lm.eos_id, pad_token_id=lm.pad_id,
    )
    attention = torch.ones(inputs.shape[:2], dtype=torch.long, device=inputs.device)
    ids = lm.model.generate(inputs_embeds=inputs, attention_mask=attention,
                            generation_config=config)  # (B, new tokens)
    return [lm.decode(row.tolist()) for row in ids]
