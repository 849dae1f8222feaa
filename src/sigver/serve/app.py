"""The HTTP service: a FastAPI application over one enrollment database.

``create_app(ServeConfig(...))`` builds it; ``sigver serve`` runs it with uvicorn (the
model loads once per worker process, in ``create_app``). Every ``/api`` request needs an
API key (``X-API-Key: sv_...`` or ``Authorization: Bearer sv_...``); the page at ``/``
and its static files hold no data and are public. Errors are JSON:
``{"error": {"code": ..., "message": ...}}`` with a 4xx status.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import re
import tempfile
import time
from collections.abc import Awaitable
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, File, Form, Request, Security, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from sigver import __version__
from sigver.errors import SigverError
from sigver.serve.backend import Backend, ConflictError, NotFoundError
from sigver.serve.batching import FeatureBatcher
from sigver.serve.keys import KeyChecker
from sigver.serve.limits import ApiError, Limits, check_file_count, check_upload
from sigver.serve.schemas import (
    EnrollResponse,
    Health,
    PersonDetail,
    PersonSummary,
    VerifyResponse,
)
from sigver.serve.uploads import BodyLimit, QuestionedImages

API = "/api/v1"
CONFIG_ENV = "SIGVER_SERVE_CONFIG"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclasses.dataclass
class ServeConfig:
    """Everything a service process needs (JSON-serialisable, for worker processes)."""

    db: str
    classifier: str | None = None  # None: the built-in one (docs/pretrained.md)
    background: str | None = None
    model_path: str | None = None
    canvas_size: tuple[int, int] | None = None
    device: str = "cpu"
    limits: Limits = dataclasses.field(default_factory=Limits)
    max_batch: int = 32
    max_wait_ms: float = 10.0
    image_dir: str | None = None
    torch_threads: int = 1
    engine: str = "auto"

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServeConfig:
        values = json.loads(text)
        values["limits"] = Limits(**values["limits"])
        if values.get("canvas_size") is not None:
            values["canvas_size"] = tuple(values["canvas_size"])
        return cls(**values)


def app_from_environment() -> FastAPI:
    """The app of one uvicorn worker, configured by ``sigver serve`` through the
    ``SIGVER_SERVE_CONFIG`` environment variable."""
    return create_app(ServeConfig.from_json(os.environ[CONFIG_ENV]))


class PersonCreate(BaseModel):
    name: str


_header_key = APIKeyHeader(name="X-API-Key", auto_error=False,
                           description="An API key from 'sigver keys create'")
_bearer = HTTPBearer(auto_error=False, description="The same key as a bearer token")


async def role_of(request: Request,
                  key: Annotated[str | None, Security(_header_key)] = None,
                  token: Annotated[HTTPAuthorizationCredentials | None,
                                   Security(_bearer)] = None) -> str:
    """The caller's role; 401 without a valid key."""
    given = key or (token.credentials if token else None)
    if not given:
        raise ApiError(401, "missing_key", "an API key is required (header X-API-Key)")
    # On the event loop: one indexed read of a WAL-mode database (never blocked by a
    # writer), far cheaper than handing the request to a thread and back.
    role = request.app.state.keys.role(given)
    if role is None:
        raise ApiError(401, "invalid_key", "unknown or revoked API key")
    return role


async def admin_role(role: Annotated[str, Depends(role_of)]) -> str:
    """403 unless the key is an admin key."""
    if role != "admin":
        raise ApiError(403, "forbidden", "this needs an admin key")
    return role


Verifier = Annotated[str, Depends(role_of)]
Admin = Annotated[str, Depends(admin_role)]


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def create_app(config: ServeConfig) -> FastAPI:
    """The FastAPI application: loads the model, classifier and background once."""
    import torch

    # One thread per forward pass: the other cores preprocess the next requests. (Two
    # intra-op threads on two cores cost 3-10x the CPU time per image here, spinning
    # against the preprocessing threads.)
    torch.set_num_threads(max(config.torch_threads, 1))
    backend = Backend(config.db, config.classifier, background=config.background,
                      model_path=config.model_path, canvas_size=config.canvas_size,
                      device=config.device, batch_size=max(config.max_batch, 1),
                      engine=config.engine, threads=max(config.torch_threads, 1))
    keys = KeyChecker(config.db)
    limits = config.limits
    batcher = FeatureBatcher(backend.features, max_batch=config.max_batch,
                             max_wait_s=config.max_wait_ms / 1000)
    if config.image_dir is None:
        config.image_dir = tempfile.mkdtemp(prefix="sigver-serve-")
    questioned = QuestionedImages(config.image_dir)

    app = FastAPI(title="sigver verification service", version=__version__,
                  description="Enroll people's reference signatures and verify questioned "
                              "signatures (SigNet features, writer-dependent or "
                              "writer-independent SVMs).",
                  openapi_url=None, docs_url=None, redoc_url=None)
    app.state.backend, app.state.batcher, app.state.keys = backend, batcher, keys
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message)

    @app.exception_handler(SigverError)
    async def _sigver_error(request: Request, exc: SigverError) -> JSONResponse:
        if isinstance(exc, NotFoundError):
            return error_response(404, "not_found", str(exc))
        if isinstance(exc, ConflictError):
            return error_response(409, "conflict", str(exc))
        return error_response(422, "invalid_input", str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                             for e in exc.errors())
        return error_response(422, "invalid_request", problems)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        return error_response(exc.status_code, "http_error", str(exc.detail))

    # request steps --------------------------------------------------------------------

    async def within_deadline(step: Awaitable[Any], deadline: float) -> Any:
        try:
            return await asyncio.wait_for(step, max(deadline - time.monotonic(), 0.001))
        except asyncio.TimeoutError:
            raise ApiError(408, "timeout", f"the request took longer than "
                           f"{limits.request_timeout_s:g} s; nothing was changed") from None

    async def read_uploads(files: list[UploadFile]) -> list[tuple[str, bytes]]:
        check_file_count(len(files), limits)
        uploads = []
        for index, upload in enumerate(files):
            name = os.path.basename(upload.filename or "") or f"file-{index + 1}"
            if upload.size is not None and upload.size > limits.max_upload_bytes:
                raise ApiError(413, "file_too_large", f"{name}: {upload.size} bytes, at "
                               f"most {limits.max_upload_bytes} per file")
            data = await upload.read(limits.max_upload_bytes + 1)
            check_upload(name, upload.content_type, data, limits)
            uploads.append((name, data))
        return uploads

    def prepare_all(uploads: list[tuple[str, bytes]]) -> list:
        with batcher.incoming():
            return [prepare_one(name, data) for name, data in uploads]

    def prepare_one(name: str, data: bytes) -> Any:
        with tempfile.NamedTemporaryFile(dir=config.image_dir, suffix=".upload") as tmp:
            tmp.write(data)
            tmp.flush()
            try:
                return backend.prepare(tmp.name, name)
            except SigverError as exc:
                message = str(exc).replace(tmp.name, name)
                raise ApiError(422, "unusable_image", message) from None

    async def features_of(files: list[UploadFile]) -> tuple[list, Any]:
        uploads = await read_uploads(files)
        prepared = await run_in_threadpool(prepare_all, uploads)
        features = await asyncio.wrap_future(batcher.submit(prepared))
        return prepared, features

    def verify_uploads(name: str, uploads: list[tuple[str, bytes]], method: str,
                       threshold: float | None) -> list:
        # The whole verification on one thread: preprocess, wait for the batched forward
        # pass, score, save the images; one hand-over from the event loop and back.
        prepared = prepare_all(uploads)
        features = batcher.submit(prepared).result(timeout=limits.request_timeout_s)
        scored = backend.verify(name, prepared, features, method=method, threshold=threshold)
        return [(result, questioned.save(backend.network_png(image)))
                for result, image in zip(scored, prepared, strict=True)]

    # routes ---------------------------------------------------------------------------

    @app.get(f"{API}/health", response_model=Health, tags=["service"])
    async def health(role: Verifier) -> dict:
        """The service is up: model, classifier, methods available."""
        persons = await run_in_threadpool(backend.persons)
        return {"status": "ok", "version": __version__, "role": role,
                "model_sha256": backend.model.sha256, "persons": len(persons),
                "wi_threshold": backend.classifier.threshold,
                "wd_available": backend.background is not None,
                "limits": dataclasses.asdict(limits),
                "batching": {"forward_passes": batcher.batches, "images": batcher.images,
                             "max_batch": batcher.max_batch}}

    @app.get(f"{API}/openapi.json", include_in_schema=False)
    async def openapi(role: Verifier) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get(f"{API}/persons", response_model=list[PersonSummary], tags=["persons"])
    async def list_persons(role: Verifier) -> list[dict]:
        """Every enrolled person with their number of references."""
        return await run_in_threadpool(backend.persons)

    @app.post(f"{API}/persons", status_code=201, response_model=PersonDetail,
              tags=["persons"])
    async def create_person(body: PersonCreate, role: Admin) -> dict:
        """Create a person without references (admin)."""
        if "/" in body.name:
            raise ApiError(400, "invalid_name", "a person's name cannot contain '/'")
        await run_in_threadpool(backend.create_person, body.name)
        return await run_in_threadpool(backend.person, body.name)

    @app.get(f"{API}/persons/{{name}}", response_model=PersonDetail, tags=["persons"])
    async def get_person(name: str, role: Verifier) -> dict:
        """A person's references (with links to their preprocessed images)."""
        return _with_links(await run_in_threadpool(backend.person, name))

    @app.delete(f"{API}/persons/{{name}}", tags=["persons"])
    async def delete_person(name: str, role: Admin) -> dict:
        """Delete a person and their references (admin)."""
        removed = await run_in_threadpool(backend.delete_person, name)
        return {"deleted": name, "references_removed": removed}

    @app.post(f"{API}/persons/{{name}}/references", response_model=EnrollResponse,
              tags=["persons"])
    async def add_references(name: str, role: Admin,
                             files: Annotated[list[UploadFile], File(
                                 description="reference signature images")]) -> dict:
        """Enroll reference signatures (admin): all files are stored, or none."""
        deadline = time.monotonic() + limits.request_timeout_s
        prepared, features = await within_deadline(features_of(files), deadline)
        # Past this point the request is not cancelled: the write is one transaction.
        result = await run_in_threadpool(backend.enroll, name, prepared, features)
        return {**result, **_with_links(await run_in_threadpool(backend.person, name))}

    @app.post(f"{API}/persons/{{name}}/verify", response_model=VerifyResponse,
              tags=["verification"])
    async def verify(name: str, role: Verifier,
                     files: Annotated[list[UploadFile], File(
                         description="questioned signature images")],
                     method: Annotated[Literal["auto", "wd", "wi"], Form(
                         description="writer-dependent SVM, writer-independent, or WD "
                                     "when the person has one")] = "auto",
                     threshold: Annotated[float | None, Form(
                         description="decide at this score instead of the method's "
                                     "threshold")] = None) -> dict:
        """Verify questioned signatures claimed to be the person's."""
        deadline = time.monotonic() + limits.request_timeout_s

        async def run() -> list:
            uploads = await read_uploads(files)
            return await run_in_threadpool(verify_uploads, name, uploads, method, threshold)

        results = await within_deadline(run(), deadline)
        return {"person": name, "results": [_result(s, token) for s, token in results]}

    @app.get(f"{API}/references/{{sha256}}/image", tags=["images"],
             response_class=Response, responses={200: {"content": {"image/png": {}}}})
    async def reference_image(sha256: str, role: Verifier) -> Response:
        """A reference as the network saw it (PNG)."""
        if not _SHA256.match(sha256):
            raise ApiError(404, "not_found", "no such reference image")
        png = await run_in_threadpool(backend.reference_image, sha256)
        return Response(png, media_type="image/png")

    @app.get(f"{API}/questioned/{{token}}/image", tags=["images"],
             response_class=Response, responses={200: {"content": {"image/png": {}}}})
    async def questioned_image(token: str, role: Verifier) -> Response:
        """A questioned signature as the network saw it (PNG; kept for a while)."""
        path = questioned.path(token)
        if path is None:
            raise ApiError(404, "not_found", "no such questioned image (expired?)")
        return FileResponse(path, media_type="image/png")

    # the page -------------------------------------------------------------------------

    static = resources.files("sigver.serve") / "static"

    @app.get("/", include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse((static / "index.html").read_text(encoding="utf-8"))

    @app.get("/static/{name}", include_in_schema=False)
    async def static_file(name: str) -> Response:
        kinds = {".js": "text/javascript", ".css": "text/css"}
        suffix = Path(name).suffix
        if "/" in name or suffix not in kinds or not (static / name).is_file():
            raise ApiError(404, "not_found", "no such file")
        return Response((static / name).read_bytes(), media_type=kinds[suffix])

    return app


def _image_url(sha256: str) -> str:
    return f"{API}/references/{sha256}/image"


def _with_links(person: dict) -> dict:
    for ref in person.get("references", []):
        ref["image_url"] = _image_url(ref["sha256"])
    return person


def _result(scored: Any, token: str) -> dict:
    return {"file": scored.file, "score": scored.score, "threshold": scored.threshold,
            "decision": "genuine" if scored.is_genuine else "forgery",
            "method": scored.method, "is_reference": scored.is_reference,
            "image_url": f"{API}/questioned/{token}/image",
            "reference_scores": [{"file": f, "sha256": d, "score": s,
                                  "image_url": _image_url(d)}
                                 for f, d, s in scored.reference_scores]}

