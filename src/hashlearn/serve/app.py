"""The FastAPI app: a versioned JSON API over :class:`~hashlearn.serve.engine.BundleService`.

Everything under ``/api/v1``; OpenAPI schema at ``/openapi.json`` and its pages at
``/docs``; the explorer page at ``/``. The routes only translate between HTTP and the
engine: request bodies are validated by their schema (a malformed field is a 422 whose
``detail`` names it), the engine's :class:`~hashlearn.serve.engine.RequestError` becomes
its status with ``{"detail": message, "field": name}``, and bodies over the size limit are
refused with 413 before they are read in full. See ``docs/service.md``.
"""

import json
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

try:
    from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import FileResponse, JSONResponse, Response
    from fastapi.routing import APIRoute
    from fastapi.staticfiles import StaticFiles
    from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt
    from pydantic_core import from_json
    from starlette.exceptions import HTTPException
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "the search service needs FastAPI and uvicorn: pip install 'hashlearn[web]'"
    ) from exc

from hashlearn._version import __version__
from hashlearn.serve.engine import BundleService, Limits, RequestError
from hashlearn.serve.media import ImageError, featurize_image, png_bytes

__all__ = ["STATIC_DIR", "create_app"]

STATIC_DIR = Path(__file__).with_name("static")
API = "/api/v1"


class _BodyLimit:
    """ASGI middleware: refuse a request body over ``max_bytes`` with 413.

    A declared ``Content-Length`` over the limit is refused before anything is read; a
    body sent without one (chunked) is counted as it arrives and refused once it passes
    the limit, so a client cannot make the server buffer more than the limit.
    """

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for key, value in scope.get("headers", []):
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = self.max_bytes + 1
                if declared > self.max_bytes:
                    await _body_too_large(self.max_bytes)(scope, receive, send)
                    return
        received = 0
        started = False

        async def counting_receive() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await _body_too_large(self.max_bytes)(scope, receive, send)


class _TooLarge(HTTPException):
    """A body that passed the limit while it was read. An HTTPException, because FastAPI
    turns any other exception raised while it reads a JSON body into a 400."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"request body over the limit of {max_bytes:,} bytes")
        self.max_bytes = max_bytes


def _body_too_large(max_bytes: int) -> JSONResponse:
    """The 413 answer; the connection closes, since the rest of the body is not read."""
    return JSONResponse(
        {"detail": f"request body over the limit of {max_bytes:,} bytes", "field": "body"},
        status_code=413,
        headers={"connection": "close"},
    )


async def _too_large(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, _TooLarge)
    return _body_too_large(exc.max_bytes)


_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False)
# Batch sizes, k and radii are bounded by the server's Limits in the engine, which answers
# with the limit in force; the schema bounds only what no server allows.
_Batch = Field(default=None, min_length=1)


class Queries(BaseModel):
    """Exactly one of ``ids`` (stored items), ``vectors`` (encoded by the bundle's hasher)
    or ``codes`` (packed codes in hexadecimal)."""

    model_config = _STRICT
    ids: list[StrictInt] | None = _Batch
    vectors: list[list[float]] | None = _Batch
    codes: list[Annotated[str, Field(max_length=1024)]] | None = _Batch


class SearchRequest(Queries):
    """A batch of queries and either ``k`` (default 10) or ``radius``."""

    k: StrictInt | None = Field(default=None, ge=1)
    radius: StrictInt | None = Field(default=None, ge=0)
    rerank: StrictBool = False
    candidates: StrictInt | None = Field(default=None, ge=1)
    include_self: StrictBool = False


class ProfileRequest(Queries):
    """One query and the largest radius of its profile; ``label`` gives a vector or code
    query a label for the precision."""

    max_radius: StrictInt = Field(default=8, ge=0)
    label: StrictInt | list[StrictInt] | None = None


class EncodeRequest(BaseModel):
    """Vectors to encode."""

    model_config = _STRICT
    vectors: list[list[float]] = Field(min_length=1)


class AddRequest(BaseModel):
    """Items to add: vectors, and one label (and text) per item when the bundle has them."""

    model_config = _STRICT
    vectors: list[list[float]] = Field(min_length=1)
    labels: list[StrictInt | list[StrictInt]] | None = None
    texts: list[Annotated[str, Field(max_length=100_000)]] | None = None


def _results_json(results: list[Any]) -> list[dict[str, Any]]:
    out = []
    for result in results:
        row: dict[str, Any] = {"ids": result.ids, "distances": result.distances}
        if result.scores is not None:
            row["scores"] = result.scores
        out.append(row)
    return out


class _JSONRequest(Request):
    """A request whose JSON body pydantic-core parses.

    FastAPI reads bodies with ``request.json()``, the standard library's ``json.loads``:
    29 ms for 100 vectors of 512 floats (1 MB) against about 4 ms with pydantic-core's
    parser, for the same values (docs/benchmarks.md, "Search service (load)"). A body that
    parser refuses goes through ``json.loads``, so the error FastAPI reports is unchanged.
    """

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = from_json(body)
            except ValueError:
                self._json = json.loads(body)
        return self._json


class _Route(APIRoute):
    """Routes that hand their endpoint a :class:`_JSONRequest`."""

    def get_route_handler(self) -> Any:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            return await handler(_JSONRequest(request.scope, request.receive))

        return route


router = APIRouter(prefix=API, route_class=_Route)


def _services(request: Request) -> Mapping[str, BundleService]:
    services: Mapping[str, BundleService] = request.app.state.services
    return services


def service_of(name: str, request: Request) -> BundleService:
    """The service of bundle ``name`` (404 naming the bundles there are)."""
    services = _services(request)
    service = services.get(name)
    if service is None:
        raise RequestError(
            404, f"no bundle named {name!r}; this server has {sorted(services)}", "name"
        )
    return service


Service = Annotated[BundleService, Depends(service_of)]


def check_token(request: Request, authorization: Annotated[str | None, Header()] = None) -> None:
    """Writes need ``Authorization: Bearer <token>`` with the server's token."""
    token: str | None = request.app.state.token
    if token is None:
        raise RequestError(403, "this server is read-only (start it with --writable)", None)
    if not authorization or not authorization.startswith("Bearer "):
        raise RequestError(401, "adding items needs 'Authorization: Bearer <token>'", "token")
    given = authorization[len("Bearer ") :].encode()
    if not secrets.compare_digest(given, token.encode()):
        raise RequestError(403, "wrong token", "token")


@router.get("/health", tags=["service"])
def health(request: Request) -> dict[str, Any]:
    """Liveness: the version and each bundle's item count."""
    services = _services(request)
    return {
        "status": "ok",
        "version": __version__,
        "bundles": {name: s.ntotal for name, s in services.items()},
    }


@router.get("/limits", tags=["service"])
def get_limits(request: Request) -> dict[str, int]:
    """The limits requests must keep to."""
    limits: Limits = request.app.state.limits
    return limits.as_dict()


@router.get("/bundles", tags=["bundles"])
def list_bundles(request: Request) -> list[dict[str, Any]]:
    """Every bundle this server holds."""
    return [service.summary() for service in _services(request).values()]


@router.get("/bundles/{name}", tags=["bundles"])
def get_bundle(service: Service) -> dict[str, Any]:
    """One bundle: method, code length, sizes, what it can do."""
    return service.summary()


@router.get("/bundles/{name}/stats", tags=["bundles"])
def get_stats(service: Service) -> dict[str, Any]:
    """Bucket occupancy (items per distinct code) and the balance of each bit."""
    return service.stats()


@router.get("/bundles/{name}/items", tags=["items"])
def list_items(
    service: Service,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1)] = 48,
    ids: Annotated[list[int] | None, Query()] = None,
) -> dict[str, Any]:
    """A page of items in id order, or the items ``ids`` (``?ids=3&ids=14``) in that order."""
    if ids is not None:
        return service.items_by_id(ids)
    return service.items(offset, limit)


@router.get("/bundles/{name}/items/{item_id}", tags=["items"])
def get_item(service: Service, item_id: int) -> dict[str, Any]:
    """One item: label, code, snippet."""
    return service.item(item_id)


@router.get(
    "/bundles/{name}/items/{item_id}/image.png",
    tags=["items"],
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
def get_image(service: Service, item_id: int) -> Response:
    """The item's image as PNG."""
    return Response(
        png_bytes(service.image(item_id)),
        media_type="image/png",
        headers={"Cache-Control": "max-age=3600"},
    )


def _run_search(
    service: BundleService, request: SearchRequest, codes: Any, vectors: Any, ids: Any
) -> list[Any]:
    self_ids = None if request.include_self else ids
    if request.radius is not None and request.k is not None:
        raise RequestError(422, "give k or radius, not both", "radius")
    if request.radius is not None:
        if request.rerank:
            raise RequestError(422, "rerank applies to k-NN search, not radius", "rerank")
        return service.range_search(codes, radius=request.radius, self_ids=self_ids)
    return service.search(
        codes,
        k=request.k or 10,
        self_ids=self_ids,
        query_vectors=vectors,
        rerank=request.rerank,
        candidates=request.candidates,
    )


@router.post("/bundles/{name}/search", tags=["search"])
def search(service: Service, request: SearchRequest) -> Response:
    """k-NN (``k``) or radius (``radius``) search for a batch of queries.

    Queries are stored ``ids`` (left out of their own results unless ``include_self``),
    ``vectors`` (encoded by the bundle's hasher) or packed ``codes`` in hexadecimal.
    Results are sorted by Hamming distance, ties by id; with ``rerank`` the
    ``candidates`` nearest codes are re-ordered by exact cosine distance on the stored
    vectors (``scores``).
    """
    started = time.perf_counter()
    codes, vectors, ids = service.queries(
        ids=request.ids, vectors=request.vectors, codes=request.codes
    )
    results = _run_search(service, request, codes, vectors, ids)
    return JSONResponse(
        {
            "n_queries": len(results),
            "results": _results_json(results),
            "took_ms": round(1000 * (time.perf_counter() - started), 3),
        }
    )


@router.post("/bundles/{name}/search/image", tags=["search"])
async def search_image(
    service: Service,
    request: Request,
    k: Annotated[int, Query(ge=1)] = 12,
    max_radius: Annotated[int, Query(ge=0)] = 8,
) -> Response:
    """k-NN search for one uploaded image (the request body: PNG, JPEG, ...).

    The image goes through the bundle's featurizer (the way its vectors were made) and
    hasher; the answer has its code, its neighbours and its per-radius profile.
    """
    if service.bundle.featurizer is None:
        raise RequestError(
            422, f"bundle {service.name!r} does not take images (no featurizer)", "body"
        )
    data = await request.body()
    try:
        vector = featurize_image(data, service.bundle.featurizer)
    except ImageError as exc:
        raise RequestError(422, str(exc), "body") from exc
    codes = service.encode_vectors(vector, "body")
    (result,) = service.search(codes, k=k, query_vectors=vector)
    profile = service.radius_profile(
        codes[0], max_radius=min(max_radius, service.n_bits), self_id=None
    )
    return JSONResponse(
        {"code": codes[0].tobytes().hex(), "results": _results_json([result]), "profile": profile}
    )


@router.post("/bundles/{name}/profile", tags=["search"])
def profile(service: Service, request: ProfileRequest) -> dict[str, Any]:
    """Items within each radius ``0 .. max_radius`` of one query, and their precision.

    Precision uses the query's label: a stored item's own, or ``label`` for a vector or
    code query.
    """
    codes, _, ids = service.queries(ids=request.ids, vectors=request.vectors, codes=request.codes)
    if codes.shape[0] != 1:
        raise RequestError(422, "a profile takes exactly one query", "queries")
    return service.radius_profile(
        codes[0],
        max_radius=request.max_radius,
        self_id=None if ids is None else int(ids[0]),
        query_label=request.label,
    )


@router.post("/bundles/{name}/encode", tags=["search"])
def encode(service: Service, request: EncodeRequest) -> dict[str, Any]:
    """Codes of vectors: packed bytes in hexadecimal (bit j = hash function j, least
    significant bit first) and as a string of bits."""
    return {"codes": service.encode(request.vectors)}


@router.post(
    "/bundles/{name}/items",
    tags=["items"],
    dependencies=[Depends(check_token)],
    status_code=201,
)
def add_items(service: Service, request: AddRequest) -> dict[str, Any]:
    """Add items (writable servers only; needs the token). Answered only once the items are
    in the durable log: an acknowledged item survives a crash."""
    return {"ids": service.add(request.vectors, labels=request.labels, texts=request.texts)}


async def _request_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestError)
    return JSONResponse({"detail": exc.message, "field": exc.field}, status_code=exc.status)


async def _invalid(request: Request, exc: Exception) -> Response:
    # FastAPI's own answer echoes each bad input back: a NaN cannot be written as JSON,
    # and a huge body would be sent back whole. Say where and what, not the value.
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(error.get("loc", ())), "msg": error.get("msg", ""), "type": error.get("type")}
        for error in exc.errors()[:20]
    ]
    if errors and errors[0]["type"] == "json_invalid":
        # loc is ("body", character offset): the field at fault is the body itself
        at = errors[0]["loc"][-1]
        return JSONResponse(
            {"detail": f"body: not valid JSON (error at character {at})", "field": "body"},
            status_code=422,
        )
    first = errors[0]["loc"] if errors else []
    field = ".".join(str(part) for part in first if part != "body") or None
    message = f"{field or 'request'}: {errors[0]['msg']}" if errors else "invalid request"
    return JSONResponse({"detail": message, "errors": errors, "field": field}, status_code=422)


def create_app(
    services: Mapping[str, BundleService],
    *,
    limits: Limits | None = None,
    token: str | None = None,
) -> FastAPI:
    """The FastAPI application serving ``services`` (bundle name -> service).

    Parameters
    ----------
    services : mapping of str to BundleService
    limits : Limits, optional
        The body-size limit (the services' own limits govern their searches); default
        :class:`Limits`.
    token : str, optional
        The bearer token that adding items needs (``Authorization: Bearer <token>``);
        required when a service is writable.
    """
    limits = limits or Limits()
    if any(service.writable for service in services.values()) and not token:
        raise ValueError("a writable service needs a token for its writes")
    app = FastAPI(
        title="hashlearn search service",
        version=__version__,
        description="Search binary codes learned by hashlearn: k-NN and radius queries by "
        "stored id, vector or code; item lookup; bundle statistics. See docs/service.md.",
    )
    app.state.services = dict(services)
    app.state.limits = limits
    app.state.token = token
    app.add_middleware(_BodyLimit, max_bytes=limits.max_body_bytes)
    app.add_exception_handler(RequestError, _request_error)
    app.add_exception_handler(_TooLarge, _too_large)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.include_router(router)
    if STATIC_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

        @app.get("/", include_in_schema=False)
        def page() -> FileResponse:
            return FileResponse(STATIC_DIR / "index.html")

    return app
