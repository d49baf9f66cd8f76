"""Decoder bundles: what export writes, and what loading checks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pipeline.errors import DataError
from pipeline.serving.bundle import find_bundles, load_bundle
from pipeline.serving.export import BUNDLE_FILE, file_hashes


def test_bundle_carries_everything_a_colleague_needs(bundle_dir, tiny_study_paths):
    manifest = json.loads((bundle_dir / BUNDLE_FILE).read_text())
    assert manifest["format"] == "brainrecon-decoder-bundle" and manifest["name"] == "eeg"
    assert manifest["brainrecon_version"] == "0.1.0"
    signal = manifest["signal"]
    pre = json.loads((tiny_study_paths["preprocessed"] / "info.json").read_text())
    assert signal["ch_names"] == pre["ch_names"] and signal["sfreq"] == pre["sfreq"]
    assert signal["kind"] == "epochs" and len(signal["ch_pos"]) == signal["n_chans"]
    assert [step["fn"] for step in manifest["preprocess"]["steps"]][-3:] == \
        ["epoch", "baseline", "robust_scale"]
    assert manifest["encoder"]["name"] == "conv" and manifest["baseline"]["name"] == "ridge"
    assert manifest["target"] == {"name": "simulator", "dim": manifest["gallery"]["dim"]}
    assert manifest["gallery"]["splits"] == {"train": 24, "val": 8, "test": 8}
    assert set(manifest["generators"]) == {"image", "text", "shape"}
    assert "top1_avg2" in manifest["metrics"]["evaluate"]
    assert {"image", "text", "shape"} <= set(manifest["metrics"]["generation"])
    licences = manifest["licences"]
    assert licences["target"]["name"] == "simulator" and "data" in licences
    assert "trained by brainrecon" in licences["encoder"]
    assert manifest["files"] == file_hashes(bundle_dir)
    assert "encoder/model.safetensors" in manifest["files"]
    assert not [p for p in bundle_dir.rglob("*") if p.suffix in {".pkl", ".pt", ".ckpt"}]


def test_loaded_bundle_decodes_its_examples_like_the_predict_stage(bundle, tiny_study_paths):
    from pipeline.artifacts import read_predictions
    from pipeline.serving.decode import decode

    predictions, trials = read_predictions(tiny_study_paths["encoder"].parents[1]
                                           / "predictions" / "decoder")
    test = (trials["split"] == "test").to_numpy()
    examples = bundle.examples
    assert len(examples.trials) == int(test.sum())
    first = examples.trials.iloc[0]
    latents = decode(bundle.encoder, examples.epochs[:1], str(first["subject"]), bundle.subjects)
    np.testing.assert_allclose(latents[0], predictions[np.flatnonzero(test)[0]], rtol=1e-4,
                               atol=1e-5)


def test_a_changed_file_is_refused_naming_it(bundle_copy):
    weights = bundle_copy / "encoder" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"model\.safetensors: sha256 differs"):
        load_bundle(bundle_copy)


def test_a_missing_file_and_a_foreign_manifest_are_refused(bundle_copy):
    (bundle_copy / "gallery" / "latents.npy").unlink()
    with pytest.raises(DataError, match=r"latents\.npy: file not found"):
        load_bundle(bundle_copy)
    (bundle_copy / BUNDLE_FILE).write_text(json.dumps({"format": "other"}))
    with pytest.raises(DataError, match="not a brainrecon decoder bundle"):
        load_bundle(bundle_copy)


def test_a_manifest_cannot_point_outside_the_bundle(bundle_copy):
    manifest = json.loads((bundle_copy / BUNDLE_FILE).read_text())
    manifest["files"]["../outside.txt"] = "0" * 64
    (bundle_copy / BUNDLE_FILE).write_text(json.dumps(manifest))
    with pytest.raises(DataError, match="lies outside the bundle"):
        load_bundle(bundle_copy)


def test_bundles_are_found_in_a_folder_of_bundles(bundle_dir, tmp_path):
    assert find_bundles([bundle_dir.parent]) == {"eeg": bundle_dir}
    assert find_bundles([bundle_dir]) == {"eeg": bundle_dir}
    with pytest.raises(DataError, match="no bundle.json"):
        find_bundles([tmp_path])


def rehash(bundle: Path) -> None:
    """Update the manifest's hashes after a file of ``bundle`` was changed (as a tamperer would)."""
    manifest = json.loads((bundle / BUNDLE_FILE).read_text())
    manifest["files"] = file_hashes(bundle)
    (bundle / BUNDLE_FILE).write_text(json.dumps(manifest))


def tamper_manifest(bundle: Path) -> None:
    manifest = json.loads((bundle / BUNDLE_FILE).read_text())
    del manifest["files"]
    (bundle / BUNDLE_FILE).write_text(json.dumps(manifest))


def tamper_gallery(bundle: Path) -> None:
    np.save(bundle / "gallery" / "latents.npy", np.array([{"a": 1}], dtype=object),
            allow_pickle=True)
    rehash(bundle)


def tamper_config(bundle: Path) -> None:
    (bundle / "encoder" / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    rehash(bundle)


def tamper_weights(bundle: Path) -> None:
    weights = bundle / "encoder" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:200])
    rehash(bundle)


def tamper_signal(bundle: Path) -> None:
    manifest = json.loads((bundle / BUNDLE_FILE).read_text())
    manifest["signal"]["n_chans"] = "many"
    (bundle / BUNDLE_FILE).write_text(json.dumps(manifest))


@pytest.mark.parametrize(("tamper", "message"), [
    (tamper_manifest, r"bundle\.json: files: Field required"),
    (tamper_gallery, r"latents\.npy: dtype object holds Python objects"),
    (tamper_config, r"config\.json: JSON nested too deeply"),
    (tamper_weights, r"model\.safetensors: not a readable safetensors file"),
    (tamper_signal, r"bundle\.json: signal\.n_chans: Input should be a valid integer"),
])
def test_files_tampered_behind_their_hashes_are_refused_naming_the_file(bundle_copy, tamper,
                                                                         message, capsys):
    from pipeline.cli import main

    tamper(bundle_copy)
    with pytest.raises(DataError, match=message):
        load_bundle(bundle_copy)
    with pytest.raises(SystemExit) as exited:
        main(["evaluate", "--bundle", str(bundle_copy), "--data", str(bundle_copy),
              "--out", str(bundle_copy.parent / "out")])
    error = capsys.readouterr().err.strip()
    assert exited.value.code == 1 and len(error.splitlines()) == 1
    assert error.startswith("brainrecon: error: ") and "Traceback" not in error
