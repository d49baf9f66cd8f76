"""The HTTP app: decoding, generation, errors as 4xx with a message, limits and the API key."""

from __future__ import annotations

import base64
import io
import pickle

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pipeline.serving.app import create_app
from pipeline.serving.decode import decode
from pipeline.serving.export import file_hashes


def npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def client(bundle):
    return TestClient(create_app({"eeg": bundle}))


def test_health_and_listing(client, bundle):
    assert client.get("/api/health").json()["bundles"] == ["eeg"]
    (listed,) = client.get("/api/bundles").json()
    assert listed["name"] == "eeg" and listed["n_examples"] == len(bundle.examples.trials)
    assert listed["signal"]["n_chans"] == bundle.signal["n_chans"]
    shown = client.get("/api/bundles/eeg").json()
    assert shown["metrics"]["evaluate"]["top1_avg2"]["chance"] == pytest.approx(1 / 8)
    assert shown["licences"]["target"]["name"] == "simulator"


def test_decode_returns_the_bundles_latents_and_their_nearest_stimuli(client, bundle):
    epochs = bundle.examples.epochs[:3]
    subject = str(bundle.examples.trials["subject"].iloc[0])
    response = client.post("/api/bundles/eeg/decode", files={"epochs": npy(epochs)},
                           data={"subject": subject, "k": "3", "gallery": "test",
                                 "latents": "true"})
    assert response.status_code == 200, response.text
    body = response.json()
    expected = decode(bundle.encoder, epochs, subject, bundle.subjects)
    np.testing.assert_allclose(body["latents"], expected, atol=1e-5)
    assert body["subject_seen"] and [len(row) for row in body["matches"]] == [3, 3, 3]
    for row in body["matches"]:
        assert all(match["split"] == "test" for match in row)
        assert [m["score"] for m in row] == sorted((m["score"] for m in row), reverse=True)
    one = client.post("/api/bundles/eeg/decode", files={"epochs": npy(epochs[0])},
                      data={"subject": "someone-new", "model": "baseline"}).json()
    assert not one["subject_seen"] and len(one["matches"]) == 1 and one["latents"] is None


def npy_header(shape: tuple[int, ...], descr: str = "<f4", body: bytes = b"") -> bytes:
    """A .npy header declaring ``shape`` of ``descr``, followed by ``body`` only."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False,
                                                  "shape": shape})
    return buffer.getvalue() + body


def npz(array) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, epochs=array)
    return buffer.getvalue()


@pytest.mark.parametrize(("payload", "message"), [
    (npy(np.zeros((2, 3, 4), np.float32)), "shape (2, 3, 4); expected"),
    (npy(np.array([{"a": 1}], dtype=object)), "holds Python objects"),
    (b"not an array at all", "not a readable .npy array"),
    (npy(np.array(["text"])), "expected a numeric array"),
    (npy_header((10**12,), body=b"\0" * 64), "declares shape (1000000000000,) of float32 "
     "(4000000000000 bytes), but 64 bytes follow it"),
    (npy(np.zeros((2, 64, 71), np.float32))[:-10], "bytes follow it"),
    (npz(np.zeros((2, 3, 4), np.float32)), "not a readable .npy array"),
])
def test_malformed_uploads_get_422_naming_the_problem(client, payload, message):
    response = client.post("/api/bundles/eeg/decode", files={"epochs": payload})
    assert response.status_code == 422 and message in response.json()["detail"]


def test_non_finite_epochs_and_bad_form_values_are_refused(client, bundle):
    epochs = bundle.examples.epochs[:1].copy()
    epochs[0, 0, 0] = np.nan
    response = client.post("/api/bundles/eeg/decode", files={"epochs": npy(epochs)})
    assert response.status_code == 422 and "not finite" in response.json()["detail"]
    response = client.post("/api/bundles/eeg/decode", files={"epochs": npy(epochs[:, :, :])},
                           data={"k": "0"})
    assert response.status_code == 422
    assert client.post("/api/bundles/eeg/decode").status_code == 422


def test_unknown_and_malicious_bundle_names_are_4xx(client):
    response = client.get("/api/bundles/meg")
    assert response.status_code == 422 and "'eeg'" in response.text
    for name in ("..", "..%2F..%2Fetc", "%2e%2e", "a" * 200):
        assert 400 <= client.get(f"/api/bundles/{name}").status_code < 500, name


@pytest.mark.parametrize("kind", ["image", "shape"])
def test_generate_images_and_3d_views_as_png(client, bundle, kind):
    latent = bundle.examples.epochs[:1]
    latent = decode(bundle.encoder, latent, None, bundle.subjects)[0].tolist()
    body = client.post(f"/api/bundles/eeg/generate/{kind}", json={"latent": latent}).json()
    image = Image.open(io.BytesIO(base64.b64decode(body["png_base64"])))
    assert image.mode == "RGB" and min(image.size) >= 16
    if kind == "shape":
        assert body["parameters"]["shape"] in {"cube", "sphere", "cylinder", "cone", "torus",
                                               "pyramid", "capsule", "octahedron", "ellipsoid"}


def test_generated_images_go_through_the_studys_prior_as_in_the_generate_stage(client, bundle):
    from pipeline.generators.latent_prior import project_on_training

    settings = bundle.manifest["generate"]
    assert settings["latent_prior"]["kinds"] == ["image"]
    latent = decode(bundle.encoder, bundle.examples.epochs[:1], None, bundle.subjects)
    body = client.post("/api/bundles/eeg/generate/image",
                       json={"latent": latent[0].tolist()}).json()
    _, generator = bundle.generators["image"]
    sampling = generator.parse_sampling(settings["sampling"]["diffusion"])
    train = bundle.gallery.latents[bundle.gallery.rows("train")]
    projected = project_on_training(latent, train, settings["latent_prior"]["temperature"])
    expected = generator.generate_projected(latent, projected, sampling, settings["seed"])
    served = np.asarray(Image.open(io.BytesIO(base64.b64decode(body["png_base64"]))))
    np.testing.assert_array_equal(served, expected.images[0])
    assert not np.array_equal(served, generator.generate(latent, sampling,
                                                         settings["seed"]).images[0])


def test_generate_caption_and_bad_latents(client, bundle):
    dim = bundle.manifest["target"]["dim"]
    caption = client.post("/api/bundles/eeg/generate/text", json={"latent": [0.1] * dim}).json()
    assert isinstance(caption["caption"], str)
    for latent in ([0.1] * (dim - 1), [0.0] * dim):
        response = client.post("/api/bundles/eeg/generate/text", json={"latent": latent})
        assert response.status_code == 422 and f"expected {dim} finite" in response.text
    assert client.post("/api/bundles/eeg/generate/sound", json={"latent": [1.0]}).status_code \
        == 422


def test_examples_and_gallery_images(client, bundle):
    examples = client.get("/api/bundles/eeg/examples").json()
    assert len(examples) == len(bundle.examples.trials)
    decoded = client.get("/api/bundles/eeg/examples/0?k=5").json()
    assert decoded["trials"][0]["stimulus_id"] == examples[0]["stimulus_id"]
    assert len(decoded["latents"][0]) == bundle.manifest["target"]["dim"]
    assert client.get(f"/api/bundles/eeg/examples/{len(examples)}").status_code == 404
    image = client.get(f"/api/bundles/eeg/gallery/{examples[0]['stimulus_id']}/image")
    assert image.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(image.content)).size[0] > 8
    assert client.get("/api/bundles/eeg/gallery/nope/image").status_code == 404


def test_api_key_guards_everything_but_health(bundle):
    guarded = TestClient(create_app({"eeg": bundle}, api_key="s3cret"))
    assert guarded.get("/api/health").status_code == 200
    assert guarded.get("/api/bundles").status_code == 401
    assert guarded.get("/api/bundles/eeg", headers={"X-API-Key": "wrong"}).status_code == 401
    assert guarded.get("/api/bundles", headers={"X-API-Key": "s3cret"}).status_code == 200


def test_request_bodies_above_the_limit_get_413(bundle):
    small = TestClient(create_app({"eeg": bundle}, max_upload_bytes=1000))
    big = npy(np.zeros((1, 64, 64), np.float32))
    response = small.post("/api/bundles/eeg/decode", files={"epochs": big})
    assert response.status_code == 413 and "larger than 1000 bytes" in response.json()["detail"]

    def chunks():  # no Content-Length: counted as it streams
        yield b"x" * 800
        yield b"x" * 800

    response = small.post("/api/bundles/eeg/generate/text", content=chunks(),
                          headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_requests_change_nothing_on_disk(client, bundle_dir, bundle):
    before = file_hashes(bundle_dir)
    client.post("/api/bundles/eeg/decode", files={"epochs": npy(bundle.examples.epochs[:2])})
    client.post("/api/bundles/eeg/decode", files={"epochs": pickle.dumps([1, 2])})
    client.get("/api/bundles/eeg/examples/1")
    assert file_hashes(bundle_dir) == before
    assert sorted(p.name for p in bundle_dir.iterdir()) == sorted(
        ["bundle.json", "encoder", "baseline", "gallery", "generators", "examples", "metrics"])


def test_web_page_and_openapi_schema(client):
    page = client.get("/")
    assert page.status_code == 200 and 'id="matches"' in page.text
    assert client.get("/static/viewer.js").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/bundles/{name}/decode", "/api/bundles/{name}/decode_raw",
            "/api/bundles/{name}/generate/{kind}"} <= set(paths)
