"""The ``sd_ip_adapter`` image generator, with tiny random-weight SD / SDXL pipelines, image
encoder and IP-Adapter weights from disk."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from pipeline.errors import ParamsError
from pipeline.generators.image.embedding_map import image_embeddings
from pipeline.generators.image.sd_ip_adapter import SDIPAdapterGenerator, load, per_image_embeds

diffusers = pytest.importorskip("diffusers")
PIPELINE_DEVICE = os.environ.get("BRAINRECON_TEST_DEVICE", "cpu")  # "cuda": check the GPU path
transformers = pytest.importorskip("transformers")

EMBED = 32  # CLIP image embedding (projection) dimension
WEIGHTS = "ip-adapter_tiny.safetensors"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def text_config(**changes) -> transformers.CLIPTextConfig:
    return transformers.CLIPTextConfig(vocab_size=64, hidden_size=32, intermediate_size=37,
                                       num_hidden_layers=1, num_attention_heads=4,
                                       max_position_embeddings=16, projection_dim=EMBED,
                                       **changes)


def tiny_vae() -> diffusers.AutoencoderKL:
    """A VAE with one downsampling (scale factor 2): an 8 px latent is a 16 px image."""
    return diffusers.AutoencoderKL(block_out_channels=(32, 64), latent_channels=4,
                                   down_block_types=("DownEncoderBlock2D",) * 2,
                                   up_block_types=("UpDecoderBlock2D",) * 2,
                                   sample_size=16).eval()


def ip_adapter_weights(unet, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Random plain IP-Adapter weights as diffusers' load_ip_adapter reads them for ``unet``.

    ``image_proj.proj`` maps a CLIP embedding (EMBED) to 4 tokens of the UNet's
    cross-attention width, then ``image_proj.norm``; ``ip_adapter.<k>.to_k_ip`` and
    ``to_v_ip`` (k = 1, 3, 5, ... over the cross-attention processors in the UNet's order)
    have the shapes of that attention's ``to_k``; their scale is four times the usual so that
    the adapter visibly steers the tiny random UNet.
    """
    width = unet.config.cross_attention_dim
    tensors = {"image_proj.proj.weight": torch.randn(4 * width, EMBED, generator=generator),
               "image_proj.proj.bias": torch.zeros(4 * width),
               "image_proj.norm.weight": torch.ones(width),
               "image_proj.norm.bias": torch.zeros(width)}
    cross = [name for name in unet.attn_processors if name.endswith("attn2.processor")]
    for key_id, name in zip(range(1, 2 * len(cross), 2), cross, strict=True):
        shape = unet.get_submodule(name.removesuffix(".processor")).to_k.weight.shape
        for proj in ("to_k_ip", "to_v_ip"):
            tensors[f"ip_adapter.{key_id}.{proj}.weight"] = torch.randn(
                shape, generator=generator) * 4 / shape[1] ** 0.5
    return tensors


def save_adapter(folder: Path, unet) -> Path:
    """Write IP-Adapter weights for ``unet`` and a tiny CLIP image encoder in diffusers'
    layout (``models/<weights>``, ``models/image_encoder``); returns ``folder``."""
    generator = torch.Generator().manual_seed(1)
    (folder / "models").mkdir(parents=True)
    save_file(ip_adapter_weights(unet, generator), str(folder / "models" / WEIGHTS))
    vision = transformers.CLIPVisionConfig(image_size=32, patch_size=8, hidden_size=32,
                                           intermediate_size=37, num_hidden_layers=1,
                                           num_attention_heads=4, projection_dim=EMBED)
    encoder = transformers.CLIPVisionModelWithProjection(vision).eval()
    encoder.save_pretrained(folder / "models" / "image_encoder", safe_serialization=True)
    return folder


@pytest.fixture(scope="module")
def sd_dirs(tmp_path_factory, tiny_tokenizer) -> tuple[Path, Path]:
    """A random tiny StableDiffusionPipeline (16 px output) and its IP-Adapter folder."""
    folder = tmp_path_factory.mktemp("tiny_sd")
    torch.manual_seed(0)
    unet = diffusers.UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, block_out_channels=(32, 64),
        layers_per_block=1, down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=32,
        attention_head_dim=(2, 4)).eval()
    pipe = diffusers.StableDiffusionPipeline(
        vae=tiny_vae(), text_encoder=transformers.CLIPTextModel(text_config()).eval(),
        tokenizer=tiny_tokenizer, unet=unet,
        scheduler=diffusers.DDIMScheduler(steps_offset=1, clip_sample=False),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(folder / "pipeline", safe_serialization=True)
    return folder / "pipeline", save_adapter(folder / "ip_adapter", unet)


def options(pipeline: Path, adapter: Path, **changes):
    return SDIPAdapterGenerator.parse_options(
        {"path": str(pipeline), "ip_adapter_path": str(adapter),
         "ip_adapter_weight_name": WEIGHTS, "batch_size": 8, "device": PIPELINE_DEVICE,
         **changes})


@pytest.fixture(scope="module")
def fitted(sd_dirs, stimulus_set) -> SDIPAdapterGenerator:
    return SDIPAdapterGenerator.fit(options(*sd_dirs), stimulus_set.split("train"),
                                    stimulus_set.split("val"), seed=0)


def sampling(**changes):
    return SDIPAdapterGenerator.parse_sampling({"steps": 2, "guidance_scale": 3.0, **changes})


def test_sd_ip_adapter_map_reaches_the_encoders_embeddings(fitted, stimulus_set):
    pipe, processor = load(fitted.options)
    train = stimulus_set.split("train")
    truth = image_embeddings(pipe.image_encoder, processor, train.images(32), 8)
    mapped = fitted.embedding_map(fitted.scaler(train.latents))  # (n, EMBED)
    assert mapped.shape == truth.shape == (len(train), EMBED)
    # the map explains the embeddings better than their mean does
    assert np.mean((mapped - truth) ** 2) < 0.9 * np.mean((truth - truth.mean(0)) ** 2)


def test_sd_ip_adapter_generates_deterministically_and_round_trips(fitted, stimulus_set,
                                                                  tmp_path):
    latents = stimulus_set.split("test").latents[:3]
    images = fitted.generate(latents, sampling(), seed=1).images
    assert images.shape == (3, 16, 16, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(images, fitted.generate(latents, sampling(), seed=1).images)
    alone = fitted.generate(latents, sampling(batch_size=1), seed=1).images  # float rounding only
    assert np.abs(images.astype(int) - alone).max() <= 1
    assert not np.array_equal(images, fitted.generate(latents, sampling(), seed=2).images)
    fitted.save(tmp_path / "gen")
    assert not [p for p in (tmp_path / "gen").rglob("*") if p.suffix in {".bin", ".pt", ".pkl"}]
    loaded = SDIPAdapterGenerator.load(tmp_path / "gen")
    np.testing.assert_array_equal(images, loaded.generate(latents, sampling(), seed=1).images)
    wide = fitted.generate(latents[:1], sampling(image_size=24), seed=1).images
    assert wide.shape == (1, 24, 24, 3)


def test_sd_ip_adapter_images_follow_the_latents(fitted, stimulus_set):
    """Same seed, other latents: other images, through the adapter alone (the prompt is the
    same), with and without guidance; at adapter scale 0 the latents no longer matter."""
    latents = stimulus_set.split("test").latents[:2]
    swapped = latents[::-1]
    for guidance in (3.0, 1.0):
        first = fitted.generate(latents, sampling(guidance_scale=guidance), seed=1).images
        second = fitted.generate(swapped, sampling(guidance_scale=guidance), seed=1).images
        assert np.abs(first.astype(int) - second).max() > 4  # batching changes 1 at most
    off = sampling(ip_adapter_scale=0.0)
    np.testing.assert_array_equal(fitted.generate(latents, off, seed=1).images,
                                  fitted.generate(swapped, off, seed=1).images)


@pytest.mark.parametrize("option", ["path", "ip_adapter_path", "image_encoder_path"])
def test_sd_ip_adapter_missing_folder_names_the_option(option, sd_dirs, stimulus_set, tmp_path):
    missing = tmp_path / "nowhere"
    opts = options(*sd_dirs, **{option: str(missing)})
    with pytest.raises(ParamsError, match=rf"sd_ip_adapter\.{option}: folder '{missing}' "
                       "not found") as error:
        SDIPAdapterGenerator.fit(opts, stimulus_set.split("train"), stimulus_set.split("val"),
                                 seed=0)
    assert "\n" not in str(error.value)


def test_sd_ip_adapter_missing_weight_file_names_it(sd_dirs, stimulus_set):
    opts = options(*sd_dirs, ip_adapter_weight_name="ip-adapter_sd15.bin")
    with pytest.raises(ParamsError, match=r"without models/ip-adapter_sd15\.bin; expected "
                       "IP-Adapter weights"):
        SDIPAdapterGenerator.fit(opts, stimulus_set.split("train"), stimulus_set.split("val"),
                                 seed=0)
    with pytest.raises(ValueError, match="ip_adapter_scale"):
        SDIPAdapterGenerator.parse_sampling({"ip_adapter_scale": -1})


def test_sd_ip_adapter_refuses_a_foreign_encoder(sd_dirs, tmp_path):
    vision = transformers.CLIPVisionConfig(image_size=32, patch_size=8, hidden_size=32,
                                           intermediate_size=37, num_hidden_layers=1,
                                           num_attention_heads=4, projection_dim=16)
    transformers.CLIPVisionModelWithProjection(vision).save_pretrained(tmp_path / "encoder")
    with pytest.raises(ParamsError, match=r"image_encoder_path: .* embeds images in 16 "
                       r"dimensions; the adapter .* expects 32"):
        load(options(*sd_dirs, image_encoder_path=str(tmp_path / "encoder")))


def test_per_image_embeds_wants_one_row_per_image():
    """The pipelines' hook gets the embeddings unrepeated, and only with the right rows."""
    embeds = torch.ones(4, 1, EMBED)  # [negative; positive] for 2 images
    assert per_image_embeds(None, [embeds], "cpu", 2, True)[0] is embeds
    with pytest.raises(ValueError, match="expected one embedding tensor of 2 rows for 2 images"):
        per_image_embeds(None, [embeds], "cpu", 2, False)


def test_sd_ip_adapter_xl(tmp_path, tiny_tokenizer, stimulus_set):
    """The same generator drives Stable Diffusion XL (two text encoders, time conditioning)."""
    torch.manual_seed(0)
    unet = diffusers.UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, block_out_channels=(32, 64),
        layers_per_block=1, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), attention_head_dim=(2, 4),
        use_linear_projection=True, addition_embed_type="text_time", addition_time_embed_dim=8,
        projection_class_embeddings_input_dim=6 * 8 + EMBED,  # 6 size/crop ids + pooled text
        cross_attention_dim=64).eval()  # both text encoders' widths
    pipe = diffusers.StableDiffusionXLPipeline(
        vae=tiny_vae(), text_encoder=transformers.CLIPTextModel(text_config()).eval(),
        text_encoder_2=transformers.CLIPTextModelWithProjection(text_config()).eval(),
        tokenizer=tiny_tokenizer, tokenizer_2=tiny_tokenizer, unet=unet,
        scheduler=diffusers.EulerDiscreteScheduler())
    pipe.save_pretrained(tmp_path / "pipeline", safe_serialization=True)
    adapter = save_adapter(tmp_path / "ip_adapter", unet)
    fitted = SDIPAdapterGenerator.fit(options(tmp_path / "pipeline", adapter, xl=True),
                                      stimulus_set.split("train"), stimulus_set.split("val"),
                                      seed=0)
    latents = stimulus_set.split("test").latents[:2]
    images = fitted.generate(latents, sampling(), seed=1).images
    assert images.shape == (2, 16, 16, 3)
    np.testing.assert_array_equal(images, fitted.generate(latents, sampling(), seed=1).images)
    assert not np.array_equal(images, fitted.generate(latents[::-1], sampling(), seed=1).images)
    with pytest.raises(ParamsError, match=r"sd_ip_adapter\.xl: .* holds a "
                       "StableDiffusionXLPipeline; expected a StableDiffusionPipeline"):
        load(options(tmp_path / "pipeline", adapter))
