"""The HTTP app: decode recordings with a bundle, generate from latents, and a web viewer.

Every route under ``/api`` reads the loaded bundles only, and none writes to disk except
``decode_raw``: it writes the uploaded recording to a private temporary folder for MNE to
read, and removes the folder before answering.
A bundle name in a path must be one of the loaded bundles' (an enumeration in the OpenAPI
schema, 422 otherwise); it is looked up among them, never joined to a filesystem path.
"""

import logging  # no postponed annotations: FastAPI reads the local Annotated dependencies
import re
from importlib.resources import files
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import (
    Depends,
    FastAPI,
    File,
    Form,
    HTTPException,
    Query,
    Request,
    Security,
    UploadFile,
)
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse
from fastapi.security import APIKeyHeader
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from pipeline.errors import BrainreconError
from pipeline.generators.latent_prior import generate_decoded
from pipeline.generators.options import LatentPriorConfig
from pipeline.npy import read_npy_bytes
from pipeline.serving.bundle import NAME_PATTERN, Bundle
from pipeline.serving.decode import (
    MAX_K,
    Match,
    as_epochs,
    decode,
    epochs_from_raw,
    read_events,
    require_raw_decoding,
    retrieve,
)
from pipeline.serving.export import brainrecon_version
from pipeline.serving.limits import BodySizeLimit
from pipeline.serving.outputs import OUTPUT_JSON
from pipeline.serving.uploads import RAW_FORMATS, Part, read_uploaded_raw

logger = logging.getLogger(__name__)

API_KEY_HEADER = "X-API-Key"
DEFAULT_MAX_UPLOAD_BYTES = 64 * 2**20
MAX_LATENT_DIM = 65536
WEB_DIR = files("pipeline.serving") / "web"

RECORDING_HELP = (f"a raw recording, by file-name extension: {', '.join(RAW_FORMATS)} "
                  "(no extension: FIF); of BrainVision and EEGLAB, the .vhdr or .set header")
COMPANIONS_HELP = ("the files the recording's header names, under exactly those names: the "
                   ".vmrk and .eeg of a .vhdr, the .fdt of a .set")

Model = Literal["decoder", "baseline"]
GallerySplit = Literal["all", "train", "val", "test"]


class DecodeOptions(BaseModel):
    """The form fields of a decode request, beside its files."""

    subject: str | None = Field(None, max_length=64, description="unseen or absent: the "
                                "average of the encoder's subject layers")
    model: Model = "decoder"
    k: int = Field(5, ge=1, le=MAX_K, description="stimuli returned per trial")
    gallery: GallerySplit = Field("all", description="the stimuli retrieved among")
    latents: bool = Field(False, description="return the decoded latents too")


class MatchOut(BaseModel):
    """One retrieved gallery stimulus."""

    stimulus_id: str
    split: str
    caption: str | None
    score: float = Field(description="cosine similarity of the decoded latent to its latent")


class DecodeOut(BaseModel):
    """Decoded trials: the top-k gallery stimuli of each, and its latent if asked for."""

    bundle: str
    model: Model
    subject: str | None
    subject_seen: bool = Field(description="false: decoded through the average subject")
    gallery: GallerySplit
    matches: list[list[MatchOut]]
    trials: list[dict[str, Any]] | None = None
    latents: list[list[float]] | None = None


class GenerateIn(BaseModel):
    """A latent of the bundle's target space to generate from."""

    latent: list[float] = Field(min_length=1, max_length=MAX_LATENT_DIM)
    seed: int | None = Field(None, ge=0, le=2**31 - 1, description="default: the bundle's")


class GenerateOut(BaseModel):
    """One generated output: an image or a 3D view (base64 PNG), a caption, 3D parameters."""

    kind: str
    generator: str
    png_base64: str | None = None
    caption: str | None = None
    parameters: dict[str, Any] | None = None


def _gallery_file(bundle: Bundle, stimulus_id: str, column: str, media_type: str
                  ) -> FileResponse:
    """The gallery file of one stimulus named in ``stimuli.tsv`` column ``column`` (404 if none)."""
    table = bundle.gallery.table
    hit = table.index[table["stimulus_id"] == stimulus_id]
    if column not in table.columns or not len(hit):
        raise HTTPException(404, f"no {column} of stimulus {stimulus_id!r} in {bundle.name!r}")
    return FileResponse(bundle.root / "gallery" / str(table.loc[hit[0], column]),
                        media_type=media_type)


def _part(source: str, upload: UploadFile) -> Part:
    """An uploaded file of form field ``source``, as the recording reader takes it."""
    return Part(source, upload.filename, upload.file)


def _matches(rows: list[list[Match]]) -> list[list[MatchOut]]:
    return [[MatchOut(**vars(match)) for match in row] for row in rows]


def create_app(bundles: dict[str, Bundle], api_key: str | None = None,
               max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES) -> FastAPI:
    """Build the app serving ``bundles``.

    Parameters
    ----------
    bundles : dict
        Name -> loaded bundle.
    api_key : str, optional
        When set, every ``/api`` route but ``/api/health`` needs it in the ``X-API-Key``
        header (401 otherwise).
    max_upload_bytes : int
        The largest request body accepted (413 above it).

    Returns
    -------
    FastAPI
    """
    version = brainrecon_version()
    app = FastAPI(title="brainrecon", version=version,
                  description="Decode brain recordings with trained brainrecon bundles.")
    key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False)
    names = tuple(bundles)
    if not all(re.match(NAME_PATTERN, name) for name in names) or not names:
        raise ValueError(f"got bundle names {list(names)}; expected at least one, each of "
                         "letters, digits, '_', '-' or '.'")
    BundleName = Annotated[Literal[names], PathParam(description="a loaded bundle")]

    # the dependencies run on the event loop (async, nothing blocks): no thread hop each
    async def authorised(key: Annotated[str | None, Security(key_header)]) -> None:
        if api_key is not None and key != api_key:
            raise HTTPException(401, f"missing or wrong {API_KEY_HEADER} header")

    async def bundle_of(name: BundleName, _: Annotated[None, Depends(authorised)]) -> Bundle:
        return bundles[name]

    BundleDep = Annotated[Bundle, Depends(bundle_of)]

    @app.exception_handler(BrainreconError)
    async def _user_error(_: Request, exc: BrainreconError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.get("/api/health")
    async def health() -> dict[str, Any]:
        """Liveness, the version and the loaded bundles' names (on the event loop: no
        thread hop, nothing that blocks)."""
        return {"status": "ok", "version": version, "bundles": list(names)}

    @app.get("/api/bundles", dependencies=[Depends(authorised)])
    def list_bundles() -> list[dict[str, Any]]:
        """A summary of every loaded bundle."""
        return [bundle.summary() for bundle in bundles.values()]

    @app.get("/api/bundles/{name}")
    def show_bundle(bundle: BundleDep) -> dict[str, Any]:
        """One bundle: its summary, metrics, licences, preprocessing, sampling and evaluation
        settings."""
        keys = ("metrics", "licences", "preprocess", "generate", "gallery", "examples")
        evaluation = {"evaluate": bundle.manifest.get("evaluate")}
        return {**bundle.summary(), **{key: bundle.manifest[key] for key in keys}, **evaluation}

    def model_of(bundle: Bundle, model: Model) -> Any:
        if model == "baseline" and bundle.baseline is None:
            raise HTTPException(422, f"bundle {bundle.name!r} carries no baseline")
        return bundle.encoder if model == "decoder" else bundle.baseline

    def decoded(bundle: Bundle, epochs: np.ndarray, options: DecodeOptions,
                trials: list[dict[str, Any]] | None = None) -> DecodeOut:
        latents = decode(model_of(bundle, options.model), epochs, options.subject,
                         bundle.subjects)
        try:
            rows = retrieve(bundle.gallery, latents, options.k, options.gallery)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        return DecodeOut(
            bundle=bundle.name, model=options.model, subject=options.subject,
            subject_seen=options.subject in bundle.subjects, gallery=options.gallery,
            matches=_matches(rows), trials=trials,
            latents=latents.round(6).tolist() if options.latents else None)

    @app.post("/api/bundles/{name}/decode")
    def decode_epochs(
        bundle: BundleDep,
        epochs: Annotated[bytes, File(description=".npy: (trial, channel, time) float")],
        options: Annotated[DecodeOptions, Form()],
    ) -> DecodeOut:
        """Decode preprocessed epochs (as the bundle's preprocessing leaves them)."""
        array = as_epochs(read_npy_bytes(epochs, "epochs"), bundle.signal, "epochs")
        return decoded(bundle, array, options)

    @app.post("/api/bundles/{name}/decode_raw")
    def decode_raw(
        bundle: BundleDep,
        recording: Annotated[UploadFile, File(description=RECORDING_HELP)],
        events: Annotated[bytes, File(description="TSV: onset (s), stimulus_id or trial_type")],
        options: Annotated[DecodeOptions, Form()],
        companions: Annotated[list[UploadFile] | None, File(description=COMPANIONS_HELP)] = None,
    ) -> DecodeOut:
        """Preprocess a raw recording with the bundle's steps, epoch it at the events, decode."""
        require_raw_decoding(bundle)
        raw = read_uploaded_raw(_part("recording", recording),
                                [_part(f"companions[{i}]", upload)
                                 for i, upload in enumerate(companions or [])])
        table = read_events(events, "events", float(raw.info["sfreq"]))
        array, trials = epochs_from_raw(bundle, raw, table, "recording")
        return decoded(bundle, array, options, trials.to_dict(orient="records"))

    @app.get("/api/bundles/{name}/examples")
    def list_examples(bundle: BundleDep) -> list[dict[str, Any]]:
        """The trials the bundle carries (its study's test trials), by index."""
        if bundle.examples is None:
            return []
        table = bundle.examples.trials
        columns = [c for c in ("subject", "stimulus_id", "repetition") if c in table.columns]
        return [{"index": i, **row} for i, row in enumerate(table[columns].to_dict("records"))]

    @app.get("/api/bundles/{name}/examples/{index}")
    def decode_example(
        bundle: BundleDep, index: Annotated[int, PathParam(ge=0)],
        model: Model = "decoder", k: Annotated[int, Query(ge=1, le=MAX_K)] = 5,
        gallery: GallerySplit = "test",
    ) -> DecodeOut:
        """Decode one carried trial (with its latent, to generate from)."""
        if bundle.examples is None or index >= len(bundle.examples.trials):
            n = 0 if bundle.examples is None else len(bundle.examples.trials)
            raise HTTPException(404, f"no example {index}; the bundle carries {n}")
        row = bundle.examples.trials.iloc[index]
        trial = {key: (value.item() if isinstance(value, np.generic) else value)
                 for key, value in row.to_dict().items()}
        options = DecodeOptions(subject=str(row["subject"]), model=model, k=k, gallery=gallery,
                                latents=True)
        return decoded(bundle, bundle.examples.epochs[index:index + 1], options, [trial])

    @app.post("/api/bundles/{name}/generate/{kind}")
    def generate(bundle: BundleDep, kind: Literal["image", "text", "shape"],
                 request: GenerateIn) -> GenerateOut:
        """Generate one output of ``kind`` from a decoded latent of the bundle's target space,
        with the study's sampling settings and its training-latent prior (for its kinds)."""
        if kind not in bundle.generators:
            raise HTTPException(404, f"bundle {bundle.name!r} has no {kind} generator; it has "
                                     f"{', '.join(bundle.generators) or 'none'}")
        latent = np.asarray(request.latent, dtype=np.float64)
        dim = int(bundle.manifest["target"]["dim"])
        if len(latent) != dim or not np.isfinite(latent).all() or not np.abs(latent).sum():
            raise HTTPException(422, f"latent of {len(latent)} values; expected {dim} finite "
                                     "values, not all zero")
        name, generator = bundle.generators[kind]
        settings = bundle.manifest["generate"]
        sampling = generator.parse_sampling(settings["sampling"].get(name, {}))
        seed = settings["seed"] if request.seed is None else request.seed
        prior = settings.get("latent_prior")
        output = generate_decoded(  # as the generate stage treats decoded latents
            generator, kind, latent[None].astype(np.float32),
            bundle.gallery.latents[bundle.gallery.rows("train")],
            None if prior is None else LatentPriorConfig.model_validate(prior), sampling, seed)
        return GenerateOut(kind=kind, generator=name, **OUTPUT_JSON[kind](output))

    @app.get("/api/bundles/{name}/gallery/{stimulus_id}/image", response_class=FileResponse)
    def gallery_image(bundle: BundleDep,
                      stimulus_id: Annotated[str, PathParam(max_length=128)]) -> FileResponse:
        """The image of a gallery stimulus (PNG)."""
        return _gallery_file(bundle, stimulus_id, "image", "image/png")

    @app.get("/api/bundles/{name}/gallery/{stimulus_id}/audio", response_class=FileResponse)
    def gallery_audio(bundle: BundleDep,
                      stimulus_id: Annotated[str, PathParam(max_length=128)]) -> FileResponse:
        """The sound of a gallery stimulus (WAV)."""
        return _gallery_file(bundle, stimulus_id, "audio", "audio/wav")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(str(WEB_DIR / "index.html"), media_type="text/html")

    app.mount("/static", StaticFiles(directory=str(WEB_DIR)), name="static")
    app.add_middleware(BodySizeLimit, max_bytes=max_upload_bytes)
    return app
