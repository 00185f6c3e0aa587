"""Application factory: wires settings, stores, converter and workers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from backend import __version__
from backend.api.middleware import BodySizeLimitMiddleware, HostCheckMiddleware
from backend.api.routes import formats, health, jobs
from backend.conversion.converter import Converter, VerifyTolerance
from backend.conversion.ffmpeg import resolve_ffmpeg
from backend.errors import ConverterError, JobNotCompleted, StoreUnavailable
from backend.jobs.service import JobService
from backend.settings import Settings
from backend.stores.base import JobStore
from backend.stores.factory import (
    build_blob_store,
    build_job_store,
    build_progress_store,
)
from backend.workers.pool import Dispatcher, ThreadPoolDispatcher

logger = logging.getLogger(__name__)

API_PREFIX = "/api/v1"

_HTTP_CODES = {
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
}


@dataclass
class Backend:
    """The running parts behind the API."""

    service: JobService
    dispatcher: Dispatcher

    def close(self) -> None:
        self.service.stop_running_jobs()
        self.dispatcher.shutdown()
        self.service.jobs.close()
        self.service.progress.close()
        self.service.blobs.close()


def build_backend(
    settings: Settings,
    *,
    wrap_job_store: Callable[[JobStore], JobStore] | None = None,
    service_class: type[JobService] = JobService,
) -> Backend:
    """Build the stores the settings select, the converter and the worker pool.

    `wrap_job_store` and `service_class` let tests put fault injectors
    around the real parts.
    """
    data_dir = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    converter = Converter(
        resolve_ffmpeg(settings.ffmpeg_path),
        data_dir / "work",
        VerifyTolerance(
            ratio=settings.verify_tolerance_ratio,
            seconds=settings.verify_tolerance_seconds,
        ),
        max_duration_seconds=settings.max_duration_seconds,
        timeout_seconds=settings.conversion_timeout_seconds,
    )
    jobs = build_job_store(settings)
    if wrap_job_store is not None:
        jobs = wrap_job_store(jobs)
    leftovers = converter.remove_leftovers()
    if leftovers:
        logger.info("Removed %d leftover temporary files", leftovers)
    service = service_class(
        jobs=jobs,
        progress=build_progress_store(settings),
        blobs=build_blob_store(settings, data_dir / "work"),
        converter=converter,
        store_outage_seconds=settings.store_outage_seconds,
    )
    dispatcher = ThreadPoolDispatcher(service.run_job, settings.workers)
    service.attach_dispatcher(dispatcher.submit)
    return Backend(service=service, dispatcher=dispatcher)


def create_app(settings: Settings, backend: Backend | None = None) -> FastAPI:
    """Create the API; `backend` replaces the embedded parts (tests use this)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        parts = backend or build_backend(settings)
        app.state.service = parts.service
        if settings.job_store == "sqlite":
            # Only this process runs the jobs of an embedded store, so a job
            # still running is one a previous process left behind. A shared
            # store's running jobs may belong to another live server.
            interrupted = parts.service.fail_interrupted_jobs()
            if interrupted:
                logger.warning("Marked %d interrupted jobs as failed", interrupted)
        for job_id in parts.service.queued_job_ids():
            parts.dispatcher.submit(job_id)
        logger.info("Backend ready, data in %s", settings.data_dir)
        try:
            yield
        finally:
            logger.info("Backend stopping")
            parts.close()

    app = FastAPI(
        title="Audio Converter API",
        version=__version__,
        lifespan=lifespan,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_upload_bytes,
    )
    if settings.allowed_hosts is not None:
        app.add_middleware(
            HostCheckMiddleware,
            allowed_hosts=settings.allowed_hosts,
        )
    for router in (health.router, formats.router, jobs.router):
        app.include_router(router, prefix=API_PREFIX)
    _add_error_handlers(app, settings)
    return app


def _add_error_handlers(app: FastAPI, settings: Settings) -> None:
    @app.exception_handler(ConverterError)
    async def converter_error(request: Request, error: ConverterError) -> JSONResponse:
        body: dict[str, object] = {"code": error.code, "message": error.message}
        headers = {}
        if isinstance(error, JobNotCompleted):
            body |= {"status": error.status, "stage": error.stage}
            headers["Retry-After"] = str(settings.retry_after_seconds)
        if isinstance(error, StoreUnavailable):
            logger.warning("%s %s: %s", request.method, request.url.path, error)
            headers["Retry-After"] = str(settings.store_retry_after_seconds)
        return JSONResponse(body, status_code=error.status_code, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(
        request: Request, error: StarletteHTTPException
    ) -> JSONResponse:
        code = _HTTP_CODES.get(error.status_code, "http_error")
        message = error.detail if isinstance(error.detail, str) else str(error.detail)
        if error.status_code == 404 and message == "Not Found":
            message = f"No such endpoint: {request.url.path}."
        return JSONResponse(
            {"code": code, "message": message},
            status_code=error.status_code,
            headers=error.headers,
        )

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, error: Exception) -> JSONResponse:
        logger.error(
            "Unhandled error on %s %s", request.method, request.url.path,
            exc_info=error,
        )  # fmt: skip
        return JSONResponse(
            {
                "code": "internal_error",
                "message": "The server failed to handle this request; "
                "see the server log.",
            },
            status_code=500,
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(
        request: Request, error: RequestValidationError
    ) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc'][1:])}: {item['msg']}"
            for item in error.errors()
        )
        return JSONResponse(
            {"code": "invalid_request", "message": f"Invalid request: {problems}."},
            status_code=422,
        )
